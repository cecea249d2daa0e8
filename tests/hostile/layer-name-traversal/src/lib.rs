//! Hostile: declares a layer whose name is a path, not a name.
//!
//! `HOSTILE_MODE` picks the name: `dotdot` (`../escape`), `abs` (`/abs`), `nul` (`a\0b`),
//! `long` (300 × `x`). The buildpack first tries to make the directory itself (the
//! outcome is logged), then declares it; the host must refuse the name.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct LayerNameTraversal;

impl Buildpack for LayerNameTraversal {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let mode = ctx.env("HOSTILE_MODE").ok_or("set HOSTILE_MODE to dotdot, abs, nul or long")?;
        let name = match mode {
            "dotdot" => "../escape".to_string(),
            "abs" => "/abs".to_string(),
            "nul" => "a\0b".to_string(),
            "long" => "x".repeat(300),
            other => return Err(format!("unknown HOSTILE_MODE {other:?}").into()),
        };
        match std::fs::create_dir_all(ctx.layers_dir.join(&name)) {
            Ok(()) => kiln_sdk::log::info(&format!("MADE {name:?}")),
            Err(e) => kiln_sdk::log::info(&format!("DENIED mkdir {name:?}: {e}")),
        }
        Ok(BuildResult::new().layer(ctx.reuse_layer(&name, LayerTypes::LAUNCH)))
    }
}

kiln_sdk::export_buildpack!(LayerNameTraversal);

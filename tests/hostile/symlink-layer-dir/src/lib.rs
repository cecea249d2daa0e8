//! Hostile: makes a layer directory itself a symlink and declares it as a launch layer,
//! hoping export will tar up whatever it points at.
//!
//! `HOSTILE_MODE`: `root` (default) points it at the host's root (absolute, then by a
//! relative climb when WASI refuses the absolute target); `app` points it at the app dir.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct SymlinkLayerDir;

impl Buildpack for SymlinkLayerDir {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let link = ctx.layers_dir.join("evil");
        let targets: &[&str] = match ctx.env("HOSTILE_MODE").unwrap_or("root") {
            "app" => &["/workspace", "../../app"],
            _ => &["/", "../../../../../../../../../../../.."],
        };
        let mut made = false;
        for target in targets {
            match hostile_common::symlink(target, &link) {
                Ok(()) => {
                    kiln_sdk::log::info(&format!("LINKED {} -> {target}", link.display()));
                    made = true;
                    break;
                }
                Err(e) => kiln_sdk::log::info(&format!("DENIED link {} -> {target}: {e}", link.display())),
            }
        }
        if !made {
            return Err("could not create the layer symlink at all".into());
        }
        Ok(BuildResult::new().layer(ctx.reuse_layer("evil", LayerTypes::LAUNCH)))
    }
}

kiln_sdk::export_buildpack!(SymlinkLayerDir);

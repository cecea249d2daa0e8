//! Hostile: puts OCI whiteout names (`.wh.*`) where they would reach an image layer, so that
//! the layer would delete files of the run image (`/bin/sh`, all of `/etc`).
//!
//! `HOSTILE_MODE`: `layer-file` (default) writes `bin/.wh.sh` and `.wh..wh..opq` in a launch
//! layer; `app-file` writes `/workspace/.wh.etc`; `process` declares a process type
//! `.wh.web`.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes, Process};

struct WhiteoutNames;

impl Buildpack for WhiteoutNames {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        match ctx.env("HOSTILE_MODE").unwrap_or("layer-file") {
            "app-file" => {
                std::fs::write(ctx.app_dir.join(".wh.etc"), "")?;
                Ok(BuildResult::new())
            }
            "process" => Ok(BuildResult::new().process(Process::new(".wh.web", vec!["/bin/sh".into()]).default_process(true))),
            _ => {
                let layer = ctx.layer("wipe", LayerTypes::LAUNCH)?;
                std::fs::create_dir_all(layer.path().join("bin"))?;
                std::fs::write(layer.path().join("bin/.wh.sh"), "")?;
                std::fs::write(layer.path().join(".wh..wh..opq"), "")?;
                Ok(BuildResult::new().layer(layer))
            }
        }
    }
}

kiln_sdk::export_buildpack!(WhiteoutNames);

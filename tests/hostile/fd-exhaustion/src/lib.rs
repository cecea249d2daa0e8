//! Hostile: opens the same file until the host runs out of file descriptors, logs how
//! far it got, releases them and finishes normally. The host shares its descriptor table
//! with the guest's open files, so this checks the host carries on (export opens many
//! files) once the guest has let go.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct FdExhaustion;

const MAX_OPEN: usize = 200_000;

impl Buildpack for FdExhaustion {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let mut files = Vec::new();
        let mut stop = format!("stopped at the guest's own cap of {MAX_OPEN}");
        while files.len() < MAX_OPEN {
            match std::fs::File::open(ctx.app_file("app.txt")) {
                Ok(f) => files.push(f),
                Err(e) => {
                    stop = e.to_string();
                    break;
                }
            }
        }
        kiln_sdk::log::info(&format!("OPENED {} files, then: {stop}", files.len()));
        drop(files);
        let layer = ctx.layer("after", LayerTypes::LAUNCH)?;
        std::fs::write(layer.path().join("ok.txt"), "the guest carried on")?;
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(FdExhaustion);

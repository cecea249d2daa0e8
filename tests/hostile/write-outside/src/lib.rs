//! Hostile: tries to write outside its grants during build, then succeeds.
//!
//! The platform env `HOSTILE_MARKER` names the file (unique per test run). The guest's
//! `/tmp` is a private scratch dir, so `/tmp/<marker>` is allowed there but must never
//! appear in the host's `/tmp`; every other path must be denied.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct WriteOutside;

impl Buildpack for WriteOutside {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let marker = ctx.env("HOSTILE_MARKER").ok_or("set HOSTILE_MARKER")?.to_string();
        let targets = [
            format!("/tmp/{marker}"),
            format!("/tmp/../{marker}"),
            format!("/tmp/../../../../../../../../tmp/{marker}"),
            format!("/{marker}"),
            format!("/layers/other-bp/{marker}"),
            format!("/layers/../{marker}"),
            format!("{}/../{marker}", ctx.layers_dir.display()),
            format!("/workspace/../{marker}"),
            format!("/workspace/../../../../../../../../tmp/{marker}"),
            format!("/platform/{marker}"),
            format!("/platform/env/{marker}"),
        ];
        for path in &targets {
            match std::fs::write(path, "escaped") {
                Ok(()) => kiln_sdk::log::info(&format!("WROTE {path}")),
                Err(e) => kiln_sdk::log::info(&format!("DENIED {path}: {e}")),
            }
        }
        for dir in ["/layers/other-bp".to_string(), format!("/workspace/../{marker}-dir")] {
            match std::fs::create_dir_all(&dir) {
                Ok(()) => kiln_sdk::log::info(&format!("MADE {dir}")),
                Err(e) => kiln_sdk::log::info(&format!("DENIED {dir}: {e}")),
            }
        }
        Ok(BuildResult::new())
    }
}

kiln_sdk::export_buildpack!(WriteOutside);

//! Hostile: fills a launch layer `many` with tiny files (`HOSTILE_COUNT`, default
//! 200 000), 1 000 per sub-directory, and logs how long that took. No limit on file
//! count exists yet: the test records what happens.

use std::time::Instant;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct ManyFiles;

impl Buildpack for ManyFiles {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let count: usize = ctx.env("HOSTILE_COUNT").unwrap_or("200000").parse().map_err(|e| format!("HOSTILE_COUNT: {e}"))?;
        let started = Instant::now();
        let layer = ctx.layer("many", LayerTypes::LAUNCH)?;
        for i in 0..count {
            let dir = layer.path().join(format!("d{:04}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir(&dir)?;
            }
            std::fs::write(dir.join(format!("f{i}")), [b'x'])?;
        }
        kiln_sdk::log::info(&format!("CREATED {count} files in {} ms", started.elapsed().as_millis()));
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(ManyFiles);

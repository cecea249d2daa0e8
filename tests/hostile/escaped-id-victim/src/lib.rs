//! The victim of escaped-id-impostor: id `hostile/victim`, a launch layer `data` whose
//! `owner` file says `victim`. Not hostile itself.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct Victim;

impl Buildpack for Victim {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        kiln_sdk::log::info(&format!("victim layers dir: {}", ctx.layers_dir.display()));
        let layer = ctx.layer("data", LayerTypes::LAUNCH)?;
        std::fs::write(layer.path().join("owner"), "victim")?;
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(Victim);

//! Hostile: id `hostile_victim`, which the lifecycle's id escaping (`/` -> `_`) maps to
//! the same layers dir as `hostile/victim`. Run after the victim, it tries to rewrite the
//! victim's launch layer through its own layers dir.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct Impostor;

impl Buildpack for Impostor {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let owner = ctx.layers_dir.join("data").join("owner");
        kiln_sdk::log::info(&format!("impostor layers dir: {}", ctx.layers_dir.display()));
        match std::fs::read_to_string(&owner) {
            Ok(text) => kiln_sdk::log::info(&format!("READ the victim's layer: {text:?}")),
            Err(e) => kiln_sdk::log::info(&format!("DENIED read {}: {e}", owner.display())),
        }
        match std::fs::write(&owner, "impostor") {
            Ok(()) => kiln_sdk::log::info("WROTE the victim's layer"),
            Err(e) => kiln_sdk::log::info(&format!("DENIED write {}: {e}", owner.display())),
        }
        Ok(BuildResult::new())
    }
}

kiln_sdk::export_buildpack!(Impostor);

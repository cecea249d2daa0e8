//! Hostile: a buildpack built against `kiln:buildpack@0.9.0` (a copy of `wit/buildpack.wit`
//! with only the package version changed), with wit-bindgen directly instead of kiln-sdk.
//! The host must refuse it before running anything, naming both contract versions.

wit_bindgen::generate!({
    path: "wit",
    world: "kiln:buildpack/buildpack-component@0.9.0",
    generate_all,
});

use exports::kiln::buildpack::buildpack::Guest;
use kiln::buildpack::types::{BuildContext, BuildPlan, BuildResult, DetectContext, DetectResult};

struct BadContract;

impl Guest for BadContract {
    fn descriptor() -> String {
        include_str!("../buildpack.toml").to_string()
    }

    fn detect(_context: DetectContext) -> Result<DetectResult, String> {
        Ok(DetectResult::Pass(BuildPlan { provides: Vec::new(), requires: Vec::new(), alternatives: Vec::new() }))
    }

    fn build(_context: BuildContext) -> Result<BuildResult, String> {
        Ok(BuildResult { layers: Vec::new(), processes: Vec::new(), labels: Vec::new(), unmet: Vec::new() })
    }
}

export!(BadContract);

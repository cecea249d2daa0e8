//! A buildpack built against the frozen contract `kiln:buildpack@0.1.0` (`wit/v0.1`),
//! with wit-bindgen directly, as buildpacks built before contract 0.2 were: the host must
//! keep loading and running it unchanged (log, set-executable, a launch layer, a process).

wit_bindgen::generate!({
    path: "../../../wit/v0.1",
    world: "kiln:buildpack/buildpack-component@0.1.0",
    generate_all,
});

use exports::kiln::buildpack::buildpack::Guest;
use kiln::buildpack::host::{LogLevel, log, set_executable};
use kiln::buildpack::types::{BuildContext, BuildPlan, BuildResult, DetectContext, DetectResult, Layer, LayerTypes, Process};

struct ContractV01;

impl Guest for ContractV01 {
    fn descriptor() -> String {
        include_str!("../buildpack.toml").to_string()
    }

    fn detect(context: DetectContext) -> Result<DetectResult, String> {
        if std::path::Path::new(&context.app_dir).join("v01.txt").exists() {
            Ok(DetectResult::Pass(BuildPlan { provides: Vec::new(), requires: Vec::new(), alternatives: Vec::new() }))
        } else {
            Ok(DetectResult::Fail("no v01.txt".into()))
        }
    }

    fn build(context: BuildContext) -> Result<BuildResult, String> {
        log(LogLevel::Info, "hello from contract 0.1");
        let bin = format!("{}/legacy/bin", context.layers_dir);
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        let tool = format!("{bin}/hello");
        std::fs::write(&tool, "#!/bin/sh\necho hello from a 0.1 buildpack\n").map_err(|e| e.to_string())?;
        set_executable(&tool, true)?;
        Ok(BuildResult {
            layers: vec![Layer { name: "legacy".into(), types: LayerTypes::LAUNCH, metadata: String::new() }],
            processes: vec![Process {
                process_type: "web".into(),
                command: vec![format!("/layers/fixture_contract-v01/legacy/bin/hello")],
                args: Vec::new(),
                is_default: true,
                working_dir: None,
            }],
            labels: Vec::new(),
            unmet: Vec::new(),
        })
    }
}

export!(ContractV01);

//! Runs the native steps the app's `steps.toml` lists, in order, through `exec`: the
//! fixture of the jail's tests (tests/tests/exec.rs).
//!
//! ```toml
//! detect-exec = "/bin/true"          # optional: detect tries this (it must be refused)
//! web = ["httpd", "-f", "-p", "8080"] # optional: the image's web process
//!
//! [[step]]
//! program = "/bin/sh"
//! args = ["-c", "echo hi > $LAYER/hi"]  # "$LAYER" in args/env: the `out` layer's path
//! env = { PATH = "/bin" }
//! working-dir = "/workspace"            # optional
//! stdin = "text"                        # optional
//! capture = true                        # optional: log the captured output as one line
//! must-succeed = true                   # optional (default true): non-zero exit fails the build
//! ```
//!
//! Each step logs `step N: <status>`; a refused step fails the build with the host's message.

use std::collections::BTreeMap;

use kiln_sdk::exec::Command;
use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes, Process};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Steps {
    #[serde(default)]
    detect_exec: Option<String>,
    #[serde(default)]
    web: Option<Vec<String>>,
    #[serde(default)]
    step: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Step {
    program: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    working_dir: Option<String>,
    stdin: Option<String>,
    #[serde(default)]
    capture: bool,
    #[serde(default = "yes")]
    must_succeed: bool,
}

fn yes() -> bool {
    true
}

fn read_steps(path: std::path::PathBuf) -> Result<Steps, Error> {
    let text = std::fs::read_to_string(&path).map_err(|e| Error::from(e).context("reading steps.toml"))?;
    toml::from_str(&text).map_err(|e| Error::new(format!("steps.toml: {e}")))
}

struct ExecSteps;

impl Buildpack for ExecSteps {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        let path = ctx.app_file("steps.toml");
        if !path.exists() {
            return Ok(DetectResult::fail("no steps.toml"));
        }
        let steps = read_steps(path)?;
        if let Some(program) = steps.detect_exec {
            let status = Command::new(&program).status()?;
            return Err(Error::new(format!("detect ran {program}: {status}")));
        }
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let steps = read_steps(ctx.app_file("steps.toml"))?;
        let layer = ctx.layer("out", LayerTypes::LAUNCH)?;
        let layer_path = layer.path().to_string_lossy().into_owned();
        let expand = |text: &str| text.replace("$LAYER", &layer_path);
        for (n, step) in steps.step.iter().enumerate() {
            let mut command = Command::new(&step.program);
            command.args(step.args.iter().map(|a| expand(a)));
            command.envs(step.env.iter().map(|(k, v)| (k.clone(), expand(v))));
            if let Some(dir) = &step.working_dir {
                command.current_dir(expand(dir));
            }
            if let Some(stdin) = &step.stdin {
                command.stdin(stdin.as_bytes());
            }
            let status = if step.capture {
                let output = command.output().map_err(|e| e.context(format!("step {n}")))?;
                kiln_sdk::log::info(&format!(
                    "step {n} captured: stdout={:?} stderr={:?} truncated={}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr),
                    output.truncated
                ));
                output.status
            } else {
                command.status().map_err(|e| e.context(format!("step {n}")))?
            };
            kiln_sdk::log::info(&format!("step {n}: {status}"));
            if step.must_succeed {
                status.check().map_err(|e| e.context(format!("step {n} ({})", step.program)))?;
            }
        }
        let mut result = BuildResult::new().layer(layer);
        if let Some(web) = steps.web {
            result = result.process(Process::new("web", web).default_process(true));
        }
        Ok(result)
    }
}

kiln_sdk::export_buildpack!(ExecSteps);

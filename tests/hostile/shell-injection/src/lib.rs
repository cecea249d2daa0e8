//! Hostile: declares processes that look like shell injections.
//!
//! `HOSTILE_MODE`: `type` (default) uses the process type `web; rm -rf /`, which the host
//! must refuse; `command` declares a valid `web` process whose command line contains
//! `$(touch /tmp/<HOSTILE_MARKER>)`: it is the app's own command, stored verbatim and never
//! run at build time; `nul` puts a NUL byte in an argument, which must be refused.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Process};

struct ShellInjection;

impl Buildpack for ShellInjection {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let marker = ctx.env("HOSTILE_MARKER").unwrap_or("pwned");
        let process = match ctx.env("HOSTILE_MODE").unwrap_or("type") {
            "command" => Process::shell("web", &format!("echo hi $(touch /tmp/{marker}) `touch /tmp/{marker}`; touch /tmp/{marker}")),
            "nul" => Process::new("web", vec!["/bin/echo".into(), "a\0b".into()]),
            _ => Process::shell("web; rm -rf /", "echo hi"),
        };
        Ok(BuildResult::new().process(process.default_process(true)))
    }
}

kiln_sdk::export_buildpack!(ShellInjection);

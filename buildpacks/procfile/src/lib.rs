//! The Procfile buildpack: each `type: command` line of the app's `Procfile` becomes a
//! process type run with `/bin/sh -c`; `web` is the default process.

mod procfile;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Process};

struct ProcfileBuildpack;

impl Buildpack for ProcfileBuildpack {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        let path = ctx.app_file("Procfile");
        if !path.is_file() {
            return Ok(DetectResult::fail("no Procfile in the app directory"));
        }
        // Parse during detect too, so a malformed Procfile is reported before any build work.
        let text = std::fs::read_to_string(&path).map_err(|e| Error::from(e).context("reading Procfile"))?;
        procfile::parse(&text)?;
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let text = std::fs::read_to_string(ctx.app_file("Procfile")).map_err(|e| Error::from(e).context("reading Procfile"))?;
        let entries = procfile::parse(&text)?;
        let mut result = BuildResult::new();
        for entry in entries {
            kiln_sdk::log::info(&format!("process {}: {}", entry.process_type, entry.command));
            let default = entry.process_type == "web";
            result = result.process(Process::shell(&entry.process_type, &entry.command).default_process(default));
        }
        Ok(result)
    }
}

kiln_sdk::export_buildpack!(ProcfileBuildpack);

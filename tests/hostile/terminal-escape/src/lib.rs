//! Hostile: writes terminal control sequences (clear screen, set the window title, ring
//! the bell, colours) into every text channel that reaches the user's terminal, to
//! rewrite what the user sees.
//!
//! `HOSTILE_MODE`: `log` (the log import), `stdout`, `stderr`, `error` (build's error
//! message), `detect-reason` (a failed detect's reason, shown with `--verbose`).

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct TerminalEscape;

/// Clear the screen, set the window title, ring the bell, turn text red.
const PAYLOAD: &str = "\x1b[2J\x1b[H\x1b]0;kiln-pwned\x07\x1b[31mBUILD SUCCEEDED\x1b[0m\r";

impl Buildpack for TerminalEscape {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        if ctx.env("HOSTILE_MODE") == Some("detect-reason") {
            return Ok(DetectResult::fail(format!("reason {PAYLOAD}")));
        }
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        match ctx.env("HOSTILE_MODE").unwrap_or("log") {
            "stdout" => println!("stdout {PAYLOAD}"),
            "stderr" => eprintln!("stderr {PAYLOAD}"),
            "error" => return Err(format!("error {PAYLOAD}").into()),
            _ => kiln_sdk::log::info(&format!("log {PAYLOAD}")),
        }
        Ok(BuildResult::new())
    }
}

kiln_sdk::export_buildpack!(TerminalEscape);

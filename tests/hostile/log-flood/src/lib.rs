//! Hostile: floods the build output.
//!
//! `HOSTILE_MODE`: `log` (default) calls the log import forever; `println` and `eprintln`
//! write to stdout/stderr forever; `huge-line` logs one 8 MiB line; `huge-error` fails
//! build with an 8 MiB error message, which is not a log line but reaches the user too.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct LogFlood;

impl Buildpack for LogFlood {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let mode = ctx.env("HOSTILE_MODE").unwrap_or("log").to_string();
        let mut n: u64 = 0;
        match mode.as_str() {
            "huge-line" => {
                kiln_sdk::log::info(&"y".repeat(8 << 20));
                Ok(BuildResult::new())
            }
            "huge-error" => Err(format!("huge error {}", "z".repeat(8 << 20)).into()),
            "println" => loop {
                n += 1;
                println!("flood line {n} on stdout, padding padding padding padding padding");
            },
            "eprintln" => loop {
                n += 1;
                eprintln!("flood line {n} on stderr, padding padding padding padding padding");
            },
            _ => loop {
                n += 1;
                kiln_sdk::log::info(&format!("flood line {n} through the log import, padding padding padding"));
            },
        }
    }
}

kiln_sdk::export_buildpack!(LogFlood);

//! Hostile: blocks inside a host call instead of spinning in wasm.
//!
//! `std::thread::sleep` becomes a WASI clock subscription and a blocking `poll` in the
//! host, where wasmtime's epoch interruption cannot reach it: the wall-time limit must
//! still stop the buildpack. `HOSTILE_SECONDS` sets the sleep (default 3600).

use std::time::Duration;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct Sleeper;

impl Buildpack for Sleeper {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let seconds: u64 = ctx.env("HOSTILE_SECONDS").unwrap_or("3600").parse().map_err(|e| format!("HOSTILE_SECONDS: {e}"))?;
        kiln_sdk::log::info(&format!("sleeping {seconds} s in one host call"));
        std::thread::sleep(Duration::from_secs(seconds));
        kiln_sdk::log::info("WOKE UP: the wall-time limit did not stop the sleep");
        Ok(BuildResult::new())
    }
}

kiln_sdk::export_buildpack!(Sleeper);

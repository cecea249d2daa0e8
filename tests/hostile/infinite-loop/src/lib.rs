//! Hostile: spins forever in build (or in detect with `HOSTILE_MODE=detect`), never
//! calling the host, so only the host's CPU and wall-time limits can stop it.

use std::hint::black_box;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct InfiniteLoop;

fn spin() -> ! {
    let mut x = 0u64;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

impl Buildpack for InfiniteLoop {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        if ctx.env("HOSTILE_MODE") == Some("detect") {
            spin();
        }
        Ok(DetectResult::pass())
    }

    fn build(_ctx: &BuildContext) -> Result<BuildResult, Error> {
        spin();
    }
}

kiln_sdk::export_buildpack!(InfiniteLoop);

//! Hostile: allocates 64 MiB blocks without end, touching every page, in build.
//!
//! `HOSTILE_MODE=graceful` uses `try_reserve` and stops at the first refusal, returning
//! success: the host must deny the growth without crashing, and the build carries on.

use std::hint::black_box;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct MemoryBomb;

const BLOCK: usize = 64 << 20;

fn touch(block: &mut [u8]) {
    for i in (0..block.len()).step_by(4096) {
        block[i] = (i >> 12) as u8;
    }
}

impl Buildpack for MemoryBomb {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let graceful = ctx.env("HOSTILE_MODE") == Some("graceful");
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = Vec::new();
            if graceful && let Err(e) = block.try_reserve_exact(BLOCK) {
                kiln_sdk::log::info(&format!("REFUSED after {} MiB: {e}", hoard.len() * 64));
                return Ok(BuildResult::new());
            }
            block.resize(BLOCK, 1u8);
            touch(&mut block);
            hoard.push(black_box(block));
            kiln_sdk::log::info(&format!("holding {} MiB", hoard.len() * 64));
        }
    }
}

kiln_sdk::export_buildpack!(MemoryBomb);

//! Hostile: recurses without bound in build.
//!
//! `HOSTILE_MODE`: `native` (default) recurses with small frames, so wasmtime's native
//! stack limit is what stops it; `shadow` puts a 64 KiB buffer in every frame, so the
//! guest's own stack in linear memory (1 MiB in Rust's wasm32 targets) runs out first.

use std::hint::black_box;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct DeepRecursion;

/// Called through a black-boxed function pointer so it is neither inlined nor turned into a loop.
#[inline(never)]
fn native(depth: u64) -> u64 {
    let next: fn(u64) -> u64 = black_box(native);
    next(depth + 1).wrapping_mul(3).wrapping_add(depth)
}

#[inline(never)]
fn shadow(depth: u64) -> u64 {
    let mut buffer = [0u8; 64 << 10];
    buffer[(depth as usize) % buffer.len()] = depth as u8;
    let buffer = black_box(buffer);
    let next: fn(u64) -> u64 = black_box(shadow);
    next(depth + 1).wrapping_add(u64::from(buffer[0]))
}

impl Buildpack for DeepRecursion {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let result = match ctx.env("HOSTILE_MODE").unwrap_or("native") {
            "shadow" => shadow(0),
            _ => native(0),
        };
        Err(format!("recursion returned {result}, which it never should").into())
    }
}

kiln_sdk::export_buildpack!(DeepRecursion);

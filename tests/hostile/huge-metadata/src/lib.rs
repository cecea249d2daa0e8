//! Hostile: returns layer metadata the host must refuse or survive parsing.
//!
//! `HOSTILE_MODE`: `big` (default) is a 2 MiB TOML document; `deep-array` and
//! `deep-table` nest arrays / inline tables 100 000 deep in under 1 MiB, to find a
//! recursive parser on the host; `plan-deep` sends the deep array as a build-plan
//! require's metadata from detect instead; `many-layers` returns five layers with 900 KiB of
//! metadata each and `many-labels` five 900 KiB labels: each item is under its own limit,
//! together they would overflow the image config.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes, Plan};

struct HugeMetadata;

const DEPTH: usize = 100_000;

fn deep_array() -> String {
    format!("a = {}1{}\n", "[".repeat(DEPTH), "]".repeat(DEPTH))
}

fn deep_table() -> String {
    format!("a = {}1{}\n", "{ b = ".repeat(DEPTH), " }".repeat(DEPTH))
}

impl Buildpack for HugeMetadata {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        if ctx.env("HOSTILE_MODE") == Some("plan-deep") {
            let plan = Plan::new().provides("deep").requires("deep", &deep_array());
            return Ok(DetectResult::pass_with(plan));
        }
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let mode = ctx.env("HOSTILE_MODE").unwrap_or("big");
        let blob = || format!("blob = \"{}\"\n", "x".repeat(900 << 10));
        if mode == "many-layers" {
            let mut result = BuildResult::new();
            for n in 0..5 {
                result = result.layer(ctx.layer(&format!("big-{n}"), LayerTypes::LAUNCH)?.with_metadata(blob()));
            }
            return Ok(result);
        }
        if mode == "many-labels" {
            return Ok((0..5).fold(BuildResult::new(), |r, n| r.label(&format!("big.{n}"), &"y".repeat(900 << 10))));
        }
        let metadata = match mode {
            "deep-array" => deep_array(),
            "deep-table" => deep_table(),
            "plan-deep" => String::new(),
            _ => format!("blob = \"{}\"\n", "x".repeat(2 << 20)),
        };
        kiln_sdk::log::info(&format!("returning {} bytes of layer metadata", metadata.len()));
        let layer = ctx.layer("big", LayerTypes::LAUNCH)?.with_metadata(metadata);
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(HugeMetadata);

//! Hostile: a launch layer bigger than the platform allows. `HOSTILE_MODE=sparse` (default)
//! makes one sparse file of `HOSTILE_BYTES` (default 64 GiB: nothing on disk, all of it in a
//! layer tar); `dense` writes `HOSTILE_BYTES` real bytes; `app` writes them into the app dir.

use std::io::Write;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct BigLayer;

impl Buildpack for BigLayer {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let bytes: u64 = ctx.env("HOSTILE_BYTES").unwrap_or("68719476736").parse().map_err(|e| format!("HOSTILE_BYTES: {e}"))?;
        let layer = ctx.layer("big", LayerTypes::LAUNCH)?;
        match ctx.env("HOSTILE_MODE").unwrap_or("sparse") {
            "sparse" => std::fs::File::create(layer.path().join("sparse"))?.set_len(bytes)?,
            mode @ ("dense" | "app") => {
                let path = if mode == "app" { ctx.app_file("big.bin") } else { layer.path().join("dense") };
                let mut file = std::fs::File::create(path)?;
                let chunk = vec![0x5a_u8; 1 << 20];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    file.write_all(&chunk[..n])?;
                    left -= n as u64;
                }
            }
            other => return Err(format!("unknown HOSTILE_MODE {other}").into()),
        }
        kiln_sdk::log::info(&format!("WROTE {bytes} bytes"));
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(BigLayer);

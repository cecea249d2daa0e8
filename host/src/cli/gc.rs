//! `kiln gc`: garbage-collect the local store.

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::image::ImageStore;
use crate::platform::Dirs;
use crate::sandbox::limits::parse_duration;

/// Arguments of `kiln gc`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln gc\n  kiln gc --grace 0s   # also blobs written in the last minutes (no build may be running)")]
pub struct GcArgs {
    /// Keep unreachable blobs younger than this: a build running now may have written them
    /// and not tagged its image yet.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub grace: String,
}

/// Remove the blobs no tag reaches.
pub fn run(args: GcArgs, out: &Output) -> Result<(), CliError> {
    let grace = match args.grace.trim() {
        "0" | "0s" => std::time::Duration::ZERO,
        text => parse_duration(text).map_err(|e| CliError::Usage(format!("--grace: {e}")))?,
    };
    let dirs = Dirs::from_env();
    let store = ImageStore::open(&dirs.store)?;
    let report = store.gc(grace)?;
    if out.json() {
        out.result(
            &serde_json::json!({
                "removed": report.removed, "freedBytes": report.freed_bytes, "kept": report.kept, "young": report.young
            })
            .to_string(),
        );
    } else {
        out.result(&format!(
            "removed {} blob(s), freed {} bytes; kept {} reachable, {} younger than {}",
            report.removed, report.freed_bytes, report.kept, report.young, args.grace
        ));
    }
    Ok(())
}

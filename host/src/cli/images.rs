//! `kiln images`: list the local store.

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::image::ImageStore;
use crate::platform::Dirs;

/// Arguments of `kiln images`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln images")]
pub struct ImagesArgs {}

/// List tags and digests.
pub fn run(_args: ImagesArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let store = ImageStore::open(&dirs.store)?;
    let images = store.list()?;
    if out.json() {
        let list: Vec<_> =
            images.iter().map(|(name, d)| serde_json::json!({"name": name, "digest": d.digest.to_string(), "size": d.size})).collect();
        out.result(&serde_json::Value::Array(list).to_string());
        return Ok(());
    }
    for (name, descriptor) in images {
        out.result(&format!("{name}\t{}", descriptor.digest));
    }
    Ok(())
}

//! `kiln sbom IMAGE`: print the CycloneDX SBOM kiln put in an image.

use std::io::Read;

use clap::Args;

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::fetch::sbom::{SBOM_IMAGE_PATH, SBOM_LABEL};
use crate::image::ImageRef;
use crate::lifecycle::request::open_ref;

/// Arguments of `kiln sbom`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln sbom myapp:latest | jq '.components[].externalReferences[0].url'")]
pub struct SbomArgs {
    /// The image: NAME[:TAG] in the local store, or oci:DIR[:TAG].
    pub image: String,
}

/// Print the SBOM (CycloneDX JSON) of an image: every file its buildpacks fetched.
pub fn run(args: SbomArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let bad = |m: String| CliError::new(ExitCode::BadInput, m);
    let reference = ImageRef::parse(&args.image).map_err(|e| bad(e.to_string()))?;
    let (store, tag) = open_ref(&reference, &dirs.store).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?;
    let image = store.read_image(&tag).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?;
    let Some(diff_id) = image.label(SBOM_LABEL) else {
        return Err(bad(format!("{} has no SBOM (no {SBOM_LABEL} label): its buildpacks fetched nothing", args.image)));
    };
    let index = image
        .config
        .rootfs
        .diff_ids
        .iter()
        .position(|d| d.to_string() == diff_id)
        .ok_or_else(|| CliError::new(ExitCode::Image, format!("{SBOM_LABEL} names layer {diff_id}, which the image does not have")))?;
    let layer = image.manifest.layers.get(index).ok_or_else(|| CliError::new(ExitCode::Image, "the manifest has fewer layers than the config"))?;
    let blob = store.open_blob(&layer.digest).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?;
    let wanted = SBOM_IMAGE_PATH.trim_start_matches('/');
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let entries = archive.entries().map_err(|e| CliError::new(ExitCode::Image, format!("SBOM layer: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| CliError::new(ExitCode::Image, format!("SBOM layer: {e}")))?;
        let path = entry.path().map(|p| p.to_string_lossy().trim_start_matches("./").to_string()).unwrap_or_default();
        if path == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| CliError::new(ExitCode::Image, format!("SBOM layer: {e}")))?;
            out.result(text.trim_end());
            return Ok(());
        }
    }
    Err(CliError::new(ExitCode::Image, format!("the SBOM layer {diff_id} has no {SBOM_IMAGE_PATH}")))
}

//! `kiln sbom IMAGE`: print the CycloneDX SBOM kiln put in an image.

use clap::Args;

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::fetch::sbom::SBOM_LABEL;
use crate::image::ImageRef;
use crate::image::open_ref;
use crate::lifecycle::sbom::read_image_sbom;

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
    let document = read_image_sbom(&store, &image).map_err(|e| CliError::new(ExitCode::Image, format!("{}: {e}", args.image)))?;
    let Some(document) = document else {
        return Err(bad(format!("{} has no SBOM (no {SBOM_LABEL} label): its buildpacks fetched and declared nothing", args.image)));
    };
    out.result(String::from_utf8_lossy(&document).trim_end());
    Ok(())
}

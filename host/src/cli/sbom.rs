//! `kiln sbom IMAGE`: print the CycloneDX SBOM kiln put in an image.

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::fetch::sbom::SBOM_LABEL;
use crate::image::{ImageRef, open_ref};
use crate::lifecycle::sbom::read_image_sbom;
use crate::platform::{Dirs, PlatformError};

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
    let reference = ImageRef::parse(&args.image)?;
    let (store, tag) = open_ref(&reference, &dirs.store)?;
    let image = store.read_image(&tag)?;
    let document = read_image_sbom(&store, &image).map_err(|reason| PlatformError::Sbom { image: args.image.clone(), reason })?;
    let Some(document) = document else {
        return Err(CliError::Usage(format!(
            "{} has no SBOM (no {SBOM_LABEL} label): its buildpacks fetched and declared nothing",
            args.image
        )));
    };
    out.result(String::from_utf8_lossy(&document).trim_end());
    Ok(())
}

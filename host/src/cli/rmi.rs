//! `kiln rmi`: remove tags from the local store.

use clap::Args;

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::image::ImageRef;
use crate::image::open_ref;

/// Arguments of `kiln rmi`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln rmi myapp\n  kiln rmi 127.0.0.1:5000/app:v1   # the local copy kept by `kiln build`, not the registry's\n  kiln gc                           # then free the blobs no tag uses")]
pub struct RmiArgs {
    /// The images to untag: NAME[:TAG] (or a registry name kept in the store), or oci:DIR:TAG.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Untag each image; blobs are freed by `kiln gc`.
pub fn run(args: RmiArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    for name in &args.images {
        let reference = ImageRef::parse(name).map_err(CliError::from)?;
        if matches!(reference, ImageRef::DockerArchive { .. }) {
            return Err(CliError::new(ExitCode::BadInput, format!("{name}: a docker-archive is a file; delete it instead")));
        }
        let (store, tag) = open_ref(&reference, &dirs.store)?;
        if !store.untag(&tag)? {
            return Err(CliError::new(
                ExitCode::BadInput,
                format!("no image named {tag} in {}; list images with `kiln images`", store.dir().display()),
            ));
        }
        out.result(&format!("untagged {tag}"));
    }
    out.progress("blobs stay in the store until `kiln gc`");
    Ok(())
}

//! `kiln rmi`: remove tags from the local store.

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::image::{ImageError, ImageRef, open_ref};
use crate::platform::Dirs;

/// Arguments of `kiln rmi`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln rmi myapp\n  kiln rmi 127.0.0.1:5000/app:v1   # the local copy kept by `kiln build`, not the registry's\n  kiln gc                           # then free the blobs no tag uses"
)]
pub struct RmiArgs {
    /// The images to untag: NAME[:TAG] (or a registry name kept in the store), or oci:DIR:TAG.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Untag each image; blobs are freed by `kiln gc`.
pub fn run(args: RmiArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    for name in &args.images {
        let reference = ImageRef::parse(name)?;
        if matches!(reference, ImageRef::DockerArchive { .. }) {
            return Err(CliError::Usage(format!("{name}: a docker-archive is a file; delete it instead")));
        }
        let (store, tag) = open_ref(&reference, &dirs.store)?;
        if !store.untag(&tag)? {
            return Err(ImageError::ImageNotFound { name: tag, store: store.dir().to_path_buf() }.into());
        }
        out.result(&format!("untagged {tag}"));
    }
    out.progress("blobs stay in the store until `kiln gc`");
    Ok(())
}

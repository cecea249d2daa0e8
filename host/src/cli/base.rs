//! `kiln base`: make run images.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::image::{BaseImageOptions, ImageRef, create_base_image};
use crate::lifecycle::request::open_ref;

/// `kiln base` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaseCommand {
    /// Make a one-layer run image from a root filesystem directory.
    FromDir(FromDirArgs),
}

/// Arguments of `kiln base from-dir`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln base from-dir ./rootfs --tag run-base\n  kiln base from-dir ./rootfs --tag oci:./base-layout:v1 --user 1000:1000")]
pub struct FromDirArgs {
    /// The root filesystem directory (its contents become `/`).
    pub rootfs: PathBuf,
    /// The image to write: NAME[:TAG] in the local store, or oci:DIR[:TAG].
    #[arg(long)]
    pub tag: String,
    /// The user the app runs as.
    #[arg(long, default_value = "1000:1000")]
    pub user: String,
    /// The `io.buildpacks.base.id` label.
    #[arg(long)]
    pub id: Option<String>,
    /// Distribution name (default: from the rootfs's os-release).
    #[arg(long)]
    pub distro_name: Option<String>,
    /// Distribution version (default: from the rootfs's os-release).
    #[arg(long)]
    pub distro_version: Option<String>,
}

/// Run a `kiln base` command.
pub fn run(command: BaseCommand, out: &Output) -> Result<(), CliError> {
    match command {
        BaseCommand::FromDir(args) => from_dir(args, out),
    }
}

fn from_dir(args: FromDirArgs, out: &Output) -> Result<(), CliError> {
    if !args.rootfs.is_dir() {
        return Err(CliError::new(ExitCode::BadInput, format!("{} is not a directory", args.rootfs.display())));
    }
    let dirs = Dirs::from_env();
    let reference = ImageRef::parse(&args.tag).map_err(|e| CliError::new(ExitCode::BadInput, e.to_string()))?;
    let (store, tag) = open_ref(&reference, &dirs.store).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?;
    let options = BaseImageOptions {
        user: args.user,
        id: args.id,
        distro_name: args.distro_name,
        distro_version: args.distro_version,
        ..BaseImageOptions::default()
    };
    let descriptor = create_base_image(&store, &args.rootfs, &tag, &options)
        .map_err(|e| CliError::new(ExitCode::Image, format!("cannot make a base image from {}: {e}", args.rootfs.display())))?;
    out.progress(&format!("wrote base image {reference}"));
    out.result(&format!("{reference}@{}", descriptor.digest));
    Ok(())
}

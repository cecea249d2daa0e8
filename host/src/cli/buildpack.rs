//! `kiln buildpack package|push|pull`: buildpacks as OCI images (CNB buildpackages); the
//! format and the work are the platform's ([`crate::platform::buildpackage`]).

use clap::{Args, Subcommand};

use super::exit::CliError;
use super::output::Output;
use super::registry_args::RegistryArgs;
use crate::image::ImageStore;
use crate::platform::Dirs;
use crate::platform::buildpackage;

/// `kiln buildpack` subcommands.
#[derive(Debug, Subcommand)]
pub enum BuildpackCommand {
    /// Put a buildpack component into an OCI image (a CNB buildpackage).
    Package(PackageArgs),
    /// Push a packaged buildpack from the local store to its registry.
    Push(PushArgs),
    /// Pull a packaged buildpack from a registry into the local store.
    Pull(PullArgs),
}

/// Arguments of `kiln buildpack package`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln buildpack package ./my-buildpack.wasm --output 127.0.0.1:5000/buildpacks/mine:0.1.0 --publish\n  kiln buildpack package kiln/procfile --output oci:./bp-layout:procfile\n  kiln build myapp --path . --buildpack 127.0.0.1:5000/buildpacks/mine:0.1.0 --run-image run-base"
)]
pub struct PackageArgs {
    /// The buildpack: a component file (.wasm), a directory holding `buildpack.wasm`, or a
    /// bundled buildpack id.
    pub buildpack: String,
    /// Where to write the image: NAME[:TAG], oci:DIR[:TAG] or HOST/REPO[:TAG].
    #[arg(long, value_name = "REF")]
    pub output: String,
    /// Also push it (when --output is a registry reference).
    #[arg(long)]
    pub publish: bool,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `kiln buildpack push`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln buildpack push 127.0.0.1:5000/buildpacks/procfile:0.1.0")]
pub struct PushArgs {
    /// The packaged buildpack, kept in the local store under its registry name.
    pub image: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `kiln buildpack pull`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln buildpack pull 127.0.0.1:5000/buildpacks/procfile:0.1.0")]
pub struct PullArgs {
    /// The packaged buildpack: HOST/REPO[:TAG|@DIGEST].
    pub image: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Run a `kiln buildpack` command.
pub fn run(command: BuildpackCommand, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    match command {
        BuildpackCommand::Package(args) => {
            let registries = args.registry.registries(out)?;
            let packaged = buildpackage::package(&args.buildpack, &args.output, args.publish, &dirs, &registries)?;
            out.progress(&format!("[package] {} -> {}", packaged.buildpack, packaged.reference));
            out.result(&format!("{}@{}", packaged.reference, packaged.descriptor.digest));
        }
        BuildpackCommand::Push(args) => {
            let (reference, digest) = buildpackage::push(&args.image, &dirs, &args.registry.registries(out)?)?;
            out.result(&format!("{reference}@{digest}"));
        }
        BuildpackCommand::Pull(args) => {
            let store = ImageStore::open(&dirs.store)?;
            let source = buildpackage::pull(&args.image, &store, &args.registry.registries(out)?)?;
            out.result(&source.origin);
        }
    }
    Ok(())
}

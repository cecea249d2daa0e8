//! `kiln base`: make run images (the Debian one with [`crate::platform::base`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::CliError;
use super::output::Output;
use crate::base::debian::DebianBase;
use crate::image::{BaseImageOptions, ImageRef, create_base_image, open_ref};
use crate::platform::Dirs;

/// `kiln base` subcommands.
#[derive(Debug, Subcommand)]
pub enum BaseCommand {
    /// Make a one-layer run image from a root filesystem directory.
    FromDir(FromDirArgs),
    /// Make a run image from a distribution's packages (Debian), like distroless.
    Build(BuildArgs),
}

/// Arguments of `kiln base build`.
#[derive(Debug, Args)]
#[command(after_help = "The archive is the first `deb` source for the suite's `main` in /etc/apt (sources.list,\n\
sources.list.d/*.list and *.sources) unless --mirror is given. Packages are cached under\n\
<kiln cache>/debian; the same package set always gives the same image digest.\n\n\
Example:\n  kiln base build --tag run-base\n  kiln base build --distro debian:bookworm --package libssl3 --tag run-ssl\n  kiln base build --mirror http://deb.debian.org/debian --tag oci:./base-layout:v1")]
pub struct BuildArgs {
    /// The distribution and suite, DISTRO:SUITE (only `debian` is supported).
    #[arg(long, default_value = "debian:bookworm")]
    pub distro: String,
    /// A package to add to the set (with its dependencies); repeatable.
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Start from no package instead of the defaults (libc6, libgcc-s1, libstdc++6, zlib1g,
    /// ca-certificates, tzdata, busybox-static).
    #[arg(long)]
    pub no_default_packages: bool,
    /// A package to leave out of the dependency closure (unless named with --package); repeatable.
    #[arg(long = "exclude", value_name = "NAME")]
    pub exclude: Vec<String>,
    /// The image to write: NAME[:TAG] in the local store, or oci:DIR[:TAG]. Default
    /// `kiln/run:<distro>-<suite>`.
    #[arg(long)]
    pub tag: Option<String>,
    /// The archive URL, e.g. http://deb.debian.org/debian (default: from the apt sources).
    #[arg(long, env = "KILN_DEBIAN_MIRROR")]
    pub mirror: Option<String>,
    /// An OpenPGP keyring to check InRelease with (default: the source's Signed-By, else
    /// /usr/share/keyrings/debian-archive-keyring.gpg); repeatable.
    #[arg(long = "keyring", value_name = "FILE")]
    pub keyrings: Vec<PathBuf>,
    /// Do not check the InRelease signature (then only the transport vouches for it).
    #[arg(long)]
    pub no_verify_signature: bool,
    /// The `io.buildpacks.base.id` label (default `kiln/debian-<suite>`).
    #[arg(long)]
    pub id: Option<String>,
}

/// Arguments of `kiln base from-dir`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  kiln base from-dir ./rootfs --tag run-base\n  kiln base from-dir ./rootfs --tag oci:./base-layout:v1 --user 1000:1000"
)]
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
        BaseCommand::Build(args) => build(args, out),
    }
}

fn build(args: BuildArgs, out: &Output) -> Result<(), CliError> {
    let (distro, suite) = match args.distro.split_once(':') {
        Some(("debian", suite)) if !suite.is_empty() => ("debian", suite),
        _ => {
            return Err(CliError::Usage(format!("unsupported --distro {:?}: use debian:SUITE, e.g. debian:bookworm", args.distro)));
        }
    };
    let dirs = Dirs::from_env();
    let tag = args.tag.unwrap_or_else(|| format!("kiln/run:{distro}-{suite}"));
    let reference = ImageRef::parse(&tag)?;
    let (store, tag_name) = open_ref(&reference, &dirs.store)?;

    let mut base = DebianBase::new(suite, dirs.cache.join("debian"), dirs.work.clone());
    if args.no_default_packages {
        base.packages.clear();
    }
    for package in args.packages {
        if !base.packages.contains(&package) {
            base.packages.push(package);
        }
    }
    if base.packages.is_empty() {
        return Err(CliError::Usage("no package to install: name one with --package".into()));
    }
    base.exclude.extend(args.exclude);
    base.mirror = args.mirror;
    base.keyrings = args.keyrings;
    base.verify_signature = !args.no_verify_signature;
    base.id = args.id;

    let report = crate::platform::base::build_debian(&base, &store, &tag_name, &out.progress_sink())?;
    out.progress(&format!("wrote base image {reference}"));
    out.result(&format!("{reference}@{}", report.descriptor.digest));
    Ok(())
}

fn from_dir(args: FromDirArgs, out: &Output) -> Result<(), CliError> {
    if !args.rootfs.is_dir() {
        return Err(CliError::Usage(format!("{} is not a directory", args.rootfs.display())));
    }
    let dirs = Dirs::from_env();
    let reference = ImageRef::parse(&args.tag)?;
    let (store, tag) = open_ref(&reference, &dirs.store)?;
    let options = BaseImageOptions {
        user: args.user,
        id: args.id,
        distro_name: args.distro_name,
        distro_version: args.distro_version,
        ..BaseImageOptions::default()
    };
    let descriptor = create_base_image(&store, &args.rootfs, &tag, &options)?;
    out.progress(&format!("wrote base image {reference}"));
    out.result(&format!("{reference}@{}", descriptor.digest));
    Ok(())
}

//! The `kiln` command line: argument parsing, output and exit codes. No build logic lives
//! here; each command turns its flags into an options struct for [`crate::platform`] (or a
//! library call), prints the result, and returns a typed error whose exit code is chosen
//! in one table, [`exit`].

mod base;
mod build;
mod builder;
mod buildpack;
mod completions;
pub mod exit;
mod fetch_args;
mod fetch_cache;
mod gc;
mod images;
mod inspect;
mod live;
mod output;
mod rebase;
mod registry_args;
mod rmi;
mod run;
mod sbom;

use clap::{Parser, Subcommand};

pub use exit::{CliError, ExitCode};

/// kiln builds OCI images from source with Cloud Native Buildpacks, running every
/// buildpack as a sandboxed WebAssembly component. No daemon, no root.
#[derive(Debug, Parser)]
#[command(name = "kiln", version, propagate_version = true)]
#[command(
    after_help = "Example:\n  kiln base from-dir ./rootfs --tag run-base\n  kiln build myapp --path examples/procfile-web --run-image run-base"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Show more detail: every buildpack's detect outcome and debug logs.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Show only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print progress as JSON lines on stdout (one event per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an app image from source.
    Build(Box<build::BuildArgs>),
    /// Make and manage base (run) images.
    #[command(subcommand)]
    Base(base::BaseCommand),
    /// List the images in the local store.
    Images(images::ImagesArgs),
    /// Print the SBOM (CycloneDX JSON) of an image: every file its buildpacks fetched.
    Sbom(sbom::SbomArgs),
    /// List, fill or export (as an offline mirror) the download cache of `fetch`.
    #[command(subcommand)]
    FetchCache(fetch_cache::FetchCacheCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Put an app image on a new run image, rewriting only its manifest and config.
    Rebase(rebase::RebaseArgs),
    /// Show an image's processes, buildpacks, run image, layers and labels.
    Inspect(inspect::InspectArgs),
    /// Remove tags from the local store (blobs stay until `kiln gc`).
    Rmi(rmi::RmiArgs),
    /// Remove blobs of the local store that no tag reaches.
    Gc(gc::GcArgs),
    /// Package, push and pull buildpacks as OCI images.
    #[command(subcommand)]
    Buildpack(buildpack::BuildpackCommand),
    /// Run an image without a daemon (unpacked, in kiln's jail).
    Run(run::RunArgs),
    /// Show builders: the embedded default or a builder.toml.
    #[command(subcommand)]
    Builder(builder::BuilderCommand),
}

/// Run the parsed command line; returns the process exit code. A panic is kiln's bug: it
/// is reported as one (exit 1), whatever the command was running.
pub fn run(cli: Cli) -> ExitCode {
    let out = output::Output::new(cli.verbose, cli.quiet, cli.json);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli.command, &out))).unwrap_or(Err(CliError::Panicked));
    if let Err(error) = &result
        && !error.is_silent()
    {
        out.error(&error.to_string());
    }
    ExitCode::of(&result)
}

fn dispatch(command: Command, out: &output::Output) -> Result<(), CliError> {
    match command {
        Command::Build(args) => build::run(*args, out),
        Command::Base(command) => base::run(command, out),
        Command::Images(args) => images::run(args, out),
        Command::Sbom(args) => sbom::run(args, out),
        Command::FetchCache(command) => fetch_cache::run(command, out),
        Command::Completions(args) => completions::run(args),
        Command::Rebase(args) => rebase::run(args, out),
        Command::Inspect(args) => inspect::run(args, out),
        Command::Rmi(args) => rmi::run(args, out),
        Command::Builder(command) => builder::run(command, out),
        Command::Run(args) => run::run(args, out),
        Command::Gc(args) => gc::run(args, out),
        Command::Buildpack(command) => buildpack::run(command, out),
    }
}

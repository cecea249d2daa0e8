//! `kiln builder inspect`: show a builder (the embedded default or a builder.toml): its
//! buildpacks, order of groups and run image.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::CliError;
use super::output::Output;
use crate::buildpack::builder::Builder;
use crate::image::ImageStore;
use crate::platform::Dirs;

/// `kiln builder` subcommands.
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Show a builder's buildpacks, order of groups and run image.
    Inspect(InspectArgs),
}

/// Arguments of `kiln builder inspect`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln builder inspect\n  kiln builder inspect --builder ./builder.toml --json")]
pub struct InspectArgs {
    /// A builder.toml to show instead of kiln's embedded default builder.
    #[arg(long)]
    pub builder: Option<PathBuf>,
}

/// Run a `kiln builder` command.
pub fn run(command: BuilderCommand, out: &Output) -> Result<(), CliError> {
    match command {
        BuilderCommand::Inspect(args) => inspect(args, out),
    }
}

fn inspect(args: InspectArgs, out: &Output) -> Result<(), CliError> {
    let builder = match &args.builder {
        Some(path) => Builder::read(path).map_err(crate::platform::PlatformError::Builder)?,
        None => Builder::default_builder(),
    };
    let run_image_state = builder.run_image.as_deref().map(run_image_state);
    if out.json() {
        let order: Vec<Vec<serde_json::Value>> = builder
            .order
            .groups
            .iter()
            .map(|group| group.entries.iter().map(|e| serde_json::json!({"id": e.id.as_str(), "optional": e.optional})).collect())
            .collect();
        let value = serde_json::json!({
            "description": builder.description,
            "buildpacks": builder.buildpacks,
            "order": order,
            "run_image": builder.run_image,
            "run_image_in_store": run_image_state.as_ref().map(|state| state.is_some()),
        });
        out.result(&value.to_string());
        return Ok(());
    }
    out.result(&format!("Builder: {}", if args.builder.is_some() { "from file" } else { "kiln's default (embedded)" }));
    out.result(&format!("Description: {}", builder.description));
    match (&builder.run_image, &run_image_state) {
        (Some(reference), Some(Some(digest))) => out.result(&format!("Run image: {reference} (in the local store: {digest})")),
        (Some(reference), _) => out.result(&format!(
            "Run image: {reference} (not in the local store yet: `kiln build` makes it on first use, or `kiln base build`)"
        )),
        (None, _) => out.result("Run image: none (pass --run-image to kiln build)"),
    }
    out.result("Buildpacks:");
    for buildpack in &builder.buildpacks {
        out.result(&format!("  {buildpack}"));
    }
    out.result("Order (the first group whose required buildpacks all pass detection is used):");
    for (number, group) in builder.order.groups.iter().enumerate() {
        let entries: Vec<String> = group
            .entries
            .iter()
            .map(|e| if e.optional { format!("{} (optional)", e.id.as_str()) } else { e.id.as_str().to_string() })
            .collect();
        out.result(&format!("  {}. {}", number + 1, entries.join(", ")));
    }
    Ok(())
}

/// The digest of `reference` in the local store, if it is a store name that is there.
fn run_image_state(reference: &str) -> Option<String> {
    let store = ImageStore::open(Dirs::from_env().store).ok()?;
    let descriptor = store.resolve(reference).ok()??;
    Some(descriptor.digest.to_string())
}

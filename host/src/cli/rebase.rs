//! `kiln rebase`: flags to [`RebaseOptions`]; the platform finds the images and rebases
//! ([`crate::platform::rebase`], on `lifecycle::rebase`).

use std::time::Instant;

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use super::registry_args::RegistryArgs;
use crate::platform::Dirs;
use crate::platform::rebase::RebaseOptions;

/// Arguments of `kiln rebase`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln rebase myapp --run-image run-base:2\n  kiln rebase myapp                  # onto the current image of the run image it was built on\n  kiln rebase 127.0.0.1:5000/myapp:v1 --publish --run-image 127.0.0.1:5000/run:2\n\nWithout --publish the image in the local store (or oci:DIR) is rebased. With --publish, IMAGE\nis rebased on its registry: only the manifest and config are read and written; app layers are\nneither downloaded nor uploaded (run image layers are mounted or uploaded when missing)."
)]
pub struct RebaseArgs {
    /// The app image: NAME[:TAG], oci:DIR[:TAG], or HOST/REPO[:TAG] (the local copy, or the
    /// registry's with --publish).
    pub image: String,
    /// The new run image (default: the run image recorded in the app image, re-resolved).
    #[arg(long, value_name = "REF")]
    pub run_image: Option<String>,
    /// Rebase the image on its registry and push the result under the same tag.
    #[arg(long)]
    pub publish: bool,
    /// Skip the compatibility checks (os/arch, distro, io.buildpacks.rebasable).
    #[arg(long)]
    pub force: bool,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Rebase and print `IMAGE@DIGEST`.
pub fn run(args: RebaseArgs, out: &Output) -> Result<(), CliError> {
    let started = Instant::now();
    let registries = args.registry.registries(out)?;
    let options = RebaseOptions { image: args.image.clone(), run_image: args.run_image, publish: args.publish, force: args.force };
    let rebased = crate::platform::rebase::rebase(&options, &Dirs::from_env(), &registries, &out.progress_sink())?;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    out.progress(&format!(
        "[rebase] {} onto {}: replaced {} run image layer(s) with {}, kept {} app layer(s), in {millis:.1} ms",
        args.image, rebased.run_image, rebased.replaced_layers, rebased.run_layers, rebased.app_layers
    ));
    if out.json() {
        out.result(
            &serde_json::json!({
                "event": "rebased", "image": args.image, "digest": rebased.digest.to_string(), "runImage": rebased.run_image,
                "replacedLayers": rebased.replaced_layers, "appLayers": rebased.app_layers, "millis": millis
            })
            .to_string(),
        );
    } else {
        out.result(&format!("{}@{}", args.image, rebased.digest));
    }
    Ok(())
}

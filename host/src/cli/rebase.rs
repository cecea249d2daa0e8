//! `kiln rebase`: put an app image on a new run image (see `lifecycle::rebase`).

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Args;

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use super::registry_args::RegistryArgs;
use crate::image::registry::{PushSources, RegistryClient};
use crate::image::{Image, ImageRef, ImageStore};
use crate::lifecycle::rebase::{RebaseError, Rebaser, copy_blobs, recorded_run_image, write_rebased};
use crate::image::open_ref;

/// Arguments of `kiln rebase`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln rebase myapp --run-image run-base:2\n  kiln rebase myapp                  # onto the current image of the run image it was built on\n  kiln rebase 127.0.0.1:5000/myapp:v1 --publish --run-image 127.0.0.1:5000/run:2\n\nWithout --publish the image in the local store (or oci:DIR) is rebased. With --publish, IMAGE\nis rebased on its registry: only the manifest and config are read and written; app layers are\nneither downloaded nor uploaded (run image layers are mounted or uploaded when missing).")]
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

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

impl From<RebaseError> for CliError {
    fn from(error: RebaseError) -> Self {
        match error {
            RebaseError::Image(image) => image.into(),
            RebaseError::NotABuildpacksImage { .. } | RebaseError::TopLayerNotFound { .. } | RebaseError::NoRunImage { .. } => {
                bad_input(error.to_string())
            }
            other => CliError::new(ExitCode::RebaseRefused, other.to_string()),
        }
    }
}

/// The new run image: where its manifest and config are, and what to record.
struct NewRunImage {
    reference: ImageRef,
    image: Image,
    /// The store holding its blobs, when they are local.
    store: Option<ImageStore>,
    recorded_reference: String,
}

/// Rebase and print `IMAGE@DIGEST`.
pub fn run(args: RebaseArgs, out: &Output) -> Result<(), CliError> {
    let started = Instant::now();
    let dirs = Dirs::from_env();
    let image = ImageRef::parse(&args.image)?;
    let client = |_: ()| args.registry.client(out);
    let (app, app_store, target) = if args.publish {
        let ImageRef::Registry(target) = &image else {
            return Err(bad_input(format!("--publish rebases an image on its registry; {image} is not a registry reference")));
        };
        let remote = client(())?.fetch_image(target)?;
        (remote.image, None, Some(target.clone()))
    } else {
        if matches!(image, ImageRef::DockerArchive { .. }) {
            return Err(bad_input("a docker-archive cannot be rebased; rebase the image in the store, then write the archive"));
        }
        let (store, tag) = open_ref(&image, &dirs.store)?;
        let app = store.read_image(&tag).map_err(|e| match &image {
            ImageRef::Registry(_) => bad_input(format!("{e}; to rebase the image on the registry, add --publish")),
            _ => e.into(),
        })?;
        (app, Some((store, tag)), None)
    };

    let recorded = recorded_run_image(&app);
    let run_text = match (&args.run_image, &recorded) {
        (Some(given), _) => given.clone(),
        (None, Some(recorded)) => recorded.clone(),
        (None, None) => return Err(RebaseError::NoRunImage { image: image.to_string() }.into()),
    };
    let run_ref = ImageRef::parse(&run_text).map_err(|e| bad_input(format!("run image: {e}")))?;
    let new_run = resolve_run_image(&run_ref, target.is_some(), target.as_ref().map(|t| t.registry()), &dirs, &args, out)?;
    let new_name = (args.force || recorded.as_deref() != Some(run_text.as_str())).then(|| run_text.clone());
    let rebased = Rebaser {
        app_name: &args.image,
        app: &app,
        run_name: &run_text,
        new_run: &new_run.image,
        new_run_reference: new_run.recorded_reference.clone(),
        new_run_image_name: new_name,
        force: args.force,
    }
    .rebase()?;

    let digest = match (&target, &app_store) {
        (Some(target), _) => {
            let mut memory = BTreeMap::new();
            memory.insert(rebased.manifest.config.digest.clone(), rebased.config_bytes.clone());
            let mount_from = match &new_run.reference {
                ImageRef::Registry(r) => vec![r.clone()],
                _ => Vec::new(),
            };
            let sources = PushSources { store: new_run.store.as_ref(), mount_from, memory };
            let media_type = rebased.manifest.media_type.clone().unwrap_or_else(|| crate::image::oci::MEDIA_TYPE_OCI_MANIFEST.into());
            let target = target.with_tag(target.tag().unwrap_or("latest"));
            let report = client(())?.push_image(&target, &rebased.manifest_bytes(), &media_type, &sources)?;
            out.progress(&format!(
                "[rebase] pushed {} blob(s) ({} bytes), mounted {}, {} already in {}",
                report.uploaded,
                report.uploaded_bytes,
                report.mounted,
                report.existing,
                target.name()
            ));
            report.digest
        }
        (None, Some((store, tag))) => {
            if let Some(run_store) = &new_run.store
                && run_store.dir() != store.dir()
            {
                copy_blobs(&new_run.image, run_store, store)?;
            }
            write_rebased(store, &rebased, tag)?.digest
        }
        (None, None) => unreachable!("either a registry target or a local store"),
    };
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    out.progress(&format!(
        "[rebase] {} onto {}: replaced {} run image layer(s) with {}, kept {} app layer(s), in {millis:.1} ms",
        args.image,
        run_text,
        rebased.replaced_layers,
        new_run.image.manifest.layers.len(),
        rebased.app_layers
    ));
    if out.json() {
        out.result(
            &serde_json::json!({
                "event": "rebased", "image": args.image, "digest": digest.to_string(), "runImage": run_text,
                "replacedLayers": rebased.replaced_layers, "appLayers": rebased.app_layers, "millis": millis
            })
            .to_string(),
        );
    } else {
        out.result(&format!("{}@{digest}", args.image));
    }
    Ok(())
}

/// Find the new run image. For a registry rebase on the same registry only its manifest and
/// config are read (its layers are mounted); otherwise it is in (or pulled into) a store.
fn resolve_run_image(
    reference: &ImageRef,
    on_registry: bool,
    target_registry: Option<&str>,
    dirs: &Dirs,
    args: &RebaseArgs,
    out: &Output,
) -> Result<NewRunImage, CliError> {
    match reference {
        ImageRef::Registry(r) if on_registry && target_registry == Some(r.registry()) => {
            let remote = registry_client(args, out)?.fetch_image(r)?;
            Ok(NewRunImage {
                reference: reference.clone(),
                recorded_reference: remote.reference.to_string(),
                image: remote.image,
                store: None,
            })
        }
        ImageRef::DockerArchive { .. } => Err(bad_input("the run image cannot be a docker-archive")),
        _ => {
            let (store, tag) = open_ref(reference, &dirs.store)?;
            let recorded_reference = if let ImageRef::Registry(r) = reference {
                let descriptor = registry_client(args, out)?.pull_cached(r, &store, &tag)?;
                r.with_digest(descriptor.digest.as_str()).to_string()
            } else {
                String::new()
            };
            let image = store.read_image(&tag).map_err(|e| bad_input(format!("run image {reference}: {e}")))?;
            let recorded_reference =
                if recorded_reference.is_empty() { image.manifest_descriptor.digest.to_string() } else { recorded_reference };
            Ok(NewRunImage { reference: reference.clone(), image, store: Some(store), recorded_reference })
        }
    }
}

fn registry_client(args: &RebaseArgs, out: &Output) -> Result<RegistryClient, CliError> {
    args.registry.client(out)
}

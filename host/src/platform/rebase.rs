//! `kiln rebase` as the platform sees it: find the app image (local, or on its registry with
//! `--publish`) and the new run image, run [`Rebaser`], and write or push the result.

use std::collections::BTreeMap;

use super::dirs::Dirs;
use super::error::PlatformError;
use super::registry::Registries;
use crate::image::registry::PushSources;
use crate::image::{Digest, Image, ImageRef, ImageStore, RegistryRef, open_ref};
use crate::lifecycle::rebase::{RebaseError, Rebaser, copy_blobs, recorded_run_image, write_rebased};

/// What to rebase onto what.
#[derive(Debug, Clone, Default)]
pub struct RebaseOptions {
    /// The app image: `NAME[:TAG]`, `oci:DIR[:TAG]` or `HOST/REPO[:TAG]`.
    pub image: String,
    /// The new run image (default: the one recorded in the app image, re-resolved).
    pub run_image: Option<String>,
    /// Rebase the image on its registry and push the result under the same tag.
    pub publish: bool,
    /// Skip the compatibility checks.
    pub force: bool,
}

/// What a rebase did.
#[derive(Debug)]
pub struct Rebased {
    /// The new manifest's digest.
    pub digest: Digest,
    /// The run image it is on now, as given or recorded.
    pub run_image: String,
    /// Run image layers replaced.
    pub replaced_layers: usize,
    /// Layers of the new run image.
    pub run_layers: usize,
    /// App layers kept.
    pub app_layers: usize,
}

/// The new run image: where its manifest and config are, and what to record.
struct NewRunImage {
    reference: ImageRef,
    image: Image,
    /// The store holding its blobs, when they are local.
    store: Option<ImageStore>,
    recorded_reference: String,
}

/// Rebase `options.image`; progress lines go to `progress`.
pub fn rebase(options: &RebaseOptions, dirs: &Dirs, registries: &Registries, progress: &super::Progress) -> Result<Rebased, PlatformError> {
    let image = ImageRef::parse(&options.image)?;
    let (app, app_store, target) = if options.publish {
        let ImageRef::Registry(target) = &image else {
            return Err(PlatformError::Unsupported(format!(
                "--publish rebases an image on its registry; {image} is not a registry reference"
            )));
        };
        let remote = registries.client()?.fetch_image(target)?;
        (remote.image, None, Some(target.clone()))
    } else {
        if matches!(image, ImageRef::DockerArchive { .. }) {
            return Err(PlatformError::Unsupported(
                "a docker-archive cannot be rebased; rebase the image in the store, then write the archive".into(),
            ));
        }
        let (store, tag) = open_ref(&image, &dirs.store)?;
        let app = match (store.read_image(&tag), &image) {
            (Ok(app), _) => app,
            (Err(e @ crate::image::ImageError::ImageNotFound { .. }), ImageRef::Registry(_)) => {
                return Err(PlatformError::Unsupported(format!("{e}; to rebase the image on the registry, add --publish")));
            }
            (Err(e), _) => return Err(e.into()),
        };
        (app, Some((store, tag)), None)
    };

    let recorded = recorded_run_image(&app);
    let run_text = match (&options.run_image, &recorded) {
        (Some(given), _) => given.clone(),
        (None, Some(recorded)) => recorded.clone(),
        (None, None) => return Err(RebaseError::NoRunImage { image: image.to_string() }.into()),
    };
    let run_ref = ImageRef::parse(&run_text).map_err(|e| PlatformError::invalid("run image", e))?;
    let on_registry = target.as_ref().map(RegistryRef::registry);
    let new_run = resolve_run_image(&run_ref, on_registry, dirs, registries)?;
    let new_name = (options.force || recorded.as_deref() != Some(run_text.as_str())).then(|| run_text.clone());
    let rebased = Rebaser {
        app_name: &options.image,
        app: &app,
        run_name: &run_text,
        new_run: &new_run.image,
        new_run_reference: new_run.recorded_reference.clone(),
        new_run_image_name: new_name,
        force: options.force,
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
            let report = registries.client()?.push_image(&target, &rebased.manifest_bytes(), &media_type, &sources)?;
            progress(&format!(
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
    Ok(Rebased {
        digest,
        run_image: run_text,
        replaced_layers: rebased.replaced_layers,
        run_layers: new_run.image.manifest.layers.len(),
        app_layers: rebased.app_layers,
    })
}

/// Find the new run image. For a registry rebase on the same registry only its manifest and
/// config are read (its layers are mounted); otherwise it is in (or pulled into) a store.
fn resolve_run_image(
    reference: &ImageRef,
    target_registry: Option<&str>,
    dirs: &Dirs,
    registries: &Registries,
) -> Result<NewRunImage, PlatformError> {
    match reference {
        ImageRef::Registry(r) if target_registry == Some(r.registry()) => {
            let remote = registries.client()?.fetch_image(r)?;
            Ok(NewRunImage {
                reference: reference.clone(),
                recorded_reference: remote.reference.to_string(),
                image: remote.image,
                store: None,
            })
        }
        ImageRef::DockerArchive { .. } => Err(PlatformError::Unsupported("the run image cannot be a docker-archive".into())),
        _ => {
            let (store, tag) = open_ref(reference, &dirs.store)?;
            let pulled = match reference {
                ImageRef::Registry(r) => {
                    let descriptor = registries.client()?.pull_cached(r, &store, &tag)?;
                    Some(r.with_digest(descriptor.digest.as_str()).to_string())
                }
                _ => None,
            };
            let image = store.read_image(&tag).map_err(|e| PlatformError::invalid(format!("run image {reference}"), e))?;
            let recorded_reference = pulled.unwrap_or_else(|| image.manifest_descriptor.digest.to_string());
            Ok(NewRunImage { reference: reference.clone(), image, store: Some(store), recorded_reference })
        }
    }
}

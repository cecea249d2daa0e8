//! The distribution part of `kiln build`: pulling a registry run image, reading the previous
//! image from the registry, pushing with `--publish`, writing `--output docker-archive:FILE`.

use std::path::PathBuf;

use super::build::BuildArgs;
use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use super::registry_args::ensure_local;
use crate::image::labels::{LIFECYCLE_METADATA_LABEL, LabelValue, LayersMetadata};
use crate::image::registry::{RegistryClient, RegistryError};
use crate::image::{Descriptor, Digest, Image, ImageRef, ImageStore, RegistryRef, write_docker_archive};
use crate::lifecycle::BuildRequest;

/// What a build does besides writing the local store.
pub(super) struct Distribution {
    client: Option<RegistryClient>,
    publish: Option<RegistryRef>,
    archive: Option<(PathBuf, Vec<String>)>,
}

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

impl Distribution {
    /// Check the flags and decide what to do.
    pub(super) fn plan(args: &BuildArgs, image: &ImageRef, run_image: &ImageRef, out: &Output) -> Result<Self, CliError> {
        let publish = match (args.publish, image) {
            (true, ImageRef::Registry(r)) => Some(r.clone()),
            (true, _) => {
                return Err(bad_input(format!(
                    "--publish needs a registry image such as 127.0.0.1:5000/app:v1 or ghcr.io/org/app:v1, not {image}"
                )));
            }
            (false, _) => None,
        };
        let output = match &args.output {
            Some(text) => Some(ImageRef::parse(text).map_err(|e| bad_input(format!("--output: {e}")))?),
            None => None,
        };
        let archive = match (image, output) {
            (ImageRef::DockerArchive { path, name }, None) => Some((path.clone(), name.iter().cloned().collect())),
            (_, Some(ImageRef::DockerArchive { path, name })) => {
                let name = name.unwrap_or_else(|| image.tag_name());
                Some((path, vec![name]))
            }
            (_, Some(other)) => return Err(bad_input(format!("--output takes docker-archive:FILE, not {other}"))),
            (_, None) => None,
        };
        let needs_client = publish.is_some() || run_image.is_registry();
        let client = if needs_client { Some(args.registry.client(out)?) } else { None };
        Ok(Self { client, publish, archive })
    }

    /// Before the build: pull a registry run image; with --publish, read the previous image's
    /// manifest and config from the registry (and the blobs of launch-only layers a buildpack
    /// may keep from it, which the store lacks).
    pub(super) fn prepare(
        &self,
        image: &ImageRef,
        run_image: &ImageRef,
        dirs: &Dirs,
        out: &Output,
    ) -> Result<Option<Image>, CliError> {
        let Some(client) = &self.client else { return Ok(None) };
        let store = ImageStore::open(&dirs.store)?;
        ensure_local(run_image, &store, client)?;
        let Some(target) = &self.publish else { return Ok(None) };
        let remote = match client.fetch_image(target) {
            Ok(remote) => remote,
            Err(RegistryError::NotFound { .. }) => {
                out.progress(&format!("[analyze] {target} is not in the registry yet"));
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if store.resolve(&image.tag_name())?.is_some_and(|d| d.digest == remote.image.manifest_descriptor.digest) {
            return Ok(None);
        }
        // Launch-only layers are kept from the previous image, not the cache: fetch just those,
        // and its (small) SBOM layer, whose entries carry over for kept layers.
        let keep: Vec<Descriptor> = launch_only_layers(&remote.image)
            .into_iter()
            .chain(crate::lifecycle::sbom::sbom_layer(&remote.image))
            .filter({
                let mut seen = std::collections::BTreeSet::new();
                move |d| seen.insert(d.digest.to_string())
            })
            .filter(|d| !store.has_blob(&d.digest))
            .collect();
        if !keep.is_empty() {
            client.pull_blobs(&remote.reference, &keep, &store)?;
        }
        out.progress(&format!("[analyze] previous image {} read from the registry", remote.reference));
        Ok(Some(remote.image))
    }

    /// After the build: push and/or write the archive.
    pub(super) fn finish(&self, request: &BuildRequest, manifest: &Descriptor, dirs: &Dirs, out: &Output) -> Result<(), CliError> {
        let store = ImageStore::open(&dirs.store)?;
        if let (Some(client), Some(target)) = (&self.client, &self.publish) {
            let mount_from = match &request.run_image {
                ImageRef::Registry(r) => vec![r.clone()],
                _ => Vec::new(),
            };
            let report = client.push_from_store(&store, manifest, target, mount_from)?;
            out.progress(&format!(
                "[publish] {target}@{}: {} blob(s) uploaded ({} bytes), {} mounted, {} already there",
                report.digest, report.uploaded, report.uploaded_bytes, report.mounted, report.existing
            ));
        }
        if let Some((path, names)) = &self.archive {
            let (source, _) = crate::image::open_ref(&request.image, &dirs.store)?;
            write_docker_archive(&source, manifest, path, names)?;
            out.progress(&format!("[export] wrote docker-archive {}", path.display()));
        }
        Ok(())
    }
}

/// The blobs of an image's `launch`-only layers (not `cache`), by its lifecycle metadata.
fn launch_only_layers(image: &Image) -> Vec<Descriptor> {
    let Some(metadata) = image.label(LIFECYCLE_METADATA_LABEL).and_then(|l| LayersMetadata::from_label_value(l).ok()) else {
        return Vec::new();
    };
    let wanted: Vec<Digest> = metadata
        .buildpacks
        .iter()
        .flat_map(|b| b.layers.values())
        .filter(|l| l.launch && !l.cache)
        .filter_map(|l| Digest::parse(&l.sha).ok())
        .collect();
    image
        .manifest
        .layers
        .iter()
        .zip(image.diff_ids())
        .filter(|(_, diff_id)| wanted.contains(diff_id))
        .map(|(d, _)| d.clone())
        .collect()
}

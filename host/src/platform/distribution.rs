//! What a build does besides writing its store: pushing with `--publish`, writing
//! `--output docker-archive:FILE`. (Reading the previous image from the registry is the
//! analyze phase's, [`crate::lifecycle::analyze::Analyzer`].)

use std::path::PathBuf;

use super::Progress;
use super::error::PlatformError;
use super::registry::Registries;
use crate::image::{Descriptor, ImageRef, ImageStore, RegistryRef, open_ref, write_docker_archive};
use crate::lifecycle::BuildRequest;

/// Where a build's image goes besides its store, checked before the build starts.
#[derive(Debug)]
pub struct Distribution {
    publish: Option<RegistryRef>,
    archive: Option<(PathBuf, Vec<String>)>,
}

impl Distribution {
    /// Check `--publish` and `--output` against the image and decide what to do.
    pub fn plan(publish: bool, output: Option<&str>, image: &ImageRef) -> Result<Self, PlatformError> {
        let publish = match (publish, image) {
            (true, ImageRef::Registry(r)) => Some(r.clone()),
            (true, _) => {
                return Err(PlatformError::Unsupported(format!(
                    "--publish needs a registry image such as 127.0.0.1:5000/app:v1 or ghcr.io/org/app:v1, not {image}"
                )));
            }
            (false, _) => None,
        };
        let output = match output {
            Some(text) => Some(ImageRef::parse(text).map_err(|e| PlatformError::invalid("--output", e))?),
            None => None,
        };
        let archive = match (image, output) {
            (ImageRef::DockerArchive { path, name }, None) => Some((path.clone(), name.iter().cloned().collect())),
            (_, Some(ImageRef::DockerArchive { path, name })) => {
                let name = name.unwrap_or_else(|| image.tag_name());
                Some((path, vec![name]))
            }
            (_, Some(other)) => {
                return Err(PlatformError::Unsupported(format!("--output takes docker-archive:FILE, not {other}")));
            }
            (_, None) => None,
        };
        Ok(Self { publish, archive })
    }

    /// The registry image to push (with `--publish`).
    pub fn publish(&self) -> Option<&RegistryRef> {
        self.publish.as_ref()
    }

    /// After the build: push and/or write the archive. `store` is the local store (where a
    /// registry image is built).
    pub fn finish(
        &self,
        request: &BuildRequest,
        manifest: &Descriptor,
        store: &ImageStore,
        registries: &Registries,
        progress: &Progress,
    ) -> Result<(), PlatformError> {
        if let Some(target) = &self.publish {
            let mount_from = match &request.run_image {
                ImageRef::Registry(r) => vec![r.clone()],
                _ => Vec::new(),
            };
            let report = registries.client()?.push_from_store(store, manifest, target, mount_from)?;
            progress(&format!(
                "[publish] {target}@{}: {} blob(s) uploaded ({} bytes), {} mounted, {} already there",
                report.digest, report.uploaded, report.uploaded_bytes, report.mounted, report.existing
            ));
        }
        if let Some((path, names)) = &self.archive {
            let (source, _) = open_ref(&request.image, &request.store_dir)?;
            write_docker_archive(&source, manifest, path, names)?;
            progress(&format!("[export] wrote docker-archive {}", path.display()));
        }
        Ok(())
    }
}

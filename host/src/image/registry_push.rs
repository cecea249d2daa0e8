//! Push: blobs the registry lacks, then the manifest.
//!
//! For each blob (layers, then config): `HEAD` it in the target repository and skip it when
//! present; else try a cross-repository mount (`POST .../blobs/uploads/?mount=D&from=REPO`)
//! from each repository of the same registry the caller names (e.g. the run image's); else
//! stream it from the local store's file (one `POST` + one `PUT` with the file as body, so
//! a blob of any size is never held in memory). The manifest is pushed last, so when any
//! blob fails no tag points at a partial image.

use std::collections::BTreeMap;
use std::io::Read;

use bytes::Bytes;
use futures_util::stream;
use oci_client::errors::OciDistributionError;

use super::{RegistryClient, RegistryError, short};
use crate::image::Digest;
use crate::image::oci::{Descriptor, Manifest};
use crate::image::reference::RegistryRef;
use crate::image::store::ImageStore;

/// Where the blobs of an image being pushed can come from.
#[derive(Debug, Default, Clone)]
pub struct PushSources<'a> {
    /// The local store holding blobs to upload.
    pub store: Option<&'a ImageStore>,
    /// Repositories to mount blobs from (only those on the target's registry are tried).
    pub mount_from: Vec<RegistryRef>,
    /// Small blobs held in memory (a config written for a rebase).
    pub memory: BTreeMap<Digest, Vec<u8>>,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// The pushed manifest's digest.
    pub digest: Digest,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Blobs the registry already had in the repository.
    pub existing: usize,
    /// Blobs mounted from another repository.
    pub mounted: usize,
}

/// Chunk size when streaming a blob file.
const STREAM_CHUNK: usize = 1 << 20;

/// How a blob got to the registry.
enum BlobOutcome {
    Existing,
    Mounted,
    Uploaded(u64),
}

impl RegistryClient {
    /// Push the image whose manifest is `manifest_bytes` (media type `media_type`) to
    /// `target`: every layer and the config from `sources`, then the manifest.
    pub fn push_image(
        &self,
        target: &RegistryRef,
        manifest_bytes: &[u8],
        media_type: &str,
        sources: &PushSources<'_>,
    ) -> Result<PushReport, RegistryError> {
        let manifest: Manifest = serde_json::from_slice(manifest_bytes).map_err(|e| RegistryError::Unsupported {
            reference: target.to_string(),
            reason: format!("cannot push an invalid manifest: {e}"),
        })?;
        let mut registries = vec![target.registry()];
        registries.extend(sources.mount_from.iter().map(|r| r.registry()));
        let client = self.oci(&registries);
        let digest = Digest::of_bytes(manifest_bytes);
        self.runtime.block_on(async {
            let mut report = PushReport { digest: digest.clone(), uploaded: 0, uploaded_bytes: 0, existing: 0, mounted: 0 };
            let total = manifest.layers.len();
            let blobs = manifest.layers.iter().enumerate().map(|(i, d)| (format!("layer {}/{total}", i + 1), d));
            for (what, descriptor) in blobs.chain(std::iter::once(("config".to_owned(), &manifest.config))) {
                match self.push_blob(&client, target, descriptor, &what, sources).await? {
                    BlobOutcome::Existing => report.existing += 1,
                    BlobOutcome::Mounted => {
                        report.mounted += 1;
                        self.say(&format!("[push] {what} {} mounted", short(&descriptor.digest)));
                    }
                    BlobOutcome::Uploaded(bytes) => {
                        report.uploaded += 1;
                        report.uploaded_bytes += bytes;
                        self.say(&format!("[push] {what} {} uploaded ({bytes} bytes)", short(&descriptor.digest)));
                    }
                }
            }
            let oci_ref = target.to_oci();
            let body = Bytes::copy_from_slice(manifest_bytes);
            let content_type = http::HeaderValue::from_str(media_type).map_err(|e| RegistryError::Unsupported {
                reference: target.to_string(),
                reason: format!("bad media type {media_type:?}: {e}"),
            })?;
            let action = format!("pushing the manifest of {target}");
            let (client, oci_ref) = (&client, &oci_ref);
            self.retry(target.registry(), &action, || client.push_manifest_raw(oci_ref, body.clone(), content_type.clone())).await?;
            self.say(&format!(
                "[push] {target}@{digest}: {} uploaded, {} mounted, {} already there",
                report.uploaded, report.mounted, report.existing
            ));
            Ok::<_, RegistryError>(report)
        })
    }

    /// Push the image tagged `tag` in `store` to `target`.
    pub fn push_from_store(
        &self,
        store: &ImageStore,
        descriptor: &Descriptor,
        target: &RegistryRef,
        mount_from: Vec<RegistryRef>,
    ) -> Result<PushReport, RegistryError> {
        let manifest_bytes = store.read_blob(&descriptor.digest)?;
        let sources = PushSources { store: Some(store), mount_from, memory: BTreeMap::new() };
        self.push_image(target, &manifest_bytes, &descriptor.media_type, &sources)
    }

    async fn push_blob(
        &self,
        client: &oci_client::Client,
        target: &RegistryRef,
        descriptor: &Descriptor,
        what: &str,
        sources: &PushSources<'_>,
    ) -> Result<BlobOutcome, RegistryError> {
        let registry = target.registry();
        let oci_ref = target.to_oci();
        let oci_ref = &oci_ref;
        let digest = descriptor.digest.as_str();
        let action = format!("checking {what} {digest} in {target}");
        if self.retry(registry, &action, || client.blob_exists(oci_ref, digest)).await? {
            return Ok(BlobOutcome::Existing);
        }
        for source in sources.mount_from.iter().filter(|s| s.registry() == registry && s.repository() != target.repository()) {
            let from = source.to_oci();
            // A registry that cannot mount answers 202 (an upload session) instead of 201;
            // then the blob is uploaded below. Either way it is checked again afterwards.
            if client.mount_blob(oci_ref, &from, digest).await.is_ok() {
                return Ok(BlobOutcome::Mounted);
            }
        }
        let action = format!("uploading {what} {digest} to {target}");
        if let Some(bytes) = sources.memory.get(&descriptor.digest) {
            let body = Bytes::copy_from_slice(bytes);
            self.retry(registry, &action, || client.push_blob(oci_ref, body.clone(), digest)).await?;
            return Ok(BlobOutcome::Uploaded(bytes.len() as u64));
        }
        let Some(store) = sources.store.filter(|s| s.has_blob(&descriptor.digest)) else {
            return Err(RegistryError::Failed {
                registry: registry.to_owned(),
                action,
                detail: format!("the blob is neither in {} nor in the local store; pull the image it belongs to first", target.name()),
            });
        };
        let path = store.blob_path(&descriptor.digest);
        let size = std::fs::metadata(&path)
            .map_err(|e| RegistryError::Failed {
                registry: registry.to_owned(),
                action: action.clone(),
                detail: format!("cannot read {}: {e}", path.display()),
            })?
            .len();
        let path = &path;
        self.retry(registry, &action, || async move {
            let file = std::fs::File::open(path)?;
            client.push_blob_stream(oci_ref, file_stream(file), digest, Some(size)).await
        })
        .await?;
        Ok(BlobOutcome::Uploaded(size))
    }
}

/// A file as a stream of chunks (blocking reads: the runtime runs only this push).
fn file_stream(file: std::fs::File) -> impl futures_util::Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static {
    stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; STREAM_CHUNK];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(OciDistributionError::IoError(e)), None)),
        }
    })
}

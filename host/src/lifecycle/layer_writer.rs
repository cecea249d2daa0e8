//! Writing a layer, or reusing an identical one the previous build already wrote.
//!
//! Gzip is the expensive part of a layer. When the previous build has a blob for a layer
//! (same name, known diffID), the tar is first only hashed; if the diffID matches, the
//! known blob is used as it is (copied into the destination store if it lives elsewhere),
//! so an unchanged layer keeps its digest and is not recompressed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::LifecycleError;
use crate::image::{Descriptor, Digest, ImageStore, LayerBlob, LayerBuilder};

/// Blobs the previous build wrote, by diffID: their descriptor and where the file is.
#[derive(Debug, Default, Clone)]
pub struct KnownBlobs {
    blobs: BTreeMap<Digest, (Descriptor, PathBuf)>,
}

impl KnownBlobs {
    /// Remember a blob.
    pub fn add(&mut self, diff_id: Digest, descriptor: Descriptor, path: PathBuf) {
        if path.exists() {
            self.blobs.entry(diff_id).or_insert((descriptor, path));
        }
    }

    /// Put a known blob into `store` (if it is not already there) and describe it.
    pub fn reuse(&self, diff_id: &Digest, store: &ImageStore) -> Result<Option<LayerBlob>, LifecycleError> {
        let Some((descriptor, path)) = self.blobs.get(diff_id) else { return Ok(None) };
        if !store.has_blob(&descriptor.digest) {
            store.put_blob_from_path(path, &descriptor.media_type)?;
        }
        Ok(Some(LayerBlob { digest: descriptor.digest.clone(), diff_id: diff_id.clone(), size: descriptor.size }))
    }
}

/// Write `builder` into `store`, reusing a known blob when the content hashes to one of the
/// `previous` diffIDs for this layer (the previous image's or the cache's). Returns the blob
/// and whether it was reused.
pub fn write_or_reuse(
    builder: &LayerBuilder,
    store: &ImageStore,
    previous: &[Digest],
    known: &KnownBlobs,
) -> Result<(LayerBlob, bool), LifecycleError> {
    if !previous.is_empty() {
        let (diff_id, _) = builder.write_tar(std::io::sink())?;
        if previous.contains(&diff_id)
            && let Some(blob) = known.reuse(&diff_id, store)?
        {
            return Ok((blob, true));
        }
    }
    Ok((builder.write_blob(store)?, false))
}

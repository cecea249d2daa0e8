//! The build cache: what survives from one build of an image to the next.
//!
//! A cache is a directory (one per image name by default, or `--cache-dir`) that is an
//! OCI image layout holding the cached layers as gzip tar blobs, plus `kiln-cache.json`
//! listing, per buildpack, each cached layer's diffID, blob digest, size, types,
//! metadata and the SBOM components attributed to it (see [`super::sbom`]). Writes are atomic (blobs by digest, the index by rename), so an interrupted
//! build leaves the previous cache intact. Blobs no longer listed are removed on save.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LifecycleError;
use crate::image::{Digest, ImageStore};
use crate::layers::LayerTypes;

/// The index file's name inside the cache dir.
pub const INDEX_FILE: &str = "kiln-cache.json";
/// The index format version.
pub const INDEX_VERSION: u32 = 1;

/// One cached layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// sha256 of the gzip blob.
    pub digest: Digest,
    /// Size of the gzip blob.
    pub size: u64,
    /// The layer's `launch` type.
    pub launch: bool,
    /// The layer's `build` type.
    pub build: bool,
    /// The layer's metadata.
    pub metadata: toml::Table,
    /// The SBOM components attributed to this layer (what was fetched into it, what its
    /// buildpack's SBOM file listed), carried into the next image when the layer is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbom: Vec<serde_json::Value>,
}

impl CachedLayer {
    /// Its types (cache is implied).
    pub fn types(&self) -> LayerTypes {
        LayerTypes { launch: self.launch, build: self.build, cache: true }
    }
}

/// The cache index: buildpack id -> layer name -> layer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheIndex {
    /// Format version.
    pub version: u32,
    /// The layers.
    pub buildpacks: BTreeMap<String, BTreeMap<String, CachedLayer>>,
}

/// An open cache.
pub struct Cache {
    dir: PathBuf,
    store: ImageStore,
    /// What the previous build left.
    pub index: CacheIndex,
}

impl Cache {
    /// The default cache dir for an image name under the cache root.
    pub fn default_dir(cache_root: &Path, image: &str) -> PathBuf {
        let digest = Digest::of_bytes(image.as_bytes());
        let readable: String = image.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).take(40).collect();
        cache_root.join("build-cache").join(format!("{readable}-{}", &digest.hex()[..12]))
    }

    /// Open (creating if needed) the cache in `dir`; an unreadable index is an empty cache.
    pub fn open(dir: &Path) -> Result<Cache, LifecycleError> {
        let store = ImageStore::open(dir)?;
        let index_path = dir.join(INDEX_FILE);
        let index = match std::fs::read(&index_path) {
            Ok(bytes) => match serde_json::from_slice::<CacheIndex>(&bytes) {
                Ok(index) if index.version == INDEX_VERSION => index,
                Ok(_) | Err(_) => {
                    tracing::warn!(path = %index_path.display(), "ignoring an unreadable or old build cache index");
                    CacheIndex::default()
                }
            },
            Err(_) => CacheIndex::default(),
        };
        Ok(Cache { dir: dir.to_path_buf(), store, index })
    }

    /// Delete the cache dir entirely.
    pub fn clear(dir: &Path) -> Result<(), LifecycleError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| LifecycleError::io("clear the build cache", dir, e))?;
        }
        Ok(())
    }

    /// The blob store.
    pub fn store(&self) -> &ImageStore {
        &self.store
    }

    /// The cache dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A cached layer of a buildpack, if its blob is present.
    pub fn layer(&self, buildpack: &str, layer: &str) -> Option<&CachedLayer> {
        self.index.buildpacks.get(buildpack)?.get(layer).filter(|l| self.store.has_blob(&l.digest))
    }

    /// Write the new index atomically, then remove blobs it no longer lists.
    pub fn save(&mut self, index: CacheIndex) -> Result<(), LifecycleError> {
        let path = self.dir.join(INDEX_FILE);
        let bytes = serde_json::to_vec_pretty(&index).expect("the cache index is plain data");
        let mut tmp =
            tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| LifecycleError::io("write the build cache index", &path, e))?;
        std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| LifecycleError::io("write", &path, e))?;
        tmp.persist(&path).map_err(|e| LifecycleError::io("write", &path, e.error))?;
        let keep: BTreeSet<String> =
            index.buildpacks.values().flat_map(|layers| layers.values().map(|l| l.digest.hex().to_string())).collect();
        let blobs = self.dir.join("blobs/sha256");
        if let Ok(entries) = std::fs::read_dir(&blobs) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.index = index;
        Ok(())
    }
}

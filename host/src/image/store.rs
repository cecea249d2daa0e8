//! The local image store: an OCI image layout directory (OCI image spec `image-layout.md`).
//!
//! ```text
//! DIR/oci-layout              {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json              an image index; tags are `org.opencontainers.image.ref.name`
//! DIR/blobs/sha256/<hex>      content-addressed blobs
//! DIR/.kiln/index.lock        lock file serializing index.json updates (kiln only)
//! DIR/.kiln/tmp/              temp files, renamed into place when complete (kiln only)
//! ```
//!
//! Because the store *is* an OCI layout, `skopeo inspect oci:DIR:NAME` and
//! `umoci unpack --image DIR:NAME` read it directly, and an `oci:DIR:TAG` target is just a
//! store opened on `DIR`.
//!
//! Writes are atomic: blobs and index.json are written to a temp file on the same filesystem,
//! fsynced and renamed into place (then the directory is fsynced), so an interrupted write
//! leaves either the old state or the new one. A blob already present is not rewritten (its
//! name is its digest). index.json updates are read-modify-write under an exclusive lock.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::digest::{Digest, HashingReader, HashingWriter};
use super::oci::{
    ANNOTATION_REF_NAME, Descriptor, ImageConfig, Index, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_MANIFEST, Manifest, Platform, is_config_media_type, is_index_media_type, is_manifest_media_type,
};
use super::{ImageError, Result};

const OCI_LAYOUT_FILE: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;
const INDEX_FILE: &str = "index.json";
const KILN_DIR: &str = ".kiln";

/// An image read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The descriptor of the manifest (its digest is the image's identity).
    pub manifest_descriptor: Descriptor,
    /// The manifest.
    pub manifest: Manifest,
    /// The config.
    pub config: ImageConfig,
}

impl Image {
    /// A label of the image config.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.label(key)
    }

    /// The layer diffIDs, base first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.config.rootfs.diff_ids
    }
}

/// A content-addressed OCI image layout with tags. Cheap to clone; safe to use from several
/// processes at once.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
}

fn io_error(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::StoreIo { action, path, source }
}

impl ImageStore {
    /// Opens the layout at `dir`, creating it (and `dir`) if missing.
    ///
    /// Fails if `dir` is a non-empty directory that is not an OCI layout, or a layout of an
    /// unsupported version.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let layout = dir.join(OCI_LAYOUT_FILE);
        if !layout.exists() && dir.is_dir() {
            let foreign = fs::read_dir(&dir)
                .map_err(io_error("read directory", &dir))?
                .filter_map(|e| e.ok())
                // A crashed or concurrent `open` may have made these two before `oci-layout`.
                .any(|e| e.file_name() != KILN_DIR && e.file_name() != "blobs");
            if foreign {
                return Err(ImageError::NotAnImageLayout {
                    dir,
                    reason: "it is not empty and has no oci-layout file; choose an empty or new directory".to_owned(),
                });
            }
        }
        let store = Self { dir };
        fs::create_dir_all(store.tmp_dir()).map_err(io_error("create directory", store.tmp_dir()))?;
        fs::create_dir_all(store.blobs_dir()).map_err(io_error("create directory", store.blobs_dir()))?;
        let _lock = store.lock_index()?;
        if layout.exists() {
            let text = fs::read_to_string(&layout).map_err(io_error("read", &layout))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| ImageError::InvalidJson { what: layout.display().to_string(), source })?;
            if value.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
                return Err(ImageError::NotAnImageLayout { dir: store.dir.clone(), reason: format!("unsupported oci-layout {text}") });
            }
        } else {
            store.write_atomically(&layout, OCI_LAYOUT_CONTENT.as_bytes())?;
        }
        if !store.dir.join(INDEX_FILE).exists() {
            store.write_index(&Index::default())?;
        }
        Ok(store)
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blobs_dir(&self) -> PathBuf {
        self.dir.join("blobs").join("sha256")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.dir.join(KILN_DIR).join("tmp")
    }

    /// Where the blob with `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// Whether the blob is present (its content is not checked).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A writer that streams a new blob into the store; see [`BlobWriter::commit`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = NamedTempFile::new_in(self.tmp_dir()).map_err(io_error("create a temp file in", self.tmp_dir()))?;
        Ok(BlobWriter { inner: HashingWriter::new(BufWriter::new(tmp)), store: self.clone() })
    }

    /// Stores `bytes` as a blob.
    pub fn put_blob_bytes(&self, bytes: &[u8], media_type: &str) -> Result<Descriptor> {
        let digest = Digest::of_bytes(bytes);
        if self.has_blob(&digest) {
            touch(&self.blob_path(&digest));
            return Ok(Descriptor::new(media_type, digest, bytes.len() as u64));
        }
        let mut writer = self.blob_writer()?;
        writer.write_all(bytes).map_err(io_error("write", self.tmp_dir()))?;
        writer.commit(media_type)
    }

    /// Stores everything `reader` yields as a blob, streaming.
    pub fn put_blob_from_reader(&self, mut reader: impl Read, media_type: &str) -> Result<Descriptor> {
        let mut writer = self.blob_writer()?;
        io::copy(&mut reader, &mut writer).map_err(io_error("copy a blob into", self.tmp_dir()))?;
        writer.commit(media_type)
    }

    /// Stores the file at `path` as a blob, streaming.
    pub fn put_blob_from_path(&self, path: impl AsRef<Path>, media_type: &str) -> Result<Descriptor> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| ImageError::CannotReadSource { path: path.to_path_buf(), source })?;
        self.put_blob_from_reader(file, media_type)
    }

    /// Opens a blob for streaming reads. The content is not verified; see [`Self::verify_blob`].
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                ImageError::BlobNotFound { digest: digest.clone(), store: self.dir.clone() }
            } else {
                io_error("open", path)(source)
            }
        })
    }

    /// Reads a whole blob and checks that its content matches `digest`.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?.read_to_end(&mut bytes).map_err(io_error("read", self.blob_path(digest)))?;
        self.check_digest(digest, Digest::of_bytes(&bytes))?;
        Ok(bytes)
    }

    /// Streams a blob through SHA-256 and checks it matches `digest`; returns its size.
    pub fn verify_blob(&self, digest: &Digest) -> Result<u64> {
        let mut reader = HashingReader::new(self.open_blob(digest)?);
        io::copy(&mut reader, &mut io::sink()).map_err(io_error("read", self.blob_path(digest)))?;
        let (_, actual, size) = reader.finish();
        self.check_digest(digest, actual)?;
        Ok(size)
    }

    fn check_digest(&self, expected: &Digest, actual: Digest) -> Result<()> {
        if *expected != actual {
            return Err(ImageError::CorruptBlob { expected: expected.clone(), actual, path: self.blob_path(expected) });
        }
        Ok(())
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, descriptor: &Descriptor, what: &str) -> Result<T> {
        let bytes = self.read_blob(&descriptor.digest)?;
        if bytes.len() as u64 != descriptor.size {
            return Err(ImageError::InconsistentImage {
                reason: format!("{what} {} is {} bytes but its descriptor says {}", descriptor.digest, bytes.len(), descriptor.size),
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| ImageError::InvalidJson { what: format!("{what} {}", descriptor.digest), source })
    }

    /// Reads and verifies a manifest (OCI or Docker schema 2).
    pub fn read_manifest(&self, descriptor: &Descriptor) -> Result<Manifest> {
        if !is_manifest_media_type(&descriptor.media_type) {
            return Err(ImageError::UnsupportedMediaType { media_type: descriptor.media_type.clone(), digest: descriptor.digest.clone() });
        }
        self.read_json(descriptor, "manifest")
    }

    /// Reads and verifies an image config (OCI or Docker).
    pub fn read_config(&self, descriptor: &Descriptor) -> Result<ImageConfig> {
        if !is_config_media_type(&descriptor.media_type) {
            return Err(ImageError::UnsupportedMediaType { media_type: descriptor.media_type.clone(), digest: descriptor.digest.clone() });
        }
        self.read_json(descriptor, "image config")
    }

    /// Reads the image a descriptor points at. For an image index, picks the manifest for
    /// linux on the host's architecture.
    pub fn read_image_at(&self, descriptor: &Descriptor) -> Result<Image> {
        let mut descriptor = descriptor.clone();
        if is_index_media_type(&descriptor.media_type) {
            let index: Index = self.read_json(&descriptor, "image index")?;
            let want = Platform::host_linux();
            let chosen = index
                .manifests
                .iter()
                .find(|m| {
                    is_manifest_media_type(&m.media_type)
                        && m.platform.as_ref().is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
                })
                .ok_or_else(|| ImageError::NoMatchingPlatform {
                    digest: descriptor.digest.clone(),
                    os: want.os.clone(),
                    architecture: want.architecture.clone(),
                })?;
            descriptor = chosen.clone();
        }
        let manifest = self.read_manifest(&descriptor)?;
        let config = self.read_config(&manifest.config)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(ImageError::InconsistentImage {
                reason: format!(
                    "manifest {} has {} layers but its config lists {} diff_ids",
                    descriptor.digest,
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            });
        }
        Ok(Image { manifest_descriptor: descriptor, manifest, config })
    }

    /// Writes `config` and then a manifest (a copy of `manifest` whose config descriptor is
    /// set to the written config); returns the manifest's descriptor. Every layer blob must
    /// already be in the store and match the config's diffIDs in number. Does not tag.
    pub fn write_image(&self, manifest: &Manifest, config: &ImageConfig) -> Result<Descriptor> {
        if manifest.layers.len() != config.rootfs.diff_ids.len() {
            return Err(ImageError::InconsistentImage {
                reason: format!(
                    "the manifest has {} layers but the config lists {} diff_ids",
                    manifest.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            });
        }
        for layer in &manifest.layers {
            if !self.has_blob(&layer.digest) {
                return Err(ImageError::BlobNotFound { digest: layer.digest.clone(), store: self.dir.clone() });
            }
        }
        let mut manifest = manifest.clone();
        let docker = manifest.media_type.as_deref() == Some(MEDIA_TYPE_DOCKER_MANIFEST);
        let manifest_type = if docker { MEDIA_TYPE_DOCKER_MANIFEST } else { MEDIA_TYPE_OCI_MANIFEST };
        let config_type = if docker { MEDIA_TYPE_DOCKER_CONFIG } else { MEDIA_TYPE_OCI_CONFIG };
        manifest.media_type = Some(manifest_type.to_owned());
        manifest.config = self.put_blob_bytes(&config.to_json(), config_type)?;
        self.put_blob_bytes(&manifest.to_json(), manifest_type)
    }

    /// Reads `index.json`.
    pub fn read_index(&self) -> Result<Index> {
        let path = self.dir.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::InvalidJson { what: path.display().to_string(), source })
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        let bytes = serde_json::to_vec(index).expect("index serialization cannot fail");
        self.write_atomically(&self.dir.join(INDEX_FILE), &bytes)
    }

    /// Read-modify-write of index.json under the lock.
    fn update_index<T>(&self, change: impl FnOnce(&mut Index) -> T) -> Result<T> {
        let _lock = self.lock_index()?;
        let mut index = self.read_index()?;
        let out = change(&mut index);
        self.write_index(&index)?;
        Ok(out)
    }

    fn lock_index(&self) -> Result<File> {
        let path = self.dir.join(KILN_DIR).join("index.lock");
        let file = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_error("open", &path))?;
        file.lock().map_err(io_error("lock", &path))?;
        Ok(file)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let mut tmp = NamedTempFile::new_in(self.tmp_dir()).map_err(io_error("create a temp file in", self.tmp_dir()))?;
        tmp.write_all(bytes).map_err(io_error("write", tmp.path()))?;
        finish_temp(tmp, path)
    }

    /// Points tag `name` at `descriptor` (a manifest or index in this store), replacing any
    /// image that had the tag.
    pub fn tag(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        validate_tag_name(name)?;
        if !self.has_blob(&descriptor.digest) {
            return Err(ImageError::BlobNotFound { digest: descriptor.digest.clone(), store: self.dir.clone() });
        }
        let mut entry = descriptor.clone();
        entry.annotations.insert(ANNOTATION_REF_NAME.to_owned(), name.to_owned());
        self.update_index(|index| {
            let mut replaced = false;
            index.manifests.retain_mut(|m| {
                if m.ref_name() != Some(name) {
                    return true;
                }
                if replaced {
                    return false;
                }
                replaced = true;
                *m = entry.clone();
                true
            });
            if !replaced {
                index.manifests.push(entry);
            }
        })
    }

    /// Removes tag `name`; returns whether it existed. Blobs are kept.
    pub fn untag(&self, name: &str) -> Result<bool> {
        self.update_index(|index| {
            let before = index.manifests.len();
            index.manifests.retain(|m| m.ref_name() != Some(name));
            before != index.manifests.len()
        })
    }

    /// The descriptor tagged `name`, if any.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        Ok(self.read_index()?.manifests.into_iter().find(|m| m.ref_name() == Some(name)))
    }

    /// Reads the image tagged `name`.
    pub fn read_image(&self, name: &str) -> Result<Image> {
        let descriptor = self.resolve(name)?.ok_or_else(|| ImageError::ImageNotFound { name: name.to_owned(), store: self.dir.clone() })?;
        self.read_image_at(&descriptor)
    }

    /// All tags with their descriptors, in index order.
    pub fn list(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self.read_index()?.manifests.into_iter().filter_map(|m| m.ref_name().map(str::to_owned).map(|name| (name, m))).collect())
    }
}

/// Checks that `name` can be an `org.opencontainers.image.ref.name`: alphanumeric components
/// joined by one of `-._:@+/` (or `--`).
pub fn validate_tag_name(name: &str) -> Result<()> {
    let invalid = |reason| ImageError::InvalidTagName { name: name.to_owned(), reason };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > 255 {
        return Err(invalid("it is longer than 255 characters"));
    }
    let is_sep = |c: char| "-._:@+/".contains(c);
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || is_sep(c)) {
        return Err(invalid("only letters, digits and - . _ : @ + / are allowed"));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(invalid("it must start and end with a letter or digit"));
    }
    if name.contains("//") || name.contains("---") || name.contains("..") {
        return Err(invalid("separators cannot repeat"));
    }
    Ok(())
}

/// Streams a new blob into an [`ImageStore`]: write to it, then [`commit`](Self::commit).
/// Dropping it without committing leaves nothing behind.
#[derive(Debug)]
pub struct BlobWriter {
    inner: HashingWriter<BufWriter<NamedTempFile>>,
    store: ImageStore,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.inner.count()
    }

    /// Makes the blob visible under its digest (fsync, rename) and returns its descriptor.
    pub fn commit(self, media_type: &str) -> Result<Descriptor> {
        self.commit_inner(media_type, None)
    }

    /// Like [`commit`](Self::commit), but only if the content has digest `expected`;
    /// otherwise nothing is stored and [`ImageError::CorruptBlob`] is returned.
    pub fn commit_expecting(self, media_type: &str, expected: &Digest) -> Result<Descriptor> {
        self.commit_inner(media_type, Some(expected))
    }

    fn commit_inner(self, media_type: &str, expected: Option<&Digest>) -> Result<Descriptor> {
        let store = self.store;
        let (buffered, digest, size) = self.inner.finish();
        let tmp = buffered.into_inner().map_err(|e| io_error("write", store.tmp_dir())(e.into_error()))?;
        let target = store.blob_path(&digest);
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(ImageError::CorruptBlob { expected: expected.clone(), actual: digest, path: tmp.path().to_path_buf() });
        }
        if !target.is_file() {
            finish_temp(tmp, &target)?;
        } else {
            touch(&target);
        }
        Ok(Descriptor::new(media_type, digest, size))
    }
}

/// Mark a reused blob as recently written, so that [`ImageStore::gc`]'s grace period covers a
/// build that reuses a blob no tag reaches yet. Best effort.
fn touch(path: &Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// What [`ImageStore::gc`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs reachable from a tag (kept).
    pub kept: usize,
    /// Unreachable blobs removed.
    pub removed: usize,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Unreachable blobs younger than the grace period (kept; a build may be writing them).
    pub young: usize,
}

impl ImageStore {
    /// Every blob reachable from a tag in index.json: the manifests and indexes tagged, and
    /// the configs, layers and nested manifests they reference. A tagged blob that is not a
    /// manifest or index (an artifact) is kept as is.
    pub fn reachable_blobs(&self) -> Result<std::collections::BTreeSet<Digest>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut pending: Vec<Descriptor> = self.read_index()?.manifests;
        while let Some(descriptor) = pending.pop() {
            if !seen.insert(descriptor.digest.clone()) || !self.has_blob(&descriptor.digest) {
                continue;
            }
            let bytes = self.read_blob(&descriptor.digest)?;
            if is_index_media_type(&descriptor.media_type) {
                if let Ok(index) = serde_json::from_slice::<Index>(&bytes) {
                    pending.extend(index.manifests);
                }
            } else if let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) {
                seen.insert(manifest.config.digest.clone());
                seen.extend(manifest.layers.into_iter().map(|l| l.digest));
            }
        }
        Ok(seen)
    }

    /// Remove every blob no tag reaches and that is older than `grace`, and temp files older
    /// than `grace`. Holds the index lock throughout, so no tag changes while it decides;
    /// `grace` protects blobs an unfinished build has written but not tagged yet (a build
    /// that reuses an existing blob refreshes its mtime).
    pub fn gc(&self, grace: std::time::Duration) -> Result<GcReport> {
        let _lock = self.lock_index()?;
        let reachable = self.reachable_blobs()?;
        let now = std::time::SystemTime::now();
        let old = |meta: &fs::Metadata| meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age >= grace);
        let mut report = GcReport::default();
        for entry in fs::read_dir(self.blobs_dir()).map_err(io_error("read directory", self.blobs_dir()))? {
            let entry = entry.map_err(io_error("read directory", self.blobs_dir()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(digest) = Digest::parse(&format!("sha256:{name}")) else { continue };
            if reachable.contains(&digest) {
                report.kept += 1;
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !old(&meta) {
                report.young += 1;
                continue;
            }
            fs::remove_file(entry.path()).map_err(io_error("remove", entry.path()))?;
            report.removed += 1;
            report.freed_bytes += meta.len();
        }
        if let Ok(entries) = fs::read_dir(self.tmp_dir()) {
            for entry in entries.flatten() {
                if entry.metadata().is_ok_and(|m| old(&m)) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(report)
    }
}

/// fsync a complete temp file, make it world-readable, rename it to `path`, fsync the directory.
fn finish_temp(tmp: NamedTempFile, path: &Path) -> Result<()> {
    let file = tmp.as_file();
    file.set_permissions(fs::Permissions::from_mode(0o644)).map_err(io_error("set permissions of", tmp.path()))?;
    file.sync_all().map_err(io_error("fsync", tmp.path()))?;
    tmp.persist(path).map_err(|e| io_error("rename a temp file to", path)(e.error))?;
    if let Some(parent) = path.parent() {
        File::open(parent).and_then(|d| d.sync_all()).map_err(io_error("fsync", parent))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

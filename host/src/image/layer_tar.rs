//! Reproducible layer tars.
//!
//! [`LayerBuilder`] collects entries under validated [`ImagePath`]s and writes them sorted by
//! path, with every header normalized the way the CNB lifecycle does (`archive/writer.go`):
//! mtime 1980-01-01T00:00:01Z, the owner given per entry, empty user/group names, modes
//! 0755 for directories, 0755/0644 for files (by the source's exec bits), 0777 for symlinks.
//! The same inputs therefore give the same diffID (and, with the same compressor, the same
//! digest) on any machine, whatever the files' mtimes or owners on disk.
//!
//! Entry names are written relative (`layers/x`, no leading `/`), as docker and most OCI
//! tools do. Symlinks are never followed: a symlink in a tree becomes a symlink entry with its
//! target text verbatim, and a source file is opened with `O_NOFOLLOW`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use super::digest::{Digest, HashingWriter};
use super::oci::{Descriptor, MEDIA_TYPE_OCI_LAYER_GZIP};
use super::store::ImageStore;
use super::{ImageError, Result};

pub use super::extract::{ExtractStats, extract_layer, extract_tar};

/// The mtime of every entry kiln writes: 1980-01-01T00:00:01Z (the lifecycle's `NormalizedModTime`).
pub const NORMALIZED_MTIME: u64 = 315_532_801;

/// The gzip level kiln uses for layers. Fixed, so digests are stable.
const GZIP_LEVEL: u32 = 6;

/// The numeric owner of a layer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner {
    /// User id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
}

impl Owner {
    /// root:root, used for `/cnb` and base images.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
    /// 1000:1000, the CNB user kiln uses for `/layers` and `/workspace`.
    pub const CNB_USER: Owner = Owner { uid: 1000, gid: 1000 };

    /// An owner with the given ids.
    pub const fn new(uid: u64, gid: u64) -> Self {
        Self { uid, gid }
    }
}

/// How entry modes are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModePolicy {
    /// The normalized modes (dirs 0755, files 0755 or 0644, symlinks 0777). The default.
    #[default]
    Normalize,
    /// Keep the permission bits (incl. setuid/setgid/sticky) of files and directories read
    /// from the host; e.g. for a base image whose `/tmp` must stay 1777. Still reproducible:
    /// the modes come from the source, never from the clock or the machine.
    Preserve,
}

/// An absolute, normalized path inside an image: `/` or `/a/b`, no `.`, `..`, empty
/// components, trailing `/` or NUL.
///
/// Ordered by components, so a directory sorts directly before its contents.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImagePath(String);

impl ImagePath {
    /// The root, `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Validates `path`.
    pub fn parse(path: &str) -> Result<Self> {
        let invalid = |reason| ImageError::InvalidImagePath { path: path.to_owned(), reason };
        if path.is_empty() {
            return Err(invalid("it is empty"));
        }
        if path.contains('\0') {
            return Err(invalid("it contains a NUL byte"));
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Err(invalid("it is not absolute"));
        };
        if rest.is_empty() {
            return Ok(Self::root());
        }
        for component in rest.split('/') {
            check_component(component).map_err(invalid)?;
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as text, starting with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The components (none for the root).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0[1..].split('/').filter(|c| !c.is_empty())
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<ImagePath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.rfind('/').unwrap_or(0);
        Some(if cut == 0 { Self::root() } else { Self(self.0[..cut].to_owned()) })
    }

    /// This path with a relative `/`-separated path appended; each part is validated.
    pub fn join(&self, relative: &str) -> Result<ImagePath> {
        let mut out = self.clone();
        for component in relative.split('/') {
            check_component(component)
                .map_err(|reason| ImageError::InvalidImagePath { path: format!("{}/{relative}", self.0.trim_end_matches('/')), reason })?;
            out.push(component);
        }
        Ok(out)
    }

    /// This path with the components of a relative host path appended.
    fn join_host(&self, relative: &Path) -> Result<ImagePath> {
        let mut out = self.clone();
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return Err(ImageError::InvalidImagePath {
                    path: relative.display().to_string(),
                    reason: "a host path component is not a plain name",
                });
            };
            let name = name.to_str().ok_or_else(|| ImageError::InvalidImagePath {
                path: format!("{}/{}", self.0.trim_end_matches('/'), relative.display()),
                reason: "it is not valid UTF-8; rename the file",
            })?;
            out = out.join(name)?;
        }
        Ok(out)
    }

    fn push(&mut self, component: &str) {
        if !self.is_root() {
            self.0.push('/');
        }
        self.0.push_str(component);
    }

    /// The name stored in the tar: the path without its leading `/`.
    pub fn tar_name(&self) -> &str {
        &self.0[1..]
    }
}

fn check_component(component: &str) -> std::result::Result<(), &'static str> {
    match component {
        "" => Err("it has an empty component (`//` or a trailing `/`)"),
        "." => Err("it has a `.` component"),
        ".." => Err("it has a `..` component"),
        c if c.contains('\0') => Err("it contains a NUL byte"),
        // In an OCI layer `.wh.NAME` deletes NAME of the layers below (`.wh..wh..opq` a whole
        // directory): a buildpack or app file by such a name would delete run image files.
        c if c.starts_with(".wh.") => Err("it is an OCI whiteout name (`.wh.*`), which would delete files of the layers below"),
        _ => Ok(()),
    }
}

impl fmt::Display for ImagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ImagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImagePath({:?})", self.0)
    }
}

impl Ord for ImagePath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.components().cmp(other.components())
    }
}

impl PartialOrd for ImagePath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A layer written into an [`ImageStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// Digest of the gzip blob (the manifest's layer digest).
    pub digest: Digest,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids` entry, the CNB `sha`).
    pub diff_id: Digest,
    /// Size of the gzip blob in bytes.
    pub size: u64,
}

impl LayerBlob {
    /// The manifest descriptor of this layer (`application/vnd.oci.image.layer.v1.tar+gzip`).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, self.digest.clone(), self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `mode` is `Some` only for a preserved host mode.
    Dir {
        mode: Option<u32>,
    },
    HostFile {
        path: PathBuf,
    },
    Bytes {
        data: Vec<u8>,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    owner: Owner,
    /// A parent directory nobody added explicitly.
    implicit: bool,
}

/// Collects layer entries and writes them as a reproducible tar.
///
/// ```no_run
/// # use kiln::image::{ImageStore, LayerBuilder, Owner};
/// # fn main() -> Result<(), kiln::image::ImageError> {
/// let store = ImageStore::open("/tmp/store")?;
/// let mut layer = LayerBuilder::new();
/// layer.add_tree("/tmp/app", "/workspace", Owner::CNB_USER)?;
/// layer.add_symlink("/cnb/process/web", "/cnb/lifecycle/launcher", Owner::ROOT)?;
/// let blob = layer.write_blob(&store)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct LayerBuilder {
    entries: BTreeMap<ImagePath, Entry>,
    policy: ModePolicy,
}

impl LayerBuilder {
    /// An empty layer with normalized modes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how modes of host files and directories are chosen.
    pub fn with_mode_policy(mut self, policy: ModePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Number of entries, including implied parent directories.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry paths in the order they will be written.
    pub fn paths(&self) -> impl Iterator<Item = &ImagePath> {
        self.entries.keys()
    }

    /// The regular host files added (by [`LayerBuilder::add_file`] or
    /// [`LayerBuilder::add_tree`]): image path and host path, in write order.
    pub fn host_files(&self) -> impl Iterator<Item = (&ImagePath, &Path)> {
        self.entries.iter().filter_map(|(image_path, entry)| match &entry.kind {
            Kind::HostFile { path } => Some((image_path, path.as_path())),
            _ => None,
        })
    }

    /// Removes the entry at `path` (not its parents); whether there was one.
    pub fn remove(&mut self, path: &ImagePath) -> bool {
        self.entries.remove(path).is_some()
    }

    /// Adds a directory. Adding `/` does nothing: the root is never an entry.
    pub fn add_dir(&mut self, image_path: &str, owner: Owner) -> Result<()> {
        let path = ImagePath::parse(image_path)?;
        self.insert(path, Kind::Dir { mode: None }, owner)
    }

    /// Adds the regular file at `host_path`, streamed when the layer is written.
    ///
    /// `host_path` must not be a symlink (it is opened with `O_NOFOLLOW`); its size and mode
    /// are read from the opened file when the layer is written.
    pub fn add_file(&mut self, host_path: impl AsRef<Path>, image_path: &str, owner: Owner) -> Result<()> {
        let path = ImagePath::parse(image_path)?;
        let kind = Kind::HostFile { path: host_path.as_ref().to_path_buf() };
        self.insert(path, kind, owner)
    }

    /// Adds a file with the given contents; mode 0755 if `executable`, else 0644.
    pub fn add_bytes(&mut self, data: impl Into<Vec<u8>>, image_path: &str, executable: bool, owner: Owner) -> Result<()> {
        let path = ImagePath::parse(image_path)?;
        let kind = Kind::Bytes { data: data.into(), executable };
        self.insert(path, kind, owner)
    }

    /// Adds a symlink whose target is `target`, verbatim (it may be absolute or contain `..`;
    /// it is only text and is never resolved).
    pub fn add_symlink(&mut self, image_path: &str, target: &str, owner: Owner) -> Result<()> {
        let path = ImagePath::parse(image_path)?;
        if target.is_empty() || target.contains('\0') {
            return Err(ImageError::InvalidImagePath {
                path: image_path.to_owned(),
                reason: "its symlink target is empty or contains a NUL byte",
            });
        }
        let kind = Kind::Symlink { target: target.to_owned() };
        self.insert(path, kind, owner)
    }

    /// Adds the directory `host_dir` as `image_path` with everything below it.
    ///
    /// Symlinks are recorded as symlinks (target text verbatim) and never followed, also
    /// when `host_dir` itself is one (that is an error). Hard links become separate file
    /// copies. Sockets, FIFOs and devices are skipped with a warning. Non-UTF-8 names are an
    /// error naming the file.
    pub fn add_tree(&mut self, host_dir: impl AsRef<Path>, image_path: &str, owner: Owner) -> Result<()> {
        let host_dir = host_dir.as_ref();
        let root = ImagePath::parse(image_path)?;
        let meta =
            fs::symlink_metadata(host_dir).map_err(|source| ImageError::CannotReadSource { path: host_dir.to_path_buf(), source })?;
        if !meta.is_dir() {
            return Err(ImageError::InvalidSource {
                path: host_dir.to_path_buf(),
                reason: "it is not a directory (symlinks are never followed)".to_owned(),
            });
        }
        let walk = WalkDir::new(host_dir).follow_links(false).follow_root_links(false).sort_by_file_name();
        for item in walk {
            let item = item.map_err(|err| {
                let path = err.path().unwrap_or(host_dir).to_path_buf();
                let source = err.into_io_error().unwrap_or_else(|| io::Error::other("directory walk failed"));
                ImageError::CannotReadSource { path, source }
            })?;
            let relative = item.path().strip_prefix(host_dir).unwrap_or(Path::new(""));
            let path = root.join_host(relative)?;
            let file_type = item.file_type();
            let kind = if file_type.is_dir() {
                let mode = match self.policy {
                    ModePolicy::Normalize => None,
                    ModePolicy::Preserve => {
                        let meta = item
                            .metadata()
                            .map_err(|err| ImageError::CannotReadSource { path: item.path().to_path_buf(), source: err.into() })?;
                        Some(std::os::unix::fs::MetadataExt::mode(&meta) & 0o7777)
                    }
                };
                Kind::Dir { mode }
            } else if file_type.is_file() {
                Kind::HostFile { path: item.path().to_path_buf() }
            } else if file_type.is_symlink() {
                let target = fs::read_link(item.path())
                    .map_err(|source| ImageError::CannotReadSource { path: item.path().to_path_buf(), source })?;
                let target = target.into_os_string().into_string().map_err(|_| ImageError::InvalidSource {
                    path: item.path().to_path_buf(),
                    reason: "its symlink target is not valid UTF-8".to_owned(),
                })?;
                Kind::Symlink { target }
            } else {
                tracing::warn!(
                    path = %item.path().display(),
                    "skipping a socket, FIFO or device file: it cannot be part of an image layer"
                );
                continue;
            };
            self.insert(path, kind, owner)?;
        }
        Ok(())
    }

    fn insert(&mut self, path: ImagePath, kind: Kind, owner: Owner) -> Result<()> {
        let is_dir = matches!(kind, Kind::Dir { .. });
        if path.is_root() {
            if is_dir {
                return Ok(());
            }
            return Err(ImageError::InvalidImagePath { path: path.to_string(), reason: "only a directory can be at the root" });
        }
        // Parents first, top down; each is emitted exactly once.
        let mut parents = Vec::new();
        let mut cursor = path.parent();
        while let Some(parent) = cursor.filter(|p| !p.is_root()) {
            cursor = parent.parent();
            parents.push(parent);
        }
        for parent in parents.into_iter().rev() {
            match self.entries.get(&parent) {
                Some(Entry { kind: Kind::Dir { .. }, .. }) => {}
                Some(_) => {
                    return Err(ImageError::ParentNotADirectory { parent: parent.to_string(), child: path.to_string() });
                }
                None => {
                    let implied = Entry { kind: Kind::Dir { mode: None }, owner, implicit: true };
                    self.entries.insert(parent, implied);
                }
            }
        }
        let entry = Entry { kind, owner, implicit: false };
        match self.entries.get_mut(&path) {
            None => {
                self.entries.insert(path, entry);
            }
            // An explicit directory replaces an implied one or an earlier explicit one.
            Some(existing) if is_dir && matches!(existing.kind, Kind::Dir { .. }) => *existing = entry,
            Some(existing) if *existing == entry => {}
            Some(_) => {
                return Err(ImageError::DuplicateLayerEntry { path: path.to_string() });
            }
        }
        Ok(())
    }

    /// Writes the uncompressed tar to `out`; returns its digest (the diffID) and size.
    pub fn write_tar<W: Write>(&self, out: W) -> Result<(Digest, u64)> {
        let mut tar = tar::Builder::new(HashingWriter::new(out));
        self.write_entries(&mut tar)?;
        let hashing = tar.into_inner().map_err(write_error)?;
        let (mut out, diff_id, size) = hashing.finish();
        out.flush().map_err(write_error)?;
        Ok((diff_id, size))
    }

    /// Writes the layer gzip-compressed into `store`'s blobs, streaming, and returns its
    /// digest, diffID and size. The blob appears atomically under its digest or not at all.
    pub fn write_blob(&self, store: &ImageStore) -> Result<LayerBlob> {
        let blob = store.blob_writer()?;
        let gzip = GzBuilder::new().write(blob, Compression::new(GZIP_LEVEL));
        let mut tar = tar::Builder::new(HashingWriter::new(gzip));
        self.write_entries(&mut tar)?;
        let hashing = tar.into_inner().map_err(write_error)?;
        let (gzip, diff_id, _) = hashing.finish();
        let blob = gzip.finish().map_err(write_error)?;
        let descriptor = blob.commit(MEDIA_TYPE_OCI_LAYER_GZIP)?;
        Ok(LayerBlob { digest: descriptor.digest, diff_id, size: descriptor.size })
    }

    fn write_entries<W: Write>(&self, tar: &mut tar::Builder<W>) -> Result<()> {
        for (path, entry) in &self.entries {
            let mut header = Header::new_ustar();
            header.set_mtime(NORMALIZED_MTIME);
            header.set_uid(entry.owner.uid);
            header.set_gid(entry.owner.gid);
            header.set_size(0);
            let name = path.tar_name();
            match &entry.kind {
                Kind::Dir { mode } => {
                    header.set_entry_type(EntryType::Directory);
                    header.set_mode(mode.unwrap_or(0o755));
                    tar.append_data(&mut header, name, io::empty()).map_err(write_error)?;
                }
                Kind::Symlink { target } => {
                    header.set_entry_type(EntryType::Symlink);
                    header.set_mode(0o777);
                    set_link_name_verbatim(tar, &mut header, target)?;
                    tar.append_data(&mut header, name, io::empty()).map_err(write_error)?;
                }
                Kind::Bytes { data, executable } => {
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(if *executable { 0o755 } else { 0o644 });
                    header.set_size(data.len() as u64);
                    tar.append_data(&mut header, name, data.as_slice()).map_err(write_error)?;
                }
                Kind::HostFile { path: host } => {
                    let (file, size, source_mode) = open_source_file(host)?;
                    header.set_entry_type(EntryType::Regular);
                    header.set_mode(match self.policy {
                        ModePolicy::Preserve => source_mode & 0o7777,
                        ModePolicy::Normalize if source_mode & 0o111 != 0 => 0o755,
                        ModePolicy::Normalize => 0o644,
                    });
                    header.set_size(size);
                    let reader = ExactReader { inner: file, remaining: size, expected: size, path: host, checked_end: false };
                    tar.append_data(&mut header, name, reader).map_err(write_error)?;
                }
            }
        }
        Ok(())
    }
}

/// Sets the link name byte for byte; a target longer than the ustar field (100 bytes) gets a
/// GNU `././@LongLink` (`K`) entry first, as GNU tar and tar-rs do.
fn set_link_name_verbatim<W: Write>(tar: &mut tar::Builder<W>, header: &mut Header, target: &str) -> Result<()> {
    let bytes = target.as_bytes();
    let field = header.as_old().linkname.len();
    if bytes.len() > field {
        let mut long = Header::new_gnu();
        long.as_gnu_mut().expect("gnu header").name[..13].copy_from_slice(b"././@LongLink");
        long.set_mode(0o644);
        long.set_uid(0);
        long.set_gid(0);
        long.set_mtime(0);
        long.set_size(bytes.len() as u64 + 1);
        long.set_entry_type(EntryType::GNULongLink);
        long.set_cksum();
        tar.append(&long, bytes.chain(&[0u8][..])).map_err(write_error)?;
    }
    header.set_link_name_literal(&bytes[..bytes.len().min(field)]).map_err(write_error)
}

/// Opens a source file without following a symlink or blocking on a FIFO, and returns it with
/// the size and mode from its own metadata.
fn open_source_file(path: &Path) -> Result<(File, u64, u32)> {
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).open(path).map_err(
        |source| {
            if source.raw_os_error() == Some(libc::ELOOP) {
                ImageError::InvalidSource {
                    path: path.to_path_buf(),
                    reason: "it is a symlink; kiln never follows symlinks when adding files to a layer".to_owned(),
                }
            } else {
                ImageError::CannotReadSource { path: path.to_path_buf(), source }
            }
        },
    )?;
    let meta = file.metadata().map_err(|source| ImageError::CannotReadSource { path: path.to_path_buf(), source })?;
    if !meta.is_file() {
        return Err(ImageError::InvalidSource { path: path.to_path_buf(), reason: "it is not a regular file".to_owned() });
    }
    Ok((file, meta.len(), meta.permissions().mode()))
}

/// Yields exactly `expected` bytes of a file and fails if the file turns out shorter or longer,
/// so a file that changes while being read is an error instead of a corrupt tar.
struct ExactReader<'a> {
    inner: File,
    remaining: u64,
    expected: u64,
    path: &'a Path,
    checked_end: bool,
}

impl ExactReader<'_> {
    fn changed(&self, actual: String) -> io::Error {
        io::Error::other(ImageError::SourceChanged { path: self.path.to_path_buf(), expected: self.expected, actual })
    }
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            if !self.checked_end {
                let mut probe = [0u8; 1];
                let n = loop {
                    match self.inner.read(&mut probe) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                if n > 0 {
                    return Err(self.changed("it grew".to_owned()));
                }
                self.checked_end = true;
            }
            return Ok(0);
        }
        let cap = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self
            .inner
            .read(&mut buf[..cap])
            .map_err(|source| io::Error::other(ImageError::CannotReadSource { path: self.path.to_path_buf(), source }))?;
        if n == 0 && cap > 0 {
            let read = self.expected - self.remaining;
            return Err(self.changed(format!("it ended after {read} bytes")));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Turns an I/O error from writing a layer into an [`ImageError`], unwrapping the errors the
/// source readers tunnel through the tar writer.
fn write_error(err: io::Error) -> ImageError {
    if err.get_ref().is_some_and(|inner| inner.is::<ImageError>()) {
        let inner = err.into_inner().expect("checked above");
        return *inner.downcast::<ImageError>().expect("checked above");
    }
    ImageError::CannotWriteLayer { source: err }
}

#[cfg(test)]
#[path = "layer_tar_tests.rs"]
mod tests;

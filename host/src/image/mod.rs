//! OCI images: the data model, kiln's local image store, reproducible layers and CNB labels.
//!
//! This module owns everything kiln knows about images as bytes on disk:
//!
//! - [`oci`]: serde types for the OCI image manifest, index, descriptor and image config
//!   (deterministic JSON: every map is a `BTreeMap`), and the media type constants.
//! - [`digest`]: the validated [`Digest`] newtype and streaming hashers.
//! - [`layer_tar`]: [`LayerBuilder`], which writes normalized, sorted, reproducible layer tars
//!   (mtime 1980-01-01T00:00:01Z, fixed owners and modes) gzipped straight into a store, and
//!   [`extract_layer`], which unpacks a layer while refusing every entry that would escape.
//! - [`store`]: [`ImageStore`], a content-addressed OCI image layout with tags, written
//!   atomically so an interrupted write never leaves a corrupt store.
//! - [`reference`](mod@reference): [`ImageRef`], the image references the CLI accepts (`oci:DIR[:TAG]`, `NAME[:TAG]`),
//!   and [`open_ref`], the store a reference lives in.
//! - [`labels`]: the CNB label keys and their JSON payloads, shaped exactly as the CNB platform
//!   spec (platform API 0.13, "Labels") and the reference lifecycle (`platform/files/*.go`) write them.
//! - [`base`]: [`create_base_image`], which makes a one-layer run image from a root filesystem dir.
//!
//! - [`registry`]: [`RegistryClient`], push and pull with `oci-client` (blocking API).
//! - [`docker_archive`]: [`write_docker_archive`], a `docker load`-able tarball.
//!
//! Rebase lives in the lifecycle (`lifecycle::rebase`) and builds on these types.

pub mod base;
pub mod digest;
pub mod docker_archive;
mod extract;
pub mod labels;
pub mod layer_tar;
pub mod oci;
pub mod reference;
pub mod registry;
mod registry_auth;
pub mod store;
pub mod unpack;

use std::io;
use std::path::PathBuf;

pub use base::{BaseImageOptions, create_base_image};
pub use digest::{Digest, HashingReader, HashingWriter};
pub use docker_archive::write_docker_archive;
pub use labels::{BuildMetadata, LayersMetadata, ProjectMetadata};
pub use layer_tar::{ExtractStats, ImagePath, LayerBlob, LayerBuilder, ModePolicy, NORMALIZED_MTIME, Owner, extract_layer};
pub use oci::{ContainerConfig, Descriptor, ImageConfig, Index, Manifest, Platform, RootFs};
pub use reference::{ImageRef, RegistryRef, open_ref};
pub use registry::{RegistryClient, RegistryError, RegistryOptions};
pub use store::{BlobWriter, Image, ImageStore};
pub use unpack::unpack_image;

/// Errors of the image area: building layers, the local store, references and labels.
///
/// Every variant says what could not be done and names the file, blob, path or reference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A string is not a `sha256:<64 lowercase hex>` digest.
    #[error("invalid digest {value:?}: {reason}")]
    InvalidDigest {
        /// The rejected text.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A path inside an image (a layer entry) is not absolute and normalized.
    #[error("invalid image path {path:?}: {reason} (image paths must be absolute, normalized, without `..`, `.`, empty components or NUL)")]
    InvalidImagePath {
        /// The rejected path, lossily converted to text.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Two different entries were added to a layer at the same path.
    #[error("layer entry {path} was added twice with different contents")]
    DuplicateLayerEntry {
        /// The image path added twice.
        path: String,
    },

    /// An entry was added below a path that is already a file or symlink in the layer.
    #[error("cannot add layer entry {child}: its parent {parent} is not a directory in the layer")]
    ParentNotADirectory {
        /// The non-directory entry.
        parent: String,
        /// The entry that needed it to be a directory.
        child: String,
    },

    /// A source file or directory for a layer could not be read.
    #[error("cannot read {path} for a layer: {source}")]
    CannotReadSource {
        /// The host path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A source for a layer is of the wrong kind (e.g. a symlink where a directory was required).
    #[error("cannot use {path} as layer source: {reason}")]
    InvalidSource {
        /// The host path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file changed size while it was being copied into a layer.
    #[error(
        "{path} changed while it was being added to a layer (expected {expected} bytes, {actual}); make sure nothing writes to it during export"
    )]
    SourceChanged {
        /// The host path.
        path: PathBuf,
        /// The size read from its metadata when it was opened.
        expected: u64,
        /// What was found instead.
        actual: String,
    },

    /// Writing a layer tar failed.
    #[error("cannot write layer tar: {source}")]
    CannotWriteLayer {
        /// The underlying error.
        source: io::Error,
    },

    /// A tar entry would escape the extraction directory or is otherwise unsafe.
    #[error("refusing tar entry {entry:?} in {archive}: {reason}")]
    UnsafeTarEntry {
        /// The archive being extracted.
        archive: PathBuf,
        /// The entry's path as stored in the tar.
        entry: String,
        /// Why it was refused.
        reason: String,
    },

    /// Extracting a layer failed.
    #[error("cannot extract {archive} into {dest}: {source}")]
    CannotExtract {
        /// The archive being extracted.
        archive: PathBuf,
        /// The destination directory.
        dest: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A directory exists but is not an OCI image layout kiln can use.
    #[error("{dir} is not an OCI image layout: {reason}")]
    NotAnImageLayout {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A filesystem operation on the image store failed.
    #[error("image store: cannot {action} {path}: {source}")]
    StoreIo {
        /// What was being done ("write", "rename", "lock", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A blob is not in the store.
    #[error("blob {digest} is not in the image store {store}")]
    BlobNotFound {
        /// The missing blob.
        digest: Digest,
        /// The store directory.
        store: PathBuf,
    },

    /// A blob's content does not match its digest: the store is corrupt.
    #[error("corrupt blob {path}: its content hashes to {actual}, not {expected}; delete the file and pull or rebuild the image")]
    CorruptBlob {
        /// The digest the blob is stored under (or was expected to have).
        expected: Digest,
        /// The digest of its actual content.
        actual: Digest,
        /// The blob file.
        path: PathBuf,
    },

    /// A JSON document (manifest, config, index, label) could not be parsed or written.
    #[error("invalid JSON in {what}: {source}")]
    InvalidJson {
        /// Which document, e.g. "manifest sha256:..." or "label io.buildpacks.build.metadata".
        what: String,
        /// The underlying error.
        source: serde_json::Error,
    },

    /// No image with this name is tagged in the store.
    #[error("no image named {name} in {store}; list images with `kiln images`")]
    ImageNotFound {
        /// The name looked up.
        name: String,
        /// The store directory.
        store: PathBuf,
    },

    /// A tag name cannot be used as an OCI `org.opencontainers.image.ref.name`.
    #[error("invalid image name {name:?}: {reason}")]
    InvalidTagName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A manifest or index has a media type kiln does not understand here.
    #[error("unsupported media type {media_type} for {digest}")]
    UnsupportedMediaType {
        /// The media type found.
        media_type: String,
        /// The blob that has it.
        digest: Digest,
    },

    /// An image index has no manifest for the platform kiln runs on.
    #[error("image index {digest} has no manifest for {os}/{architecture}")]
    NoMatchingPlatform {
        /// The index.
        digest: Digest,
        /// The wanted OS.
        os: String,
        /// The wanted architecture.
        architecture: String,
    },

    /// An image's manifest and config disagree, or a referenced blob is missing.
    #[error("inconsistent image: {reason}")]
    InconsistentImage {
        /// What is inconsistent.
        reason: String,
    },

    /// An image reference could not be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An image reference uses a transport kiln does not support yet.
    #[error(
        "image reference {reference:?}: {what} is not supported; use a local name (NAME[:TAG]), oci:DIR[:TAG], a registry reference (HOST/REPO[:TAG]) or docker-archive:FILE"
    )]
    UnsupportedReference {
        /// The reference as given.
        reference: String,
        /// What is unsupported (e.g. "the docker:// transport").
        what: String,
    },

    /// A registry operation failed.
    #[error(transparent)]
    Registry(Box<RegistryError>),
}

/// Errors of registry operations, boxed (see [`RegistryError`]).
impl From<RegistryError> for ImageError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Store(inner) => *inner,
            other => ImageError::Registry(Box::new(other)),
        }
    }
}

/// Result alias for the image area.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

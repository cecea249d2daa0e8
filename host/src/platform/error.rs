//! Errors of the platform: each says which flag, file or image could not be used, and what
//! to do. The CLI maps them to exit codes in one table (`cli/exit.rs`).

use std::path::PathBuf;

use crate::base::debian::DebianError;
use crate::image::{ImageError, RegistryError};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::rebase::RebaseError;
use crate::sandbox::SandboxError;

/// What can stop a platform operation (build, run, rebase, packaging a buildpack).
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The app source directory is missing or not a directory.
    #[error("the app source {} {}: pass --path DIR (default: the current directory)", path.display(), if *exists { "is not a directory" } else { "does not exist" })]
    AppDir {
        /// The path given.
        path: PathBuf,
        /// Whether something else is there.
        exists: bool,
    },
    /// A value given on the command line, in a file it names or in kiln's config is invalid.
    #[error("{what}: {reason}")]
    InvalidValue {
        /// Which flag or file (`--env "X"`, `--limit-memory "1x"`, `project.toml`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// kiln's config file could not be read or is invalid.
    #[error("{0}")]
    Config(String),
    /// A builder.toml could not be read or is invalid.
    #[error("{0}")]
    Builder(String),
    /// A buildpack could not be found or loaded.
    #[error("{0}")]
    Buildpack(String),
    /// A registry image is not a buildpackage kiln can run.
    #[error("buildpack image {reference}: {reason}")]
    NotABuildpackage {
        /// The image.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No run image was given and the builder names none.
    #[error("no run image given: pass --run-image REF (make one from a root filesystem with `kiln base from-dir DIR --tag NAME`)")]
    NoRunImage,
    /// A flag combination or image kind that the operation does not support.
    #[error("{0}")]
    Unsupported(String),
    /// kiln's jail could not run the image's process (no user namespaces, a setup failure).
    #[error("kiln run: {0}")]
    Jail(crate::jail::JailError),
    /// An image cannot be started by `kiln run` as it is.
    #[error("{0}")]
    CannotRun(String),
    /// An image's root filesystem could not be unpacked for `kiln run`.
    #[error("cannot unpack {image}: {reason}")]
    Unpack {
        /// The image.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// An image's SBOM document could not be read.
    #[error("cannot read the SBOM of {image}: {reason}")]
    Sbom {
        /// The image.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// A file operation of the platform failed (not the user's input).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A process could not be started or waited for.
    #[error("cannot {action}: {source}")]
    Process {
        /// What was being done.
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The image area (store, layers, references).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A registry operation.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The build itself.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A rebase.
    #[error(transparent)]
    Rebase(#[from] RebaseError),
    /// Making a Debian run image.
    #[error(transparent)]
    Debian(#[from] DebianError),
    /// Loading or calling a buildpack component outside a build (packaging).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl PlatformError {
    /// An invalid value, naming where it came from.
    pub fn invalid(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        PlatformError::InvalidValue { what: what.into(), reason: reason.to_string() }
    }
}

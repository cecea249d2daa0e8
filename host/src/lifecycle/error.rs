//! Errors of the lifecycle: each says which phase, buildpack or file, and what to do.

use std::path::{Path, PathBuf};

use crate::image::ImageError;
use crate::sandbox::SandboxError;

/// What can stop a build.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A buildpack could not be loaded, or its descriptor is invalid.
    #[error("{message}")]
    InvalidBuildpack {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The order names a buildpack that was not given.
    #[error("the order names buildpack {id}, which is not among the loaded buildpacks")]
    UnknownBuildpack {
        /// The id.
        id: String,
    },
    /// No group passed detection.
    #[error(
        "no buildpack group passed detection:\n  {}\n{}run with --verbose to see each buildpack's reason",
        details.join("\n  "),
        recognized.as_ref().map(|r| format!("{}\n", r.advice())).unwrap_or_default()
    )]
    NoGroupPassed {
        /// Why each group failed.
        details: Vec<String>,
        /// Whether a buildpack's detect failed with an error (not just "does not apply").
        errored: bool,
        /// The ecosystem the app's files name, when kiln recognizes one it has no buildpack for.
        recognized: Option<super::ecosystem::Recognized>,
    },
    /// A buildpack returned something the host refuses.
    #[error("buildpack {buildpack} returned an invalid result: {message}")]
    InvalidBuildOutput {
        /// The buildpack.
        buildpack: String,
        /// What is wrong.
        message: String,
    },
    /// A file of the app (from the source, or written there by a buildpack) cannot go into
    /// an image as it is.
    #[error("the app has a file that cannot go into an image: {message}; rename or remove it (or find the buildpack that wrote it)")]
    InvalidAppFile {
        /// What is wrong.
        message: String,
    },
    /// The run image could not be read.
    #[error("cannot use run image {reference}: {source}")]
    RunImage {
        /// The reference given.
        reference: String,
        /// The cause.
        source: ImageError,
    },
    /// The previous image could not be read from its registry (`--publish`).
    #[error("cannot read the previous image {reference}: {source}")]
    PreviousImage {
        /// The image's registry reference.
        reference: String,
        /// The cause.
        source: ImageError,
    },
    /// kiln itself panicked while running a buildpack: a kiln bug, not the buildpack's fault.
    #[error("kiln bug: the host panicked {during}; please report it")]
    HostPanic {
        /// What kiln was doing (e.g. "during detect of kiln/nodejs").
        during: String,
    },
    /// The sandbox failed or a buildpack failed in it.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// Writing the image failed.
    #[error("cannot write the image: {0}")]
    Image(#[from] ImageError),
    /// A file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl LifecycleError {
    /// An I/O error with context.
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        LifecycleError::Io { action: action.into(), path: path.to_path_buf(), source }
    }
}

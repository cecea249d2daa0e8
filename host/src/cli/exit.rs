//! The one table mapping failures to exit codes, at the binary's edge.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | an unexpected internal error |
//! | 2 | bad command line (from clap) |
//! | 3 | bad input: missing app dir, unreadable or invalid buildpack, missing run image |
//! | 20 | no buildpack group passed detection |
//! | 21 | no group passed and a buildpack's detect failed with an error |
//! | 51 | a buildpack failed, crashed or returned an invalid result |
//! | 52 | a buildpack exceeded a limit (memory, CPU, time, log, files, layer bytes, fetch count or bytes) |
//! | 60 | the image could not be written or read |
//! | 61 | a registry refused the credentials (authentication failed) |
//! | 62 | a registry could not be reached, or a push or pull failed |
//! | 70 | rebase refused: the new run image is incompatible, or the app image is not rebasable |

use crate::lifecycle::LifecycleError;
use crate::sandbox::SandboxError;

/// kiln's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0.
    Success = 0,
    /// 1.
    Internal = 1,
    /// 3.
    BadInput = 3,
    /// 20.
    DetectFailed = 20,
    /// 21.
    DetectErrored = 21,
    /// 51.
    BuildpackFailed = 51,
    /// 52.
    LimitExceeded = 52,
    /// 60.
    Image = 60,
    /// 61.
    RegistryAuth = 61,
    /// 62.
    Registry = 62,
    /// 70.
    RebaseRefused = 70,
}

/// An error ready to print, with its exit code.
#[derive(Debug)]
pub struct CliError {
    /// The message shown to the user.
    pub message: String,
    /// The exit code.
    pub code: ExitCode,
}

impl CliError {
    /// An error with a message and code.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        CliError { message: message.into(), code }
    }
}

impl From<LifecycleError> for CliError {
    fn from(error: LifecycleError) -> Self {
        let code = match &error {
            LifecycleError::RunImage { source: crate::image::ImageError::Registry(inner), .. } => {
                super::registry_args::registry_code(inner)
            }
            LifecycleError::AppDirMissing { .. }
            | LifecycleError::InvalidBuildpack { .. }
            | LifecycleError::UnknownBuildpack { .. }
            | LifecycleError::RunImage { .. } => ExitCode::BadInput,
            LifecycleError::NoGroupPassed { errored: false, .. } => ExitCode::DetectFailed,
            LifecycleError::NoGroupPassed { errored: true, .. } => ExitCode::DetectErrored,
            LifecycleError::InvalidBuildOutput { .. } => ExitCode::BuildpackFailed,
            LifecycleError::Sandbox(sandbox) => sandbox_code(sandbox),
            LifecycleError::Image(image) => super::registry_args::image_code(image),
            LifecycleError::Io { .. } => ExitCode::Internal,
        };
        CliError { message: error.to_string(), code }
    }
}

fn sandbox_code(error: &SandboxError) -> ExitCode {
    match error {
        SandboxError::NotAComponent { .. }
        | SandboxError::IncompatibleContract { .. }
        | SandboxError::NotABuildpack { .. }
        | SandboxError::UnsupportedImport { .. }
        | SandboxError::Compile { .. } => ExitCode::BadInput,
        SandboxError::LimitExceeded { .. } => ExitCode::LimitExceeded,
        SandboxError::Trapped { .. } | SandboxError::GuestError { .. } => ExitCode::BuildpackFailed,
        SandboxError::Cache { .. } | SandboxError::Grant { .. } => ExitCode::Internal,
    }
}

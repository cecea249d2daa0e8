//! The one table mapping failures to exit codes, at the binary's edge. No other file picks
//! a code: commands return typed errors ([`CliError`], mostly
//! [`PlatformError`](crate::platform::PlatformError)) and [`ExitCode::from`] matches on them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | an unexpected internal error, or a kiln bug (a host panic is never a buildpack's fault) |
//! | 2 | bad command line (from clap) |
//! | 3 | bad input: a missing app dir, image or run image; an invalid flag value, config file, project.toml, builder or buildpack |
//! | 20 | no buildpack group passed detection |
//! | 21 | no group passed and a buildpack's detect failed with an error |
//! | 51 | a buildpack failed, crashed or returned an invalid result |
//! | 52 | a buildpack exceeded a limit (memory, CPU, time, log, files, layer bytes, fetch count or bytes) |
//! | 60 | an image could not be written or read (a corrupt store or blob, an unpack that failed) |
//! | 61 | a registry refused the credentials (authentication failed) |
//! | 62 | a registry could not be reached, or a push or pull failed; a Debian archive could not be used |
//! | 70 | rebase refused: the new run image is incompatible, or the app image is not rebasable |
//!
//! `kiln run` exits with its process's code (128 + the signal if it was killed).

use std::path::PathBuf;

use crate::base::debian::DebianError;
use crate::fetch::FetchError;
use crate::image::{ImageError, RegistryError};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::rebase::RebaseError;
use crate::platform::PlatformError;
use crate::sandbox::SandboxError;

/// kiln's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0.
    Success,
    /// 1.
    Internal,
    /// 3.
    BadInput,
    /// 20.
    DetectFailed,
    /// 21.
    DetectErrored,
    /// 51.
    BuildpackFailed,
    /// 52.
    LimitExceeded,
    /// 60.
    Image,
    /// 61.
    RegistryAuth,
    /// 62.
    Registry,
    /// 70.
    RebaseRefused,
    /// The code of the process `kiln run` started.
    Process(i32),
}

impl ExitCode {
    /// The code a command's result exits with.
    pub fn of(result: &Result<(), CliError>) -> ExitCode {
        match result {
            Ok(()) => ExitCode::Success,
            Err(error) => ExitCode::from(error),
        }
    }

    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Internal => 1,
            ExitCode::BadInput => 3,
            ExitCode::DetectFailed => 20,
            ExitCode::DetectErrored => 21,
            ExitCode::BuildpackFailed => 51,
            ExitCode::LimitExceeded => crate::sandbox::WATCHDOG_EXIT_CODE,
            ExitCode::Image => 60,
            ExitCode::RegistryAuth => 61,
            ExitCode::Registry => 62,
            ExitCode::RebaseRefused => 70,
            ExitCode::Process(code) => code,
        }
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A value the command refuses beyond what clap checks (`--grace`, `--distro`, ...).
    #[error("{0}")]
    Usage(String),
    /// The platform (and below it the lifecycle, images, registries) failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// `kiln fetch-cache add` could not fetch.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A file operation of a command failed (`kiln fetch-cache`).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process `kiln run` started exited with this (non-zero) code; nothing to print.
    #[error("the process exited with code {0}")]
    ProcessExited(i32),
    /// kiln panicked: a kiln bug, whatever the command was running (the panic message was
    /// printed above).
    #[error("kiln bug: kiln panicked (the message is above); please report it")]
    Panicked,
    /// The process `kiln run` started was killed by this signal.
    #[error("the process was killed (signal {0})")]
    ProcessKilled(i32),
}

impl CliError {
    /// Whether the message is worth printing (a process's own exit code is not).
    pub fn is_silent(&self) -> bool {
        matches!(self, CliError::ProcessExited(_))
    }
}

/// Errors of the areas below the platform, for `?` in commands.
macro_rules! via_platform {
    ($($error:ty),*) => {$(
        impl From<$error> for CliError {
            fn from(error: $error) -> Self {
                CliError::Platform(error.into())
            }
        }
    )*};
}
via_platform!(ImageError, RegistryError, LifecycleError, RebaseError, DebianError, SandboxError);

impl From<&CliError> for ExitCode {
    fn from(error: &CliError) -> Self {
        match error {
            CliError::Usage(_) => ExitCode::BadInput,
            CliError::Platform(error) => platform_code(error),
            CliError::Fetch(FetchError::Cache { .. }) | CliError::Io { .. } | CliError::Panicked => ExitCode::Internal,
            // A URL, digest or mirror the user gave to `fetch-cache add`.
            CliError::Fetch(_) => ExitCode::BadInput,
            CliError::ProcessExited(code) => ExitCode::Process(*code),
            CliError::ProcessKilled(signal) => ExitCode::Process(128 + signal),
        }
    }
}

fn platform_code(error: &PlatformError) -> ExitCode {
    match error {
        PlatformError::AppDir { .. }
        | PlatformError::InvalidValue { .. }
        | PlatformError::Config(_)
        | PlatformError::Builder(_)
        | PlatformError::Buildpack(_)
        | PlatformError::NotABuildpackage { .. }
        | PlatformError::NoRunImage
        | PlatformError::Unsupported(_)
        | PlatformError::CannotRun(_) => ExitCode::BadInput,
        PlatformError::Unpack { .. } | PlatformError::Sbom { .. } => ExitCode::Image,
        PlatformError::Io { .. } | PlatformError::Process { .. } | PlatformError::Jail(_) => ExitCode::Internal,
        PlatformError::Image(error) => image_code(error),
        PlatformError::Registry(error) => registry_code(error),
        PlatformError::Lifecycle(error) => lifecycle_code(error),
        PlatformError::Rebase(error) => rebase_code(error),
        PlatformError::Debian(error) => debian_code(error),
        PlatformError::Sandbox(error) => sandbox_code(error),
    }
}

fn lifecycle_code(error: &LifecycleError) -> ExitCode {
    match error {
        LifecycleError::RunImage { source, .. } => match image_code(source) {
            // An unreadable run image is the user's to fix, unless a registry said why.
            ExitCode::Image => ExitCode::BadInput,
            code => code,
        },
        LifecycleError::InvalidBuildpack { .. } | LifecycleError::UnknownBuildpack { .. } | LifecycleError::InvalidAppFile { .. } => {
            ExitCode::BadInput
        }
        LifecycleError::NoGroupPassed { errored: false, .. } => ExitCode::DetectFailed,
        LifecycleError::NoGroupPassed { errored: true, .. } => ExitCode::DetectErrored,
        LifecycleError::InvalidBuildOutput { .. } => ExitCode::BuildpackFailed,
        LifecycleError::Sandbox(sandbox) => sandbox_code(sandbox),
        LifecycleError::PreviousImage { source, .. } | LifecycleError::Image(source) => image_code(source),
        LifecycleError::HostPanic { .. } | LifecycleError::Io { .. } => ExitCode::Internal,
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

fn image_code(error: &ImageError) -> ExitCode {
    match error {
        ImageError::Registry(inner) => registry_code(inner),
        ImageError::ImageNotFound { .. } | ImageError::InvalidReference { .. } | ImageError::UnsupportedReference { .. } => {
            ExitCode::BadInput
        }
        _ => ExitCode::Image,
    }
}

fn registry_code(error: &RegistryError) -> ExitCode {
    match error {
        RegistryError::Auth { .. } => ExitCode::RegistryAuth,
        RegistryError::NotFound { .. } => ExitCode::BadInput,
        RegistryError::Store(inner) => image_code(inner),
        _ => ExitCode::Registry,
    }
}

fn rebase_code(error: &RebaseError) -> ExitCode {
    match error {
        RebaseError::Image(image) => image_code(image),
        RebaseError::NotABuildpacksImage { .. } | RebaseError::TopLayerNotFound { .. } | RebaseError::NoRunImage { .. } => {
            ExitCode::BadInput
        }
        _ => ExitCode::RebaseRefused,
    }
}

fn debian_code(error: &DebianError) -> ExitCode {
    match error {
        DebianError::NoSource { .. } | DebianError::Resolve(_) => ExitCode::BadInput,
        DebianError::Fetch(_) | DebianError::Signature { .. } | DebianError::InvalidIndex { .. } => ExitCode::Registry,
        DebianError::Image(image) => image_code(image),
        _ => ExitCode::Image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(error: impl Into<CliError>) -> i32 {
        ExitCode::from(&error.into()).code()
    }

    fn not_found() -> ImageError {
        ImageError::ImageNotFound { name: "nope:latest".into(), store: "/store".into() }
    }

    #[test]
    fn a_missing_image_is_bad_input_wherever_it_is_met() {
        assert_eq!(code(not_found()), 3);
        assert_eq!(code(LifecycleError::RunImage { reference: "nope".into(), source: not_found() }), 3);
        assert_eq!(code(RebaseError::Image(not_found())), 3);
        assert_eq!(code(PlatformError::Image(not_found())), 3);
    }

    #[test]
    fn a_host_panic_is_a_kiln_bug_not_the_buildpacks() {
        assert_eq!(code(LifecycleError::HostPanic { during: "during detect of x".into() }), 1);
        assert_eq!(code(CliError::Panicked), 1);
    }

    #[test]
    fn registry_failures_keep_their_codes_through_every_layer() {
        let auth = || RegistryError::Auth { registry: "r".into(), auth_file: "auth.json".into(), detail: "denied".into() };
        assert_eq!(code(auth()), 61);
        assert_eq!(code(ImageError::from(auth())), 61);
        assert_eq!(code(LifecycleError::PreviousImage { reference: "r/a".into(), source: auth().into() }), 61);
    }

    #[test]
    fn kiln_run_passes_its_process_code_through() {
        assert_eq!(code(CliError::ProcessExited(7)), 7);
        assert_eq!(code(CliError::ProcessKilled(9)), 137);
        assert!(CliError::ProcessExited(7).is_silent());
    }
}

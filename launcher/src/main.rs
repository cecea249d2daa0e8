//! `launcher`: the process launcher of kiln app images, at `/cnb/lifecycle/launcher`.
//!
//! Implements the CNB platform spec's launcher (platform.md "launcher"): reads
//! `<layers>/config/metadata.toml`, selects a process ([`select`]), builds the launch env from
//! the launch layers ([`env`]), runs exec.d programs ([`execd`]), changes to the working dir
//! and replaces itself with the process.
//!
//! Inputs: `CNB_APP_DIR` (default `/workspace`), `CNB_LAYERS_DIR` (default `/layers`),
//! `CNB_PROCESS_TYPE` (overrides the default process). Exit codes: see [`Failure::exit_code`].
//! Shell processes do not source `profile.d` scripts or `<app>/.profile`.

mod env;
mod execd;
mod layers;
mod select;

use std::convert::Infallible;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use kiln_cnb::launch::METADATA_PATH;
use kiln_cnb::{LaunchMetadata, LaunchMetadataError};

use crate::env::Env;
use crate::select::{Launch, SelectError};

/// The prefix of every message the launcher prints.
const PREFIX: &str = "kiln-launcher";

/// Prints a warning to stderr; the launch goes on.
pub(crate) fn warn(message: fmt::Arguments<'_>) {
    eprintln!("{PREFIX}: warning: {message}");
}

/// Why the launcher could not start the process.
#[derive(Debug)]
enum Failure {
    /// No process could be selected.
    Select(SelectError),
    /// The launch metadata could not be read.
    Metadata(LaunchMetadataError),
    /// The app dir could not be entered.
    AppDir { path: PathBuf, source: std::io::Error },
    /// An exec.d program failed.
    ExecD(execd::ExecDError),
    /// The working dir could not be entered.
    WorkingDir { path: PathBuf, source: std::io::Error },
    /// The process could not be executed.
    Exec { program: OsString, source: std::io::Error },
}

impl Failure {
    /// The exit code for each failure: 82 process selection, 83 exec (including the working
    /// dir), 84 reading inputs (metadata, app dir, exec.d). Within the spec's 80-89 launch range.
    fn exit_code(&self) -> u8 {
        match self {
            Self::Select(_) => 82,
            Self::WorkingDir { .. } | Self::Exec { .. } => 83,
            Self::Metadata(_) | Self::AppDir { .. } | Self::ExecD(_) => 84,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Select(e) => e.fmt(f),
            Self::Metadata(e) => e.fmt(f),
            Self::ExecD(e) => e.fmt(f),
            Self::AppDir { path, source } => {
                write!(f, "cannot change to app directory {}: {source}", path.display())
            }
            Self::WorkingDir { path, source } => {
                write!(f, "cannot change to working directory {}: {source}", path.display())
            }
            Self::Exec { program, source } => {
                write!(f, "cannot execute {}: {source}", program.to_string_lossy())
            }
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(never) => match never {},
        Err(failure) => {
            eprintln!("{PREFIX}: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run() -> Result<Infallible, Failure> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let app_dir = absolute(dir_from_env("CNB_APP_DIR", "/workspace"));
    let layers_dir = absolute(dir_from_env("CNB_LAYERS_DIR", "/layers"));
    let process_type_var = std::env::var_os("CNB_PROCESS_TYPE");

    let metadata = LaunchMetadata::load(&layers_dir.join(METADATA_PATH)).map_err(Failure::Metadata)?;
    let launch = select::select(&metadata, &argv, process_type_var.as_ref().and_then(|t| t.to_str())).map_err(Failure::Select)?;

    std::env::set_current_dir(&app_dir).map_err(|source| Failure::AppDir { path: app_dir.clone(), source })?;
    let layers = layers::launch_layers(&layers_dir, &metadata.buildpacks);
    let mut env = Env::launch_base(std::env::vars_os());
    env.apply_layers(&layers, launch.process_type.as_ref());
    execd::run_all(&layers, launch.process_type.as_ref(), &mut env).map_err(Failure::ExecD)?;

    exec(launch, &env)
}

/// Enters the working dir and replaces this process with the launch's command, looked up on
/// the launch env's `PATH`. Returns only on failure.
fn exec(launch: Launch, env: &Env) -> Result<Infallible, Failure> {
    if let Some(dir) = &launch.working_dir {
        std::env::set_current_dir(dir).map_err(|source| Failure::WorkingDir { path: dir.clone(), source })?;
    }
    let Some((program, args)) = launch.argv.split_first() else {
        return Err(Failure::Select(SelectError::CommandRequired));
    };
    let source = Command::new(program).args(args).env_clear().envs(env.vars()).exec();
    Err(Failure::Exec { program: program.clone(), source })
}

fn dir_from_env(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name).filter(|v| !v.is_empty()).map_or_else(|| default.into(), PathBuf::from)
}

/// `path` made absolute against the current dir, so it survives changing directory.
fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_kind() {
        let io = || std::io::Error::other("x");
        assert_eq!(Failure::Select(SelectError::CommandRequired).exit_code(), 82);
        assert_eq!(Failure::Exec { program: "x".into(), source: io() }.exit_code(), 83);
        assert_eq!(Failure::WorkingDir { path: "/x".into(), source: io() }.exit_code(), 83);
        assert_eq!(Failure::AppDir { path: "/x".into(), source: io() }.exit_code(), 84);
        let md = Failure::Metadata(LaunchMetadataError::CannotRead { path: "/m".into(), source: io() });
        assert_eq!(md.exit_code(), 84);
    }
}

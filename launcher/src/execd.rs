//! exec.d: executables in launch layers that compute env vars just before the app starts.
//!
//! For each buildpack (group order), each layer (by name): each file of `<layer>/exec.d/`
//! (by name), then each file of `<layer>/exec.d/<type>/` (`doLayerExecD` in the lifecycle's
//! `launch/launcher.go`). Each runs with the launch env built so far, stdin from /dev/null,
//! stdout and stderr inherited, and a pipe as fd 3 on which it writes TOML
//! (`NAME = "value"` lines); those variables are then set (buildpack spec "exec.d").
//! Entries that are not executable files are skipped with a warning; an exec.d that fails or
//! writes something that is not such TOML stops the launch, as in the lifecycle.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::env::Env;
use kiln_cnb::ProcessType;

use crate::layers::{BuildpackLayers, list_dir};
use crate::warn;

/// The file descriptor exec.d programs write their output to.
pub const OUTPUT_FD: RawFd = 3;

/// The largest exec.d output read.
const MAX_OUTPUT: u64 = 1 << 20;

/// Why an exec.d program stopped the launch.
#[derive(Debug)]
pub enum ExecDError {
    /// It could not be started, or its output could not be read.
    CannotRun {
        /// The exec.d program.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// It exited unsuccessfully.
    Failed {
        /// The exec.d program.
        path: PathBuf,
        /// Its exit status.
        status: ExitStatus,
    },
    /// What it wrote on fd 3 is not a TOML table of strings.
    BadOutput {
        /// The exec.d program.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ExecDError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CannotRun { path, source } => {
                write!(f, "cannot run exec.d program {}: {source}", path.display())
            }
            Self::Failed { path, status } => {
                write!(f, "exec.d program {} failed: {status}", path.display())
            }
            Self::BadOutput { path, reason } => {
                write!(f, "exec.d program {} wrote invalid output on fd 3 (expected NAME = \"value\" lines): {reason}", path.display())
            }
        }
    }
}

/// Runs every exec.d program of `buildpacks` in order, setting their variables in `env`.
pub fn run_all(buildpacks: &[BuildpackLayers], process_type: Option<&ProcessType>, env: &mut Env) -> Result<(), ExecDError> {
    for layer in buildpacks.iter().flat_map(|bp| &bp.layers) {
        let dir = layer.join("exec.d");
        run_dir(&dir, env)?;
        if let Some(t) = process_type {
            run_dir(&dir.join(t.as_str()), env)?;
        }
    }
    Ok(())
}

/// Runs the executable files directly in `dir`, by name.
fn run_dir(dir: &Path, env: &mut Env) -> Result<(), ExecDError> {
    for (name, file_type) in list_dir(dir).unwrap_or_default() {
        if file_type.is_dir() {
            continue;
        }
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => {
                warn(format_args!("skipping exec.d entry {}: not an executable file", path.display()));
                continue;
            }
            Err(e) => {
                warn(format_args!("skipping exec.d entry {}: {e}", path.display()));
                continue;
            }
        }
        for (name, value) in run_one(&path, env)? {
            env.set(name, value);
        }
    }
    Ok(())
}

/// Runs one exec.d program with `env` and returns the variables it output.
pub fn run_one(path: &Path, env: &Env) -> Result<Vec<(String, String)>, ExecDError> {
    let cannot_run = |source| ExecDError::CannotRun { path: path.to_path_buf(), source };
    let (mut reader, writer) = io::pipe().map_err(cannot_run)?;
    let mut command = Command::new(path);
    command.env_clear().envs(env.vars()).stdin(Stdio::null());
    give_as_output_fd(&mut command, writer.as_raw_fd());
    let mut child = command.spawn().map_err(cannot_run)?;
    // Only the child may hold the write end now, so the read ends when it is done.
    drop(command);
    drop(writer);

    let mut output = Vec::new();
    let read = (&mut reader).take(MAX_OUTPUT + 1).read_to_end(&mut output);
    drop(reader); // an exec.d that keeps writing gets EPIPE instead of blocking forever
    let status = child.wait().map_err(cannot_run)?;
    read.map_err(cannot_run)?;
    if !status.success() {
        return Err(ExecDError::Failed { path: path.to_path_buf(), status });
    }
    parse_output(&output).map_err(|reason| ExecDError::BadOutput { path: path.to_path_buf(), reason })
}

/// The variables in an exec.d program's output, skipping (with a warning) names and values
/// that cannot be put in an environment.
fn parse_output(output: &[u8]) -> Result<Vec<(String, String)>, String> {
    if output.len() as u64 > MAX_OUTPUT {
        return Err(format!("more than {MAX_OUTPUT} bytes"));
    }
    let text = std::str::from_utf8(output).map_err(|e| e.to_string())?;
    let vars: BTreeMap<String, String> = toml::from_str(text).map_err(|e| e.message().to_string())?;
    Ok(vars
        .into_iter()
        .filter(|(name, value)| {
            let ok = !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0');
            if !ok {
                warn(format_args!("ignoring exec.d variable {name:?}: not a valid name or value"));
            }
            ok
        })
        .collect())
}

/// Makes `fd` (close-on-exec in this process) the child's fd 3.
#[allow(unsafe_code)] // reason: std has no safe way to place a pipe at a given fd in a child.
fn give_as_output_fd(command: &mut Command, fd: RawFd) {
    let hook = move || {
        // SAFETY: dup2 and fcntl on plain integers; both are async-signal-safe and nothing
        // here allocates, as required between fork and exec.
        let result = unsafe {
            if fd == OUTPUT_FD {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags < 0 { flags } else { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) }
            } else {
                libc::dup2(fd, OUTPUT_FD)
            }
        };
        if result < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    };
    // SAFETY: the hook only makes the async-signal-safe calls above.
    unsafe {
        command.pre_exec(hook);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn script(path: &Path, body: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn base_env() -> Env {
        Env::new([("PATH".into(), "/usr/bin:/bin".into())])
    }

    #[test]
    fn sets_the_variables_written_to_fd_3() {
        let root = tempfile::tempdir().unwrap();
        let exe = root.path().join("x");
        script(&exe, "echo 'GREETING = \"hello\"' >&3\necho 'OTHER = \"a=b c\"' >&3");
        let vars = run_one(&exe, &base_env()).unwrap();
        assert_eq!(vars, [("GREETING".into(), "hello".into()), ("OTHER".into(), "a=b c".into())]);
    }

    #[test]
    fn runs_in_order_with_the_env_so_far() {
        let root = tempfile::tempdir().unwrap();
        let layer = root.path().join("bp/layer");
        script(&layer.join("exec.d/1-first"), "echo 'A = \"one\"' >&3");
        script(&layer.join("exec.d/2-second"), "echo \"B = \\\"$A-two\\\"\" >&3");
        script(&layer.join("exec.d/web/3-web"), "echo \"C = \\\"$B-web\\\"\" >&3");
        script(&layer.join("exec.d/worker/never"), "echo 'C = \"wrong\"' >&3");
        fs::write(layer.join("exec.d/README"), "not executable").unwrap();
        let layers = [BuildpackLayers { id: "bp".into(), layers: vec![layer] }];
        let mut env = base_env();
        run_all(&layers, Some(&ProcessType::parse("web").unwrap()), &mut env).unwrap();
        assert_eq!(env.get("A"), "one");
        assert_eq!(env.get("B"), "one-two");
        assert_eq!(env.get("C"), "one-two-web");
    }

    #[test]
    fn failure_and_bad_output_stop_the_launch() {
        let root = tempfile::tempdir().unwrap();
        let failing = root.path().join("failing");
        script(&failing, "exit 3");
        let err = run_one(&failing, &base_env()).unwrap_err();
        assert!(matches!(err, ExecDError::Failed { .. }), "{err}");
        let garbage = root.path().join("garbage");
        script(&garbage, "echo 'not toml' >&3");
        let err = run_one(&garbage, &base_env()).unwrap_err().to_string();
        assert!(err.contains("invalid output on fd 3"), "{err}");
        let number = root.path().join("number");
        script(&number, "echo 'N = 3' >&3");
        assert!(matches!(run_one(&number, &base_env()), Err(ExecDError::BadOutput { .. })));
    }

    #[test]
    fn no_output_sets_nothing() {
        let root = tempfile::tempdir().unwrap();
        let quiet = root.path().join("quiet");
        script(&quiet, "true");
        assert!(run_one(&quiet, &base_env()).unwrap().is_empty());
    }
}

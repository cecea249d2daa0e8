//! Finding the real tools the tests drive, and running them with loud failures.
//!
//! A missing tool is a test failure, never a silent skip: [`require_tool`] panics and names
//! the Debian package that provides the tool.

use std::env;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Debian package that provides each tool the tests use.
const PACKAGES: &[(&str, &str)] = &[
    ("skopeo", "skopeo"),
    ("umoci", "umoci"),
    ("bwrap", "bubblewrap"),
    ("busybox", "busybox-static"),
    ("docker-registry", "docker-registry"),
    ("jq", "jq"),
    ("curl", "curl"),
    ("file", "file"),
    ("kill", "procps"),
    ("buildah", "buildah"),
    ("tar", "tar"),
    ("htpasswd", "apache2-utils"),
    ("script", "bsdutils"),
];

/// The Debian package that provides `tool`, if the tests know it.
pub fn debian_package(tool: &str) -> Option<&'static str> {
    PACKAGES.iter().find(|(t, _)| *t == tool).map(|(_, p)| *p)
}

/// Finds the program `name` on `PATH`, like `which`, without panicking.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Finds the program `name` on `PATH`; panics if it is missing.
///
/// The panic message names the Debian package to install, so that a machine lacking a tool
/// fails the test that needs it instead of skipping it.
pub fn require_tool(name: &str) -> PathBuf {
    if let Some(path) = find_tool(name) {
        return path;
    }
    let install = match debian_package(name) {
        Some(pkg) => format!("install it with `apt-get install -y {pkg}`"),
        None => "install the Debian package that provides it".to_string(),
    };
    panic!(
        "required tool `{name}` was not found on PATH ({}); {install} (.ci/run installs it in CI)",
        env::var("PATH").unwrap_or_default()
    );
}

/// Renders a command line for messages: program and arguments, quoted where needed.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(quote).collect::<Vec<_>>().join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain { s.into_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// Runs `cmd` to completion with captured output; panics unless it exits with status 0.
///
/// The panic message holds the command line, the exit status, stdout and stderr.
pub fn run(cmd: &mut Command) -> Output {
    let output = cmd.output().unwrap_or_else(|e| panic!("could not start `{}`: {e}", command_line(cmd)));
    if !output.status.success() {
        panic!(
            "`{}` failed with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            command_line(cmd),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
    output
}

/// Runs `cmd` like [`run`] and returns its stdout as UTF-8 text.
pub fn run_stdout(cmd: &mut Command) -> String {
    let output = run(cmd);
    String::from_utf8(output.stdout).unwrap_or_else(|e| panic!("`{}` printed non-UTF-8 output: {e}", command_line(cmd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_tool_that_exists() {
        let sh = require_tool("sh");
        assert!(sh.is_absolute(), "{}", sh.display());
    }

    #[test]
    fn missing_tool_panics_naming_the_package() {
        let err = std::panic::catch_unwind(|| require_tool("kiln-no-such-tool-xyz")).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("kiln-no-such-tool-xyz"), "{msg}");
        assert_eq!(debian_package("bwrap"), Some("bubblewrap"));
    }

    #[test]
    fn run_reports_command_status_and_output() {
        let ok = run(Command::new("sh").args(["-c", "echo out"]));
        assert_eq!(String::from_utf8_lossy(&ok.stdout), "out\n");
        let err = std::panic::catch_unwind(|| run(Command::new("sh").args(["-c", "echo to-out; echo to-err >&2; exit 3"]))).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        for needle in ["sh -c 'echo to-out;", "exit status: 3", "to-out", "to-err"] {
            assert!(msg.contains(needle), "missing {needle:?} in {msg}");
        }
    }
}

//! Driving the real `kiln` binary in a private `KILN_HOME`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::rootfs::busybox_rootfs;
use crate::tools::command_line;

/// The `kiln` binary cargo built next to the test executable (`target/<profile>/kiln`).
pub fn kiln_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test-exe> -> target/<profile>/kiln
    let profile_dir = exe.parent().and_then(Path::parent).expect("test exe lives in target/<profile>/deps");
    let kiln = profile_dir.join("kiln");
    assert!(kiln.exists(), "{} does not exist: run `cargo build -p kiln` (or `cargo test --workspace`) first", kiln.display());
    kiln
}

/// A finished kiln run.
#[derive(Debug)]
pub struct KilnRun {
    /// The command line, for messages.
    pub command: String,
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl KilnRun {
    fn from_output(command: String, output: Output) -> Self {
        KilnRun {
            command,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panic with everything unless the run exited 0.
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "kiln failed:\n{self}");
        self
    }

    /// Panic unless the run exited with `code` and its stderr contains every `needle`.
    pub fn failure(self, code: i32, needles: &[&str]) -> Self {
        assert_eq!(self.code, Some(code), "expected exit code {code}:\n{self}");
        for needle in needles {
            assert!(self.stderr.contains(needle), "expected stderr to contain {needle:?}:\n{self}");
        }
        assert!(!self.stderr.contains("panicked"), "kiln panicked:\n{self}");
        self
    }

    /// The digest in the last stdout line `REF@sha256:...`.
    pub fn digest(&self) -> String {
        let line = self.stdout.lines().last().unwrap_or_default();
        line.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| panic!("no REF@DIGEST on stdout:\n{self}"))
    }
}

impl std::fmt::Display for KilnRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "$ {}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}", self.command, self.code, self.stdout, self.stderr)
    }
}

/// A private kiln state dir (`KILN_HOME`) removed at drop.
pub struct KilnHome {
    dir: tempfile::TempDir,
}

impl Default for KilnHome {
    fn default() -> Self {
        Self::new()
    }
}

impl KilnHome {
    /// A fresh, empty home.
    pub fn new() -> Self {
        KilnHome { dir: tempfile::tempdir().expect("create a temp KILN_HOME") }
    }

    /// The home dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The local image store (an OCI layout).
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// A `kiln` command with this home and a clean env.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(kiln_binary());
        cmd.env("KILN_HOME", self.dir.path()).env_remove("KILN_LOG").env_remove("KILN_CONFIG");
        cmd
    }

    /// Run `kiln ARGS`.
    pub fn run(&self, args: &[&str]) -> KilnRun {
        let mut cmd = self.command();
        cmd.args(args);
        let line = command_line(&cmd);
        let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
        KilnRun::from_output(line, output)
    }

    /// Make a busybox run image tagged `tag` in the local store.
    pub fn busybox_run_image(&self, tag: &str) {
        let rootfs = self.dir.path().join(format!("rootfs-{tag}"));
        busybox_rootfs(&rootfs);
        self.run(&["base", "from-dir", rootfs.to_str().unwrap(), "--tag", tag]).success();
    }
}

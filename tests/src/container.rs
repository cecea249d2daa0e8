//! Running an unpacked image's process in a bubblewrap namespace, without docker.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::net::{POLL_INTERVAL, poll_http};
use crate::oci::Bundle;
use crate::tools::{command_line, require_tool};

/// An image's process running in a bubblewrap sandbox; killed (whole process group) on drop.
///
/// The sandbox has its own user, pid, ipc, uts and mount namespaces but shares the host's
/// network, so a server inside is reachable on the host's 127.0.0.1. The bundle's rootfs is
/// bind-mounted read-write as `/` (bwrap may create `/proc`, `/dev`, `/tmp` in it), with fresh
/// `/proc`, `/dev` and a tmpfs on `/tmp`.
///
/// bwrap runs with `--die-with-parent`, which follows the *thread* that started it: keep a
/// container in the thread that called [`RunningContainer::start`].
#[derive(Debug)]
pub struct RunningContainer {
    child: Child,
    status: Option<ExitStatus>,
    command: String,
    logs: TempDir,
}

impl RunningContainer {
    /// Starts the bundle's process: `process.args`, `process.env` and `process.cwd` from its
    /// runtime config, plus `extra_env` (which overrides the image's variables of the same name),
    /// as user and group `uid`.
    ///
    /// Panics if bwrap is missing, the config has no `process.args`, or bwrap cannot be spawned.
    /// A process that fails after starting shows in [`RunningContainer::wait_for_http`] or
    /// [`RunningContainer::wait_exit`], with its output.
    pub fn start(bundle: &Bundle, extra_env: &[(&str, &str)], uid: u32) -> RunningContainer {
        let bwrap = require_tool("bwrap");
        let args = bundle.args();
        assert!(!args.is_empty(), "the bundle's config has no process.args (image without entrypoint and cmd): {}", bundle.config);
        assert!(bundle.rootfs.is_dir(), "bundle rootfs {} is not a directory", bundle.rootfs.display());

        let mut env = bundle.env();
        for (k, v) in extra_env {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }

        let uid = uid.to_string();
        let mut cmd = Command::new(bwrap);
        cmd.args(["--unshare-all", "--share-net", "--die-with-parent"])
            .arg("--bind")
            .arg(&bundle.rootfs)
            .arg("/")
            .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
            .args(["--uid", &uid, "--gid", &uid])
            .args(["--chdir", &bundle.cwd()])
            .arg("--clearenv");
        for (k, v) in &env {
            cmd.args(["--setenv", k, v]);
        }
        cmd.arg("--").args(&args);

        let logs = tempfile::Builder::new().prefix("kiln-container-logs-").tempdir().expect("create a temp dir for container logs");
        let stdout = File::create(logs.path().join("stdout")).expect("create stdout log");
        let stderr = File::create(logs.path().join("stderr")).expect("create stderr log");
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr).process_group(0);
        let command = command_line(&cmd);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn `{command}`: {e}"));
        RunningContainer { child, status: None, command, logs }
    }

    /// The host pid of bwrap, which is also the process group id of everything it started.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The bwrap command line that started the container.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The file the container's stdout goes to.
    pub fn stdout_path(&self) -> PathBuf {
        self.logs.path().join("stdout")
    }

    /// The file the container's stderr goes to.
    pub fn stderr_path(&self) -> PathBuf {
        self.logs.path().join("stderr")
    }

    /// Everything the container has written to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.stdout_path()).unwrap_or_default()).into_owned()
    }

    /// Everything the container has written to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.stderr_path()).unwrap_or_default()).into_owned()
    }

    /// A report for failure messages: the command line, exit status if any, stdout and stderr.
    pub fn report(&self) -> String {
        let status = match self.status {
            Some(s) => s.to_string(),
            None => "still running".to_string(),
        };
        format!("container `{}` ({status})\n--- stdout ---\n{}\n--- stderr ---\n{}", self.command, self.stdout(), self.stderr())
    }

    /// The exit status if the container has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap_or_else(|e| panic!("waiting for `{}`: {e}", self.command));
        }
        self.status
    }

    /// Waits up to `timeout` for the container to exit and returns its status.
    ///
    /// Panics with [`RunningContainer::report`] if it is still running at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!("container still running after {timeout:?}\n{}", self.report());
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Runs `argv` (instead of the image's process) in `bundle` as `uid` until it exits
    /// (within a minute), asserts it succeeded, and returns its stdout.
    pub fn run_to_exit(bundle: &Bundle, argv: &[&str], uid: u32) -> String {
        let mut bundle = Bundle { rootfs: bundle.rootfs.clone(), config: bundle.config.clone() };
        bundle.config["process"]["args"] = serde_json::json!(argv);
        let mut container = RunningContainer::start(&bundle, &[], uid);
        let status = container.wait_exit(Duration::from_secs(60));
        assert!(status.success(), "{argv:?} failed in the image:\n{}", container.report());
        container.stdout()
    }

    /// Polls `GET path` on 127.0.0.1:`port` until it answers 2xx and returns the body.
    ///
    /// Panics with the last outcome and [`RunningContainer::report`] if the container exits
    /// first or nothing answers 2xx within `timeout`.
    pub fn wait_for_http(&mut self, port: u16, path: &str, timeout: Duration) -> String {
        let result = poll_http(port, path, timeout, || self.try_exit_status().map(|s| format!("the container exited ({s})")));
        match result {
            Ok(resp) => resp.body,
            Err(why) => panic!("{why}\n{}", self.report()),
        }
    }

    /// Kills the container's whole process group and reaps bwrap; called by `Drop`.
    pub fn kill(&mut self) {
        // Once bwrap is reaped its pid namespace is gone with everything in it, and its pid
        // (our process group id) may be reused: only signal the group while bwrap is unreaped.
        if self.status.is_some() {
            return;
        }
        // Kill the group first: bwrap's children stay in it, even in their own pid namespace.
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &pgid]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
    }
}

impl Drop for RunningContainer {
    fn drop(&mut self) {
        self.kill();
    }
}

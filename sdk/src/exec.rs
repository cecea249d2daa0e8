//! Native build steps: run a program (a compiler, a package manager, `node` running a build
//! script) in kiln's jail, through the `exec` import of contract 0.2.
//!
//! The program sees what the buildpack's own call sees, nothing more: the build rootfs
//! read-only as `/`, the app dir, this buildpack's layers dir, earlier buildpacks' `build`
//! layers read-only, the platform dir read-only, `/tmp`; it runs as uid 1000 with no
//! network (fetch what it needs first, with [`crate::fetch`], then run it offline), and
//! shares the call's limits. Nothing of the buildpack's environment is passed on: set
//! every variable the program needs, `PATH` included.
//!
//! ```ignore
//! use kiln_sdk::exec::Command;
//! let node = layer.path().join("bin/node");
//! let status = Command::new(&node)
//!     .args(["--version"])
//!     .env("PATH", format!("{}:/usr/bin:/bin", layer.path().join("bin").display()))
//!     .current_dir(&ctx.app_dir)
//!     .status()?;             // output goes to the build log
//! status.check()?;            // an error naming the program unless it exited 0
//!
//! let out = Command::new("/bin/sh").args(["-c", "uname -m"]).output()?;  // captured
//! let arch = String::from_utf8_lossy(&out.stdout);
//! ```

use std::path::{Path, PathBuf};

use crate::Error;
use crate::bindings::kiln::buildpack::host::{self, ExecOutput, ExecRequest, ExecStatus};

/// How a native step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    code: Option<i32>,
    signal: Option<i32>,
}

impl ExitStatus {
    /// The exit code, if the program exited.
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// The signal that killed the program, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// Whether the program exited with 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `Ok` when the program exited with 0, else an error saying how it ended.
    pub fn check(&self) -> Result<(), Error> {
        match (self.code, self.signal) {
            (Some(0), _) => Ok(()),
            (Some(code), _) => Err(Error::new(format!("exited with code {code}"))),
            (_, Some(signal)) => Err(Error::new(format!("was killed by signal {signal}"))),
            _ => Err(Error::new("ended in an unknown way")),
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (_, Some(signal)) => write!(f, "signal {signal}"),
            _ => f.write_str("unknown status"),
        }
    }
}

/// What a step printed, with [`Command::output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout, cut at the call's log limit.
    pub stdout: Vec<u8>,
    /// Its stderr, cut at the call's log limit.
    pub stderr: Vec<u8>,
    /// Whether a stream was cut.
    pub truncated: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Highest total resident memory kiln saw, in bytes.
    pub peak_memory_bytes: u64,
}

/// A native program to run in the jail, built like `std::process::Command`.
#[derive(Debug, Clone)]
pub struct Command {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    working_dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
}

fn text(path: &Path) -> Result<String, Error> {
    path.to_str().map(str::to_string).ok_or_else(|| Error::new(format!("{} is not UTF-8", path.display())))
}

impl Command {
    /// Run `program`: an absolute path in the build rootfs or in a granted directory.
    pub fn new(program: impl AsRef<Path>) -> Self {
        Command { program: program.as_ref().to_path_buf(), args: Vec::new(), env: Vec::new(), working_dir: None, stdin: None }
    }

    /// Add one argument.
    pub fn arg(&mut self, arg: impl AsRef<str>) -> &mut Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    /// Set a variable (replacing an earlier value of the same name).
    pub fn env(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> &mut Self {
        let name = name.as_ref().to_string();
        self.env.retain(|(k, _)| *k != name);
        self.env.push((name, value.as_ref().to_string()));
        self
    }

    /// Set several variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// The working directory (inside a granted directory); the app dir by default.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.working_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Bytes for the program's stdin (empty by default).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(bytes.into());
        self
    }

    fn request(&self, output: ExecOutput) -> Result<ExecRequest, Error> {
        Ok(ExecRequest {
            program: text(&self.program)?,
            args: self.args.clone(),
            env: self.env.clone(),
            working_dir: self.working_dir.as_deref().map(text).transpose()?,
            stdin: self.stdin.clone(),
            output,
        })
    }

    fn status_of(status: ExecStatus) -> ExitStatus {
        match status {
            ExecStatus::Exited(code) => ExitStatus { code: Some(code), signal: None },
            ExecStatus::Signaled(signal) => ExitStatus { code: None, signal: Some(signal) },
        }
    }

    /// Run it with stdout and stderr going to the build log; wait for it.
    /// `Err` when it could not run (refused, not found, no jail here).
    pub fn status(&self) -> Result<ExitStatus, Error> {
        let result = host::exec(&self.request(ExecOutput::Log)?).map_err(Error::new)?;
        Ok(Self::status_of(result.status))
    }

    /// Run it and collect stdout and stderr.
    pub fn output(&self) -> Result<Output, Error> {
        let result = host::exec(&self.request(ExecOutput::Capture)?).map_err(Error::new)?;
        Ok(Output {
            status: Self::status_of(result.status),
            stdout: result.stdout,
            stderr: result.stderr,
            truncated: result.truncated,
            duration_ms: result.duration_ms,
            peak_memory_bytes: result.peak_memory_bytes,
        })
    }

    /// Run it (output to the log) and fail unless it exits 0, with an error naming it.
    pub fn run(&self) -> Result<(), Error> {
        let status = self.status()?;
        status.check().map_err(|e| e.context(format!("{}", self.program.display())))
    }
}

//! The `exec` host import (contract 0.2): a buildpack runs a native program in the jail
//! with the grants of the call that asked, and nothing more.
//!
//! The platform lets a call run native steps by granting it an [`ExecGrant`] (the build
//! phase does, detect never does); the grant carries the policy (which buildpacks may),
//! the build rootfs (made on first use), and an observer that sees an [`ExecRecord`] of
//! every step for events and the image's build metadata. The request is checked here
//! (absolute paths, no `..`, sizes), the jail mounts mirror the call's directory grants,
//! and the step shares the call's limits (see [`crate::jail`]). A limit a step passes
//! traps the call with that limit, like the log budget does.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::Serialize;

use super::bindings::kiln::buildpack::host::{ExecOutput, ExecRequest, ExecResult, ExecStatus};
use super::error::Limit;
use super::grants::{Access, DirGrant};
use super::limits::Limits;
use crate::jail::{self, ExitKind, JailError, OutputMode, ProcessLimits, Step, StepLimits};

/// Longest program path, argument, variable or working dir accepted, in bytes.
const MAX_TEXT: usize = 128 * 1024;
/// Most bytes of args plus env of one step.
const MAX_ARGS_ENV: usize = 2 << 20;
/// Most stdin bytes of one step.
const MAX_STDIN: usize = 64 << 20;

/// Which buildpacks may run native steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecPolicy {
    /// No buildpack may (`--policy strict`, `--deny-exec`).
    pub deny_all: bool,
    /// These buildpack ids may not (`[exec] deny` in kiln's config).
    pub deny: Vec<String>,
}

impl ExecPolicy {
    /// Why `buildpack` may not run native steps, if it may not.
    pub fn refusal(&self, buildpack: &str) -> Option<String> {
        if self.deny_all {
            Some("the platform's policy forbids native steps (--policy strict or --deny-exec)".into())
        } else if self.deny.iter().any(|id| id == buildpack) {
            Some(format!("kiln's config denies native steps to {buildpack} ([exec] deny)"))
        } else {
            None
        }
    }
}

/// The build rootfs, resolved once per build on the first step that needs it.
pub struct BuildRootfs {
    cell: OnceLock<Result<PathBuf, String>>,
    make: Box<dyn Fn() -> Result<PathBuf, String> + Send + Sync>,
}

impl BuildRootfs {
    /// A rootfs that is already a directory.
    pub fn dir(path: PathBuf) -> Self {
        BuildRootfs { cell: OnceLock::from(Ok(path)), make: Box::new(|| Err("unreachable".into())) }
    }

    /// A rootfs made by `make` when first needed (for example from Debian packages).
    pub fn lazy(make: impl Fn() -> Result<PathBuf, String> + Send + Sync + 'static) -> Self {
        BuildRootfs { cell: OnceLock::new(), make: Box::new(make) }
    }

    /// The rootfs directory, or why there is none.
    pub fn get(&self) -> Result<&PathBuf, &String> {
        self.cell.get_or_init(|| (self.make)()).as_ref()
    }
}

/// One native step, as kiln records it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExecRecord {
    /// The buildpack that asked.
    pub buildpack: String,
    /// The program's guest path.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Signal, when it was killed.
    pub signal: Option<i32>,
    /// Why it did not run or did not finish, when so.
    pub error: Option<String>,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Highest total resident memory seen, in bytes.
    pub peak_memory_bytes: u64,
}

/// What the platform grants a call so that it may run native steps.
pub struct ExecGrant {
    /// The `kiln` binary that holds the jail's helper stages.
    pub helper: PathBuf,
    /// The build rootfs.
    pub rootfs: Arc<BuildRootfs>,
    /// A host directory for the jails' control files.
    pub control_dir: PathBuf,
    /// Which buildpacks may.
    pub policy: ExecPolicy,
    /// Sees every step.
    pub observer: Arc<dyn Fn(&ExecRecord) + Send + Sync>,
}

impl std::fmt::Debug for ExecGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecGrant").field("helper", &self.helper).field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// A call's `exec` capability.
pub(crate) struct ExecState {
    pub(crate) grant: Arc<ExecGrant>,
    pub(crate) buildpack: String,
    /// Every directory of the call, mounted in the jail at the same place.
    pub(crate) mounts: Vec<DirGrant>,
    pub(crate) limits: Limits,
    pub(crate) call_started: Instant,
}

/// The outcome of one `exec` for the guest: a result, an error message, or a limit that
/// stops the call.
pub(crate) enum ExecOutcome {
    Ran(ExecResult),
    Refused(String),
    Exceeded(Limit, String),
}

/// The log budget as the step sees it: a line costs its length plus one.
pub(crate) struct LogBudget<'a> {
    pub(crate) used: &'a mut usize,
    pub(crate) limit: usize,
    pub(crate) sink: &'a super::call::LogSink,
}

impl ExecState {
    /// Run `request` in the jail. `external` reports a limit passed elsewhere (disk watch).
    pub(crate) fn exec(&self, request: ExecRequest, log: LogBudget<'_>, external: &dyn Fn() -> Option<(Limit, String)>) -> ExecOutcome {
        let program = super::text::guest_text(&request.program, 200);
        if let Some(why) = self.grant.policy.refusal(&self.buildpack) {
            return ExecOutcome::Refused(format!("exec of {program} refused: {why}"));
        }
        if let Err(why) = check_request(&request, &self.mounts) {
            return ExecOutcome::Refused(format!("exec of {program} refused: {why}"));
        }
        let rootfs = match self.grant.rootfs.get() {
            Ok(rootfs) => rootfs.clone(),
            Err(why) => return ExecOutcome::Refused(format!("exec of {program}: no build rootfs: {why}")),
        };
        let limits = &self.limits;
        let remaining = limits.wall_time.saturating_sub(self.call_started.elapsed());
        let working_dir = request.working_dir.clone().unwrap_or_else(|| crate::lifecycle::workspace::APP_GUEST_PATH.to_string());
        let spec = jail::JailSpec {
            rootfs,
            mounts: self
                .mounts
                .iter()
                .map(|d| jail::Mount {
                    host_path: d.host_path.clone(),
                    guest_path: d.guest_path.clone(),
                    writable: d.access == Access::ReadWrite,
                })
                .collect(),
            program: request.program.clone(),
            args: request.args.clone(),
            env: request.env.clone(),
            working_dir,
            root_mountpoint: PathBuf::new(),
            report_path: PathBuf::new(),
            tmp_bytes: (limits.memory_bytes as u64) / 2,
            limits: Some(ProcessLimits {
                cpu_seconds: limits.cpu_time.as_secs().max(1) + 1,
                data_bytes: limits.memory_bytes as u64,
                file_bytes: limits.layer_bytes,
                processes: limits.processes,
                open_files: 4096,
            }),
            cgroup_procs: None,
            rootfs_writable: false,
            network: jail::Network::Isolated,
            uid: jail::JAIL_UID,
            gid: jail::JAIL_UID,
        };
        let step = Step {
            helper: &self.grant.helper,
            spec,
            control_parent: &self.grant.control_dir,
            stdin: request.stdin.clone(),
            output: match request.output {
                ExecOutput::Log => OutputMode::Log,
                ExecOutput::Capture => OutputMode::Capture,
            },
            limits: StepLimits {
                wall_time: remaining,
                cpu_time: limits.cpu_time,
                memory_bytes: limits.memory_bytes as u64,
                processes: limits.processes,
                capture_bytes: limits.log_bytes,
            },
        };
        let LogBudget { used, limit, sink } = log;
        let mut on_line = |_stream: jail::Stream, line: &str| {
            *used += line.len() + 1;
            if *used > limit {
                return Err((Limit::Log, format!("limit {} KiB of log output, with the output of {program}", limit >> 10)));
            }
            sink(super::bindings::LogLevel::Info, &super::text::guest_text(line, super::text::MAX_LINE));
            Ok(())
        };
        let started = Instant::now();
        let outcome = jail::run(step, &mut on_line, external);
        let mut record = ExecRecord {
            buildpack: self.buildpack.clone(),
            program: program.clone(),
            args: request.args.iter().take(64).map(|a| super::text::guest_text(a, 200)).collect(),
            exit_code: None,
            signal: None,
            error: None,
            millis: started.elapsed().as_millis() as u64,
            peak_memory_bytes: 0,
        };
        let result = match outcome {
            Ok(finished) => {
                record.peak_memory_bytes = finished.peak_memory_bytes;
                let status = match finished.status {
                    ExitKind::Exited(code) => {
                        record.exit_code = Some(code);
                        ExecStatus::Exited(code)
                    }
                    ExitKind::Signaled(signal) => {
                        record.signal = Some(signal);
                        ExecStatus::Signaled(signal)
                    }
                };
                ExecOutcome::Ran(ExecResult {
                    status,
                    stdout: finished.stdout,
                    stderr: finished.stderr,
                    truncated: finished.truncated,
                    duration_ms: finished.duration.as_millis() as u64,
                    peak_memory_bytes: finished.peak_memory_bytes,
                })
            }
            Err(JailError::Limit(limit, detail)) => {
                record.error = Some(format!("{limit} exceeded: {detail}"));
                ExecOutcome::Exceeded(limit, format!("{detail}, in the native step {program}"))
            }
            Err(error) => {
                let message = format!("exec of {program}: {error}");
                record.error = Some(message.clone());
                ExecOutcome::Refused(message)
            }
        };
        (self.grant.observer)(&record);
        result
    }
}

/// The request's paths and sizes, checked against the call's grants.
fn check_request(request: &ExecRequest, mounts: &[DirGrant]) -> Result<(), String> {
    let texts = std::iter::once(&request.program)
        .chain(request.args.iter())
        .chain(request.env.iter().flat_map(|(k, v)| [k, v]))
        .chain(request.working_dir.iter());
    let mut total = 0usize;
    for text in texts {
        if text.len() > MAX_TEXT {
            return Err(format!("an argument, variable or path is over {} KiB", MAX_TEXT >> 10));
        }
        if text.contains('\0') {
            return Err("a NUL byte in an argument, variable or path".into());
        }
        total += text.len();
    }
    if total > MAX_ARGS_ENV {
        return Err(format!("arguments and environment together are over {} MiB", MAX_ARGS_ENV >> 20));
    }
    if request.args.len() > 65_536 || request.env.len() > 65_536 {
        return Err("more than 65536 arguments or variables".into());
    }
    if request.env.iter().any(|(k, _)| k.is_empty() || k.contains('=')) {
        return Err("an environment variable name is empty or holds '='".into());
    }
    if request.stdin.as_ref().is_some_and(|s| s.len() > MAX_STDIN) {
        return Err(format!("stdin is over {} MiB", MAX_STDIN >> 20));
    }
    check_path("program", &request.program)?;
    if let Some(dir) = &request.working_dir {
        check_path("working dir", dir)?;
        let inside = mounts.iter().any(|m| {
            let prefix = m.guest_path.trim_end_matches('/');
            dir == prefix || dir.starts_with(&format!("{prefix}/"))
        });
        if !inside {
            return Err(format!("working dir {} is not inside a directory granted to this call", super::text::guest_text(dir, 200)));
        }
    }
    Ok(())
}

fn check_path(what: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("the {what} must be an absolute path (no PATH lookup is done), got {}", super::text::guest_text(path, 200)));
    }
    if path.split('/').any(|c| c == "..") {
        return Err(format!("the {what} {} climbs with '..'", super::text::guest_text(path, 200)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(program: &str, working_dir: Option<&str>) -> ExecRequest {
        ExecRequest {
            program: program.into(),
            args: vec![],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            working_dir: working_dir.map(str::to_string),
            stdin: None,
            output: ExecOutput::Log,
        }
    }

    #[test]
    fn requests_need_absolute_paths_inside_the_grants() {
        let mounts = vec![DirGrant { host_path: "/h/app".into(), guest_path: "/workspace".into(), access: Access::ReadWrite }];
        assert!(check_request(&request("/bin/sh", None), &mounts).is_ok());
        assert!(check_request(&request("/bin/sh", Some("/workspace/sub")), &mounts).is_ok());
        assert!(check_request(&request("sh", None), &mounts).unwrap_err().contains("absolute"));
        assert!(check_request(&request("/bin/../sh", None), &mounts).unwrap_err().contains(".."));
        assert!(check_request(&request("/bin/sh", Some("/etc")), &mounts).unwrap_err().contains("not inside"));
        assert!(check_request(&request("/bin/sh", Some("/workspacex")), &mounts).unwrap_err().contains("not inside"));
        let mut bad_env = request("/bin/sh", None);
        bad_env.env.push(("A=B".into(), "x".into()));
        assert!(check_request(&bad_env, &mounts).unwrap_err().contains("'='"));
    }

    #[test]
    fn the_policy_names_why_it_refuses() {
        let policy = ExecPolicy { deny_all: false, deny: vec!["evil/bp".into()] };
        assert!(policy.refusal("good/bp").is_none());
        assert!(policy.refusal("evil/bp").unwrap().contains("[exec] deny"));
        assert!(ExecPolicy { deny_all: true, deny: vec![] }.refusal("good/bp").unwrap().contains("strict"));
    }
}

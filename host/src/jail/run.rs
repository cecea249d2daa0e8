//! The host side of one jailed step: start the helper, feed stdin, read stdout and stderr,
//! watch the jail's totals, stop it at a limit, and read how it ended.
//!
//! The host never enters a namespace itself: it starts `kiln __jail` (see `child`) with
//! an empty environment except the spec, and watches from outside. Every tick
//! ([`TICK`]) it samples the jail ([`super::tree`]): process count, total resident memory,
//! total CPU time, and the wall clock; the first limit passed kills the helper and the
//! jail's init (the kernel then kills everything in the pid namespace) and the step fails
//! with that limit. Output lines go to a callback that may stop the step too (the log
//! budget). The report file is the only thing the helper tells the host, and it is read
//! as untrusted JSON of a closed shape.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::child::OUTER_ARG;
use super::spec::{JailSpec, Report, SPEC_ENV};
use super::tree::{self, ProcUnits};
use crate::sandbox::Limit;

/// How often the host samples a running jail.
pub const TICK: Duration = Duration::from_millis(20);

/// The longest output line passed to the log callback; longer lines are cut.
const MAX_LINE: usize = 16 * 1024;

/// Where a step's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Line by line to the step's `on_line` callback.
    Log,
    /// Collected and returned, each stream cut at `capture_bytes`.
    Capture,
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The program's stdout.
    Stdout,
    /// The program's stderr.
    Stderr,
}

/// The totals a step may use.
#[derive(Debug, Clone)]
pub struct StepLimits {
    /// Wall time.
    pub wall_time: Duration,
    /// CPU time of all the jail's processes together.
    pub cpu_time: Duration,
    /// Resident memory of all the jail's processes together.
    pub memory_bytes: u64,
    /// Processes at once.
    pub processes: u64,
    /// Captured bytes per stream ([`OutputMode::Capture`]).
    pub capture_bytes: usize,
}

/// How a step ended, when it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Exit code.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// What a finished step did.
#[derive(Debug, Clone)]
pub struct Finished {
    /// How the program ended.
    pub status: ExitKind,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
    /// Whether a captured stream was cut.
    pub truncated: bool,
    /// Wall time.
    pub duration: Duration,
    /// The highest total resident memory sampled.
    pub peak_memory_bytes: u64,
    /// The most processes sampled at once.
    pub peak_processes: u64,
    /// CPU time last sampled.
    pub cpu: Duration,
}

/// Why a step did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JailError {
    /// This machine cannot make the jail (no user namespaces, ...).
    #[error("native steps are not available on this machine: {0}")]
    Unavailable(String),
    /// The program could not be started in the jail.
    #[error("cannot start {0}")]
    NotStarted(String),
    /// Setting the jail up failed.
    #[error("the jail could not be set up: {0}")]
    Setup(String),
    /// A limit was passed; the jail was killed.
    #[error("{0} exceeded ({1})")]
    Limit(Limit, String),
}

/// What the output callback returns: `Err` stops the step with that limit.
pub type LineVerdict = Result<(), (Limit, String)>;

/// One step to run.
pub struct Step<'a> {
    /// The `kiln` binary that holds the helper stages.
    pub helper: &'a Path,
    /// What to run; `root_mountpoint` and `report_path` are filled in by [`run`].
    pub spec: JailSpec,
    /// A host directory for the step's control files (removed afterwards).
    pub control_parent: &'a Path,
    /// Bytes for stdin.
    pub stdin: Option<Vec<u8>>,
    /// Where output goes.
    pub output: OutputMode,
    /// The totals.
    pub limits: StepLimits,
}

enum Event {
    Line(Stream, String),
    Chunk(Stream, Vec<u8>),
}

/// Run a step to its end or its first limit. `on_line` gets each output line in
/// [`OutputMode::Log`] and may stop the step with a limit; `external` is polled every tick
/// for a limit found elsewhere (the layers disk watch).
pub fn run(
    mut step: Step<'_>,
    on_line: &mut dyn FnMut(Stream, &str) -> LineVerdict,
    external: &dyn Fn() -> Option<(Limit, String)>,
) -> Result<Finished, JailError> {
    let control = tempfile::Builder::new()
        .prefix("kiln-jail-")
        .tempdir_in(step.control_parent)
        .map_err(|e| JailError::Setup(format!("control dir in {}: {e}", step.control_parent.display())))?;
    let root = control.path().join("root");
    std::fs::create_dir(&root).map_err(|e| JailError::Setup(format!("{}: {e}", root.display())))?;
    step.spec.root_mountpoint = root;
    step.spec.report_path = control.path().join("report.json");
    // The outer stage, the init and the program's processes; one more so the watch sees
    // the limit passed (and names it) rather than forks failing quietly.
    let cgroup = super::cgroup::PidsCgroup::create(step.limits.processes + 3);
    step.spec.cgroup_procs = cgroup.as_ref().map(super::cgroup::PidsCgroup::procs);
    let spec_text = serde_json::to_string(&step.spec).map_err(|e| JailError::Setup(e.to_string()))?;

    let started = Instant::now();
    let mut helper = Command::new(step.helper)
        .arg(OUTER_ARG)
        .env_clear()
        .env(SPEC_ENV, &spec_text)
        .stdin(if step.stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| JailError::Setup(format!("starting {} {OUTER_ARG}: {e}", step.helper.display())))?;
    let helper_pid = helper.id();

    let (events, received) = mpsc::channel::<Event>();
    let mut readers = Vec::new();
    if let (Some(bytes), Some(mut stdin)) = (step.stdin.take(), helper.stdin.take()) {
        // A program that never reads its stdin gets EPIPE here, which is fine.
        readers.push(std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        }));
    }
    for (stream, pipe) in [
        (Stream::Stdout, helper.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
        (Stream::Stderr, helper.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>)),
    ] {
        let Some(pipe) = pipe else { continue };
        let events = events.clone();
        let mode = step.output;
        readers.push(std::thread::spawn(move || read_stream(pipe, stream, mode, &events)));
    }
    drop(events);

    let units = ProcUnits::read();
    let limits = &step.limits;
    let mut tripped: Option<(Limit, String)> = None;
    let mut peak_memory = 0u64;
    let mut peak_processes = 0u64;
    let mut cpu = Duration::ZERO;
    let mut captured = [Vec::new(), Vec::new()];
    let mut truncated = false;
    let mut handle = |event: Event, tripped: &mut Option<(Limit, String)>| match event {
        Event::Line(stream, line) => {
            if tripped.is_none()
                && let Err(limit) = on_line(stream, &line)
            {
                *tripped = Some(limit);
            }
        }
        Event::Chunk(stream, bytes) => {
            let buffer = &mut captured[stream as usize];
            let room = limits.capture_bytes.saturating_sub(buffer.len());
            truncated |= bytes.len() > room;
            buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    };
    let exit = loop {
        match received.recv_timeout(TICK) {
            Ok(event) => {
                handle(event, &mut tripped);
                // Drain what is already there without waiting.
                while let Ok(event) = received.try_recv() {
                    handle(event, &mut tripped);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Ok(Some(status)) = helper.try_wait() {
            break status;
        }
        if tripped.is_none() {
            let sample = tree::sample(helper_pid, units, limits.processes + 1);
            peak_memory = peak_memory.max(sample.resident_bytes);
            // The jail's init is one of the processes but not the program's.
            let programs = sample.processes.saturating_sub(1);
            peak_processes = peak_processes.max(programs);
            cpu = sample.cpu;
            tripped = if programs > limits.processes {
                Some((Limit::Processes, format!("limit {} processes at once, saw more", limits.processes)))
            } else if sample.resident_bytes > limits.memory_bytes {
                Some((
                    Limit::Memory,
                    format!(
                        "limit {} MiB of resident memory, the jail used {} MiB",
                        limits.memory_bytes >> 20,
                        sample.resident_bytes >> 20
                    ),
                ))
            } else if sample.cpu > limits.cpu_time {
                Some((Limit::Cpu, format!("limit {:?}, the jail used {:.1?}", limits.cpu_time, sample.cpu)))
            } else if started.elapsed() > limits.wall_time {
                Some((Limit::WallTime, format!("limit {:?}, ran {:.1?}", limits.wall_time, started.elapsed())))
            } else {
                external()
            };
        }
        if tripped.is_some() {
            kill_jail(helper_pid);
        }
    };
    let duration = started.elapsed();
    // The pipes close when the last jailed process is gone (all died with init).
    for event in received.iter() {
        handle(event, &mut tripped);
    }
    for reader in readers {
        let _ = reader.join();
    }
    drop(cgroup);
    if let Some((limit, detail)) = tripped {
        return Err(JailError::Limit(limit, detail));
    }
    let report = read_report(&step.spec.report_path, exit)?;
    let status = match report {
        Report::Exited(code) => ExitKind::Exited(code),
        Report::Signaled(signal) => ExitKind::Signaled(signal),
        Report::NotStarted(why) => return Err(JailError::NotStarted(why)),
        Report::Unavailable(why) => return Err(JailError::Unavailable(why)),
        Report::SetupFailed(why) => return Err(JailError::Setup(why)),
    };
    // A CPU limit the kernel enforced (RLIMIT_CPU) shows as SIGKILL/SIGXCPU: name it.
    if let ExitKind::Signaled(signal) = status
        && (signal == libc::SIGXCPU || cpu > limits.cpu_time)
    {
        return Err(JailError::Limit(Limit::Cpu, format!("limit {:?}, the program got SIGXCPU", limits.cpu_time)));
    }
    let [stdout, stderr] = captured;
    Ok(Finished { status, stdout, stderr, truncated, duration, peak_memory_bytes: peak_memory, peak_processes, cpu })
}

/// Run a program in the jail attached to kiln's stdout and stderr (stdin is `/dev/null`,
/// as `docker run` without `-i`), with no limit watch: `kiln run`. Once `stop` is set, the
/// program gets SIGTERM (through the jail's init, which forwards it); `grace` later every
/// process of the jail is killed. The helper runs in a process group of its own, so a
/// terminal's Ctrl-C reaches kiln only, and the program gets it once, from here.
pub fn run_attached(
    helper: &Path,
    mut spec: JailSpec,
    control_parent: &Path,
    stop: &std::sync::atomic::AtomicBool,
    grace: Duration,
) -> Result<ExitKind, JailError> {
    use std::os::unix::process::CommandExt;
    let control = tempfile::Builder::new()
        .prefix("kiln-jail-")
        .tempdir_in(control_parent)
        .map_err(|e| JailError::Setup(format!("control dir in {}: {e}", control_parent.display())))?;
    let root = control.path().join("root");
    std::fs::create_dir(&root).map_err(|e| JailError::Setup(format!("{}: {e}", root.display())))?;
    spec.root_mountpoint = root;
    spec.report_path = control.path().join("report.json");
    let spec_text = serde_json::to_string(&spec).map_err(|e| JailError::Setup(e.to_string()))?;
    let mut child = Command::new(helper)
        .arg(OUTER_ARG)
        .env_clear()
        .env(SPEC_ENV, &spec_text)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| JailError::Setup(format!("starting {} {OUTER_ARG}: {e}", helper.display())))?;
    let helper_pid = child.id();
    let mut stop_sent: Option<Instant> = None;
    let mut killed = false;
    let exit = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(JailError::Setup(format!("waiting for the jail helper: {e}"))),
        }
        match stop_sent {
            None if stop.load(std::sync::atomic::Ordering::SeqCst) => {
                for init in tree::children(helper_pid) {
                    let _ = kill(Pid::from_raw(init as i32), Signal::SIGTERM);
                }
                stop_sent = Some(Instant::now());
            }
            Some(sent) if sent.elapsed() > grace && !killed => {
                kill_jail(helper_pid);
                killed = true;
            }
            _ => {}
        }
        std::thread::sleep(TICK);
    };
    if killed {
        return Ok(ExitKind::Signaled(libc::SIGKILL));
    }
    match read_report(&spec.report_path, exit)? {
        Report::Exited(code) => Ok(ExitKind::Exited(code)),
        Report::Signaled(signal) => Ok(ExitKind::Signaled(signal)),
        Report::NotStarted(why) => Err(JailError::NotStarted(why)),
        Report::Unavailable(why) => Err(JailError::Unavailable(why)),
        Report::SetupFailed(why) => Err(JailError::Setup(why)),
    }
}

fn read_stream(pipe: Box<dyn Read + Send>, stream: Stream, mode: OutputMode, events: &mpsc::Sender<Event>) {
    match mode {
        OutputMode::Log => {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                // Read at most MAX_LINE bytes of a line; the rest comes as the next "line".
                match reader.by_ref().take(MAX_LINE as u64).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
                        if events.send(Event::Line(stream, text)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        OutputMode::Capture => {
            let mut pipe = pipe;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if events.send(Event::Chunk(stream, buffer[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Kill the helper and the jail's init: the kernel then kills every process of the jail.
fn kill_jail(helper: u32) {
    for init in tree::children(helper) {
        let _ = kill(Pid::from_raw(init as i32), Signal::SIGKILL);
    }
    let _ = kill(Pid::from_raw(helper as i32), Signal::SIGKILL);
}

fn read_report(path: &PathBuf, exit: std::process::ExitStatus) -> Result<Report, JailError> {
    let bytes = std::fs::read(path).map_err(|e| JailError::Setup(format!("the jail helper ended ({exit}) without a report: {e}")))?;
    if bytes.len() > 64 * 1024 {
        return Err(JailError::Setup("the jail helper's report is too large".into()));
    }
    serde_json::from_slice(&bytes).map_err(|e| JailError::Setup(format!("bad report from the jail helper: {e}")))
}

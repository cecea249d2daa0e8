//! The process-wide wasmtime engine, its linker and the epoch ticker that drives time limits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{BuildpackComponent, v0_1};
use super::call::GuestState;
use super::error::SandboxError;

/// How often the engine's epoch advances; time limits are checked at this granularity.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The sandbox: one wasmtime engine and linker, shared by every buildpack call of a process.
pub struct Sandbox {
    pub(crate) engine: Engine,
    /// Links components of the current contract (0.2).
    pub(crate) linker: Linker<GuestState>,
    /// Links components of the frozen 0.1 contract.
    pub(crate) linker_v0_1: Linker<GuestState>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) watchdog: Arc<Watchdog>,
    ticker: Ticker,
}

impl Sandbox {
    /// A sandbox whose compiled components are cached under `cache_dir`.
    pub fn new(cache_dir: &Path) -> Result<Self, SandboxError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            // Deep recursion traps with a stack overflow long before it can hurt the host.
            .max_wasm_stack(1 << 20)
            .parallel_compilation(true);
        let engine = Engine::new(&config)
            .map_err(|source| SandboxError::Compile { origin: "the wasmtime engine configuration".into(), source: source.into() })?;
        let host_imports = |source: wasmtime::Error| SandboxError::Compile { origin: "the host imports".into(), source: source.into() };
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|_| BuildpackComponent::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s))
            .map_err(host_imports)?;
        let mut linker_v0_1: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker_v0_1)
            .and_then(|_| v0_1::BuildpackComponent::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker_v0_1, |s| s))
            .map_err(host_imports)?;
        let watchdog = Arc::new(Watchdog::default());
        let ticker = Ticker::start(engine.clone(), watchdog.clone());
        Ok(Sandbox { engine, linker, linker_v0_1, cache_dir: cache_dir.to_path_buf(), watchdog, ticker })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`].
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, watchdog: Arc<Watchdog>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("kiln-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
                    watchdog.check();
                }
            })
            .ok();
        Ticker { stop, handle }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// How long past its wall-time limit a call may stay blocked in a host call (where the
/// epoch check cannot reach it, e.g. a guest sleeping in a WASI poll) before kiln stops.
/// The exit code of a process the watchdog ends (a buildpack blocked in a host call past
/// its wall time): the CLI's "limit exceeded" code, which is defined from this one.
pub const WATCHDOG_EXIT_CODE: i32 = 52;

pub(crate) const BLOCKED_GRACE: Duration = Duration::from_secs(2);

/// The last line of defence for the wall-time limit. The epoch callback stops a guest that
/// runs wasm past its deadline; a guest blocked inside a host call never reaches that
/// check, so the ticker thread also watches every call's deadline and, once one is
/// [`BLOCKED_GRACE`] overdue, prints the limit error and exits the process with code 52.
/// kiln is one process per build, so this fails exactly the build that hit its limit.
#[derive(Default)]
pub(crate) struct Watchdog {
    calls: Mutex<Vec<Watch>>,
    next: AtomicU64,
}

struct Watch {
    id: u64,
    deadline: Instant,
    buildpack: String,
    phase: String,
    limit: Duration,
}

/// Removes its call from the watchdog when dropped.
pub(crate) struct WatchGuard<'a> {
    watchdog: &'a Watchdog,
    id: u64,
}

impl Watchdog {
    /// Watch a call that must end within `limit`.
    pub(crate) fn watch(&self, buildpack: &str, phase: &str, limit: Duration) -> WatchGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + limit + BLOCKED_GRACE;
        let watch = Watch { id, deadline, buildpack: buildpack.into(), phase: phase.into(), limit };
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(watch);
        WatchGuard { watchdog: self, id }
    }

    fn check(&self) {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(overdue) = calls.iter().find(|w| w.deadline < now) {
            eprintln!(
                "error: buildpack {} exceeded its wall-time limit during {} (limit {:?}, blocked in a host call); \
                 raise it with --limit-time if this is expected",
                overdue.buildpack, overdue.phase, overdue.limit
            );
            for dir in EMERGENCY_CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(WATCHDOG_EXIT_CODE);
        }
    }
}

impl Drop for WatchGuard<'_> {
    fn drop(&mut self) {
        let mut calls = self.watchdog.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.retain(|w| w.id != self.id);
    }
}

/// Directories to remove if the watchdog has to end the process (destructors do not run).
static EMERGENCY_CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove `dir` if the watchdog ends the process; undo with [`forget_on_emergency_exit`].
pub fn remove_on_emergency_exit(dir: &Path) {
    EMERGENCY_CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).push(dir.to_path_buf());
}

/// Stop tracking `dir` (it was removed normally).
pub fn forget_on_emergency_exit(dir: &Path) {
    EMERGENCY_CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).retain(|d| d != dir);
}

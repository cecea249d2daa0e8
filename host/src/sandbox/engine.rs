//! The process-wide wasmtime engine, its linker and the epoch ticker that drives time limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::BuildpackComponent;
use super::call::GuestState;
use super::error::SandboxError;

/// How often the engine's epoch advances; time limits are checked at this granularity.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The sandbox: one wasmtime engine and linker, shared by every buildpack call of a process.
pub struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<GuestState>,
    pub(crate) cache_dir: PathBuf,
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
        let engine = Engine::new(&config).map_err(|source| SandboxError::Compile {
            origin: "the wasmtime engine configuration".into(),
            source: source.into(),
        })?;
        let mut linker: Linker<GuestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|_| BuildpackComponent::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s))
            .map_err(|source| SandboxError::Compile { origin: "the host imports".into(), source: source.into() })?;
        let ticker = Ticker::start(engine.clone());
        Ok(Sandbox { engine, linker, cache_dir: cache_dir.to_path_buf(), ticker })
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
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("kiln-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
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

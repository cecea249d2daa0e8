//! Loading a buildpack component and calling its exports, one fresh store per call.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::types::{BuildContext, BuildResult, DetectContext, DetectResult};
use super::bindings::{BuildpackComponent, BuildpackComponentPre, Contract, LogLevel, v0_1};
use super::cache::{self, CacheOutcome};
use super::contract;
use super::disk_watch::DiskWatch;
use super::engine::Sandbox;
use super::error::{Limit, SandboxError};
use super::grants::Grants;
use super::host_imports::LimitTrap;
use super::limits::{Clock, LimitState, Limits};
use crate::fetch::{FetchBudget, Fetcher};

/// Where a buildpack's log lines go: `(level, line)`.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The data of one guest call's store.
pub struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: LimitState,
    pub(crate) log_sink: LogSink,
    pub(crate) log_used: usize,
    pub(crate) log_limit: usize,
    /// Read-write grants as (guest path, host dir), for `set-executable` and `fetch`.
    pub(crate) writable: Vec<(String, std::path::PathBuf)>,
    /// The `fetch` capability, if granted.
    pub(crate) fetch: Option<FetchState>,
    /// The `exec` capability, if granted.
    pub(crate) exec: Option<super::exec::ExecState>,
    /// The layers disk watch's verdict, which a native step also stops on.
    pub(crate) disk_tripped: Option<super::disk_watch::Tripped>,
}

/// A call's `fetch` capability: the build's fetcher, who is asking, and what is left.
pub(crate) struct FetchState {
    pub(crate) fetcher: Arc<Fetcher>,
    pub(crate) buildpack: String,
    pub(crate) budget: FetchBudget,
    /// A fetch limit this call exceeded: the call fails with it whatever the guest returns.
    pub(crate) exceeded: Option<(Limit, String)>,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A component pre-linked against the contract it speaks.
#[derive(Clone)]
enum Pre {
    V0_2(BuildpackComponentPre<GuestState>),
    V0_1(v0_1::BuildpackComponentPre<GuestState>),
}

/// An instance's exports, whichever contract it speaks (the types are shared).
enum Exports {
    V0_2(BuildpackComponent),
    V0_1(v0_1::BuildpackComponent),
}

impl Pre {
    fn engine(&self) -> &wasmtime::Engine {
        match self {
            Pre::V0_2(pre) => pre.engine(),
            Pre::V0_1(pre) => pre.engine(),
        }
    }

    fn instantiate(&self, store: &mut Store<GuestState>) -> wasmtime::Result<Exports> {
        match self {
            Pre::V0_2(pre) => pre.instantiate(&mut *store).map(Exports::V0_2),
            Pre::V0_1(pre) => pre.instantiate(&mut *store).map(Exports::V0_1),
        }
    }
}

impl Exports {
    fn call_descriptor(&self, store: &mut Store<GuestState>) -> wasmtime::Result<String> {
        match self {
            Exports::V0_2(b) => b.kiln_buildpack_buildpack().call_descriptor(store),
            Exports::V0_1(b) => b.kiln_buildpack_buildpack().call_descriptor(store),
        }
    }

    fn call_detect(&self, store: &mut Store<GuestState>, context: &DetectContext) -> wasmtime::Result<Result<DetectResult, String>> {
        match self {
            Exports::V0_2(b) => b.kiln_buildpack_buildpack().call_detect(store, context),
            Exports::V0_1(b) => b.kiln_buildpack_buildpack().call_detect(store, context),
        }
    }

    fn call_build(&self, store: &mut Store<GuestState>, context: &BuildContext) -> wasmtime::Result<Result<BuildResult, String>> {
        match self {
            Exports::V0_2(b) => b.kiln_buildpack_buildpack().call_build(store, context),
            Exports::V0_1(b) => b.kiln_buildpack_buildpack().call_build(store, context),
        }
    }
}

/// A compiled, contract-checked buildpack component, ready to instantiate.
#[derive(Clone)]
pub struct LoadedBuildpack {
    pre: Pre,
    /// The contract version the component was built against.
    pub contract: Contract,
    /// Whether it was compiled now or loaded from the component cache.
    pub cache: CacheOutcome,
    /// Where it came from (a file path or `bundled:<name>`), for error messages.
    pub origin: String,
    watchdog: Arc<super::engine::Watchdog>,
}

impl LoadedBuildpack {
    /// Check, compile (or load from the cache) and pre-link `wasm`.
    pub fn load(sandbox: &Sandbox, wasm: &[u8], origin: &str) -> Result<Self, SandboxError> {
        contract::check_is_component(wasm, origin)?;
        let dir = cache::components_dir(&sandbox.cache_dir);
        let (component, outcome) = cache::load_or_compile(&sandbox.engine, &dir, wasm, origin)?;
        let contract = contract::check_contract(&sandbox.engine, &component, origin)?;
        let pre = match contract {
            Contract::V0_2 => sandbox.linker.instantiate_pre(&component).and_then(BuildpackComponentPre::new).map(Pre::V0_2),
            Contract::V0_1 => sandbox.linker_v0_1.instantiate_pre(&component).and_then(v0_1::BuildpackComponentPre::new).map(Pre::V0_1),
        }
        .map_err(|source| SandboxError::Compile { origin: origin.into(), source: source.into() })?;
        Ok(LoadedBuildpack { pre, contract, cache: outcome, origin: origin.into(), watchdog: sandbox.watchdog.clone() })
    }

    /// Call `descriptor`: the component's buildpack.toml text. Gets no grants at all.
    pub fn descriptor(&self, limits: &Limits, log: LogSink) -> Result<String, SandboxError> {
        let id = self.origin.clone();
        self.call(&id, "load", Grants::none(), limits, log, |bindings, store| bindings.call_descriptor(store).map(Ok))
    }

    /// Call `detect` for buildpack `id` with the given grants.
    pub fn detect(
        &self,
        id: &str,
        grants: Grants,
        limits: &Limits,
        log: LogSink,
        context: &DetectContext,
    ) -> Result<DetectResult, SandboxError> {
        self.call(id, "detect", grants, limits, log, |bindings, store| bindings.call_detect(store, context))
    }

    /// Call `build` for buildpack `id` with the given grants.
    pub fn build(
        &self,
        id: &str,
        grants: Grants,
        limits: &Limits,
        log: LogSink,
        context: &BuildContext,
    ) -> Result<BuildResult, SandboxError> {
        self.call(id, "build", grants, limits, log, |bindings, store| bindings.call_build(store, context))
    }

    fn call<T>(
        &self,
        id: &str,
        phase: &str,
        grants: Grants,
        limits: &Limits,
        log: LogSink,
        invoke: impl FnOnce(&Exports, &mut Store<GuestState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, SandboxError> {
        let _watch = self.watchdog.watch(id, phase, limits.wall_time);
        let output = MemoryOutputPipe::new(limits.log_bytes);
        let writable = grants
            .dirs()
            .iter()
            .filter(|d| d.access == super::grants::Access::ReadWrite)
            .map(|d| (d.guest_path.clone(), d.host_path.clone()))
            .collect();
        let fetch = grants.fetcher().map(|fetcher| FetchState {
            fetcher: fetcher.clone(),
            buildpack: id.to_string(),
            budget: FetchBudget {
                max_count: limits.fetch_count,
                max_bytes: limits.fetch_bytes,
                count: 0,
                bytes: 0,
                deadline: std::time::Instant::now().checked_add(limits.wall_time),
            },
            exceeded: None,
        });
        let exec = grants.exec_grant().map(|grant| super::exec::ExecState {
            grant: grant.clone(),
            buildpack: id.to_string(),
            mounts: grants.dirs().to_vec(),
            limits: limits.clone(),
            call_started: std::time::Instant::now(),
        });
        let wasi = grants.into_wasi(&output)?;
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
            limits: LimitState::new(limits),
            log_sink: log.clone(),
            log_used: 0,
            log_limit: limits.log_bytes,
            writable,
            fetch,
            exec,
            disk_tripped: None,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        let clock = Clock::start(limits);
        // The call's own layers dirs are watched while it runs (see disk_watch).
        let layers_dirs: Vec<_> =
            store.data().writable.iter().filter(|(guest, _)| guest.starts_with("/layers/")).map(|(_, host)| host.clone()).collect();
        let disk_watch = DiskWatch::start(layers_dirs, limits);
        let disk_tripped = disk_watch.as_ref().map(DiskWatch::tripped);
        store.data_mut().disk_tripped = disk_tripped.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let passed = disk_tripped.as_ref().and_then(|t| t.lock().unwrap_or_else(|e| e.into_inner()).take());
            match passed.or_else(|| clock.check()) {
                None => Ok(UpdateDeadline::Continue(1)),
                Some((limit, detail)) => {
                    ctx.data_mut().limits.record(limit, detail);
                    Err(wasmtime::Error::new(LimitTrap(limit)))
                }
            }
        });
        let result = self.pre.instantiate(&mut store).and_then(|bindings| invoke(&bindings, &mut store));
        drop(disk_watch);
        forward_output(&output, &log);
        let output_full = output.contents().len() >= limits.log_bytes;
        // A fetch limit fails the call even when the guest carried on past the refusal.
        if let Some((limit, detail)) = store.data_mut().fetch.as_mut().and_then(|f| f.exceeded.take())
            && !(result.is_err() && store.data().limits.exceeded.is_some())
        {
            return Err(SandboxError::LimitExceeded { buildpack: id.into(), phase: phase.into(), limit, detail });
        }
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => {
                let message = super::text::guest_text(&message, super::text::MAX_ERROR);
                Err(SandboxError::GuestError { buildpack: id.into(), phase: phase.into(), message })
            }
            Err(error) => {
                let recorded = store.data_mut().limits.exceeded.take();
                Err(classify_trap(id, phase, error, recorded, output_full, limits))
            }
        }
    }
}

/// Turn a wasmtime error into the limit it hit, or a plain crash.
fn classify_trap(
    id: &str,
    phase: &str,
    error: wasmtime::Error,
    recorded: Option<(Limit, String)>,
    output_full: bool,
    limits: &Limits,
) -> SandboxError {
    let exceeded = |limit, detail| SandboxError::LimitExceeded { buildpack: id.into(), phase: phase.into(), limit, detail };
    if let Some((limit, detail)) = recorded {
        return exceeded(limit, detail);
    }
    if output_full {
        return exceeded(Limit::Log, format!("limit {} KiB of stdout/stderr", limits.log_bytes >> 10));
    }
    if let Some(Trap::StackOverflow) = error.downcast_ref::<Trap>() {
        return exceeded(Limit::Stack, "the guest's call stack overflowed (deep recursion)".into());
    }
    // A trap's backtrace names guest functions, which the guest chose: escape and bound it.
    let message = super::text::guest_text(&format!("{error:#}"), 2 * super::text::MAX_ERROR);
    SandboxError::Trapped { buildpack: id.into(), phase: phase.into(), message }
}

/// Show what the guest printed on stdout/stderr as log lines.
fn forward_output(output: &MemoryOutputPipe, log: &LogSink) {
    let bytes = output.contents();
    if bytes.is_empty() {
        return;
    }
    for line in String::from_utf8_lossy(&bytes).lines() {
        log(LogLevel::Info, &super::text::guest_text(line, super::text::MAX_LINE));
    }
}

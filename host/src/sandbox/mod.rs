//! The sandbox: runs buildpack components in wasmtime with exactly the grants a phase gives.
//!
//! It owns the wasmtime [`Engine`](wasmtime::Engine) (one per process, with epoch
//! interruption for time limits), the on-disk cache of precompiled components
//! ([`cache`]), the check that a component speaks kiln's contract version ([`contract`]),
//! the deny-by-default WASI context ([`grants`]), per-call limits ([`limits`]), the host
//! imports a buildpack may call ([`host_imports`]; native steps in [`exec`]), the calls themselves ([`call`]), and
//! the check of what a build left on disk ([`usage`]).
//!
//! Nothing a guest can reach exists unless a [`Grants`] value names it: no inherited
//! env, no host path, no socket. Every call gets a fresh store, so one buildpack's state
//! can never leak into another's.

pub mod bindings;
pub mod cache;
pub mod call;
pub mod contract;
pub mod disk_watch;
mod engine;
pub mod error;
pub mod exec;
pub mod grants;
pub mod host_imports;
pub mod limits;
pub mod text;
pub mod usage;

pub use call::{LoadedBuildpack, LogSink};
pub use engine::{Sandbox, WATCHDOG_EXIT_CODE, forget_on_emergency_exit, remove_on_emergency_exit};
pub use error::{Limit, SandboxError};
pub use exec::{BuildRootfs, ExecGrant, ExecPolicy, ExecRecord};
pub use grants::Grants;
pub use limits::Limits;

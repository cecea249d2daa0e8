//! Grants: the deny-by-default description of what one call may see.
//!
//! A [`Grants`] starts empty: no directory, no env var, no network, stdin closed. Each
//! directory and variable is added by a named call, and [`Grants::into_wasi`] turns exactly
//! that into a WASI context. Sockets and name lookup are always denied. The one way to the
//! network is the `fetch` import, and only when [`Grants::fetch`] hands the call a
//! [`Fetcher`] (the lifecycle does so for build, never for detect). Native programs run
//! only through the `exec` import, when [`Grants::exec`] hands the call an [`ExecGrant`]
//! (build only); the jail then mounts exactly this call's directories (see
//! [`crate::jail`] for its own table).
//!
//! # What else the guest sees
//!
//! Checked against wasmtime-wasi 48's defaults, which kiln keeps:
//!
//! | WASI interface | what the guest gets | leaks |
//! |---|---|---|
//! | `wasi:clocks/wall-clock` | the host's real UTC time (`SystemTime::now`), nanosecond resolution | the time, nothing else: WASI has no time zone and kiln passes no `TZ` |
//! | `wasi:clocks/monotonic-clock` | nanoseconds since this call's context was created | nothing: not the host's uptime |
//! | `wasi:random/random` | bytes from the host's CSPRNG, fresh per call | nothing |
//! | `wasi:random/insecure`, `insecure-seed` | a generator and seed drawn at random per call | nothing |
//! | `wasi:cli/environment` | the granted variables only; args `["buildpack"]`; no initial cwd | nothing of the host's env |
//! | `wasi:cli/terminal-*` | no terminal (stdout/stderr are pipes into the log budget) | nothing |
//! | `wasi:filesystem` | the granted directories; stat gives sizes and the host's atime/mtime/ctime of those files, and `metadata-hash` an unkeyed 64-bit hash of (device, inode) | the timestamps and, with effort, inode numbers of files in granted dirs; no path, user, group or host name |
//! | `wasi:sockets` | every socket and name lookup denied | nothing |
//!
//! So a buildpack can tell what time it is and be non-deterministic, but cannot learn the
//! host's name, user, network, uptime or environment. Clocks are not coarsened or frozen:
//! buildpacks legitimately time things and stamp files, and the exported image normalizes
//! every mtime anyway. A build that must be bit-for-bit reproducible gets that from the
//! export, not from the guest's clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

use super::error::SandboxError;
use super::exec::ExecGrant;
use crate::fetch::Fetcher;

/// How a granted directory may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read files and list directories only.
    ReadOnly,
    /// Also create, write, rename and delete inside it.
    ReadWrite,
}

/// One host directory visible to the guest.
#[derive(Debug, Clone)]
pub struct DirGrant {
    /// The host directory.
    pub host_path: PathBuf,
    /// The absolute path the guest sees it at.
    pub guest_path: String,
    /// Its access mode.
    pub access: Access,
}

/// Everything a guest call may see. Empty by default.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    fetch: Option<Arc<Fetcher>>,
    exec: Option<Arc<ExecGrant>>,
}

impl Grants {
    /// Nothing: no directory, no variable.
    pub fn none() -> Self {
        Grants::default()
    }

    /// Let the guest read `host_path` at `guest_path`.
    pub fn read_only(mut self, host_path: &Path, guest_path: &str) -> Self {
        self.dirs.push(DirGrant { host_path: host_path.to_path_buf(), guest_path: guest_path.into(), access: Access::ReadOnly });
        self
    }

    /// Let the guest read and write `host_path` at `guest_path`.
    pub fn read_write(mut self, host_path: &Path, guest_path: &str) -> Self {
        self.dirs.push(DirGrant { host_path: host_path.to_path_buf(), guest_path: guest_path.into(), access: Access::ReadWrite });
        self
    }

    /// Set an environment variable in the guest.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Let the guest call the `fetch` import, through `fetcher` (its policy, cache and
    /// recorder). Without this grant every fetch is refused.
    pub fn fetch(mut self, fetcher: Arc<Fetcher>) -> Self {
        self.fetch = Some(fetcher);
        self
    }

    /// Let the guest call the `exec` import (contract 0.2): native programs in the jail,
    /// which sees exactly this call's directories. Without this grant every exec is refused.
    pub fn exec(mut self, grant: Arc<ExecGrant>) -> Self {
        self.exec = Some(grant);
        self
    }

    /// The exec grant, if any.
    pub fn exec_grant(&self) -> Option<&Arc<ExecGrant>> {
        self.exec.as_ref()
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The fetcher, if fetch is granted.
    pub fn fetcher(&self) -> Option<&Arc<Fetcher>> {
        self.fetch.as_ref()
    }

    /// Build the WASI context; guest stdout and stderr go to `output`.
    pub(crate) fn into_wasi(self, output: &MemoryOutputPipe) -> Result<WasiCtx, SandboxError> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .allow_blocking_current_thread(true)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(output.clone())
            .stderr(output.clone())
            .args(&["buildpack"]);
        for (name, value) in &self.env {
            builder.env(name, value);
        }
        for grant in self.dirs {
            let perms = match grant.access {
                Access::ReadOnly => FsPerms::ReadOnly,
                Access::ReadWrite => FsPerms::ReadWrite,
            };
            builder.preopened_dir(&grant.host_path, &grant.guest_path, perms).map_err(|source| SandboxError::Grant {
                host_path: grant.host_path.clone(),
                guest_path: grant.guest_path.clone(),
                source: source.into(),
            })?;
        }
        Ok(builder.build())
    }
}

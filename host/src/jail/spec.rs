//! What one jailed step is: the program, its root filesystem, its mounts and its limits.
//!
//! The host writes a [`JailSpec`] as JSON into the helper's environment; the helper stages
//! (see `child`) read it back. Everything here is decided by the host; nothing in it comes
//! from the jailed program.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The environment variable that carries the spec from the host to the helper stages.
pub const SPEC_ENV: &str = "KILN_JAIL_SPEC";

/// One host directory mounted into the jail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mount {
    /// The host directory (never followed if it is a symlink: the jail refuses it).
    pub host_path: PathBuf,
    /// The absolute path the jailed program sees it at.
    pub guest_path: String,
    /// Whether the program may write to it.
    pub writable: bool,
}

/// The per-process limits the kernel enforces inside the jail (rlimits). The host's watch
/// enforces the totals (see `run`); these stop a single process early.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessLimits {
    /// `RLIMIT_CPU`: CPU seconds of one process.
    pub cpu_seconds: u64,
    /// `RLIMIT_DATA`: writable private memory of one process, in bytes. Reserved but
    /// untouched address space (a JVM heap reservation) does not count.
    pub data_bytes: u64,
    /// `RLIMIT_FSIZE`: the largest file one process may write.
    pub file_bytes: u64,
    /// `RLIMIT_NPROC`: processes of the jail's user (not enforced by the kernel when kiln
    /// runs as root; the host's watch counts them then).
    pub processes: u64,
    /// `RLIMIT_NOFILE`: open files of one process.
    pub open_files: u64,
}

/// The network a jail gets.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A network namespace of its own with only a loopback interface (up): nothing of the
    /// host's network is reachable. Native build steps always get this.
    #[default]
    Isolated,
    /// The host's network namespace (`kiln run`, like `docker run --network host`).
    Host,
}

/// Everything the helper needs to build the jail and start the program in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JailSpec {
    /// The root filesystem: its top-level entries are mounted at `/`, read-only unless
    /// [`JailSpec::rootfs_writable`].
    pub rootfs: PathBuf,
    /// Whether the program may write into the rootfs's entries (`kiln run` of a private
    /// unpacked copy); native build steps never may.
    #[serde(default)]
    pub rootfs_writable: bool,
    /// The network.
    #[serde(default)]
    pub network: Network,
    /// The uid the program runs as (inside a user namespace of its own; never a host id).
    #[serde(default = "default_id")]
    pub uid: u32,
    /// The gid the program runs as.
    #[serde(default = "default_id")]
    pub gid: u32,
    /// The calling phase's grants, mounted at their guest paths.
    pub mounts: Vec<Mount>,
    /// Absolute path of the program inside the jail.
    pub program: String,
    /// Its arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// Its working directory inside the jail.
    pub working_dir: String,
    /// An empty host directory the new root is mounted on (inside the jail's own mount
    /// namespace; the host never sees anything mounted there).
    pub root_mountpoint: PathBuf,
    /// Where the outer helper writes the [`Report`].
    pub report_path: PathBuf,
    /// Size of the private `/tmp` tmpfs when no grant provides `/tmp`, in bytes.
    pub tmp_bytes: u64,
    /// Per-process kernel limits; `None` keeps the ones kiln has (only core dumps are
    /// turned off).
    pub limits: Option<ProcessLimits>,
    /// The `cgroup.procs` of the jail's pids cgroup, which the outer stage joins first.
    #[serde(default)]
    pub cgroup_procs: Option<PathBuf>,
}

fn default_id() -> u32 {
    super::child::JAIL_UID
}

/// How a jailed step ended, as the helper reports it to the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Report {
    /// The program exited with this code.
    Exited(i32),
    /// The program was killed by this signal.
    Signaled(i32),
    /// The program could not be started (not found, not executable, bad working dir).
    NotStarted(String),
    /// The jail itself could not be set up on this machine (no user namespaces, ...).
    Unavailable(String),
    /// Setting up the jail failed for another reason.
    SetupFailed(String),
}

//! The jail: where native programs run when a buildpack asks for them (`exec`, contract
//! 0.2), with no more than the buildpack call that asked.
//!
//! # What a native step sees
//!
//! | | in the jail |
//! |---|---|
//! | `/` | the build rootfs's top-level entries, read-only, on a read-only tmpfs |
//! | grants | exactly the calling call's directories at the same guest paths, same access (app dir, own layers dir, earlier `build` layers read-only, platform dir read-only, `/tmp`), `nosuid`,`nodev`; a symlinked grant is refused |
//! | `/tmp` | the call's own `/tmp` grant, else a private tmpfs |
//! | `/dev` | `null`, `zero`, `full`, `random`, `urandom`, `tty`; `fd`, `stdin`, `stdout`, `stderr` links; a `shm` tmpfs |
//! | `/proc` | its own, for its own pid namespace; no `/sys` |
//! | user | uid/gid 1000 (`cnb`) in a user namespace of its own, no capability; files of the host user show as 1000 |
//! | privileges | `no_new_privs`; every mount `nosuid`; setuid binaries gain nothing |
//! | syscalls | a seccomp deny list (`seccomp`): no ptrace, mount, namespaces, bpf, keyctl, kexec, modules, userfaultfd, perf, `TIOCSTI` |
//! | network | a network namespace of its own with only its loopback (up): nothing of the host's network, not even the host's 127.0.0.1 |
//! | pid, ipc, uts | its own; host name `kiln`; it cannot see or signal any host process |
//! | env | exactly what the buildpack passed, nothing of the host's |
//! | limits | the call's: total resident memory, total CPU, wall time, process count (host-side watch, [`run::TICK`]), log output, the layers disk watch; a pids cgroup where kiln may make one (`cgroup`); per process `RLIMIT_CPU`, `RLIMIT_DATA`, `RLIMIT_FSIZE`, `RLIMIT_NPROC`, `RLIMIT_NOFILE`, no core dumps |
//! | end | when the program exits, or a limit trips, every process of the jail is killed (its pid namespace's init exits) |
//!
//! `kiln run` uses the same jail for an image ([`run_attached`]) with three differences
//! the spec states: the image's unpacked rootfs is writable (a private copy), the host's
//! network ([`Network::Host`]), the image's user, and no limits but kiln's own; SIGINT,
//! SIGTERM, SIGHUP and SIGQUIT are forwarded to the program.
//!
//! The work happens in two helper stages of the `kiln` binary itself (`child`), started
//! by the host (`run`): kiln stays one binary, and no namespace call is made in the
//! multi-threaded host process. Where user namespaces are unavailable, a step fails with
//! [`JailError::Unavailable`], naming what to check; wasm-only builds are not affected.

mod cgroup;
mod child;
mod mounts;
pub mod run;
mod seccomp;
pub mod spec;
pub mod tree;

pub use child::{JAIL_UID, enter_if_helper};
pub use run::{ExitKind, Finished, JailError, OutputMode, Step, StepLimits, Stream, run, run_attached};
pub use spec::{JailSpec, Mount, Network, ProcessLimits};

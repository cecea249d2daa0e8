//! The helper side of the jail: two stages of the `kiln` binary itself, re-executed by the
//! host (`kiln __jail`), each single-threaded, so that no namespace work ever happens in
//! the multi-threaded host process.
//!
//! 1. **outer** (`__jail`): dies with the host thread that started it (`PDEATHSIG`); joins
//!    the jail's pids cgroup when the host made one (see `cgroup`); enters
//!    a new user namespace where it is uid 0 mapped to the host user (one uid, as any
//!    unprivileged user may), and a new pid namespace for its child; starts the init stage
//!    and waits; writes the [`Report`] to the host's report file. It stays outside the
//!    jail's pid and mount namespaces, so the jailed program can never see or reach it.
//! 2. **init** (`__jail-init FD`): pid 1 of the jail. New mount, network, ipc and uts
//!    namespaces; builds the root filesystem and pivots into it (`mounts`); sets rlimits;
//!    then enters a second user namespace in which it is uid/gid 1000 (`cnb`), so the
//!    program runs without any capability, even inside the jail; marks itself
//!    non-dumpable, sets `no_new_privs`, installs the seccomp filter; starts the program;
//!    reaps every process until the program exits; sends the outcome to the outer stage
//!    over a pipe. When init exits, the kernel kills whatever is left in the pid namespace.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicI32;

use nix::sched::{CloneFlags, unshare};
use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use super::mounts;
use super::seccomp;
use super::spec::{JailSpec, Network, Report, SPEC_ENV};

/// The argument that runs the outer stage.
pub const OUTER_ARG: &str = "__jail";
/// The argument that runs the init stage.
pub const INIT_ARG: &str = "__jail-init";
/// The uid and gid jailed programs run as (the `cnb` user of kiln's images).
pub const JAIL_UID: u32 = 1000;

/// Run a helper stage if this process was started as one; returns otherwise. Call it
/// first thing in `main`, before any thread starts.
pub fn enter_if_helper() {
    let mut args = std::env::args();
    let _program = args.next();
    match args.next().as_deref() {
        Some(OUTER_ARG) => outer_main(),
        Some(INIT_ARG) => init_main(args.next()),
        _ => {}
    }
}

fn read_spec() -> Result<(JailSpec, String), String> {
    let text = std::env::var(SPEC_ENV).map_err(|_| format!("{SPEC_ENV} is not set: this is an internal kiln command"))?;
    let spec = serde_json::from_str(&text).map_err(|e| format!("bad {SPEC_ENV}: {e}"))?;
    Ok((spec, text))
}

fn outer_main() -> ! {
    let (spec, text) = match read_spec() {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("kiln {OUTER_ARG}: {message}");
            std::process::exit(2);
        }
    };
    let report = outer(&text).unwrap_or_else(|report| report);
    let written = serde_json::to_vec(&report)
        .map_err(|e| e.to_string())
        .and_then(|bytes| std::fs::write(&spec.report_path, bytes).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("kiln {OUTER_ARG}: cannot write {}: {e}", spec.report_path.display());
        std::process::exit(2);
    }
    std::process::exit(0);
}

/// The outer stage; `Err` is a report of a failure to set up.
fn outer(spec_text: &str) -> Result<Report, Report> {
    let setup = |what: &str, e: nix::Error| Report::SetupFailed(format!("{what}: {e}"));
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| setup("PR_SET_PDEATHSIG", e))?;
    let (spec, _) = read_spec().map_err(Report::SetupFailed)?;
    if let Some(procs) = &spec.cgroup_procs {
        std::fs::write(procs, std::process::id().to_string())
            .map_err(|e| Report::SetupFailed(format!("joining the jail's pids cgroup {}: {e}", procs.display())))?;
    }
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| {
        Report::Unavailable(format!(
            "cannot create a user namespace ({e}): native steps need unprivileged user namespaces \
             (check the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone and \
             kernel.apparmor_restrict_unprivileged_userns, or the container's seccomp profile)"
        ))
    })?;
    map_ids(0, uid.as_raw(), 0, gid.as_raw()).map_err(Report::SetupFailed)?;
    unshare(CloneFlags::CLONE_NEWPID).map_err(|e| Report::Unavailable(format!("cannot create a pid namespace: {e}")))?;

    // The init stage reports on a pipe: this end is inherited, the read end is not.
    let (read_end, write_end) = nix::unistd::pipe().map_err(|e| setup("pipe", e))?;
    set_cloexec(&read_end).map_err(|e| setup("pipe flags", e))?;
    let mut init = Command::new("/proc/self/exe")
        .arg(INIT_ARG)
        .arg(write_end.as_raw_fd().to_string())
        .env_clear()
        .env(SPEC_ENV, spec_text)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Report::SetupFailed(format!("starting the jail's init: {e}")))?;
    drop(write_end);
    let mut text = String::new();
    let _ = std::fs::File::from(read_end).read_to_string(&mut text);
    let status = init.wait().map_err(|e| Report::SetupFailed(format!("waiting for the jail's init: {e}")))?;
    match serde_json::from_str::<Report>(&text) {
        Ok(report) => Ok(report),
        Err(_) => Err(Report::SetupFailed(format!("the jail's init ended without a report ({status})"))),
    }
}

fn set_cloexec(fd: &OwnedFd) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map(drop)
}

/// Write this process's uid and gid maps after `unshare(CLONE_NEWUSER)`: `inside` maps to
/// `outside`, one id each.
fn map_ids(inside_uid: u32, outside_uid: u32, inside_gid: u32, outside_gid: u32) -> Result<(), String> {
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| format!("writing /proc/self/{file}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{inside_uid} {outside_uid} 1\n"))?;
    write("gid_map", format!("{inside_gid} {outside_gid} 1\n"))
}

fn init_main(fd: Option<String>) -> ! {
    let Some(fd) = fd.and_then(|fd| fd.parse::<i32>().ok()).filter(|fd| *fd > 2) else {
        eprintln!("kiln {INIT_ARG}: internal kiln command");
        std::process::exit(2);
    };
    // SAFETY: the outer stage created this pipe end for us and passed its number; nothing
    // else in this fresh single-threaded process owns it.
    #[allow(unsafe_code)]
    let pipe = unsafe { OwnedFd::from_raw_fd(fd) };
    let report = match set_cloexec(&pipe) {
        Ok(()) => init().unwrap_or_else(|report| report),
        Err(e) => Report::SetupFailed(format!("pipe flags: {e}")),
    };
    let mut pipe = std::fs::File::from(pipe);
    let _ = serde_json::to_vec(&report).map(|bytes| pipe.write_all(&bytes));
    std::process::exit(0);
}

fn init() -> Result<Report, Report> {
    let setup = |what: &str, e: nix::Error| Report::SetupFailed(format!("{what}: {e}"));
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| setup("PR_SET_PDEATHSIG", e))?;
    let (spec, _) = read_spec().map_err(Report::SetupFailed)?;
    let mut namespaces = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    if spec.network == Network::Isolated {
        namespaces |= CloneFlags::CLONE_NEWNET;
    }
    unshare(namespaces).map_err(|e| Report::Unavailable(format!("cannot create mount/network/ipc/uts namespaces: {e}")))?;
    if spec.network == Network::Isolated {
        loopback_up().map_err(|e| setup("bringing up the jail's loopback", e))?;
    }
    nix::unistd::sethostname("kiln").map_err(|e| setup("sethostname", e))?;
    mounts::build_root(&spec).map_err(Report::SetupFailed)?;
    set_limits(&spec).map_err(Report::SetupFailed)?;
    // A second user namespace: the program is uid 1000 (or the image's user) there, with
    // no capability at all.
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| setup("entering the program's user namespace", e))?;
    map_ids(spec.uid, 0, spec.gid, 0).map_err(Report::SetupFailed)?;
    forward_stop_signals().map_err(|e| Report::SetupFailed(format!("signal handlers: {e}")))?;
    prctl::set_dumpable(false).map_err(|e| setup("PR_SET_DUMPABLE", e))?;
    prctl::set_no_new_privs().map_err(|e| setup("PR_SET_NO_NEW_PRIVS", e))?;
    seccomp::install().map_err(Report::SetupFailed)?;

    let child = Command::new(&spec.program)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.working_dir)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    if std::path::Path::new(&spec.working_dir).is_dir() {
                        "no such file in the jail (or its interpreter is missing)".to_string()
                    } else {
                        format!("the working directory {} does not exist in the jail", spec.working_dir)
                    }
                }
                std::io::ErrorKind::PermissionDenied => "permission denied (not executable?)".to_string(),
                _ => e.to_string(),
            };
            return Ok(Report::NotStarted(format!("{}: {why}", spec.program)));
        }
    };
    let program = Pid::from_raw(child.id() as i32);
    PROGRAM.store(program.as_raw(), std::sync::atomic::Ordering::SeqCst);
    // Reap everything (orphans come to pid 1) until the program itself ends.
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == program => return Ok(Report::Exited(code)),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == program => return Ok(Report::Signaled(signal as i32)),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                // ECHILD without having seen the program: should not happen; report it.
                return Err(Report::SetupFailed(format!("waiting for {}: {e}", spec.program)));
            }
        }
    }
}

/// The program's pid (in the jail's pid namespace) once started; 0 before.
static PROGRAM: AtomicI32 = AtomicI32::new(0);

/// Forward the signals that ask a program to stop to the program: the host sends them to
/// init (`kiln run` on Ctrl-C or `docker stop`-like termination), and a pid namespace's
/// init only gets the signals it handles. Handlers are reset when the program is exec'd.
fn forward_stop_signals() -> std::io::Result<()> {
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: the handler only loads an atomic and calls kill(2), both async-signal-safe.
        #[allow(unsafe_code)]
        unsafe {
            signal_hook::low_level::register(signal, move || {
                let pid = PROGRAM.load(std::sync::atomic::Ordering::SeqCst);
                if pid > 0 {
                    libc::kill(pid, signal);
                }
            })?;
        }
    }
    Ok(())
}

/// Set `IFF_UP` on `lo` in the jail's fresh network namespace, so programs that talk to
/// themselves over 127.0.0.1 work; nothing else is there.
fn loopback_up() -> nix::Result<()> {
    // SAFETY: a plain socket(2); the descriptor is owned right away. `ifreq` is plain old
    // data; the ioctls read and write only within it.
    #[allow(unsafe_code)]
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(nix::errno::Errno::last());
        }
        let sock = OwnedFd::from_raw_fd(fd);
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(nix::errno::Errno::last());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

fn set_limits(spec: &JailSpec) -> Result<(), String> {
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| format!("RLIMIT_CORE=0: {e}"))?;
    let Some(limits) = &spec.limits else { return Ok(()) };
    for (resource, value, name) in [
        (Resource::RLIMIT_CPU, limits.cpu_seconds, "RLIMIT_CPU"),
        (Resource::RLIMIT_DATA, limits.data_bytes, "RLIMIT_DATA"),
        (Resource::RLIMIT_FSIZE, limits.file_bytes, "RLIMIT_FSIZE"),
        (Resource::RLIMIT_NPROC, limits.processes, "RLIMIT_NPROC"),
        (Resource::RLIMIT_NOFILE, limits.open_files, "RLIMIT_NOFILE"),
    ] {
        setrlimit(resource, value, value).map_err(|e| format!("{name}={value}: {e}"))?;
    }
    Ok(())
}

//! `kiln run IMAGE`: run an image without a daemon — its layers unpacked into a private
//! root filesystem, the process started in kiln's own jail (`crate::jail`: new user, pid,
//! mount, ipc and uts namespaces, seccomp, `no_new_privs`; the host's network, as
//! `docker run --network host`) as the image's user, with the image's env, working
//! directory, entrypoint and command. No other program is needed (no bubblewrap, no daemon).
//!
//! Meant for trying an image right after `kiln build`; production runs belong to a container
//! runtime. The root filesystem is unpacked afresh each time into a temporary directory
//! (removed afterwards) with the same safe extraction as restored cache layers; whiteouts
//! delete only inside it. Like `docker run`, the process gets an `/etc/hosts` naming
//! `localhost` and the host name `kiln`, and the host's `/etc/resolv.conf`. SIGINT, SIGTERM
//! and SIGHUP to kiln reach the process as SIGTERM; if it has not exited [`STOP_GRACE`]
//! later, it is killed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::Progress;
use super::dirs::Dirs;
use super::error::PlatformError;
use crate::image::{ImageRef, open_ref, unpack_image};
use crate::jail::{ExitKind, JailError, JailSpec, Network};

/// How long the process has to exit after SIGTERM before it is killed (docker's default).
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to run and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The image: `NAME[:TAG]` in the local store or `oci:DIR[:TAG]`.
    pub image: String,
    /// A process type (`/cnb/process/TYPE`) instead of the image's default.
    pub process: Option<String>,
    /// Sets `$PORT`.
    pub port: Option<u16>,
    /// `NAME=VALUE` over the image's env.
    pub env: Vec<String>,
    /// Unpack here and keep it (default: a temporary dir, removed).
    pub rootfs: Option<PathBuf>,
    /// Arguments replacing the image's command.
    pub args: Vec<String>,
}

/// Unpack the image and run its process until it exits (or kiln gets SIGINT/SIGTERM/SIGHUP,
/// which stop it); the rootfs is removed before this returns unless [`RunOptions::rootfs`]
/// is set.
pub fn run(options: &RunOptions, dirs: &Dirs, progress: &Progress) -> Result<ExitKind, PlatformError> {
    let reference = ImageRef::parse(&options.image)?;
    if !matches!(reference, ImageRef::Store { .. } | ImageRef::Layout { .. }) {
        return Err(PlatformError::Unsupported(format!(
            "kiln run takes a local store name or oci:DIR[:TAG], not {reference}; pull it first"
        )));
    }
    let (store, tag) = open_ref(&reference, &dirs.store)?;
    let image = store.read_image(&tag)?;
    let unpack_error = |reason: String| PlatformError::Unpack { image: reference.to_string(), reason };

    let temp;
    let rootfs = match &options.rootfs {
        Some(dir) => dir.clone(),
        None => {
            std::fs::create_dir_all(&dirs.work).map_err(|e| unpack_error(format!("cannot create {}: {e}", dirs.work.display())))?;
            temp = tempfile::Builder::new()
                .prefix("run-")
                .tempdir_in(&dirs.work)
                .map_err(|e| unpack_error(format!("cannot make a temporary dir in {}: {e}", dirs.work.display())))?;
            temp.path().join("rootfs")
        }
    };
    progress(&format!("unpacking {} ({} layers) into {}", reference, image.manifest.layers.len(), rootfs.display()));
    // Whiteouts are applied as the OCI spec says, never outside the rootfs (image::unpack).
    unpack_image(&store, &image, &rootfs)?;

    let config = &image.config.config;
    let (uid, gid) = user_ids(&config.user, &rootfs)?;
    let mut env: Vec<(String, String)> =
        config.env.iter().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut overrides: Vec<(String, String)> = Vec::new();
    if let Some(port) = options.port {
        overrides.push(("PORT".into(), port.to_string()));
    }
    for kv in &options.env {
        let (k, v) = kv
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| PlatformError::invalid(format!("--env {kv:?}"), "expected NAME=VALUE"))?;
        overrides.push((k.to_string(), v.to_string()));
    }
    for (k, v) in overrides {
        env.retain(|(name, _)| name != &k);
        env.push((k, v));
    }
    let mut argv: Vec<String> = match &options.process {
        Some(process) => vec![format!("/cnb/process/{process}")],
        None => config.entrypoint.clone(),
    };
    if !options.args.is_empty() {
        argv.extend(options.args.iter().cloned());
    } else if options.process.is_none() {
        argv.extend(config.cmd.iter().cloned());
    }
    if argv.is_empty() {
        return Err(PlatformError::CannotRun(format!("{reference} has neither an entrypoint nor a command")));
    }
    if let Some(process) = &options.process
        && std::fs::symlink_metadata(rootfs.join("cnb/process").join(process)).is_err()
    {
        return Err(PlatformError::CannotRun(format!("{reference} has no process type {process:?}: see `kiln inspect {}`", options.image)));
    }

    let workdir = if config.working_dir.is_empty() { "/".to_string() } else { config.working_dir.clone() };
    write_network_files(&rootfs).map_err(unpack_error)?;
    let (program, args) = argv.split_first().expect("argv is not empty");
    let spec = JailSpec {
        rootfs: rootfs.clone(),
        rootfs_writable: true,
        network: Network::Host,
        uid,
        gid,
        mounts: Vec::new(),
        program: program.clone(),
        args: args.to_vec(),
        env,
        working_dir: workdir,
        root_mountpoint: PathBuf::new(),
        report_path: PathBuf::new(),
        tmp_bytes: 1 << 30,
        limits: None,
        cgroup_procs: None,
    };
    progress(&format!("running {} as {uid}:{gid}", argv.join(" ")));
    // SIGINT, SIGTERM or SIGHUP to kiln stop the process (SIGTERM, then SIGKILL after the
    // grace period), then kiln removes the rootfs.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, interrupted.clone())
            .map_err(|source| PlatformError::Process { action: format!("handle signal {signal}"), source })?;
    }
    // /proc/self/exe still runs this kiln when its file was replaced meanwhile.
    let helper = PathBuf::from("/proc/self/exe");
    let control = rootfs.parent().map(Path::to_path_buf).unwrap_or_else(|| dirs.work.clone());
    crate::jail::run_attached(&helper, spec, &control, &interrupted, STOP_GRACE).map_err(|e| match e {
        JailError::NotStarted(why) => PlatformError::CannotRun(format!("{reference}: cannot start {why}")),
        other => PlatformError::Jail(other),
    })
}

/// `/etc/hosts` and `/etc/resolv.conf` in the unpacked rootfs, as a container runtime
/// provides them. The image is hostile input: an `/etc` that is not a real directory is
/// left alone, and an existing entry (a symlink, say) is removed, never written through.
fn write_network_files(rootfs: &Path) -> Result<(), String> {
    let etc = rootfs.join("etc");
    match std::fs::symlink_metadata(&etc) {
        Ok(meta) if meta.is_dir() => {}
        _ => return Ok(()),
    }
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tkiln\n";
    let resolv = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    for (name, bytes) in [("hosts", hosts.as_bytes()), ("resolv.conf", resolv.as_slice())] {
        let path = etc.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(_) => Ok(()),
        }
        .map_err(|e| format!("replacing {}: {e}", path.display()))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        file.write_all(bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `uid[:gid]` or a user name looked up in the image's /etc/passwd; empty is root.
fn user_ids(user: &str, rootfs: &Path) -> Result<(u32, u32), PlatformError> {
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (name, group) = user.split_once(':').map_or((user, None), |(u, g)| (u, Some(g)));
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let lookup = |name: &str| -> Option<(u32, u32)> {
        passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == name)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
    };
    let (uid, default_gid) = match name.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => lookup(name).ok_or_else(|| PlatformError::CannotRun(format!("the image's user {name:?} is not in its /etc/passwd")))?,
    };
    let gid = match group {
        Some(g) => g.parse().map_err(|_| PlatformError::CannotRun(format!("the image's group {g:?} is not numeric")))?,
        None => default_gid,
    };
    Ok((uid, gid))
}

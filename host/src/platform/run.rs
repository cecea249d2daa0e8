//! `kiln run IMAGE`: run an image without a daemon — its layers unpacked into a private
//! root filesystem, the process started in a bubblewrap sandbox (new user, pid, mount, ipc
//! and uts namespaces; the host's network) as the image's user, with the image's env,
//! working directory, entrypoint and command.
//!
//! Meant for trying an image right after `kiln build`; production runs belong to a container
//! runtime. The root filesystem is unpacked afresh each time into a temporary directory
//! (removed afterwards) with the same safe extraction as restored cache layers; whiteout
//! files delete what lower layers put there, opaque-directory whiteouts are refused.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use super::Progress;
use super::dirs::Dirs;
use super::error::PlatformError;
use crate::image::{ImageRef, open_ref, unpack_image};

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

/// Unpack the image and run its process until it exits (or kiln gets SIGINT/SIGTERM, which
/// stop it); the rootfs is removed before this returns unless [`RunOptions::rootfs`] is set.
pub fn run(options: &RunOptions, dirs: &Dirs, progress: &Progress) -> Result<ExitStatus, PlatformError> {
    let bwrap = find_on_path("bwrap").ok_or(PlatformError::MissingProgram {
        what: "kiln run",
        program: "bubblewrap (`bwrap`)",
        install: "install it with `apt-get install bubblewrap`",
    })?;
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
    let mut command = Command::new(bwrap);
    command
        .args(["--unshare-all", "--share-net", "--die-with-parent"])
        .arg("--bind")
        .arg(&rootfs)
        .arg("/")
        .args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
        .args(["--uid", &uid.to_string(), "--gid", &gid.to_string()])
        .args(["--chdir", &workdir])
        .arg("--clearenv");
    for (k, v) in &env {
        command.args(["--setenv", k, v]);
    }
    command.arg("--").args(&argv);
    progress(&format!("running {} as {uid}:{gid}", argv.join(" ")));
    // SIGINT or SIGTERM to kiln (Ctrl-C reaches the process too: same process group) stops
    // the sandbox — bwrap is killed, and --die-with-parent takes the process with it — then
    // kiln removes the rootfs. Handlers, not SIG_IGN: exec resets handlers to the default,
    // while an ignored signal would stay ignored in the process.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, interrupted.clone())
            .map_err(|source| PlatformError::Process { action: format!("handle signal {signal}"), source })?;
    }
    let mut child = command.spawn().map_err(|source| PlatformError::Process { action: "start bwrap".into(), source })?;
    let wait_error = |source: std::io::Error| PlatformError::Process { action: "wait for bwrap".into(), source };
    loop {
        if let Some(status) = child.try_wait().map_err(wait_error)? {
            return Ok(status);
        }
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = child.kill();
            return child.wait().map_err(wait_error);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The program `name` on PATH.
fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
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

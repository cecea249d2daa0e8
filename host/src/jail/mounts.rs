//! The jail's filesystem, built inside its own mount namespace by the init stage.
//!
//! `/` is a small tmpfs (read-only once built) holding: each top-level entry of the build
//! rootfs, bind-mounted read-only (read-write for `kiln run`'s private copy; symlinks such as `/lib64` copied as symlinks); each
//! grant at its guest path (read-only or read-write as granted, always `nosuid`,`nodev`);
//! a private `/tmp` tmpfs unless a grant provides `/tmp`; a minimal `/dev` (tmpfs with
//! `null`, `zero`, `full`, `random`, `urandom`, `tty` bound from the host, `fd` and the std
//! streams as links into `/proc`, a `shm` tmpfs); a fresh `/proc` for the jail's pid
//! namespace (`hidepid=ptraceable`: the jail's own init is invisible to the program). No `/sys`. The host's root is detached after `pivot_root`, so nothing else
//! of the host is reachable by any path.
//!
//! A grant's host directory is opened with `O_NOFOLLOW` and mounted through its
//! descriptor, so a buildpack that turned a layer dir into a symlink cannot make the jail
//! mount what the link points to. A mount point is created only inside the tmpfs, never
//! inside another grant (that would write into the host directory).

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::statvfs::{FsFlags, statvfs};

use super::spec::JailSpec;

/// Top-level names the jail makes itself; the rootfs's own are not used.
const RESERVED: &[&str] = &["proc", "dev", "sys", "tmp"];

/// Device nodes bound from the host into `/dev`.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

fn err(what: impl std::fmt::Display, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// Build the root at `spec.root_mountpoint` and make it the calling process's `/`.
pub fn build_root(spec: &JailSpec) -> Result<(), String> {
    let root = &spec.root_mountpoint;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| err("making the mount namespace private", e))?;
    mount(Some("tmpfs"), root, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755,size=1m"))
        .map_err(|e| err("mounting the jail's root tmpfs", e))?;

    let granted_tops: Vec<String> = spec.mounts.iter().filter_map(|m| top_component(&m.guest_path)).collect();
    mount_rootfs(&spec.rootfs, root, &granted_tops, spec.rootfs_writable)?;
    mount_grants(spec, root)?;
    if !spec.mounts.iter().any(|m| m.guest_path.trim_end_matches('/') == "/tmp") {
        let tmp = root.join("tmp");
        make_dir(&tmp)?;
        let size = format!("mode=1777,size={}", spec.tmp_bytes.max(1 << 20));
        mount(Some("tmpfs"), &tmp, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some(size.as_str()))
            .map_err(|e| err("mounting /tmp", e))?;
    }
    mount_dev(root)?;
    let proc = root.join("proc");
    make_dir(&proc)?;
    // hidepid=ptraceable: the jail's init (non-dumpable, so not ptraceable by the program)
    // is invisible to it, so not even its fd numbers can be listed. (hidepid=2 is not
    // enough when kiln runs as root: its `gid` exemption then matches the program's group.)
    let proc_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), &proc, Some("proc"), proc_flags, Some("hidepid=ptraceable"))
        .or_else(|_| mount(Some("proc"), &proc, Some("proc"), proc_flags, Some("hidepid=2")))
        .or_else(|_| mount(Some("proc"), &proc, Some("proc"), proc_flags, None::<&str>))
        .map_err(|e| err("mounting /proc", e))?;

    nix::unistd::chdir(root).map_err(|e| err("entering the jail's root", e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| err("detaching the host's root", e))?;
    nix::unistd::chdir("/").map_err(|e| err("chdir /", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| err("making / read-only", e))?;
    Ok(())
}

/// The first component of an absolute guest path (`/layers/x` gives `layers`).
fn top_component(guest_path: &str) -> Option<String> {
    Path::new(guest_path).components().find_map(|c| match c {
        Component::Normal(name) => name.to_str().map(str::to_string),
        _ => None,
    })
}

fn make_dir(path: &Path) -> Result<(), String> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(err(format!("creating mount point {}", path.display()), e)),
    }
}

fn mount_rootfs(rootfs: &Path, root: &Path, granted_tops: &[String], writable: bool) -> Result<(), String> {
    let entries = std::fs::read_dir(rootfs).map_err(|e| err(format!("reading the build rootfs {}", rootfs.display()), e))?;
    let mut names: Vec<_> = entries.filter_map(Result::ok).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let Some(text) = name.to_str() else { continue };
        if RESERVED.contains(&text) || granted_tops.iter().any(|top| top == text) {
            continue;
        }
        let source = rootfs.join(&name);
        let target = root.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&source) else { continue };
        if meta.file_type().is_symlink() {
            let link = std::fs::read_link(&source).map_err(|e| err(format!("reading {}", source.display()), e))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| err(format!("linking {}", target.display()), e))?;
        } else if meta.is_dir() {
            make_dir(&target)?;
            bind(&source, &target, writable, true)?;
        } else if meta.is_file() {
            std::fs::File::create(&target).map_err(|e| err(format!("creating {}", target.display()), e))?;
            bind(&source, &target, writable, false)?;
        }
    }
    Ok(())
}

fn mount_grants(spec: &JailSpec, root: &Path) -> Result<(), String> {
    let mut mounts: Vec<_> = spec.mounts.iter().collect();
    mounts.sort_by(|a, b| a.guest_path.cmp(&b.guest_path));
    let mut mounted: Vec<&str> = Vec::new();
    for m in mounts {
        let relative = relative_guest_path(&m.guest_path)?;
        let target = root.join(&relative);
        let inside_grant = mounted.iter().any(|outer| m.guest_path.starts_with(&format!("{}/", outer.trim_end_matches('/'))));
        if inside_grant {
            // The mount point would live in a host directory: it must already be there.
            let meta =
                std::fs::symlink_metadata(&target).map_err(|e| err(format!("mount point {} inside another grant", m.guest_path), e))?;
            if !meta.is_dir() {
                return Err(format!("mount point {} inside another grant is not a directory", m.guest_path));
            }
        } else {
            std::fs::create_dir_all(&target).map_err(|e| err(format!("creating mount point {}", m.guest_path), e))?;
        }
        // Open without following a symlink, then mount through the descriptor.
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY)
            .open(&m.host_path)
            .map_err(|e| err(format!("granted directory {} (for {})", m.host_path.display(), m.guest_path), e))?;
        let via = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        bind(&via, &target, m.writable, true)?;
        mounted.push(&m.guest_path);
    }
    Ok(())
}

/// `guest_path` without its leading `/`; refuses `..` and relative paths.
fn relative_guest_path(guest_path: &str) -> Result<PathBuf, String> {
    let path = Path::new(guest_path);
    if !path.is_absolute() {
        return Err(format!("guest path {guest_path} is not absolute"));
    }
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => relative.push(name),
            _ => return Err(format!("guest path {guest_path} climbs with '..'")),
        }
    }
    Ok(relative)
}

/// Bind `source` onto `target`, then remount it with `nosuid`,`nodev` and read-only unless
/// `writable`, keeping the flags the kernel locked on the source mount.
fn bind(source: &Path, target: &Path, writable: bool, recursive: bool) -> Result<(), String> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(source), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| err(format!("mounting {} at {}", source.display(), target.display()), e))?;
    let locked = statvfs(target).map(|s| s.flags()).unwrap_or(FsFlags::empty());
    let mut remount = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    for (fs, ms) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if locked.contains(fs) {
            remount |= ms;
        }
    }
    if !writable {
        remount |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, target, None::<&str>, remount, None::<&str>)
        .map_err(|e| err(format!("remounting {} read-only/nosuid", target.display()), e))
}

fn mount_dev(root: &Path) -> Result<(), String> {
    let dev = root.join("dev");
    make_dir(&dev)?;
    mount(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("mode=0755,size=64k"))
        .map_err(|e| err("mounting /dev", e))?;
    for name in DEVICES {
        let source = Path::new("/dev").join(name);
        if !source.exists() {
            continue;
        }
        let target = dev.join(name);
        std::fs::File::create(&target).map_err(|e| err(format!("creating /dev/{name}"), e))?;
        mount(Some(&source), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| err(format!("binding /dev/{name}"), e))?;
    }
    for (name, to) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")]
    {
        std::os::unix::fs::symlink(to, dev.join(name)).map_err(|e| err(format!("linking /dev/{name}"), e))?;
    }
    let shm = dev.join("shm");
    make_dir(&shm)?;
    mount(Some("tmpfs"), &shm, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=1777,size=64m"))
        .map_err(|e| err("mounting /dev/shm", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_are_absolute_and_never_climb() {
        assert_eq!(relative_guest_path("/layers/a/b").unwrap(), PathBuf::from("layers/a/b"));
        assert!(relative_guest_path("layers").is_err());
        assert!(relative_guest_path("/layers/../etc").is_err());
        assert_eq!(top_component("/workspace/x"), Some("workspace".into()));
    }
}

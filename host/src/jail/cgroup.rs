//! A pids cgroup per jail, where this machine lets kiln make one: the kernel then refuses a
//! fork past the jail's process limit, so a fork bomb cannot exhaust the host's processes
//! between two samples of the host's watch.
//!
//! `RLIMIT_NPROC` does this for an unprivileged kiln, but the kernel does not enforce it for
//! processes of the host's root user, and a jail's user maps to the user running kiln. So
//! when kiln can write a pids cgroup (root, or a delegated cgroup) each jail gets one:
//! cgroup v1's `pids` hierarchy under kiln's own cgroup, or cgroup v2 when kiln runs in
//! the root cgroup with `pids` enabled for its children. The outer helper stage moves
//! itself into it before it starts anything; everything in the jail inherits it. Where
//! neither is writable, the rlimit and the host's watch are what stop a fork bomb.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A jail's pids cgroup; removed when dropped (after the jail's processes are gone).
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
}

/// The directory under which kiln may make a pids cgroup, if there is one.
fn pids_parent() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v1: "N:pids:/path" (the pids controller may share a line with others).
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == "pids") {
            let mount = Path::new("/sys/fs/cgroup").join(controllers);
            let dir = mount.join(path.trim_start_matches('/'));
            return dir.is_dir().then_some(dir);
        }
    }
    // cgroup v2, kiln in the root cgroup with pids enabled for children.
    let root = Path::new("/sys/fs/cgroup");
    let in_root = own.lines().any(|l| l == "0::/");
    let pids_enabled =
        std::fs::read_to_string(root.join("cgroup.subtree_control")).is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"));
    (in_root && pids_enabled).then(|| root.to_path_buf())
}

impl PidsCgroup {
    /// A new cgroup allowing `max` processes, or `None` when this machine does not let
    /// kiln make one.
    pub fn create(max: u64) -> Option<PidsCgroup> {
        let parent = pids_parent()?;
        let dir = parent.join(format!("kiln-jail-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&dir).ok()?;
        let cgroup = PidsCgroup { dir };
        std::fs::write(cgroup.dir.join("pids.max"), max.to_string()).ok()?;
        Some(cgroup)
    }

    /// The file a process writes its pid to, to join.
    pub fn procs(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // The last processes of a killed jail may take a moment to be released.
        for _ in 0..100 {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        tracing::warn!(cgroup = %self.dir.display(), "could not remove a jail's pids cgroup");
    }
}

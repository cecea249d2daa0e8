//! The build's native-step capability: turn the platform's exec settings into the
//! [`ExecGrant`] the build phase hands each buildpack call, report every step as an
//! [`Event::Executed`], and keep the records for the image's build metadata.
//!
//! The build rootfs (the jail's `/`) is, by default, the build's run image unpacked (the
//! same Debian packages the app will run on, so a native addon built against it links
//! against the libraries the image has), cached under `<kiln cache>/build-rootfs/<digest>`
//! and made only when a buildpack first calls `exec`. A build image (`--build-image`,
//! `[exec] build-image`, a builder's `[build] image`) is unpacked the same way instead, and
//! `--build-rootfs DIR` names a directory. Toolchains themselves (node, a JDK, Go) are layers the buildpacks
//! fetch; the rootfs holds what they need at run time (libc, a shell, CA certificates).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::events::{Event, Reporter};
use crate::image::{Image, ImageStore, unpack_image};
use crate::sandbox::{BuildRootfs, ExecGrant, ExecPolicy, ExecRecord};

/// What the jail's `/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildRootfsSetting {
    /// The build's run image, unpacked (the default).
    RunImage,
    /// A directory on this machine.
    Dir(PathBuf),
    /// An image in the build's store (pulled there first when it is a registry reference),
    /// unpacked once per digest like the run image.
    Image(crate::image::ImageRef),
}

/// The platform's settings for native steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSettings {
    /// Which buildpacks may run native steps.
    pub policy: ExecPolicy,
    /// The jail's root filesystem.
    pub build_rootfs: BuildRootfsSetting,
    /// The `kiln` binary holding the jail's helper stages; `None`: this process's own.
    pub helper: Option<PathBuf>,
    /// kiln's cache root: run images are unpacked under `build-rootfs/` there.
    pub cache_root: PathBuf,
    /// The image store a [`BuildRootfsSetting::Image`] is read from.
    pub store_dir: PathBuf,
}

impl ExecSettings {
    /// Native steps allowed to every buildpack, on the run image, caching under `cache_root`.
    pub fn new(cache_root: PathBuf, store_dir: PathBuf) -> Self {
        ExecSettings { policy: ExecPolicy::default(), build_rootfs: BuildRootfsSetting::RunImage, helper: None, cache_root, store_dir }
    }
}

/// The steps of one build, in order.
pub type ExecRecords = Arc<Mutex<Vec<ExecRecord>>>;

/// Where a run image is unpacked as a build rootfs.
fn rootfs_dir(cache_root: &Path, image: &Image) -> PathBuf {
    cache_root.join("build-rootfs").join(image.manifest_descriptor.digest.hex())
}

/// Unpack `image` into its cache dir once (atomically: into a temporary dir, then renamed).
fn unpack_run_image(store: &ImageStore, image: &Image, cache_root: &Path) -> Result<PathBuf, String> {
    let dir = rootfs_dir(cache_root, image);
    if dir.is_dir() {
        return Ok(dir);
    }
    let parent = dir.parent().ok_or("no parent for the build rootfs")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let temp = tempfile::Builder::new().prefix(".unpack-").tempdir_in(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let rootfs = temp.path().join("rootfs");
    unpack_image(store, image, &rootfs).map_err(|e| format!("unpacking the run image as the build rootfs: {e}"))?;
    match std::fs::rename(&rootfs, &dir) {
        Ok(()) => Ok(dir),
        // Another build unpacked the same image first: use that one.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// The grant for one build, and where its records go.
pub fn exec_grant(
    settings: &ExecSettings,
    run_image: (&ImageStore, &Image),
    work_dir: &Path,
    reporter: &Reporter,
) -> (Arc<ExecGrant>, ExecRecords) {
    let rootfs = match &settings.build_rootfs {
        BuildRootfsSetting::Dir(dir) => {
            let dir = dir.clone();
            BuildRootfs::lazy(move || {
                if dir.join("bin").exists() || dir.join("usr").is_dir() {
                    Ok(dir.clone())
                } else {
                    Err(format!("--build-rootfs {} is not a root filesystem (no bin/ or usr/)", dir.display()))
                }
            })
        }
        BuildRootfsSetting::Image(reference) => {
            let (reference, store_dir, cache_root) = (reference.clone(), settings.store_dir.clone(), settings.cache_root.clone());
            BuildRootfs::lazy(move || {
                let (store, tag) = crate::image::open_ref(&reference, &store_dir).map_err(|e| format!("build image {reference}: {e}"))?;
                let image = store.read_image(&tag).map_err(|e| format!("build image {reference}: {e}"))?;
                unpack_run_image(&store, &image, &cache_root)
            })
        }
        BuildRootfsSetting::RunImage => {
            let (store, image) = (run_image.0.clone(), run_image.1.clone());
            let cache_root = settings.cache_root.clone();
            BuildRootfs::lazy(move || unpack_run_image(&store, &image, &cache_root))
        }
    };
    let records: ExecRecords = Arc::default();
    let observer = {
        let records = records.clone();
        let reporter = reporter.clone();
        Arc::new(move |record: &ExecRecord| {
            reporter(&Event::Executed { record: record.clone() });
            records.lock().unwrap_or_else(|e| e.into_inner()).push(record.clone());
        })
    };
    // /proc/self/exe, not the binary's path: it still runs this very kiln when the file was
    // replaced or removed during the build (an upgrade, a rebuild).
    let helper = settings.helper.clone().unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let grant =
        ExecGrant { helper, rootfs: Arc::new(rootfs), control_dir: work_dir.to_path_buf(), policy: settings.policy.clone(), observer };
    (Arc::new(grant), records)
}

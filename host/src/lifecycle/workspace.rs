//! The build's working directories on the host: a private copy of the app, the layers
//! dir, the platform dir and per-buildpack scratch dirs, all inside one temp dir that is
//! removed when the build ends.
//!
//! The app is copied (never built in place) so a buildpack can write to `/workspace`
//! without touching the user's source. Symlinks are copied as symlinks, never followed.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::LifecycleError;
use crate::buildpack::BuildpackId;
use crate::buildpack::project::FileFilter;

/// Guest path of the app dir (and its path in the image).
pub const APP_GUEST_PATH: &str = kiln_cnb::layer::APP_DIR;
/// Guest path of the layers root (and its path in the image).
pub const LAYERS_GUEST_PATH: &str = kiln_cnb::layer::LAYERS_DIR;
/// Guest path of the platform dir.
pub const PLATFORM_GUEST_PATH: &str = "/platform";

/// The directories of one build.
pub struct Workspace {
    root: TempDir,
}

impl Workspace {
    /// Make the directories under `parent` and copy the app from `source`.
    pub fn create(parent: &Path, source: &Path, filter: &FileFilter, platform_env: &[(String, String)]) -> Result<Self, LifecycleError> {
        fs::create_dir_all(parent).map_err(|e| LifecycleError::io("create the work dir", parent, e))?;
        let root = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(parent)
            .map_err(|e| LifecycleError::io("create the work dir", parent, e))?;
        crate::sandbox::remove_on_emergency_exit(root.path());
        let ws = Workspace { root };
        for dir in [ws.app(), ws.layers(), ws.platform().join("env"), ws.root.path().join("tmp")] {
            fs::create_dir_all(&dir).map_err(|e| LifecycleError::io("create", &dir, e))?;
        }
        copy_tree(source, &ws.app(), filter)?;
        for (name, value) in platform_env {
            let file = ws.platform().join("env").join(name);
            fs::write(&file, value).map_err(|e| LifecycleError::io("write the platform env file", &file, e))?;
        }
        Ok(ws)
    }

    /// The root of the build's directories.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The app copy.
    pub fn app(&self) -> PathBuf {
        self.root.path().join("app")
    }

    /// The layers root.
    pub fn layers(&self) -> PathBuf {
        self.root.path().join("layers")
    }

    /// One buildpack's layers dir (created on first use).
    pub fn buildpack_layers(&self, id: &BuildpackId) -> Result<PathBuf, LifecycleError> {
        let dir = self.layers().join(id.escaped());
        fs::create_dir_all(&dir).map_err(|e| LifecycleError::io("create the layers dir", &dir, e))?;
        Ok(dir)
    }

    /// The platform dir.
    pub fn platform(&self) -> PathBuf {
        self.root.path().join("platform")
    }

    /// A fresh, empty scratch dir for one buildpack call (its `/tmp`).
    pub fn scratch(&self, id: &BuildpackId, phase: &str) -> Result<PathBuf, LifecycleError> {
        let dir = self.root.path().join("tmp").join(format!("{}-{phase}", id.escaped()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| LifecycleError::io("clear the scratch dir", &dir, e))?;
        }
        fs::create_dir_all(&dir).map_err(|e| LifecycleError::io("create the scratch dir", &dir, e))?;
        Ok(dir)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        crate::sandbox::forget_on_emergency_exit(self.root.path());
    }
}

/// Copy a directory tree: files, dirs and symlinks (as symlinks); other file types are skipped.
fn copy_tree(source: &Path, dest: &Path, filter: &FileFilter) -> Result<(), LifecycleError> {
    let walker = walkdir::WalkDir::new(source).follow_links(false).sort_by_file_name().min_depth(1);
    let entries = walker.into_iter().filter_entry(|e| {
        let relative = e.path().strip_prefix(source).unwrap_or(e.path());
        filter.keeps(relative, e.file_type().is_dir())
    });
    for entry in entries {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(source).to_path_buf();
            LifecycleError::io("read the app dir", &path, e.into())
        })?;
        let relative = entry.path().strip_prefix(source).expect("walkdir stays under its root");
        let target = dest.join(relative);
        let file_type = entry.file_type();
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| LifecycleError::io("create", parent, e))?;
        }
        if file_type.is_dir() {
            if !filter.copies_every_dir() {
                continue; // with `include`, a directory exists only if a kept file is in it
            }
            fs::create_dir_all(&target).map_err(|e| LifecycleError::io("create", &target, e))?;
        } else if file_type.is_symlink() {
            let link = fs::read_link(entry.path()).map_err(|e| LifecycleError::io("read the symlink", entry.path(), e))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| LifecycleError::io("copy the symlink", &target, e))?;
        } else if file_type.is_file() {
            fs::copy(entry.path(), &target).map_err(|e| LifecycleError::io("copy the app file", entry.path(), e))?;
        } else {
            tracing::warn!(path = %entry.path().display(), "skipping a special file in the app dir");
        }
    }
    Ok(())
}

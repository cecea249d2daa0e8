//! Unpacking a whole image into a root filesystem: each layer in order (with the checks of
//! [`extract_layer`]), whiteouts applied as the OCI spec says, and never outside the root.
//!
//! A whiteout `.wh.NAME` removes `NAME` beside it (from a lower layer) and itself. `NAME`
//! must be one plain path component: `.wh..`, `.wh..wh.x` style tricks, empty names and
//! names with `/` are refused, so an image cannot make the unpacker delete a parent or a
//! sibling tree. Opaque whiteouts (`.wh..wh..opq`) clear the directory's entries that came
//! from lower layers; the layer's own entries are kept (kiln reads the layer's entry list).

use std::path::{Path, PathBuf};

use super::extract::extract_layer;
use super::{ImageError, ImageStore, store::Image};

const OPAQUE: &str = ".wh..wh..opq";

fn whiteout_error(root: &Path, reason: String) -> ImageError {
    ImageError::CannotExtract { archive: root.to_path_buf(), dest: root.to_path_buf(), source: std::io::Error::other(reason) }
}

/// Unpack every layer of `image` from `store` into `dest` (created if needed).
pub fn unpack_image(store: &ImageStore, image: &Image, dest: &Path) -> Result<(), ImageError> {
    for layer in &image.manifest.layers {
        let blob = store.blob_path(&layer.digest);
        let before = list_tree(dest);
        extract_layer(&blob, dest)?;
        apply_whiteouts(dest, &before).map_err(|reason| whiteout_error(dest, format!("layer {}: {reason}", layer.digest)))?;
    }
    Ok(())
}

/// Every path under `root` (relative), not following symlinks.
fn list_tree(root: &Path) -> std::collections::HashSet<PathBuf> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.path().strip_prefix(root).ok().map(Path::to_path_buf))
        .collect()
}

/// Apply the whiteouts the last layer left in `root`; `lower` lists what existed before it.
pub fn apply_whiteouts(root: &Path, lower: &std::collections::HashSet<PathBuf>) -> Result<(), String> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".wh.") {
            found.push((entry.path().to_path_buf(), name));
        }
    }
    for (marker, name) in found {
        let parent = marker.parent().ok_or("a whiteout at the root")?.to_path_buf();
        if name == OPAQUE {
            let entries = std::fs::read_dir(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                let relative = path.strip_prefix(root).map_err(|e| e.to_string())?;
                if path != marker && lower.contains(relative) {
                    remove(&path)?;
                }
            }
        } else {
            let target = &name[".wh.".len()..];
            if target.is_empty() || target == "." || target == ".." || target.contains('/') || target.starts_with(".wh.") {
                return Err(format!("whiteout {} names no sibling entry", marker.display()));
            }
            remove(&parent.join(target))?;
        }
        remove(&marker)?;
    }
    Ok(())
}

/// Remove a file, symlink (never followed) or directory tree, if it exists.
fn remove(path: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
    .map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_remove_siblings_only_and_refuse_parent_tricks() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc/app")).unwrap();
        std::fs::write(r.join("etc/app/old"), "x").unwrap();
        std::fs::write(r.join("etc/keep"), "x").unwrap();
        let lower = list_tree(r);
        std::fs::write(r.join("etc/app/.wh.old"), "").unwrap();
        apply_whiteouts(r, &lower).unwrap();
        assert!(!r.join("etc/app/old").exists());
        assert!(!r.join("etc/app/.wh.old").exists());
        assert!(r.join("etc/keep").exists());

        std::fs::write(r.join("etc/app/.wh.."), "").unwrap();
        assert!(apply_whiteouts(r, &lower).unwrap_err().contains("names no sibling"));
        assert!(r.join("etc/app").is_dir(), "the parent of a .wh.. whiteout is kept");
    }

    #[test]
    fn an_opaque_whiteout_clears_lower_entries_and_keeps_the_layers_own() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("d")).unwrap();
        std::fs::write(r.join("d/lower"), "x").unwrap();
        let lower = list_tree(r);
        std::fs::write(r.join("d/upper"), "x").unwrap();
        std::fs::write(r.join("d").join(OPAQUE), "").unwrap();
        apply_whiteouts(r, &lower).unwrap();
        assert!(!r.join("d/lower").exists());
        assert!(r.join("d/upper").exists());
        assert!(!r.join("d").join(OPAQUE).exists());
    }
}

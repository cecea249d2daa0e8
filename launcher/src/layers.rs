//! Finding the launch layers and the files in their directories, in the lifecycle's order.
//!
//! Buildpacks come in `[[buildpacks]]` (group) order; a buildpack's layers are the directories
//! in `<layers>/<escaped id>/`, sorted by name (`eachBuildpack`/`eachLayer` in the lifecycle's
//! `launch/launcher.go`). Listing problems are warnings: a launcher that refuses to start over
//! an odd directory entry helps nobody.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use kiln_cnb::GroupBuildpack;

use crate::warn;

/// The launch layers of one buildpack, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildpackLayers {
    /// The buildpack's id.
    pub id: String,
    /// Absolute paths of its layer directories.
    pub layers: Vec<PathBuf>,
}

/// The layer directories of each buildpack under `layers_dir`, in group order. Buildpacks
/// without a directory are left out. Only real directories are layers (as `DirEntry.IsDir`
/// in the lifecycle: a symlink is not a layer); `<layer>.toml` files are skipped by that rule.
pub fn launch_layers(layers_dir: &Path, buildpacks: &[GroupBuildpack]) -> Vec<BuildpackLayers> {
    buildpacks
        .iter()
        .filter_map(|bp| {
            let dir = layers_dir.join(bp.id.escaped());
            let entries = list_dir(&dir)?;
            let layers = entries.into_iter().filter(|(_, file_type)| file_type.is_dir()).map(|(name, _)| dir.join(name)).collect();
            Some(BuildpackLayers { id: bp.id.to_string(), layers })
        })
        .collect()
}

/// The entries of `dir` with their (not followed) file types, sorted by name. `None` when the
/// directory does not exist or cannot be read (the latter with a warning).
pub fn list_dir(dir: &Path) -> Option<Vec<(OsString, fs::FileType)>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            warn(format_args!("cannot list {}: {e}", dir.display()));
            return None;
        }
    };
    let mut entries = Vec::new();
    for entry in read {
        match entry.and_then(|e| Ok((e.file_name(), e.file_type()?))) {
            Ok(entry) => entries.push(entry),
            Err(e) => warn(format_args!("cannot list an entry of {}: {e}", dir.display())),
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bp(id: &str) -> GroupBuildpack {
        GroupBuildpack { id: kiln_cnb::BuildpackId::parse(id).unwrap(), version: "1".into(), api: "0.10".into() }
    }

    #[test]
    fn lists_layer_dirs_in_group_then_name_order() {
        let root = tempfile::tempdir().unwrap();
        let layers = root.path();
        for dir in ["b_second/zeta", "b_second/alpha", "a_first/mid", "a_first/mid/bin"] {
            fs::create_dir_all(layers.join(dir)).unwrap();
        }
        fs::write(layers.join("a_first/mid.toml"), "[types]\nlaunch = true\n").unwrap();
        std::os::unix::fs::symlink(layers.join("a_first/mid"), layers.join("a_first/link")).unwrap();

        let found = launch_layers(layers, &[bp("b/second"), bp("missing"), bp("a/first")]);
        assert_eq!(
            found,
            vec![
                BuildpackLayers { id: "b/second".into(), layers: vec![layers.join("b_second/alpha"), layers.join("b_second/zeta")] },
                BuildpackLayers { id: "a/first".into(), layers: vec![layers.join("a_first/mid")] },
            ]
        );
    }
}

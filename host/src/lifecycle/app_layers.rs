//! The app's layers: `/workspace` split so that unchanged files stay in unchanged layers
//! where it pays.
//!
//! Most apps are one layer. A file of at least [`SEPARATE_FILE_BYTES`] (a model, a video, a
//! bundled database) gets a layer of its own — up to [`MAX_SEPARATE_FILES`] of them, the
//! largest first — so that a code change rewrites, pushes and pulls only the small layer and
//! an unchanged big file keeps its blob and digest. Every layer is listed in the lifecycle
//! metadata's `app` array, main layer first; the directories stay in the main layer so the
//! big files' layers hold just the file (and its parent directories, identical entries).

use std::path::Path;

use crate::image::{ImageError, LayerBuilder, Owner};

/// Files this large (32 MiB) or larger get their own layer.
pub const SEPARATE_FILE_BYTES: u64 = 32 << 20;

/// At most this many files get their own layer (the largest; ties by path).
pub const MAX_SEPARATE_FILES: usize = 8;

/// One app layer and the name shown in progress and the image history.
pub struct AppLayer {
    /// `app`, or `app:<path inside the app>` for a separated file.
    pub name: String,
    /// Its content.
    pub builder: LayerBuilder,
}

/// The layers for `app_dir` placed at `guest_path` (owned by the CNB user).
pub fn app_layers(app_dir: &Path, guest_path: &str) -> Result<Vec<AppLayer>, ImageError> {
    let mut main = LayerBuilder::new();
    main.add_tree(app_dir, guest_path, Owner::CNB_USER)?;
    let mut big: Vec<(u64, String, std::path::PathBuf)> = Vec::new();
    for (image_path, host_path) in main.host_files() {
        let size = std::fs::symlink_metadata(host_path)
            .map_err(|source| ImageError::CannotReadSource { path: host_path.to_path_buf(), source })?
            .len();
        if size >= SEPARATE_FILE_BYTES {
            big.push((size, image_path.as_str().to_string(), host_path.to_path_buf()));
        }
    }
    big.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    big.truncate(MAX_SEPARATE_FILES);
    // A stable order that does not depend on sizes: by path.
    big.sort_by(|a, b| a.1.cmp(&b.1));

    let mut layers = Vec::with_capacity(big.len() + 1);
    let mut separate = Vec::with_capacity(big.len());
    for (_, image_path, host_path) in big {
        let mut builder = LayerBuilder::new();
        builder.add_file(&host_path, &image_path, Owner::CNB_USER)?;
        let parsed = crate::image::ImagePath::parse(&image_path)?;
        main.remove(&parsed);
        let inside = image_path.strip_prefix(guest_path).unwrap_or(&image_path).trim_start_matches('/');
        separate.push(AppLayer { name: format!("app:{inside}"), builder });
    }
    layers.push(AppLayer { name: "app".into(), builder: main });
    layers.extend(separate);
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(layer: &AppLayer) -> Vec<String> {
        layer.builder.paths().map(|p| p.as_str().to_string()).collect()
    }

    #[test]
    fn big_files_get_their_own_layers_and_small_ones_stay_together() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("server.js"), "x").unwrap();
        let big = std::fs::File::create(dir.path().join("data/model.bin")).unwrap();
        big.set_len(SEPARATE_FILE_BYTES).unwrap();
        let small = std::fs::File::create(dir.path().join("data/small.bin")).unwrap();
        small.set_len(SEPARATE_FILE_BYTES - 1).unwrap();

        let layers = app_layers(dir.path(), "/workspace").unwrap();
        assert_eq!(layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["app", "app:data/model.bin"]);
        assert_eq!(paths(&layers[0]), ["/workspace", "/workspace/data", "/workspace/data/small.bin", "/workspace/server.js"]);
        assert_eq!(paths(&layers[1]), ["/workspace", "/workspace/data", "/workspace/data/model.bin"]);
    }

    #[test]
    fn only_the_largest_files_are_separated() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..MAX_SEPARATE_FILES + 2 {
            let file = std::fs::File::create(dir.path().join(format!("f{n:02}"))).unwrap();
            file.set_len(SEPARATE_FILE_BYTES + n as u64).unwrap();
        }
        let layers = app_layers(dir.path(), "/workspace").unwrap();
        assert_eq!(layers.len(), MAX_SEPARATE_FILES + 1);
        // f00 and f01 are the two smallest: they stay in the main layer.
        assert!(paths(&layers[0]).contains(&"/workspace/f00".to_string()));
        assert!(paths(&layers[0]).contains(&"/workspace/f01".to_string()));
        assert_eq!(layers[1].name, "app:f02");
    }
}

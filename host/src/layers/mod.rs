//! Layers: what a buildpack's build says about its layers, checked.
//!
//! The host never trusts a name or path a buildpack returns: [`LayerName`] (from the shared
//! `kiln-cnb` crate, with [`LayerTypes`]) enforces the spec's rules plus the ones that keep
//! names usable as a single path component, and [`check_layer_dir`] makes sure a layer is a
//! real directory inside the buildpack's own layers dir, not a symlink to somewhere else.

pub mod env;

use std::path::{Path, PathBuf};

pub use kiln_cnb::{LayerName, LayerTypes};

/// A layer a buildpack kept, checked.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The name.
    pub name: LayerName,
    /// Its types.
    pub types: LayerTypes,
    /// Its metadata.
    pub metadata: toml::Table,
    /// The host directory holding its contents.
    pub dir: PathBuf,
    /// Set when the buildpack kept a `launch` layer of the previous image without
    /// rebuilding it (no directory): its diffID and blob there.
    pub from_previous_image: Option<(crate::image::Digest, crate::image::Descriptor)>,
}

/// Largest metadata document accepted from a buildpack for one layer.
pub const MAX_LAYER_METADATA: usize = 1 << 20;

/// Parse a layer's metadata TOML (empty text = empty table), bounded in size.
pub fn parse_metadata(text: &str) -> Result<toml::Table, String> {
    if text.len() > MAX_LAYER_METADATA {
        return Err(format!("metadata is {} bytes; the limit is {} bytes", text.len(), MAX_LAYER_METADATA));
    }
    if text.trim().is_empty() {
        return Ok(toml::Table::new());
    }
    // The parser's Display quotes the offending line: show only its message and position,
    // so a buildpack cannot make kiln print its metadata back.
    toml::from_str::<toml::Table>(text).map_err(|e| {
        let at = e.span().map(|s| format!(" (at byte {})", s.start)).unwrap_or_default();
        format!("metadata is not a TOML table: {}{at}", crate::sandbox::text::guest_text(e.message(), 512))
    })
}

/// Check that `layers_dir/name` is a real directory (not a symlink, not a file).
pub fn check_layer_dir(layers_dir: &Path, name: &LayerName) -> Result<PathBuf, String> {
    let dir = layers_dir.join(name.as_str());
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(format!("layer {name} is a symlink; a layer must be a directory inside the layers dir"))
        }
        Ok(meta) if meta.is_dir() => Ok(dir),
        Ok(_) => Err(format!("layer {name} is not a directory")),
        Err(_) => Err(format!("layer {name} was declared but its directory does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_a_bounded_toml_table() {
        assert_eq!(parse_metadata("").unwrap().len(), 0);
        assert_eq!(parse_metadata("version = \"1\"").unwrap()["version"].as_str(), Some("1"));
        assert!(parse_metadata("not toml =").is_err());
        assert!(parse_metadata(&"a".repeat(MAX_LAYER_METADATA + 1)).is_err());
    }

    #[test]
    fn layer_dirs_must_be_real_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let name = LayerName::parse("l").unwrap();
        assert!(check_layer_dir(tmp.path(), &name).unwrap_err().contains("does not exist"));
        std::os::unix::fs::symlink("/", tmp.path().join("l")).unwrap();
        assert!(check_layer_dir(tmp.path(), &name).unwrap_err().contains("symlink"));
        std::fs::remove_file(tmp.path().join("l")).unwrap();
        std::fs::create_dir(tmp.path().join("l")).unwrap();
        assert!(check_layer_dir(tmp.path(), &name).is_ok());
    }
}

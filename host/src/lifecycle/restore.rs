//! Restore: put cached layer contents back into each buildpack's layers dir before build.
//!
//! A cached blob is extracted into a private staging dir first and only the layer's own
//! subtree is moved into place, so a damaged or tampered cache blob can never write
//! anywhere but that one layer directory. A blob that fails to extract is skipped with a
//! warning: the buildpack then simply rebuilds the layer.

use std::path::Path;

use super::LifecycleError;
use super::analyze::{Analysis, PreviousContents};
use super::cache::Cache;
use super::detect::GroupMember;
use super::workspace::Workspace;

/// Restore the cached layers of the group's buildpacks; returns the names restored per buildpack.
pub fn restore(group: &[GroupMember], analysis: &mut Analysis, cache: &Cache, workspace: &Workspace) -> Result<usize, LifecycleError> {
    let mut restored = 0;
    for member in group {
        let id = member.buildpack.id();
        let Some(layers) = analysis.layers.get_mut(id.as_str()) else { continue };
        let layers_dir = workspace.buildpack_layers(id)?;
        let mut failed: Vec<String> = Vec::new();
        for (name, layer) in layers.iter() {
            let PreviousContents::Cache(cached) = &layer.contents else { continue };
            let staging = workspace.scratch(id, &format!("restore-{name}"))?;
            let blob = cache.store().blob_path(&cached.digest);
            match extract_one(&blob, &staging, &format!("layers/{}/{name}", id.escaped()), &layers_dir.join(name)) {
                Ok(()) => restored += 1,
                Err(error) => {
                    tracing::warn!(buildpack = %id, layer = %name, %error, "cannot restore a cached layer; it will be rebuilt");
                    failed.push(name.clone());
                }
            }
            let _ = std::fs::remove_dir_all(&staging);
        }
        for name in failed {
            layers.remove(&name);
        }
    }
    Ok(restored)
}

fn extract_one(blob: &Path, staging: &Path, subtree: &str, target: &Path) -> Result<(), String> {
    crate::image::extract_layer(blob, staging).map_err(|e| e.to_string())?;
    let source = staging.join(subtree);
    let meta = std::fs::symlink_metadata(&source).map_err(|e| format!("the blob has no {subtree}: {e}"))?;
    if !meta.is_dir() {
        return Err(format!("{subtree} in the blob is not a directory"));
    }
    if target.exists() {
        std::fs::remove_dir_all(target).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&source, target).map_err(|e| e.to_string())
}

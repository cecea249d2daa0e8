//! Analyze: what the previous build left that each buildpack may reuse
//! ([buildpack spec, Layer Types](https://github.com/buildpacks/spec/blob/main/buildpack.md#layer-types)).
//!
//! Sources are the previous image's `io.buildpacks.lifecycle.metadata` label and the
//! build cache. Following the spec's restore table: a `cache` layer's metadata and
//! contents come from the cache (for a `launch` + `cache` layer only when the previous
//! image has the same diffID, or has no record of it); a `launch`-only layer's metadata
//! comes from the previous image and its contents stay there (a buildpack may keep it by
//! returning it with `launch` and no directory); a `build`-only layer is never restored.

use std::collections::BTreeMap;

use super::cache::{Cache, CachedLayer};
use crate::image::labels::{LIFECYCLE_METADATA_LABEL, LayersMetadata};
use crate::image::{Descriptor, Digest, Image};
use crate::layers::LayerTypes;

/// Where a previous layer's contents are.
#[derive(Debug, Clone)]
pub enum PreviousContents {
    /// In the build cache; restored before build.
    Cache(CachedLayer),
    /// Only in the previous image (a `launch`-only layer).
    Image {
        /// Its diffID.
        diff_id: Digest,
        /// Its blob in the previous image.
        descriptor: Descriptor,
    },
}

/// A layer from the previous build.
#[derive(Debug, Clone)]
pub struct PreviousLayer {
    /// Its metadata.
    pub metadata: toml::Table,
    /// Its types last time.
    pub types: LayerTypes,
    /// Where its contents are.
    pub contents: PreviousContents,
}

/// Previous layers: buildpack id -> layer name -> layer.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// The layers.
    pub layers: BTreeMap<String, BTreeMap<String, PreviousLayer>>,
    /// The previous image's app layer diffID(s), for reuse.
    pub app_diff_ids: Vec<Digest>,
    /// Blobs of the previous image by diffID, for reuse at export.
    pub image_blobs: BTreeMap<Digest, Descriptor>,
}

impl Analysis {
    /// The previous layers of one buildpack.
    pub fn for_buildpack(&self, id: &str) -> Option<&BTreeMap<String, PreviousLayer>> {
        self.layers.get(id)
    }
}

fn json_to_table(value: &serde_json::Value) -> toml::Table {
    toml::Value::try_from(value).ok().and_then(|v| v.as_table().cloned()).unwrap_or_default()
}

/// Analyze the previous image (if any) and the cache.
pub fn analyze(previous: Option<&Image>, cache: Option<&Cache>) -> Analysis {
    let mut analysis = Analysis::default();
    let metadata: Option<LayersMetadata> = previous
        .and_then(|image| image.label(LIFECYCLE_METADATA_LABEL))
        .and_then(|text| serde_json::from_str(text).ok());
    if let Some(image) = previous {
        for (descriptor, diff_id) in image.manifest.layers.iter().zip(&image.config.rootfs.diff_ids) {
            analysis.image_blobs.insert(diff_id.clone(), descriptor.clone());
        }
    }
    let mut image_layers: BTreeMap<(String, String), (Digest, toml::Table, LayerTypes)> = BTreeMap::new();
    if let Some(metadata) = &metadata {
        analysis.app_diff_ids = metadata.app.iter().filter_map(|a| Digest::parse(&a.sha).ok()).collect();
        for buildpack in &metadata.buildpacks {
            for (name, layer) in &buildpack.layers {
                let Ok(diff_id) = Digest::parse(&layer.sha) else { continue };
                let types = LayerTypes { launch: layer.launch, build: layer.build, cache: layer.cache };
                image_layers.insert((buildpack.id.clone(), name.clone()), (diff_id, json_to_table(&layer.data), types));
            }
        }
    }
    if let Some(cache) = cache {
        for (id, layers) in &cache.index.buildpacks {
            for (name, cached) in layers {
                if cache.layer(id, name).is_none() {
                    continue;
                }
                let image_sha = image_layers.get(&(id.clone(), name.clone())).map(|(diff_id, _, _)| diff_id);
                if cached.launch && image_sha.is_some_and(|sha| sha != &cached.diff_id) {
                    tracing::debug!(buildpack = %id, layer = %name, "cached layer differs from the previous image; not restoring");
                    continue;
                }
                analysis.layers.entry(id.clone()).or_default().insert(
                    name.clone(),
                    PreviousLayer {
                        metadata: cached.metadata.clone(),
                        types: cached.types(),
                        contents: PreviousContents::Cache(cached.clone()),
                    },
                );
            }
        }
    }
    for ((id, name), (diff_id, metadata, types)) in image_layers {
        let known = analysis.layers.get(&id).is_some_and(|l| l.contains_key(&name));
        if known || !types.launch || types.cache {
            continue;
        }
        let Some(descriptor) = analysis.image_blobs.get(&diff_id).cloned() else { continue };
        analysis.layers.entry(id).or_default().insert(
            name,
            PreviousLayer { metadata, types, contents: PreviousContents::Image { diff_id, descriptor } },
        );
    }
    analysis
}

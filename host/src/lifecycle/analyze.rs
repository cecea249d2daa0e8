//! Analyze: what the previous build left that each buildpack may reuse
//! ([buildpack spec, Layer Types](https://github.com/buildpacks/spec/blob/main/buildpack.md#layer-types)).
//!
//! Sources are the previous image's `io.buildpacks.lifecycle.metadata` label and the
//! build cache. Following the spec's restore table: a `cache` layer's metadata and
//! contents come from the cache (for a `launch` + `cache` layer only when the previous
//! image has the same diffID, or has no record of it); a `launch`-only layer's metadata
//! comes from the previous image and its contents stay there (a buildpack may keep it by
//! returning it with `launch` and no directory); a `build`-only layer is never restored.
//!
//! Each previous layer also gets the SBOM components that belonged to it: from the previous
//! image's SBOM document (its `io.kiln.layer` properties) and, for a cached layer, from the
//! cache index. A layer the buildpack keeps carries them into the new image ([`super::sbom`]).

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
    /// The SBOM components that belonged to it (without `io.kiln.layer` properties).
    pub sbom: Vec<serde_json::Value>,
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

/// Analyze the previous image (if any), its SBOM document (if it has one) and the cache.
pub fn analyze(previous: Option<&Image>, previous_sbom: Option<&[u8]>, cache: Option<&Cache>) -> Analysis {
    let mut analysis = Analysis::default();
    let image_sbom = previous_sbom.map(sbom_by_layer).unwrap_or_default();
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
                        sbom: union(&cached.sbom, image_sbom.get(&(id.clone(), name.clone()))),
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
        let sbom = union(&[], image_sbom.get(&(id.clone(), name.clone())));
        analysis.layers.entry(id).or_default().insert(
            name,
            PreviousLayer { metadata, types, contents: PreviousContents::Image { diff_id, descriptor }, sbom },
        );
    }
    analysis
}

/// The previous image's SBOM components by (buildpack, layer); an unreadable document is
/// a warning (kept layers then lose their SBOM entries), not an error.
fn sbom_by_layer(document: &[u8]) -> BTreeMap<(String, String), Vec<serde_json::Value>> {
    let components = match crate::fetch::sbom::parse_document(document) {
        Ok(components) => components,
        Err(error) => {
            tracing::warn!(%error, "ignoring the previous image's unreadable SBOM; layers kept from it lose their SBOM entries");
            return BTreeMap::new();
        }
    };
    let mut by_layer: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for component in components {
        for layer in &component.layers {
            by_layer.entry((component.buildpack.clone(), layer.clone())).or_default().push(component.value.clone());
        }
    }
    by_layer
}

/// `a` and `b` without duplicates (same canonical JSON), in order.
fn union(a: &[serde_json::Value], b: Option<&Vec<serde_json::Value>>) -> Vec<serde_json::Value> {
    let mut seen = std::collections::BTreeSet::new();
    a.iter()
        .chain(b.into_iter().flatten())
        .filter(|v| seen.insert(crate::fetch::sbom::component_key(v)))
        .cloned()
        .collect()
}

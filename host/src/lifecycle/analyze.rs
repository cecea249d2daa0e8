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
//!
//! [`Analyzer::analyze`] is the phase: it finds the previous image (the destination's tag in
//! its store, or with `--publish` the registry's manifest and config, plus the few blobs a
//! build may keep from it), reads its SBOM, and lists the blobs export may reuse.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::LifecycleError;
use super::cache::{Cache, CachedLayer};
use super::events::{Event, Reporter};
use super::layer_writer::KnownBlobs;
use crate::image::labels::{LIFECYCLE_METADATA_LABEL, LabelValue, LayersMetadata};
use crate::image::oci::MEDIA_TYPE_OCI_LAYER_GZIP;
use crate::image::registry::{RegistryClient, RegistryError};
use crate::image::{Descriptor, Digest, Image, ImageStore, RegistryRef};
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
    /// The native steps the previous image records (its `io.kiln.build.exec` label).
    pub native_steps: Vec<super::native_steps::NativeStep>,
}

impl Analysis {
    /// The previous layers of one buildpack.
    pub fn for_buildpack(&self, id: &str) -> Option<&BTreeMap<String, PreviousLayer>> {
        self.layers.get(id)
    }
}

/// Where the previous image is looked for.
#[derive(Debug, Clone, Default)]
pub enum PreviousImage {
    /// The destination's tag in the destination store.
    #[default]
    Local,
    /// A registry (`kiln build --publish`): its manifest and config are read, and only the
    /// blobs a build may keep from it (launch-only layers, the SBOM layer) are pulled.
    Registry {
        /// The client (shared with the rest of the build).
        client: Arc<RegistryClient>,
        /// The image to publish, whose current registry version is the previous image.
        reference: RegistryRef,
    },
}

/// The analyze phase: its inputs.
pub struct Analyzer<'a> {
    /// Where the previous image is.
    pub previous: &'a PreviousImage,
    /// The store the new image is written to.
    pub destination: &'a ImageStore,
    /// The new image's tag in it.
    pub tag: &'a str,
    /// The build cache.
    pub cache: &'a Cache,
    /// Progress events.
    pub reporter: &'a Reporter,
}

/// What analyze found: the previous layers and the blobs export may reuse.
#[derive(Debug, Default)]
pub struct Analyzed {
    /// The previous layers, by buildpack.
    pub analysis: Analysis,
    /// Blobs of the previous image (those in the store) and of the cache, by diffID.
    pub known: KnownBlobs,
}

impl Analyzer<'_> {
    /// Find the previous image, read its metadata and SBOM and the cache index.
    pub fn analyze(self) -> Result<Analyzed, LifecycleError> {
        let previous = match self.previous {
            PreviousImage::Local => match self.destination.resolve(self.tag)? {
                Some(descriptor) => self.destination.read_image_at(&descriptor).ok(),
                None => None,
            },
            PreviousImage::Registry { client, reference } => self.remote(client, reference)?,
        };
        // The previous image's SBOM says which components belong to the layers a buildpack
        // may keep; without it those layers lose their SBOM entries (a warning, not an error).
        let previous_sbom = previous.as_ref().and_then(|image| match super::sbom::read_image_sbom(self.destination, image) {
            Ok(document) => document,
            Err(error) => {
                tracing::warn!(%error, "cannot read the previous image's SBOM; layers kept from it lose their SBOM entries");
                None
            }
        });
        let analysis = analyze(previous.as_ref(), previous_sbom.as_deref(), Some(self.cache));
        let mut known = KnownBlobs::default();
        // A previous image read from a registry may have blobs the store lacks: only local
        // blobs can be reused.
        for (diff_id, descriptor) in analysis.image_blobs.iter().filter(|(_, d)| self.destination.has_blob(&d.digest)) {
            known.add(diff_id.clone(), descriptor.clone(), self.destination.blob_path(&descriptor.digest));
        }
        for layers in self.cache.index.buildpacks.values() {
            for layer in layers.values() {
                let descriptor = Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, layer.digest.clone(), layer.size);
                known.add(layer.diff_id.clone(), descriptor, self.cache.store().blob_path(&layer.digest));
            }
        }
        (self.reporter)(&Event::Analyzed { previous_image: previous.is_some(), layers: analysis.layers.values().map(|l| l.len()).sum() });
        Ok(Analyzed { analysis, known })
    }

    /// The registry's current image (`None` if it has none, or the store has the same one:
    /// then the local copy serves). Launch-only layers are kept from the previous image, not
    /// the cache: just those blobs are pulled, with its (small) SBOM layer, whose entries
    /// carry over for kept layers.
    fn remote(&self, client: &RegistryClient, reference: &RegistryRef) -> Result<Option<Image>, LifecycleError> {
        let cannot = |source: RegistryError| LifecycleError::PreviousImage { reference: reference.to_string(), source: source.into() };
        let remote = match client.fetch_image(reference) {
            Ok(remote) => remote,
            Err(RegistryError::NotFound { .. }) => {
                tracing::info!(%reference, "the image is not in the registry yet");
                return Ok(None);
            }
            Err(e) => return Err(cannot(e)),
        };
        if let Some(local) = self.destination.resolve(self.tag)?
            && local.digest == remote.image.manifest_descriptor.digest
        {
            return Ok(self.destination.read_image_at(&local).ok());
        }
        let mut seen = BTreeSet::new();
        let keep: Vec<Descriptor> = launch_only_layers(&remote.image)
            .into_iter()
            .chain(super::sbom::sbom_layer(&remote.image))
            .filter(|d| seen.insert(d.digest.to_string()))
            .filter(|d| !self.destination.has_blob(&d.digest))
            .collect();
        if !keep.is_empty() {
            client.pull_blobs(&remote.reference, &keep, self.destination).map_err(cannot)?;
        }
        tracing::info!(reference = %remote.reference, "previous image read from the registry");
        Ok(Some(remote.image))
    }
}

/// The blobs of an image's `launch`-only layers (neither `build` nor `cache`: the only ones
/// a build may keep from the image, see `kiln_cnb::LayerTypes::is_launch_only`), by its
/// lifecycle metadata.
fn launch_only_layers(image: &Image) -> Vec<Descriptor> {
    let Some(metadata) = image.label(LIFECYCLE_METADATA_LABEL).and_then(|l| LayersMetadata::from_label_value(l).ok()) else {
        return Vec::new();
    };
    let wanted: Vec<Digest> = metadata
        .buildpacks
        .iter()
        .flat_map(|b| b.layers.values())
        .filter(|l| l.types().is_launch_only())
        .filter_map(|l| Digest::parse(&l.sha).ok())
        .collect();
    image.manifest.layers.iter().zip(image.diff_ids()).filter(|(_, diff_id)| wanted.contains(diff_id)).map(|(d, _)| d.clone()).collect()
}

fn json_to_table(value: &serde_json::Value) -> toml::Table {
    toml::Value::try_from(value).ok().and_then(|v| v.as_table().cloned()).unwrap_or_default()
}

/// Analyze the previous image (if any), its SBOM document (if it has one) and the cache.
pub fn analyze(previous: Option<&Image>, previous_sbom: Option<&[u8]>, cache: Option<&Cache>) -> Analysis {
    let mut analysis = Analysis::default();
    let image_sbom = previous_sbom.map(sbom_by_layer).unwrap_or_default();
    let metadata: Option<LayersMetadata> =
        previous.and_then(|image| image.label(LIFECYCLE_METADATA_LABEL)).and_then(|text| serde_json::from_str(text).ok());
    if let Some(image) = previous {
        for (descriptor, diff_id) in image.manifest.layers.iter().zip(&image.config.rootfs.diff_ids) {
            analysis.image_blobs.insert(diff_id.clone(), descriptor.clone());
        }
        let steps = image.label(super::native_steps::NATIVE_STEPS_LABEL).and_then(|text| serde_json::from_str(text).ok());
        analysis.native_steps = steps.map(|label: super::native_steps::NativeSteps| label.steps).unwrap_or_default();
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
        analysis
            .layers
            .entry(id)
            .or_default()
            .insert(name, PreviousLayer { metadata, types, contents: PreviousContents::Image { diff_id, descriptor }, sbom });
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
    let mut seen = BTreeSet::new();
    a.iter().chain(b.into_iter().flatten()).filter(|v| seen.insert(crate::fetch::sbom::component_key(v))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn analyze_local(store: &ImageStore, cache: &Cache) -> (Analyzed, Vec<String>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let reporter: Reporter = Arc::new(move |event: &Event| seen.lock().unwrap().push(format!("{event:?}")));
        let analyzed = Analyzer { previous: &PreviousImage::Local, destination: store, tag: "app:latest", cache, reporter: &reporter }
            .analyze()
            .unwrap();
        let events = events.lock().unwrap().clone();
        (analyzed, events)
    }

    #[test]
    fn a_first_build_finds_no_previous_image_and_reports_it_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(tmp.path().join("store")).unwrap();
        let cache = Cache::open(&tmp.path().join("cache")).unwrap();
        let (analyzed, events) = analyze_local(&store, &cache);
        assert!(analyzed.analysis.layers.is_empty());
        assert!(analyzed.analysis.app_diff_ids.is_empty());
        assert_eq!(events, vec!["Analyzed { previous_image: false, layers: 0 }".to_string()]);
    }
}

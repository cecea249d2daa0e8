//! Export: write the app image on top of the run image ([buildpack spec, Phase #6](https://github.com/buildpacks/spec/blob/main/buildpack.md#phase-6-export),
//! [platform spec, exporter](https://github.com/buildpacks/spec/blob/main/platform.md#exporter)).
//!
//! Layers, in order: the run image's, the launcher (`/cnb/lifecycle/launcher`), one per
//! `launch` layer (`/layers/<escaped id>/<name>`, buildpacks in build order, layers by
//! name), the app (`/workspace`), the process-type links (`/cnb/process/<type>`) and the
//! config (`/layers/config/metadata.toml`). Every layer is a reproducible tar, so the same
//! inputs give the same digests. Layer contents are read without following symlinks.

use std::collections::BTreeMap;

use super::LifecycleError;
use super::analyze::{Analysis, PreviousContents};
use super::app_layers::app_layers;
use super::build::BuildpackOutput;
use super::cache::{Cache, CacheIndex, CachedLayer, INDEX_VERSION};
use super::events::{Event, Reporter};
use super::launch_metadata::launch_metadata;
use super::layer_writer::{KnownBlobs, write_or_reuse};
use super::sbom::ImageSbom;
use super::workspace::{APP_GUEST_PATH, LAYERS_GUEST_PATH, Workspace};
use crate::image::labels::{
    BUILD_METADATA_LABEL, BuildMetadata, BuildpackLayerMetadata, BuildpackLayersMetadata, GroupElement, LIFECYCLE_METADATA_LABEL,
    LauncherMetadata, LayerSha, LayersMetadata, ProcessMetadata, RunImageForRebase,
};
use crate::image::oci::{ContainerConfig, History, MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_LAYER_GZIP, Manifest, NORMALIZED_CREATED};
use crate::image::{Descriptor, Image, ImageStore, LayerBlob, LayerBuilder, Owner};

/// Where the launcher lives in the image.
pub const LAUNCHER_PATH: &str = kiln_cnb::env::LAUNCHER_PATH;
/// Where the process-type links live.
pub const PROCESS_DIR: &str = kiln_cnb::env::PROCESS_DIR;

/// The run image to export on top of, and the store holding its blobs.
pub struct RunImage<'a> {
    /// The store (or OCI layout) holding it.
    pub store: &'a ImageStore,
    /// The image.
    pub image: Image,
    /// The reference the user gave, recorded in the metadata label.
    pub reference: String,
}

/// Label namespaces a buildpack may not write: the platform's and kiln's own.
pub const RESERVED_LABEL_PREFIXES: &[&str] = &["io.buildpacks.", "io.kiln."];

/// The inputs of export.
pub struct Exporter<'a> {
    /// What each buildpack built.
    pub outputs: &'a [BuildpackOutput],
    /// The build's directories.
    pub workspace: &'a Workspace,
    /// The base image.
    pub run_image: RunImage<'a>,
    /// Where to write.
    pub destination: &'a ImageStore,
    /// The tag to write.
    pub tag: &'a str,
    /// The launcher binary.
    pub launcher: &'a [u8],
    /// What the previous build left.
    pub analysis: &'a Analysis,
    /// Blobs of the previous build, for reuse.
    pub known: &'a KnownBlobs,
    /// Progress.
    pub reporter: &'a Reporter,
    /// The SBOM components (what buildpacks fetched or described, kept layers' included).
    pub sbom: &'a ImageSbom,
    /// The native steps the build ran, for the `io.kiln.build.exec` label.
    pub native_steps: &'a [crate::sandbox::exec::ExecRecord],
    /// Whether every process's program must be in the image ([`super::verify_processes`]).
    pub verify_processes: bool,
}

/// What export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The manifest descriptor.
    pub manifest: Descriptor,
    /// The blob of each exported buildpack layer: (buildpack id, layer name) -> blob.
    pub layer_blobs: BTreeMap<(String, String), LayerBlob>,
}

struct Written {
    layers: Vec<Descriptor>,
    diff_ids: Vec<crate::image::Digest>,
    history: Vec<History>,
}

impl Written {
    fn push(&mut self, blob: &LayerBlob, created_by: String) {
        self.layers.push(blob.descriptor());
        self.diff_ids.push(blob.diff_id.clone());
        self.history.push(History { created: Some(NORMALIZED_CREATED.into()), created_by: Some(created_by), ..History::default() });
    }
}

impl Exporter<'_> {
    /// Write the image and tag it.
    pub fn export(&self) -> Result<ExportReport, LifecycleError> {
        let run = &self.run_image.image;
        if self.verify_processes {
            self.verify_processes()?;
        }
        self.copy_run_image_blobs()?;
        let mut written = Written {
            layers: run.manifest.layers.clone(),
            diff_ids: run.config.rootfs.diff_ids.clone(),
            history: run.config.history.clone(),
        };
        let top_layer = run.config.rootfs.diff_ids.last().map(|d| d.to_string()).unwrap_or_default();

        let mut launcher_layer = LayerBuilder::new();
        launcher_layer.add_bytes(self.launcher, LAUNCHER_PATH, true, Owner::ROOT)?;
        let launcher_blob = self.write_layer(&launcher_layer, "launcher", &[])?;
        written.push(&launcher_blob, "kiln: launcher".into());

        let mut buildpacks_meta = Vec::new();
        let mut layer_blobs = BTreeMap::new();
        for output in self.outputs {
            let mut layers_meta = BTreeMap::new();
            for layer in &output.layers {
                let mut sha = String::new();
                if layer.types.launch {
                    let label = format!("{}:{}", output.id, layer.name);
                    let blob = match &layer.from_previous_image {
                        Some((diff_id, _)) => {
                            let blob = self.known.reuse(diff_id, self.destination)?.ok_or_else(|| LifecycleError::InvalidBuildOutput {
                                buildpack: output.id.to_string(),
                                message: format!("layer {} was kept from the previous image, which no longer has it", layer.name),
                            })?;
                            (self.reporter)(&Event::LayerExported { name: label.clone(), digest: blob.digest.to_string(), reused: true });
                            blob
                        }
                        None => {
                            let image_path = kiln_cnb::layer::layer_path(&output.id, &layer.name);
                            let mut builder = LayerBuilder::new();
                            builder
                                .add_tree(&layer.dir, &image_path, Owner::CNB_USER)
                                .map_err(|e| layer_error(&output.id, &layer.name, e))?;
                            let previous = self.previous_diff_id(output.id.as_str(), layer.name.as_str());
                            self.write_layer(&builder, &label, previous.as_slice())?
                        }
                    };
                    sha = blob.diff_id.to_string();
                    written.push(&blob, format!("kiln: {label}"));
                    layer_blobs.insert((output.id.to_string(), layer.name.to_string()), blob);
                }
                if layer.types.launch {
                    layers_meta.insert(
                        layer.name.to_string(),
                        BuildpackLayerMetadata {
                            sha,
                            data: serde_json::to_value(&layer.metadata).unwrap_or_default(),
                            build: layer.types.build,
                            launch: layer.types.launch,
                            cache: layer.types.cache,
                        },
                    );
                }
            }
            buildpacks_meta.push(BuildpackLayersMetadata {
                id: output.id.to_string(),
                version: output.version.clone(),
                layers: layers_meta,
                store: None,
            });
        }

        let mut app_shas = Vec::new();
        let app = app_layers(&self.workspace.app(), APP_GUEST_PATH).map_err(|e| match e {
            crate::image::ImageError::InvalidImagePath { .. } => LifecycleError::InvalidAppFile { message: e.to_string() },
            other => other.into(),
        })?;
        for app_layer in app {
            let blob = self.write_layer(&app_layer.builder, &app_layer.name, &self.analysis.app_diff_ids)?;
            written.push(&blob, format!("kiln: {}", app_layer.name));
            app_shas.push(LayerSha::new(blob.diff_id.to_string()));
        }

        let launch = launch_metadata(self.outputs);
        let mut process_layer = LayerBuilder::new();
        process_layer.add_dir(PROCESS_DIR, Owner::ROOT)?;
        for process in &launch.processes {
            process_layer.add_symlink(&format!("{PROCESS_DIR}/{}", process.process_type), LAUNCHER_PATH, Owner::ROOT)?;
        }
        let process_blob = self.write_layer(&process_layer, "process-types", &[])?;
        written.push(&process_blob, "kiln: process types".into());

        let mut config_layer = LayerBuilder::new();
        config_layer.add_bytes(
            launch.to_toml().as_bytes(),
            &format!("{LAYERS_GUEST_PATH}/{}", kiln_cnb::launch::METADATA_PATH),
            false,
            Owner::CNB_USER,
        )?;
        let config_blob = self.write_layer(&config_layer, "config", &[])?;
        written.push(&config_blob, "kiln: config".into());
        let sbom = self.write_sbom(&mut written)?;

        let lifecycle_metadata = LayersMetadata {
            app: app_shas,
            sbom: sbom.as_ref().map(|d| LayerSha::new(d.to_string())),
            buildpacks: buildpacks_meta,
            config: LayerSha::new(config_blob.diff_id.to_string()),
            launcher: LayerSha::new(launcher_blob.diff_id.to_string()),
            process_types: LayerSha::new(process_blob.diff_id.to_string()),
            run_image: RunImageForRebase {
                top_layer,
                reference: run.manifest_descriptor.digest.to_string(),
                image: self.run_image.reference.clone(),
                mirrors: Vec::new(),
            },
            stack: None,
        };
        let build_metadata = BuildMetadata {
            buildpacks: self
                .outputs
                .iter()
                .map(|o| GroupElement {
                    id: o.id.to_string(),
                    version: o.version.clone(),
                    api: None,
                    homepage: o.homepage.clone().unwrap_or_default(),
                    optional: false,
                })
                .collect(),
            launcher: LauncherMetadata { version: env!("CARGO_PKG_VERSION").into(), ..LauncherMetadata::default() },
            processes: launch
                .processes
                .iter()
                .map(|p| ProcessMetadata {
                    kind: p.process_type.to_string(),
                    command: p.command.clone(),
                    args: p.args.clone(),
                    direct: true,
                    default: launch.buildpack_default_process_type.as_ref() == Some(&p.process_type),
                    buildpack_id: p.buildpack_id.as_ref().map(ToString::to_string).unwrap_or_default(),
                    working_dir: p.working_dir.clone().unwrap_or_default(),
                    exec_env: Vec::new(),
                })
                .collect(),
            buildpack_default_process_type: launch.buildpack_default_process_type.as_ref().map(ToString::to_string).unwrap_or_default(),
            ..BuildMetadata::default()
        };

        let mut config = run.config.clone();
        config.created = Some(NORMALIZED_CREATED.into());
        config.rootfs.diff_ids = written.diff_ids;
        config.history = written.history;
        let container = &mut config.config;
        for output in self.outputs {
            for (key, value) in &output.labels {
                // io.buildpacks.* labels are the platform's (base image, lifecycle metadata)
                // and io.kiln.* kiln's own (SBOM, native steps): rebase, `kiln sbom` and
                // other tools trust them, so a buildpack cannot set them.
                if let Some(namespace) = RESERVED_LABEL_PREFIXES.iter().find(|prefix| key.starts_with(**prefix)) {
                    tracing::warn!(buildpack = %output.id, label = %key, "ignoring a buildpack label in the reserved {namespace} namespace");
                    continue;
                }
                container.labels.insert(key.clone(), value.clone());
            }
        }
        container.labels.insert(LIFECYCLE_METADATA_LABEL.into(), json(&lifecycle_metadata));
        container.labels.insert(BUILD_METADATA_LABEL.into(), json(&build_metadata));
        if let Some(steps) = super::native_steps::NativeSteps::assemble(self.outputs, self.analysis, self.native_steps) {
            container.labels.insert(super::native_steps::NATIVE_STEPS_LABEL.into(), json(&steps));
        }
        if let Some(diff_id) = &sbom {
            container.labels.insert(crate::fetch::sbom::SBOM_LABEL.into(), diff_id.to_string());
        }
        set_platform_env(container);
        container.working_dir = APP_GUEST_PATH.into();
        container.entrypoint = match &launch.buildpack_default_process_type {
            None => vec![LAUNCHER_PATH.into()],
            Some(default) => vec![format!("{PROCESS_DIR}/{default}")],
        };
        container.cmd = Vec::new();

        let config_json = config.to_json();
        super::config_share::check_total(config_json.len()).map_err(|message| LifecycleError::InvalidBuildOutput {
            buildpack: self.outputs.iter().map(|o| o.id.to_string()).collect::<Vec<_>>().join(", "),
            message,
        })?;
        let manifest = Manifest::new(
            Descriptor::new(MEDIA_TYPE_OCI_CONFIG, crate::image::Digest::of_bytes(&config_json), config_json.len() as u64),
            written.layers,
        );
        let descriptor = self.destination.write_image(&manifest, &config)?;
        self.destination.tag(self.tag, &descriptor)?;
        Ok(ExportReport { manifest: descriptor, layer_blobs })
    }

    /// Refuse an image whose processes cannot start ([`super::verify_processes`]).
    fn verify_processes(&self) -> Result<(), LifecycleError> {
        use super::verify_processes::{ImageView, launch_path, unstartable};
        let mut mounts = vec![(APP_GUEST_PATH.to_string(), self.workspace.app())];
        let mut kept = Vec::new();
        for output in self.outputs {
            for layer in output.layers.iter().filter(|l| l.types.launch) {
                let image_path = kiln_cnb::layer::layer_path(&output.id, &layer.name);
                match layer.from_previous_image {
                    Some(_) => kept.push(image_path),
                    None => mounts.push((image_path, layer.dir.clone())),
                }
            }
        }
        let run = &self.run_image.image;
        let view = ImageView::new(self.run_image.store, run, mounts, kept);
        let run_path = run.config.config.env.iter().find_map(|kv| kv.strip_prefix("PATH="));
        let path = launch_path(self.outputs, run_path);
        match unstartable(self.outputs, &view, &path, APP_GUEST_PATH) {
            Ok(found) => match found.into_iter().next() {
                None => Ok(()),
                Some(bad) => Err(LifecycleError::InvalidBuildOutput {
                    buildpack: bad.buildpack,
                    message: format!("{}; the image would not start (pass --no-verify-processes to write it anyway)", bad.message),
                }),
            },
            Err(why) => {
                tracing::warn!("cannot verify the processes' programs: {why}");
                Ok(())
            }
        }
    }

    /// Write a layer, reusing the previous build's blob when its content hashes to `previous`.
    fn write_layer(&self, builder: &LayerBuilder, name: &str, previous: &[crate::image::Digest]) -> Result<LayerBlob, LifecycleError> {
        let (blob, reused) = write_or_reuse(builder, self.destination, previous, self.known)?;
        (self.reporter)(&Event::LayerExported { name: name.into(), digest: blob.digest.to_string(), reused });
        Ok(blob)
    }

    /// The SBOM layer (`/layers/sbom/launch/sbom.cdx.json`, CycloneDX) listing what the
    /// buildpacks fetched or described, when there is anything; returns its diffID.
    fn write_sbom(&self, written: &mut Written) -> Result<Option<crate::image::Digest>, LifecycleError> {
        let Some(document) = crate::fetch::sbom::document(&self.sbom.components) else { return Ok(None) };
        let mut layer = LayerBuilder::new();
        layer.add_bytes(document.as_slice(), crate::fetch::sbom::SBOM_IMAGE_PATH, false, Owner::CNB_USER)?;
        let blob = self.write_layer(&layer, "sbom", &[])?;
        written.push(&blob, "kiln: sbom".into());
        Ok(Some(blob.diff_id))
    }

    /// The diffID this buildpack layer had in the previous build, if any.
    fn previous_diff_id(&self, buildpack: &str, layer: &str) -> Option<crate::image::Digest> {
        let previous = self.analysis.for_buildpack(buildpack)?.get(layer)?;
        Some(match &previous.contents {
            super::analyze::PreviousContents::Cache(cached) => cached.diff_id.clone(),
            super::analyze::PreviousContents::Image { diff_id, .. } => diff_id.clone(),
        })
    }

    /// Make the destination hold every blob of the run image (a no-op when it already does).
    fn copy_run_image_blobs(&self) -> Result<(), LifecycleError> {
        let run = &self.run_image.image;
        let source = self.run_image.store;
        for layer in &run.manifest.layers {
            if !self.destination.has_blob(&layer.digest) {
                self.destination.put_blob_from_path(source.blob_path(&layer.digest), &layer.media_type)?;
            }
        }
        Ok(())
    }
}

/// A layer a buildpack made that cannot be an image layer as it is (a whiteout name, a bad
/// path) is that buildpack's invalid output; other errors stay what they are.
fn layer_error(
    buildpack: &crate::buildpack::BuildpackId,
    layer: &crate::layers::LayerName,
    error: crate::image::ImageError,
) -> LifecycleError {
    match error {
        crate::image::ImageError::InvalidImagePath { .. } => {
            LifecycleError::InvalidBuildOutput { buildpack: buildpack.to_string(), message: format!("layer {layer}: {error}") }
        }
        other => other.into(),
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("label values are plain data")
}

/// Write the cache for the next build: every `cache` layer, as a blob in the cache store
/// (copied from the image when it was exported, else tarred, or reused when unchanged),
/// with the SBOM components attributed to it, and the new index. Layers without `cache`
/// are dropped from it.
pub fn export_cache(
    outputs: &[BuildpackOutput],
    exported: &ExportReport,
    destination: &ImageStore,
    analysis: &Analysis,
    known: &KnownBlobs,
    sbom: &ImageSbom,
    cache: &mut Cache,
) -> Result<usize, LifecycleError> {
    let mut index = CacheIndex { version: INDEX_VERSION, buildpacks: BTreeMap::new() };
    let mut count = 0;
    for output in outputs {
        for layer in output.layers.iter().filter(|l| l.types.cache) {
            let key = (output.id.to_string(), layer.name.to_string());
            let blob = match exported.layer_blobs.get(&key) {
                Some(blob) => {
                    if !cache.store().has_blob(&blob.digest) {
                        cache.store().put_blob_from_path(destination.blob_path(&blob.digest), MEDIA_TYPE_OCI_LAYER_GZIP)?;
                    }
                    blob.clone()
                }
                None => {
                    let image_path = kiln_cnb::layer::layer_path(&output.id, &layer.name);
                    let mut builder = LayerBuilder::new();
                    builder.add_tree(&layer.dir, &image_path, Owner::CNB_USER).map_err(|e| layer_error(&output.id, &layer.name, e))?;
                    let previous =
                        analysis.for_buildpack(output.id.as_str()).and_then(|l| l.get(layer.name.as_str())).and_then(|p| {
                            match &p.contents {
                                PreviousContents::Cache(cached) => Some(cached.diff_id.clone()),
                                PreviousContents::Image { .. } => None,
                            }
                        });
                    write_or_reuse(&builder, cache.store(), previous.as_slice(), known)?.0
                }
            };
            let layer_sbom = sbom.by_layer.get(&key).cloned().unwrap_or_default();
            index.buildpacks.entry(key.0).or_default().insert(
                key.1,
                CachedLayer {
                    diff_id: blob.diff_id,
                    digest: blob.digest,
                    size: blob.size,
                    launch: layer.types.launch,
                    build: layer.types.build,
                    metadata: layer.metadata.clone(),
                    sbom: layer_sbom,
                },
            );
            count += 1;
        }
    }
    cache.save(index)?;
    Ok(count)
}

/// The env the app image adds to the run image's: `PATH` by the rule rebase also follows
/// ([`kiln_cnb::env::app_image_path`]), and where the launcher finds the layers and the app.
fn set_platform_env(container: &mut ContainerConfig) {
    let path = kiln_cnb::env::app_image_path(container.env_var("PATH"));
    container.set_env_var("PATH", &path);
    container.set_env_var("CNB_LAYERS_DIR", LAYERS_GUEST_PATH);
    container.set_env_var("CNB_APP_DIR", APP_GUEST_PATH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_dir_goes_in_front_of_the_run_images_path() {
        let mut container = ContainerConfig { env: vec!["PATH=/usr/bin:/bin".into(), "LANG=C".into()], ..ContainerConfig::default() };
        set_platform_env(&mut container);
        assert_eq!(container.env, ["PATH=/cnb/process:/usr/bin:/bin", "LANG=C", "CNB_LAYERS_DIR=/layers", "CNB_APP_DIR=/workspace"]);
    }

    #[test]
    fn a_run_image_without_path_gets_the_default_path_without_a_second_path_prefix() {
        let mut container = ContainerConfig::default();
        set_platform_env(&mut container);
        let path = container.env_var("PATH").unwrap();
        assert_eq!(path, format!("/cnb/process:{}", kiln_cnb::env::DEFAULT_PATH));
        assert!(!path.contains("PATH="), "{path}");
    }
}

//! One build from request to image: the sequence of phases `kiln build` runs.

use std::path::PathBuf;
use std::time::Instant;

use super::build::Builder;
use super::detect::Detector;
use super::events::{Event, Phase, Reporter, millis};
use super::analyze::analyze;
use super::cache::Cache;
use super::export::{Exporter, RunImage, export_cache};
use super::layer_writer::KnownBlobs;
use super::restore::restore;
use crate::image::oci::MEDIA_TYPE_OCI_LAYER_GZIP;
use super::prepare::prepare;
use super::workspace::Workspace;
use super::{LifecycleError, Target};
use crate::buildpack::project::FileFilter;
use crate::buildpack::{BuildpackSource, Order};
use crate::image::labels::{BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL};
use crate::image::{Descriptor, ImageRef, open_ref};
use crate::sandbox::{Limits, Sandbox};

/// Everything one build needs; every field is a flag, file or env var of the CLI.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// Where to write the image.
    pub image: ImageRef,
    /// The app source directory.
    pub app_dir: PathBuf,
    /// The buildpack components available to the order.
    pub buildpacks: Vec<BuildpackSource>,
    /// The order of groups to try; `None` = one group of all `buildpacks`, in order.
    pub order: Option<Order>,
    /// The run image.
    pub run_image: ImageRef,
    /// The platform env (`--env`, `--env-file`, project.toml).
    pub env: Vec<(String, String)>,
    /// Which app files are part of the app (project.toml include/exclude).
    pub file_filter: FileFilter,
    /// Limits per buildpack call.
    pub limits: Limits,
    /// What `fetch` may reach, the download cache and mirrors.
    pub fetch: crate::fetch::FetchSettings,
    /// The local image store.
    pub store_dir: PathBuf,
    /// Where temporary build dirs go.
    pub work_dir: PathBuf,
    /// The build cache dir for this image.
    pub cache_dir: PathBuf,
    /// Drop the cache before building.
    pub clear_cache: bool,
    /// The previous image when it is not in the destination store: with `--publish`, the
    /// manifest and config read from the registry (its layers are not downloaded). `None`:
    /// look the image's tag up in the destination store.
    pub previous_image: Option<crate::image::Image>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The image's manifest.
    pub manifest: Descriptor,
    /// The buildpacks that ran, in order.
    pub group: Vec<String>,
}

fn timed<T>(phase: Phase, reporter: &Reporter, f: impl FnOnce() -> Result<T, LifecycleError>) -> Result<T, LifecycleError> {
    reporter(&Event::PhaseStarted { phase });
    let started = Instant::now();
    let _span = tracing::info_span!("phase", name = phase.name()).entered();
    let result = f()?;
    reporter(&Event::PhaseFinished { phase, millis: millis(started.elapsed()) });
    Ok(result)
}

/// Run prepare, detect, build and export.
pub fn run_build(request: &BuildRequest, sandbox: &Sandbox, reporter: &Reporter) -> Result<BuildReport, LifecycleError> {
    if !request.app_dir.is_dir() {
        return Err(LifecycleError::AppDirMissing { path: request.app_dir.clone() });
    }
    let run_ref = request.run_image.to_string();
    let (run_store, run_tag) = open_ref(&request.run_image, &request.store_dir)
        .map_err(|source| LifecycleError::RunImage { reference: run_ref.clone(), source })?;
    let run_image = run_store
        .read_image(&run_tag)
        .map_err(|source| LifecycleError::RunImage { reference: run_ref.clone(), source })?;
    let target = Target {
        os: run_image.config.os.clone(),
        arch: run_image.config.architecture.clone(),
        distro_name: run_image.label(BASE_DISTRO_NAME_LABEL).map(str::to_string),
        distro_version: run_image.label(BASE_DISTRO_VERSION_LABEL).map(str::to_string),
    };

    let (destination, tag) = open_ref(&request.image, &request.store_dir)?;
    if request.clear_cache {
        Cache::clear(&request.cache_dir)?;
    }
    let mut cache = Cache::open(&request.cache_dir)?;
    let (mut analysis, known) = timed(Phase::Analyze, reporter, || {
        let previous = match (&request.previous_image, destination.resolve(&tag)?) {
            (Some(remote), _) => Some(remote.clone()),
            (None, Some(descriptor)) => destination.read_image_at(&descriptor).ok(),
            (None, None) => None,
        };
        // The previous image's SBOM says which components belong to the layers a buildpack
        // may keep; without it those layers lose their SBOM entries (a warning, not an error).
        let previous_sbom = previous.as_ref().and_then(|image| match super::sbom::read_image_sbom(&destination, image) {
            Ok(document) => document,
            Err(error) => {
                tracing::warn!(%error, "cannot read the previous image's SBOM; layers kept from it lose their SBOM entries");
                None
            }
        });
        let analysis = analyze(previous.as_ref(), previous_sbom.as_deref(), Some(&cache));
        let mut known = KnownBlobs::default();
        // A previous image read from a registry may have blobs the store lacks: only local
        // blobs can be reused.
        for (diff_id, descriptor) in analysis.image_blobs.iter().filter(|(_, d)| destination.has_blob(&d.digest)) {
            known.add(diff_id.clone(), descriptor.clone(), destination.blob_path(&descriptor.digest));
        }
        for layers in cache.index.buildpacks.values() {
            for layer in layers.values() {
                let descriptor = Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, layer.digest.clone(), layer.size);
                known.add(layer.diff_id.clone(), descriptor, cache.store().blob_path(&layer.digest));
            }
        }
        reporter(&Event::Analyzed {
            previous_image: previous.is_some(),
            layers: analysis.layers.values().map(|l| l.len()).sum(),
        });
        Ok((analysis, known))
    })?;

    let buildpacks = timed(Phase::Prepare, reporter, || prepare(sandbox, &request.buildpacks, &request.limits, reporter))?;
    let order = request.order.clone().unwrap_or_else(|| Order::single_group(buildpacks.iter().map(|b| b.id().clone())));
    let workspace = Workspace::create(&request.work_dir, &request.app_dir, &request.file_filter, &request.env)?;

    let group = timed(Phase::Detect, reporter, || {
        Detector {
            buildpacks: &buildpacks,
            order: &order,
            workspace: &workspace,
            platform_env: &request.env,
            target: &target,
            limits: &request.limits,
            reporter,
        }
        .detect()
    })?;

    timed(Phase::Restore, reporter, || {
        let layers = restore(&group, &mut analysis, &cache, &workspace)?;
        reporter(&Event::Restored { layers });
        Ok(())
    })?;

    let fetcher = super::build::fetcher(&request.fetch, reporter);
    let outputs = timed(Phase::Build, reporter, || {
        Builder {
            group: &group,
            workspace: &workspace,
            platform_env: &request.env,
            target: &target,
            limits: &request.limits,
            analysis: &analysis,
            reporter,
            fetcher: &fetcher,
        }
        .build()
    })?;

    let report = timed(Phase::Export, reporter, || {
        let sbom = super::sbom::assemble(&outputs, &analysis, &fetcher.records(), &workspace.layers())?;
        tracing::debug!(components = sbom.components.len(), carried = sbom.carried, "image SBOM");
        Exporter {
            outputs: &outputs,
            workspace: &workspace,
            run_image: RunImage { store: &run_store, image: run_image.clone(), reference: run_ref.clone() },
            destination: &destination,
            tag: &tag,
            launcher: crate::LAUNCHER,
            analysis: &analysis,
            known: &known,
            reporter,
            sbom: &sbom,
        }
        .export()
        .and_then(|report| {
            let layers = export_cache(&outputs, &report, &destination, &analysis, &known, &sbom, &mut cache)?;
            reporter(&Event::CacheWritten { layers, dir: cache.dir().display().to_string() });
            Ok(report)
        })
    })?;
    reporter(&Event::ImageWritten { reference: request.image.to_string(), digest: report.manifest.digest.to_string() });
    Ok(BuildReport { manifest: report.manifest, group: outputs.iter().map(|o| o.id.to_string()).collect() })
}

//! One build from request to image: the sequence of phases `kiln build` runs.

use std::path::PathBuf;
use std::time::Instant;

use super::analyze::{Analyzed, Analyzer, PreviousImage};
use super::build::Builder;
use super::cache::Cache;
use super::detect::Detector;
use super::events::{Event, Phase, Reporter, millis};
use super::export::{Exporter, RunImage, export_cache};
use super::prepare::prepare;
use super::restore::restore;
use super::workspace::Workspace;
use super::{LifecycleError, Target};
use crate::buildpack::project::FileFilter;
use crate::buildpack::{BuildpackSource, Order};
use crate::image::labels::{BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL};
use crate::image::{Descriptor, ImageRef, open_ref};
use crate::sandbox::{Limits, Sandbox};

/// Everything one build needs, resolved by the platform ([`crate::platform`]) from flags,
/// files and env vars.
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
    /// Native steps (`exec`): who may, and on what root filesystem.
    pub exec: super::native::ExecSettings,
    /// The local image store.
    pub store_dir: PathBuf,
    /// Where temporary build dirs go.
    pub work_dir: PathBuf,
    /// The build cache dir for this image.
    pub cache_dir: PathBuf,
    /// Drop the cache before building.
    pub clear_cache: bool,
    /// Fail the build when a process's program is not in the image
    /// ([`super::verify_processes`]).
    pub verify_processes: bool,
    /// Where analyze looks for the previous image: the destination store, or with
    /// `--publish` the registry.
    pub previous_image: PreviousImage,
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

/// Run analyze, prepare, detect, restore, build and export. The app dir is the caller's to
/// check (the platform does, before reading its project.toml).
pub fn run_build(request: &BuildRequest, sandbox: &Sandbox, reporter: &Reporter) -> Result<BuildReport, LifecycleError> {
    let run_ref = request.run_image.to_string();
    let (run_store, run_tag) = open_ref(&request.run_image, &request.store_dir)
        .map_err(|source| LifecycleError::RunImage { reference: run_ref.clone(), source })?;
    let run_image = run_store.read_image(&run_tag).map_err(|source| LifecycleError::RunImage { reference: run_ref.clone(), source })?;
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
    let Analyzed { mut analysis, known } = timed(Phase::Analyze, reporter, || {
        Analyzer { previous: &request.previous_image, destination: &destination, tag: &tag, cache: &cache, reporter }.analyze()
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
    let (exec, exec_records) = super::native::exec_grant(&request.exec, (&run_store, &run_image), workspace.root(), reporter);
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
            exec: &exec,
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
            native_steps: &exec_records.lock().unwrap_or_else(|e| e.into_inner()),
            verify_processes: request.verify_processes,
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

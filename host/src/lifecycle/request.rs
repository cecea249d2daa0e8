//! One build from request to image: the sequence of phases `kiln build` runs.

use std::path::PathBuf;
use std::time::Instant;

use super::build::Builder;
use super::detect::Detector;
use super::events::{Event, Phase, Reporter, millis};
use super::export::{Exporter, RunImage};
use super::prepare::prepare;
use super::workspace::Workspace;
use super::{LifecycleError, Target};
use crate::buildpack::{BuildpackSource, Order};
use crate::image::labels::{BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL};
use crate::image::{Descriptor, ImageRef, ImageStore};
use crate::sandbox::{Limits, Sandbox};

/// Everything one build needs; every field is a flag, file or env var of the CLI.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// Where to write the image.
    pub image: ImageRef,
    /// The app source directory.
    pub app_dir: PathBuf,
    /// The buildpacks, tried as one group in this order.
    pub buildpacks: Vec<BuildpackSource>,
    /// The run image.
    pub run_image: ImageRef,
    /// The platform env (`--env`).
    pub env: Vec<(String, String)>,
    /// Limits per buildpack call.
    pub limits: Limits,
    /// The local image store.
    pub store_dir: PathBuf,
    /// Where temporary build dirs go.
    pub work_dir: PathBuf,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The image's manifest.
    pub manifest: Descriptor,
    /// The buildpacks that ran, in order.
    pub group: Vec<String>,
}

/// Open the store an image reference lives in, and the tag within it.
pub fn open_ref(reference: &ImageRef, store_dir: &std::path::Path) -> Result<(ImageStore, String), crate::image::ImageError> {
    match reference {
        ImageRef::Store { .. } => Ok((ImageStore::open(store_dir)?, reference.tag_name().to_string())),
        ImageRef::Layout { dir, .. } => Ok((ImageStore::open(dir)?, reference.tag_name().to_string())),
    }
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

    let buildpacks = timed(Phase::Prepare, reporter, || prepare(sandbox, &request.buildpacks, &request.limits, reporter))?;
    let order = Order::single_group(buildpacks.iter().map(|b| b.id().clone()));
    let workspace = Workspace::create(&request.work_dir, &request.app_dir, &request.env)?;

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

    let outputs = timed(Phase::Build, reporter, || {
        Builder {
            group: &group,
            workspace: &workspace,
            platform_env: &request.env,
            target: &target,
            limits: &request.limits,
            reporter,
        }
        .build()
    })?;

    let (destination, tag) = open_ref(&request.image, &request.store_dir)?;
    let report = timed(Phase::Export, reporter, || {
        Exporter {
            outputs: &outputs,
            workspace: &workspace,
            run_image: RunImage { store: &run_store, image: run_image.clone(), reference: run_ref.clone() },
            destination: &destination,
            tag: &tag,
            launcher: crate::LAUNCHER,
            reporter,
        }
        .export()
    })?;
    reporter(&Event::ImageWritten { reference: request.image.to_string(), digest: report.manifest.digest.to_string() });
    Ok(BuildReport { manifest: report.manifest, group: outputs.iter().map(|o| o.id.to_string()).collect() })
}

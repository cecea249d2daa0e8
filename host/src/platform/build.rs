//! `kiln build` as the platform sees it: from the user's choices ([`BuildOptions`]) to a
//! [`BuildRequest`] for the lifecycle, then distribution.
//!
//! Resolution order: flags beat kiln's config file, which beats project.toml and the
//! builder, which beat the built-in defaults. kiln's config file is read once, one registry
//! client serves every pull and the push, and the app dir is checked once, here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Progress;
use super::base::ensure_default_run_image;
use super::dirs::Dirs;
use super::distribution::Distribution;
use super::error::PlatformError;
use super::registry::{Registries, ensure_local};
use crate::buildpack::BuildpackSource;
use crate::buildpack::builder::{Builder, DEFAULT_RUN_IMAGE};
use crate::buildpack::project::ProjectDescriptor;
use crate::config::ExecDefaults;
use crate::config::{KilnConfig, LimitDefaults};
use crate::fetch::settings::{self, FetchOverrides};
use crate::image::{Descriptor, ImageRef, ImageStore};
use crate::lifecycle::analyze::PreviousImage;
use crate::lifecycle::cache::Cache;
use crate::lifecycle::events::{Event, Reporter, peak_rss_kib};
use crate::lifecycle::native::{BuildRootfsSetting, ExecSettings};
use crate::lifecycle::{BuildRequest, run_build};
use crate::sandbox::limits::{parse_bytes, parse_duration};
use crate::sandbox::{ExecPolicy, Limits, Sandbox};

/// What the user asked for: `kiln build`'s flags, not yet checked or resolved.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The image to write (`NAME[:TAG]`, `HOST/REPO[:TAG]`, `oci:DIR[:TAG]`, `docker-archive:FILE`).
    pub image: String,
    /// Push the image to its registry after building.
    pub publish: bool,
    /// Also write the image here (`docker-archive:FILE`).
    pub output: Option<String>,
    /// `--insecure-registry` hosts.
    pub insecure_registries: Vec<String>,
    /// The app's source directory.
    pub app_dir: PathBuf,
    /// Buildpacks to run (paths, bundled ids or registry references); empty: project.toml's
    /// group, else the builder's.
    pub buildpacks: Vec<String>,
    /// A builder.toml (default: kiln's config, else the embedded builder).
    pub builder: Option<PathBuf>,
    /// The run image (default: kiln's config, else the builder's).
    pub run_image: Option<String>,
    /// `NAME=VALUE` pairs for buildpacks.
    pub env: Vec<String>,
    /// Files of `NAME=VALUE` lines for buildpacks.
    pub env_files: Vec<PathBuf>,
    /// The build cache dir (default: one per image under kiln's cache dir).
    pub cache_dir: Option<PathBuf>,
    /// Drop the build cache first.
    pub clear_cache: bool,
    /// Fail the build when a process's program is not in the image.
    pub verify_processes: bool,
    /// `--limit-*` flags.
    pub limits: LimitFlags,
    /// Fetch policy and mirror flags.
    pub fetch: FetchOverrides,
    /// Native-step flags.
    pub exec: ExecFlags,
}

/// The native-step (`exec`) flags as given.
#[derive(Debug, Clone, Default)]
pub struct ExecFlags {
    /// Refuse every native step (`--deny-exec`, `--policy strict`).
    pub deny: bool,
    /// `--build-rootfs` (default: kiln's config, else the build image).
    pub build_rootfs: Option<PathBuf>,
    /// `--build-image` (default: kiln's config, else the builder's, else the run image).
    pub build_image: Option<String>,
}

/// The `--limit-*` flags as given (`None`: kiln's config, else the default): the same
/// fields and syntax as the config's `[limits]` table.
pub type LimitFlags = LimitDefaults;

/// What a build wrote.
#[derive(Debug)]
pub struct Built {
    /// The image reference.
    pub image: ImageRef,
    /// Its manifest.
    pub manifest: Descriptor,
}

/// Resolve `options`, run the lifecycle, then push or archive. Progress lines of the
/// platform go to `progress`, the lifecycle's events to `reporter`.
pub fn build(options: &BuildOptions, dirs: &Dirs, progress: &Progress, reporter: &Reporter) -> Result<Built, PlatformError> {
    let started = Instant::now();
    let image = ImageRef::parse(&options.image)?;
    if !options.app_dir.is_dir() {
        return Err(PlatformError::AppDir { path: options.app_dir.clone(), exists: options.app_dir.exists() });
    }
    let distribution = Distribution::plan(options.publish, options.output.as_deref(), &image)?;
    let project =
        ProjectDescriptor::read(&options.app_dir).map_err(|reason| PlatformError::invalid("project.toml", reason))?.unwrap_or_default();
    let file_filter = project.file_filter().map_err(|e| PlatformError::invalid("project.toml", e))?;
    let config = KilnConfig::load().map_err(PlatformError::Config)?;
    let registries = Registries::new(&options.insecure_registries, &config.registry, progress.clone());
    let store = ImageStore::open(&dirs.store)?;

    let builder = match options.builder.as_ref().or(config.build.builder.as_ref()) {
        Some(path) => Builder::read(path).map_err(PlatformError::Builder)?,
        None => Builder::default_builder(),
    };
    let requested = if options.buildpacks.is_empty() { &project.group } else { &options.buildpacks };
    let resolve = |reference: &String| resolve_buildpack(reference, &options.app_dir, &store, &registries);
    let (buildpacks, order) = if requested.is_empty() {
        (builder.buildpacks.iter().map(resolve).collect::<Result<Vec<_>, _>>()?, Some(builder.order.clone()))
    } else {
        (requested.iter().map(resolve).collect::<Result<Vec<_>, _>>()?, None)
    };

    let chosen_run_image = options.run_image.as_ref().or(config.build.run_image.as_ref());
    let run_image = chosen_run_image.or(builder.run_image.as_ref()).ok_or(PlatformError::NoRunImage)?;
    let run_image = ImageRef::parse(run_image).map_err(|e| PlatformError::invalid("--run-image", e))?;
    if chosen_run_image.is_none() && run_image.to_string() == DEFAULT_RUN_IMAGE {
        ensure_default_run_image(&store, dirs, progress)?;
    }
    ensure_local(&run_image, &store, &registries)?;

    let previous_image = match distribution.publish() {
        Some(reference) => PreviousImage::Registry { client: registries.client()?, reference: reference.clone() },
        None => PreviousImage::Local,
    };
    let request = BuildRequest {
        image,
        app_dir: options.app_dir.clone(),
        buildpacks,
        order,
        run_image,
        env: env(&project, &options.env_files, &options.env)?,
        file_filter,
        limits: limits(&options.limits, &config.limits)?,
        fetch: settings::resolve(&config.fetch, &options.fetch, &dirs.cache).map_err(|e| PlatformError::invalid("fetch settings", e))?,
        exec: exec_settings(&options.exec, &config.exec, builder.build_image.as_deref(), dirs, &store, &registries)?,
        store_dir: dirs.store.clone(),
        work_dir: dirs.work.clone(),
        cache_dir: options.cache_dir.clone().unwrap_or_else(|| Cache::default_dir(&dirs.cache, &options.image)),
        clear_cache: options.clear_cache,
        verify_processes: options.verify_processes,
        previous_image,
    };
    let sandbox = Sandbox::new(&dirs.cache)?;
    let report = run_build(&request, &sandbox, reporter)?;
    distribution.finish(&request, &report.manifest, &store, &registries, progress)?;
    reporter(&Event::BuildFinished { millis: started.elapsed().as_millis(), peak_rss_kib: peak_rss_kib() });
    Ok(Built { image: request.image, manifest: report.manifest })
}

/// A buildpack reference: a registry reference (HOST/REPO[:TAG|@DIGEST], a packaged
/// buildpack, pulled and checked), a bundled id, or a path (relative paths from project.toml
/// are relative to the app dir).
fn resolve_buildpack(
    reference: &str,
    app_dir: &Path,
    store: &ImageStore,
    registries: &Registries,
) -> Result<BuildpackSource, PlatformError> {
    let as_path = Path::new(reference);
    if matches!(ImageRef::parse(reference), Ok(ImageRef::Registry(_))) && !as_path.exists() {
        return super::buildpackage::pull(reference, store, registries);
    }
    let in_app = app_dir.join(reference);
    if !as_path.exists() && in_app.is_file() {
        return BuildpackSource::from_file(&in_app).map_err(PlatformError::Buildpack);
    }
    BuildpackSource::resolve(reference).map_err(PlatformError::Buildpack)
}

/// The platform env: project.toml first, then env files, then `--env` (later wins).
pub fn env(project: &ProjectDescriptor, files: &[PathBuf], pairs: &[String]) -> Result<Vec<(String, String)>, PlatformError> {
    let mut env: Vec<(String, String)> = project.env.clone();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| PlatformError::invalid(format!("--env-file {}", file.display()), format!("cannot read it: {e}")))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let pair = parse_env(line).map_err(|e| PlatformError::invalid(format!("{} line {}", file.display(), number + 1), e))?;
            env.push(pair);
        }
    }
    for kv in pairs {
        env.push(parse_env(kv).map_err(|e| PlatformError::invalid(format!("--env {kv:?}"), e))?);
    }
    // One value per name: the last one given.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (name, value) in env {
        merged.retain(|(n, _)| n != &name);
        merged.push((name, value));
    }
    Ok(merged)
}

fn parse_env(kv: &str) -> Result<(String, String), &'static str> {
    match kv.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(['/', '\0']) && k != "." && k != ".." => Ok((k.to_string(), v.to_string())),
        _ => Err("expected NAME=VALUE with a plain NAME"),
    }
}

/// The limits per buildpack call: each flag, else kiln's config, else the default.
pub fn limits(flags: &LimitFlags, config: &LimitDefaults) -> Result<Limits, PlatformError> {
    let memory = LimitSource::pick(&flags.memory, &config.memory, "memory", "1GiB");
    let cpu = LimitSource::pick(&flags.cpu, &config.cpu, "cpu", "10m");
    let time = LimitSource::pick(&flags.time, &config.time, "time", "15m");
    let log = LimitSource::pick(&flags.log, &config.log, "log", "4MiB");
    let fetch_bytes = LimitSource::pick(&flags.fetch_bytes, &config.fetch_bytes, "fetch-bytes", "4GiB");
    let layer_bytes = LimitSource::pick(&flags.layer_bytes, &config.layer_bytes, "layer-bytes", "10GiB");
    Ok(Limits {
        memory_bytes: parse_bytes(&memory.value).map_err(|e| memory.error(e))?,
        cpu_time: parse_duration(&cpu.value).map_err(|e| cpu.error(e))?,
        wall_time: parse_duration(&time.value).map_err(|e| time.error(e))?,
        log_bytes: parse_bytes(&log.value).map_err(|e| log.error(e))?,
        fetch_count: flags.fetch_count.or(config.fetch_count).unwrap_or(10_000),
        fetch_bytes: parse_bytes(&fetch_bytes.value).map_err(|e| fetch_bytes.error(e))? as u64,
        files: flags.files.or(config.files).unwrap_or(1_000_000),
        layer_bytes: parse_bytes(&layer_bytes.value).map_err(|e| layer_bytes.error(e))? as u64,
        processes: flags.processes.or(config.processes).unwrap_or(1024),
    })
}

/// The native-step settings: the flags, else kiln's config (`[exec]`), else the builder's
/// build image, else the defaults (the run image). A build image is made local (pulled into
/// `store` when it is a registry reference) here, so a missing one fails before the build.
pub fn exec_settings(
    flags: &ExecFlags,
    config: &ExecDefaults,
    builder_build_image: Option<&str>,
    dirs: &Dirs,
    store: &ImageStore,
    registries: &Registries,
) -> Result<ExecSettings, PlatformError> {
    let mut settings = ExecSettings::new(dirs.cache.clone(), dirs.store.clone());
    settings.policy = ExecPolicy { deny_all: flags.deny || config.deny_all, deny: config.deny.clone() };
    let rootfs_dir = flags.build_rootfs.as_ref().or(if flags.build_image.is_some() { None } else { config.build_rootfs.as_ref() });
    if let Some(dir) = rootfs_dir {
        if !dir.is_dir() {
            return Err(PlatformError::invalid("--build-rootfs", format!("{}: not a directory", dir.display())));
        }
        settings.build_rootfs = BuildRootfsSetting::Dir(dir.clone());
    } else if let Some(image) = flags.build_image.as_deref().or(config.build_image.as_deref()).or(builder_build_image) {
        let reference = ImageRef::parse(image).map_err(|e| PlatformError::invalid("--build-image", e))?;
        ensure_local(&reference, store, registries)?;
        let (image_store, tag) = crate::image::open_ref(&reference, &dirs.store)?;
        if image_store.resolve(&tag)?.is_none() {
            return Err(PlatformError::invalid(
                "--build-image",
                format!("{reference} is not in the local store: build it with `kiln base` or pull it"),
            ));
        }
        settings.build_rootfs = BuildRootfsSetting::Image(reference);
    }
    Ok(settings)
}

/// A limit's text and where it came from (flag, config file, default), for error messages.
struct LimitSource {
    value: String,
    origin: String,
}

impl LimitSource {
    /// The flag's value, else the config file's, else `default`.
    fn pick(flag: &Option<String>, configured: &Option<String>, key: &str, default: &str) -> LimitSource {
        match (flag, configured) {
            (Some(value), _) => LimitSource { value: value.clone(), origin: format!("--limit-{key}") },
            (None, Some(value)) => LimitSource { value: value.clone(), origin: format!("[limits] {key} in kiln's config") },
            (None, None) => LimitSource { value: default.to_string(), origin: format!("the default {key} limit") },
        }
    }

    /// An invalid-value error naming the origin.
    fn error(&self, reason: String) -> PlatformError {
        PlatformError::invalid(format!("{} {:?}", self.origin, self.value), reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_flag_beats_the_config_which_beats_the_default() {
        let config = LimitDefaults { memory: Some("256MiB".into()), cpu: Some("1m".into()), ..LimitDefaults::default() };
        let flags = LimitFlags { memory: Some("64MiB".into()), ..LimitFlags::default() };
        let limits = limits(&flags, &config).unwrap();
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.cpu_time, std::time::Duration::from_secs(60));
        assert_eq!(limits.log_bytes, 4 << 20);
    }

    #[test]
    fn a_bad_limit_names_where_it_came_from() {
        let config = LimitDefaults { cpu: Some("soon".into()), ..LimitDefaults::default() };
        let error = limits(&LimitFlags::default(), &config).unwrap_err().to_string();
        assert!(error.contains("[limits] cpu in kiln's config \"soon\""), "{error}");
    }

    #[test]
    fn later_env_values_win_and_bad_names_are_refused() {
        let project = ProjectDescriptor { env: vec![("A".into(), "project".into())], ..ProjectDescriptor::default() };
        let env = env(&project, &[], &["A=flag".into(), "B=x=y".into()]).unwrap();
        assert_eq!(env, vec![("A".to_string(), "flag".to_string()), ("B".to_string(), "x=y".to_string())]);
        let error = super::env(&project, &[], &["../x=1".into()]).unwrap_err();
        assert!(matches!(error, PlatformError::InvalidValue { .. }), "{error}");
    }
}

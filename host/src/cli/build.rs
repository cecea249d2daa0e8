//! `kiln build`: flags to a [`BuildRequest`], then the lifecycle.

use std::path::PathBuf;

use clap::Args;

use super::build_publish::Distribution;
use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::buildpack::project::ProjectDescriptor;
use crate::config::{KilnConfig, LimitDefaults};
use crate::buildpack::BuildpackSource;
use crate::base::debian::DebianBase;
use crate::buildpack::builder::{Builder, DEFAULT_RUN_IMAGE};
use crate::image::{ImageRef, ImageStore};
use crate::lifecycle::cache::Cache;
use crate::lifecycle::events::{Event, peak_rss_kib};
use crate::lifecycle::{BuildRequest, run_build};
use crate::sandbox::limits::{parse_bytes, parse_duration};
use crate::sandbox::{Limits, Sandbox};

/// Arguments of `kiln build`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln build myapp --path examples/nodejs-express      # default builder and Debian run image\n  kiln build myapp --path examples/procfile-web --run-image run-base\n  kiln build oci:./out:v1 --path . --buildpack ./my-buildpack.wasm --run-image oci:./base:latest\n  kiln build 127.0.0.1:5000/myapp:v1 --publish --path examples/procfile-web --run-image 127.0.0.1:5000/run:1\n  kiln build myapp --path examples/procfile-web --run-image run-base --output docker-archive:myapp.tar\n\nImages: a bare NAME[:TAG] (no registry host in its first segment) is the local store\n($KILN_HOME/store or ~/.local/share/kiln/store); HOST/REPO[:TAG] or HOST/REPO@sha256:... is a\nregistry when HOST has a '.' or a ':' or is localhost (ghcr.io/org/app, 127.0.0.1:5000/app);\ndocker://REF is a registry with docker.io defaults; oci:DIR[:TAG] is an OCI image layout\ndirectory; docker-archive:FILE[:NAME:TAG] writes a `docker load` tarball.\nA registry IMAGE is built into the local store under its full name; --publish also pushes it.\nCredentials come from $REGISTRY_AUTH_FILE or ~/.docker/config.json.")]
pub struct BuildArgs {
    /// The image to write: NAME[:TAG] in the local store, HOST/REPO[:TAG] (with --publish,
    /// pushed to that registry), oci:DIR[:TAG], or docker-archive:FILE[:NAME:TAG].
    pub image: String,
    /// Push the image to its registry after building (IMAGE must be HOST/REPO[:TAG]); the
    /// previous image is read from the registry for layer reuse.
    #[arg(long)]
    pub publish: bool,
    /// Also write the image here: docker-archive:FILE (a tarball for `docker load`).
    #[arg(long, value_name = "REF")]
    pub output: Option<String>,
    /// Registry flags.
    #[command(flatten)]
    pub registry: super::registry_args::RegistryArgs,
    /// The app's source directory.
    #[arg(short, long, default_value = ".")]
    pub path: PathBuf,
    /// A buildpack to run: a component file (.wasm) or the id of a bundled buildpack
    /// (repeat for a group, in order; default: every bundled buildpack).
    #[arg(short, long = "buildpack", value_name = "PATH_OR_ID")]
    pub buildpacks: Vec<String>,
    /// A builder.toml (pack's format): buildpacks, order of groups, run image. Default:
    /// kiln's embedded builder. Ignored when --buildpack or project.toml names buildpacks.
    #[arg(long, value_name = "FILE")]
    pub builder: Option<PathBuf>,
    /// The run image the app layers go on: NAME[:TAG] in the local store, oci:DIR[:TAG], or
    /// HOST/REPO[:TAG] (pulled into the local store once, reused while the digest is the same;
    /// default: the builder's run image).
    #[arg(long, value_name = "REF")]
    pub run_image: Option<String>,
    /// A build-time environment variable for buildpacks (repeatable).
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The build cache dir (default: one per image under kiln's cache dir).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Drop the build cache before building (layers are rebuilt from scratch).
    #[arg(long)]
    pub clear_cache: bool,
    /// A file of NAME=VALUE lines (blank lines and # comments skipped) for buildpacks.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Memory limit per buildpack call [default: 1GiB, or `[limits] memory` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_memory: Option<String>,
    /// CPU-time limit per buildpack call [default: 10m, or `[limits] cpu` in kiln's config].
    #[arg(long, value_name = "DURATION")]
    pub limit_cpu: Option<String>,
    /// Wall-clock limit per buildpack call [default: 15m, or `[limits] time` in kiln's config].
    #[arg(long, value_name = "DURATION")]
    pub limit_time: Option<String>,
    /// Log output limit per buildpack call [default: 4MiB, or `[limits] log` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_log: Option<String>,
    /// Fetch policy, mirrors, fetch and write limits.
    #[command(flatten)]
    pub capabilities: super::fetch_args::FetchArgs,
}

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

impl BuildArgs {
    fn limits(&self, config: &LimitDefaults) -> Result<Limits, CliError> {
        let memory = LimitSource::pick(&self.limit_memory, &config.memory, "memory", "1GiB");
        let cpu = LimitSource::pick(&self.limit_cpu, &config.cpu, "cpu", "10m");
        let time = LimitSource::pick(&self.limit_time, &config.time, "time", "15m");
        let log = LimitSource::pick(&self.limit_log, &config.log, "log", "4MiB");
        Ok(Limits {
            memory_bytes: parse_bytes(&memory.value).map_err(|e| memory.error(e))?,
            cpu_time: parse_duration(&cpu.value).map_err(|e| cpu.error(e))?,
            wall_time: parse_duration(&time.value).map_err(|e| time.error(e))?,
            log_bytes: parse_bytes(&log.value).map_err(|e| log.error(e))?,
            ..Limits::default()
        })
    }

    /// The platform env: project.toml first, then env files, then `--env` (later wins).
    fn env(&self, project: &ProjectDescriptor) -> Result<Vec<(String, String)>, CliError> {
        let mut env: Vec<(String, String)> = project.env.clone();
        for file in &self.env_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| bad_input(format!("cannot read --env-file {}: {e}", file.display())))?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let pair = parse_env(line).map_err(|e| bad_input(format!("{} line {}: {e}", file.display(), number + 1)))?;
                env.push(pair);
            }
        }
        for kv in &self.env {
            env.push(parse_env(kv).map_err(|e| bad_input(format!("--env {kv:?}: {e}")))?);
        }
        // One value per name: the last one given.
        let mut merged: Vec<(String, String)> = Vec::new();
        for (name, value) in env {
            merged.retain(|(n, _)| n != &name);
            merged.push((name, value));
        }
        Ok(merged)
    }
}

/// A limit's text and where it came from (flag, config file, default), for error messages.
pub(super) struct LimitSource {
    /// The text to parse.
    pub value: String,
    /// `--limit-NAME` or `[limits] NAME in kiln's config`.
    pub origin: String,
}

impl LimitSource {
    /// The flag's value, else the config file's, else `default`.
    pub fn pick(flag: &Option<String>, configured: &Option<String>, key: &str, default: &str) -> LimitSource {
        match (flag, configured) {
            (Some(value), _) => LimitSource { value: value.clone(), origin: format!("--limit-{key}") },
            (None, Some(value)) => LimitSource { value: value.clone(), origin: format!("[limits] {key} in kiln's config") },
            (None, None) => LimitSource { value: default.to_string(), origin: format!("the default {key} limit") },
        }
    }

    /// A bad-input error naming the origin.
    pub fn error(&self, reason: impl std::fmt::Display) -> CliError {
        bad_input(format!("{} {:?}: {reason}", self.origin, self.value))
    }
}

fn parse_env(kv: &str) -> Result<(String, String), String> {
    match kv.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(['/', '\0']) && k != "." && k != ".." => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err("expected NAME=VALUE with a plain NAME".into()),
    }
}

/// Run a build.
pub fn run(args: BuildArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let image = ImageRef::parse(&args.image).map_err(|e| bad_input(e.to_string()))?;
    if !args.path.is_dir() {
        let what = if args.path.exists() { "is not a directory" } else { "does not exist" };
        return Err(bad_input(format!(
            "the app source {} {what}: pass --path DIR (default: the current directory)",
            args.path.display()
        )));
    }
    let project = ProjectDescriptor::read(&args.path).map_err(bad_input)?.unwrap_or_default();
    let file_filter = project.file_filter().map_err(|e| bad_input(format!("project.toml: {e}")))?;
    let config = KilnConfig::load().map_err(bad_input)?;
    let requested: Vec<String> = if args.buildpacks.is_empty() { project.group.clone() } else { args.buildpacks.clone() };
    let builder = match args.builder.as_ref().or(config.build.builder.as_ref()) {
        Some(path) => Builder::read(path).map_err(bad_input)?,
        None => Builder::default_builder(),
    };
    // A buildpack given as a registry reference (HOST/REPO[:TAG|@DIGEST]) is a packaged
    // buildpack: pulled (cached by digest), checked, and its component used.
    let mut client = None;
    let mut resolve = |reference: &String| -> Result<BuildpackSource, CliError> {
        if matches!(ImageRef::parse(reference), Ok(ImageRef::Registry(_))) && !std::path::Path::new(reference).exists() {
            if client.is_none() {
                client = Some(args.registry.client_with(&config.registry, out)?);
            }
            return super::buildpack::pull_buildpack(reference, &dirs, client.as_ref().expect("set above"));
        }
        resolve_buildpack(reference, &args.path)
    };
    let (buildpacks, order) = if requested.is_empty() {
        let sources = builder.buildpacks.iter().map(&mut resolve).collect::<Result<Vec<_>, _>>()?;
        (sources, Some(builder.order.clone()))
    } else {
        (requested.iter().map(&mut resolve).collect::<Result<Vec<_>, _>>()?, None)
    };
    let chosen_run_image = args.run_image.clone().or(config.build.run_image.clone());
    let run_image = chosen_run_image.clone().or(builder.run_image.clone()).ok_or_else(|| {
        bad_input("no run image given: pass --run-image REF (make one from a root filesystem with `kiln base from-dir DIR --tag NAME`)")
    })?;
    let run_image = ImageRef::parse(&run_image).map_err(|e| bad_input(format!("--run-image: {e}")))?;
    if chosen_run_image.is_none() && run_image.to_string() == DEFAULT_RUN_IMAGE {
        ensure_default_run_image(&dirs, out)?;
    }
    let distribution = Distribution::plan(&args, &image, &run_image, out)?;
    let previous_image = distribution.prepare(&image, &run_image, &dirs, out)?;
    let request = BuildRequest {
        image,
        app_dir: args.path.clone(),
        buildpacks,
        order,
        run_image,
        env: args.env(&project)?,
        file_filter,
        limits: args.capabilities.apply_limits(args.limits(&config.limits)?, &config.limits)?,
        fetch: args.capabilities.settings(&config.fetch, &dirs.cache)?,
        exec: args.capabilities.exec_settings(&config.exec, &dirs.cache)?,
        store_dir: dirs.store.clone(),
        work_dir: dirs.work.clone(),
        cache_dir: args.cache_dir.clone().unwrap_or_else(|| Cache::default_dir(&dirs.cache, &args.image)),
        clear_cache: args.clear_cache,
        previous_image,
    };
    let sandbox = Sandbox::new(&dirs.cache).map_err(|e| CliError::new(ExitCode::Internal, e.to_string()))?;
    let started = std::time::Instant::now();
    let reporter = out.reporter();
    let report = run_build(&request, &sandbox, &reporter)?;
    distribution.finish(&request, &report.manifest, &dirs, out)?;
    reporter(&Event::BuildFinished { millis: started.elapsed().as_millis(), peak_rss_kib: peak_rss_kib() });
    if !out.json() {
        out.result(&format!("{}@{}", request.image, report.manifest.digest));
    }
    Ok(())
}

/// Build the default run image (Debian bookworm's default packages) into the local store the
/// first time a build needs it; later builds find it there.
fn ensure_default_run_image(dirs: &Dirs, out: &Output) -> Result<(), CliError> {
    let store = ImageStore::open(&dirs.store).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?;
    if store.resolve(DEFAULT_RUN_IMAGE).map_err(|e| CliError::new(ExitCode::Image, e.to_string()))?.is_some() {
        return Ok(());
    }
    out.progress(&format!(
        "the default run image {DEFAULT_RUN_IMAGE} is not in the local store: building it from Debian packages (once; \
         pass --run-image to use another)"
    ));
    let mut base = DebianBase::new("bookworm", dirs.cache.join("debian"), dirs.work.clone());
    base.mirror = std::env::var("KILN_DEBIAN_MIRROR").ok().filter(|m| !m.is_empty());
    super::base::build_debian(&base, &store, DEFAULT_RUN_IMAGE, out)?;
    Ok(())
}

/// A buildpack reference: a bundled id, or a path (relative paths from project.toml are
/// relative to the app dir).
fn resolve_buildpack(reference: &str, app_dir: &std::path::Path) -> Result<BuildpackSource, CliError> {
    let in_app = app_dir.join(reference);
    if !std::path::Path::new(reference).exists() && in_app.is_file() {
        return BuildpackSource::from_file(&in_app).map_err(bad_input);
    }
    BuildpackSource::resolve(reference).map_err(bad_input)
}

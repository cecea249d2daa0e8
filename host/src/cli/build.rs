//! `kiln build`: flags to [`BuildOptions`]; the platform resolves and builds
//! ([`crate::platform::build`]).

use std::path::PathBuf;

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::platform::{BuildOptions, Dirs, LimitFlags};

/// Arguments of `kiln build`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln build myapp --path examples/nodejs-express      # default builder and Debian run image\n  kiln build myapp --path examples/procfile-web --run-image run-base\n  kiln build oci:./out:v1 --path . --buildpack ./my-buildpack.wasm --run-image oci:./base:latest\n  kiln build 127.0.0.1:5000/myapp:v1 --publish --path examples/procfile-web --run-image 127.0.0.1:5000/run:1\n  kiln build myapp --path examples/procfile-web --run-image run-base --output docker-archive:myapp.tar\n\nImages: a bare NAME[:TAG] (no registry host in its first segment) is the local store\n($KILN_HOME/store or ~/.local/share/kiln/store); HOST/REPO[:TAG] or HOST/REPO@sha256:... is a\nregistry when HOST has a '.' or a ':' or is localhost (ghcr.io/org/app, 127.0.0.1:5000/app);\ndocker://REF is a registry with docker.io defaults; oci:DIR[:TAG] is an OCI image layout\ndirectory; docker-archive:FILE[:NAME:TAG] writes a `docker load` tarball.\nA registry IMAGE is built into the local store under its full name; --publish also pushes it.\nCredentials come from $REGISTRY_AUTH_FILE or ~/.docker/config.json."
)]
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
    /// Write the image even if a process's program is not in it (by default that fails the
    /// build, naming the process and the program).
    #[arg(long)]
    pub no_verify_processes: bool,
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

impl BuildArgs {
    /// The flags as the platform's options.
    fn options(self) -> BuildOptions {
        let fetch = self.capabilities.overrides();
        let exec = self.capabilities.exec();
        BuildOptions {
            image: self.image,
            publish: self.publish,
            output: self.output,
            insecure_registries: self.registry.insecure_registries,
            app_dir: self.path,
            buildpacks: self.buildpacks,
            builder: self.builder,
            run_image: self.run_image,
            env: self.env,
            env_files: self.env_file,
            cache_dir: self.cache_dir,
            clear_cache: self.clear_cache,
            verify_processes: !self.no_verify_processes,
            limits: LimitFlags {
                memory: self.limit_memory,
                cpu: self.limit_cpu,
                time: self.limit_time,
                log: self.limit_log,
                fetch_count: self.capabilities.limit_fetch_count,
                fetch_bytes: self.capabilities.limit_fetch_bytes,
                files: self.capabilities.limit_files,
                layer_bytes: self.capabilities.limit_layer_bytes,
                processes: self.capabilities.limit_processes,
            },
            exec,
            fetch,
        }
    }
}

/// Run a build and print `IMAGE@DIGEST`.
pub fn run(args: BuildArgs, out: &Output) -> Result<(), CliError> {
    let built = crate::platform::build(&args.options(), &Dirs::from_env(), &out.progress_sink(), &out.reporter())?;
    if !out.json() {
        out.result(&format!("{}@{}", built.image, built.manifest.digest));
    }
    Ok(())
}

//! The `kiln build` flags of the sandbox's capabilities: the fetch policy, mirrors, the
//! limits on fetching and on what a buildpack may write, and native steps (`exec`).

use std::path::Path;

use clap::Args;

use super::build::LimitSource;
use super::exit::{CliError, ExitCode};
use crate::config::LimitDefaults;
use crate::fetch::settings::{self, FetchConfig, FetchOverrides};
use crate::fetch::FetchSettings;
use crate::lifecycle::native::{BuildRootfsSetting, ExecSettings};
use crate::sandbox::{ExecPolicy, Limits};
use crate::sandbox::limits::parse_bytes;

/// Fetch policy, mirrors and write limits.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// What buildpacks may fetch: `default` (the package registries npm, pip and apt use on
    /// this machine, plus kiln's config file and --allow-host) or `strict` (nothing).
    #[arg(long, value_name = "POLICY", default_value = "default", value_parser = ["default", "strict"])]
    pub policy: String,
    /// Deny every fetch (the same as --policy strict).
    #[arg(long)]
    pub deny_fetch: bool,
    /// Also allow fetches from HOST[:PORT] or from URLs under a prefix like
    /// https://nodejs.org/dist/ (repeatable).
    #[arg(long = "allow-host", value_name = "HOST_OR_PREFIX")]
    pub allow_host: Vec<String>,
    /// Serve URLs under PREFIX from another base URL or a local directory, e.g.
    /// https://registry.npmjs.org/=/srv/npm (repeatable; see `kiln fetch-cache mirror`).
    #[arg(long, value_name = "PREFIX=URL_OR_DIR")]
    pub mirror: Vec<String>,
    /// Most fetches per buildpack call [default: 10000, or `[limits] fetch-count` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_fetch_count: Option<usize>,
    /// Most bytes fetched per buildpack call (all its fetches together) [default: 4GiB, or `[limits] fetch-bytes` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_fetch_bytes: Option<String>,
    /// Most files (and dirs, symlinks) a buildpack's build may leave in its layers and add
    /// to the app dir [default: 1000000, or `[limits] files` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_files: Option<u64>,
    /// Most bytes a buildpack's build may leave in its layers and add to the app dir [default: 10GiB, or `[limits] layer-bytes` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_layer_bytes: Option<String>,
    /// Most processes at once in a native step's jail [default: 1024, or `[limits] processes` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_processes: Option<u64>,
    /// Refuse every native step (`exec`) of every buildpack (also implied by --policy strict).
    #[arg(long)]
    pub deny_exec: bool,
    /// The root filesystem native steps run on [default: the run image, unpacked once,
    /// or `[exec] build-rootfs` in kiln's config].
    #[arg(long, value_name = "DIR")]
    pub build_rootfs: Option<std::path::PathBuf>,
}

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

impl FetchArgs {
    /// `limits` with this struct's limits set (flag, then kiln's config, then the default).
    pub fn apply_limits(&self, limits: Limits, config: &LimitDefaults) -> Result<Limits, CliError> {
        let fetch_bytes = LimitSource::pick(&self.limit_fetch_bytes, &config.fetch_bytes, "fetch-bytes", "4GiB");
        let layer_bytes = LimitSource::pick(&self.limit_layer_bytes, &config.layer_bytes, "layer-bytes", "10GiB");
        Ok(Limits {
            fetch_count: self.limit_fetch_count.or(config.fetch_count).unwrap_or(10_000),
            fetch_bytes: parse_bytes(&fetch_bytes.value).map_err(|e| fetch_bytes.error(e))? as u64,
            files: self.limit_files.or(config.files).unwrap_or(1_000_000),
            layer_bytes: parse_bytes(&layer_bytes.value).map_err(|e| layer_bytes.error(e))? as u64,
            processes: self.limit_processes.or(config.processes).unwrap_or(1024),
            ..limits
        })
    }

    /// The exec settings: kiln's config file, then these flags.
    pub fn exec_settings(&self, config: &crate::config::ExecDefaults, cache_root: &Path) -> Result<ExecSettings, CliError> {
        let mut settings = ExecSettings::new(cache_root.to_path_buf());
        settings.policy = ExecPolicy {
            deny_all: self.deny_exec || self.policy == "strict" || config.deny_all,
            deny: config.deny.clone(),
        };
        if let Some(dir) = self.build_rootfs.as_ref().or(config.build_rootfs.as_ref()) {
            if !dir.is_dir() {
                return Err(bad_input(format!("--build-rootfs {}: not a directory", dir.display())));
            }
            settings.build_rootfs = BuildRootfsSetting::Dir(dir.clone());
        }
        Ok(settings)
    }

    /// The fetch settings: kiln's config file, then these flags.
    pub fn settings(&self, config: &FetchConfig, cache_root: &Path) -> Result<FetchSettings, CliError> {
        let overrides = FetchOverrides {
            strict: self.deny_fetch || self.policy == "strict",
            allow: self.allow_host.clone(),
            mirrors: self.mirror.clone(),
        };
        settings::resolve(config, &overrides, cache_root).map_err(bad_input)
    }
}

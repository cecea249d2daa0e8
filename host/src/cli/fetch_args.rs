//! The `kiln build` flags of the sandbox's capabilities: the fetch policy, mirrors, and the
//! limits on fetching and on what a buildpack may write.

use std::path::Path;

use clap::Args;

use super::exit::{CliError, ExitCode};
use crate::fetch::settings::{self, ConfigFile, FetchOverrides};
use crate::fetch::FetchSettings;
use crate::sandbox::Limits;
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
    /// Most fetches per buildpack call.
    #[arg(long, value_name = "COUNT", default_value = "10000")]
    pub limit_fetch_count: usize,
    /// Most bytes fetched per buildpack call (all its fetches together).
    #[arg(long, value_name = "SIZE", default_value = "4GiB")]
    pub limit_fetch_bytes: String,
    /// Most files (and dirs, symlinks) a buildpack's build may leave in its layers and add
    /// to the app dir.
    #[arg(long, value_name = "COUNT", default_value = "1000000")]
    pub limit_files: u64,
    /// Most bytes a buildpack's build may leave in its layers and add to the app dir.
    #[arg(long, value_name = "SIZE", default_value = "10GiB")]
    pub limit_layer_bytes: String,
}

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

impl FetchArgs {
    /// `limits` with this struct's limits set.
    pub fn apply_limits(&self, limits: Limits) -> Result<Limits, CliError> {
        Ok(Limits {
            fetch_count: self.limit_fetch_count,
            fetch_bytes: parse_bytes(&self.limit_fetch_bytes).map_err(|e| bad_input(format!("--limit-fetch-bytes: {e}")))? as u64,
            files: self.limit_files,
            layer_bytes: parse_bytes(&self.limit_layer_bytes).map_err(|e| bad_input(format!("--limit-layer-bytes: {e}")))? as u64,
            ..limits
        })
    }

    /// The fetch settings: kiln's config file, then these flags.
    pub fn settings(&self, cache_root: &Path) -> Result<FetchSettings, CliError> {
        let config = match ConfigFile::default_path() {
            Some(path) => ConfigFile::read(&path).map_err(bad_input)?,
            None => ConfigFile::default(),
        };
        let overrides = FetchOverrides {
            strict: self.deny_fetch || self.policy == "strict",
            allow: self.allow_host.clone(),
            mirrors: self.mirror.clone(),
        };
        settings::resolve(&config.fetch, &overrides, cache_root).map_err(bad_input)
    }
}

//! `--insecure-registry`, the flag shared by the commands that talk to registries (`build`,
//! `rebase`, `inspect`, `buildpack`). The client itself is the platform's
//! ([`crate::platform::Registries`]).

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::config::KilnConfig;
use crate::platform::{PlatformError, Registries};

/// `--insecure-registry HOST` (repeatable).
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Reach this registry (`host[:port]`) over plain HTTP (repeatable). Loopback registries
    /// (localhost, 127.0.0.1) always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

impl RegistryArgs {
    /// Registry access with these flags and kiln's config, reporting progress to `out`.
    pub fn registries(&self, out: &Output) -> Result<Registries, CliError> {
        let config = KilnConfig::load().map_err(PlatformError::Config)?;
        Ok(Registries::new(&self.insecure_registries, &config.registry, out.progress_sink()))
    }
}

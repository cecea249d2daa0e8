//! Flags and helpers shared by the commands that talk to registries (`build`, `rebase`,
//! `inspect`, `buildpack`): `--insecure-registry`, the client, pulling into the store.

use std::sync::Arc;

use clap::Args;

use super::exit::{CliError, ExitCode};
use super::output::Output;
use crate::config::{KilnConfig, RegistryDefaults};
use crate::image::registry::{RegistryClient, RegistryError, RegistryOptions};
use crate::image::{ImageError, ImageRef, ImageStore};

/// `--insecure-registry HOST` (repeatable).
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Reach this registry (`host[:port]`) over plain HTTP (repeatable). Loopback registries
    /// (localhost, 127.0.0.1) always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

impl RegistryArgs {
    /// A registry client with the user's credentials, reporting progress to `out`.
    pub fn client(&self, out: &Output) -> Result<RegistryClient, CliError> {
        let config = KilnConfig::load().map_err(|e| CliError::new(ExitCode::BadInput, e))?;
        self.client_with(&config.registry, out)
    }

    /// [`RegistryArgs::client`] with kiln's config already read: its `[registry]` auth file
    /// (below `$REGISTRY_AUTH_FILE`) and insecure registries (added to the flags').
    pub fn client_with(&self, config: &RegistryDefaults, out: &Output) -> Result<RegistryClient, CliError> {
        let mut insecure = self.insecure_registries.clone();
        insecure.extend(config.insecure.iter().cloned());
        let options = RegistryOptions::with_auth_file(insecure, config.auth_file.as_deref()).map_err(CliError::from)?;
        for helper in options.credentials.ignored_helpers() {
            out.progress(&format!("warning: credential helper for {helper} is not supported; put an `auths` entry in the auth file"));
        }
        let progress_out = *out;
        let client = RegistryClient::new(options).map_err(CliError::from)?;
        Ok(client.with_progress(Arc::new(move |line: &str| progress_out.progress(line))))
    }
}

/// The exit code for a registry failure.
pub fn registry_code(error: &RegistryError) -> ExitCode {
    match error {
        RegistryError::Auth { .. } => ExitCode::RegistryAuth,
        RegistryError::NotFound { .. } => ExitCode::BadInput,
        RegistryError::Store(_) => ExitCode::Image,
        _ => ExitCode::Registry,
    }
}

impl From<RegistryError> for CliError {
    fn from(error: RegistryError) -> Self {
        CliError::new(registry_code(&error), error.to_string())
    }
}

/// The exit code for an image error (registry failures keep theirs).
pub fn image_code(error: &ImageError) -> ExitCode {
    match error {
        ImageError::Registry(inner) => registry_code(inner),
        ImageError::ImageNotFound { .. } | ImageError::InvalidReference { .. } | ImageError::UnsupportedReference { .. } => {
            ExitCode::BadInput
        }
        _ => ExitCode::Image,
    }
}

impl From<ImageError> for CliError {
    fn from(error: ImageError) -> Self {
        CliError::new(image_code(&error), error.to_string())
    }
}

/// Make sure a run image given as a registry reference is in the local store (pulled once,
/// then reused while the registry serves the same digest). Other references are left alone.
pub fn ensure_local(reference: &ImageRef, store: &ImageStore, client: &RegistryClient) -> Result<(), CliError> {
    if let ImageRef::Registry(r) = reference {
        client.pull_cached(r, store, &reference.tag_name())?;
    }
    Ok(())
}

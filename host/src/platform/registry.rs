//! Registry access for one command: the insecure registries (flags plus kiln's config), the
//! credentials, and one client made the first time something needs a registry and shared
//! by everything after (buildpack pulls, the run image, the previous image, the push).

use std::sync::{Arc, OnceLock};

use crate::config::RegistryDefaults;
use crate::image::registry::{Progress, RegistryClient, RegistryError, RegistryOptions};
use crate::image::{ImageRef, ImageStore};

/// How to reach registries, and the client once one was needed.
pub struct Registries {
    insecure: Vec<String>,
    auth_file: Option<std::path::PathBuf>,
    progress: Progress,
    client: OnceLock<Arc<RegistryClient>>,
}

impl Registries {
    /// `insecure` from `--insecure-registry`, plus kiln's config `[registry]` (its insecure
    /// registries are added, its auth file is used below `$REGISTRY_AUTH_FILE`). Nothing is
    /// read until a client is needed.
    pub fn new(insecure: &[String], config: &RegistryDefaults, progress: Progress) -> Self {
        let mut all = insecure.to_vec();
        all.extend(config.insecure.iter().cloned());
        Registries { insecure: all, auth_file: config.auth_file.clone(), progress, client: OnceLock::new() }
    }

    /// The client, made on first use with the user's credentials. A credential helper the
    /// auth file names is reported (kiln cannot run it).
    pub fn client(&self) -> Result<Arc<RegistryClient>, RegistryError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let options = RegistryOptions::with_auth_file(self.insecure.clone(), self.auth_file.as_deref())?;
        for helper in options.credentials.ignored_helpers() {
            (self.progress)(&format!("warning: credential helper for {helper} is not supported; put an `auths` entry in the auth file"));
        }
        let client = Arc::new(RegistryClient::new(options)?.with_progress(self.progress.clone()));
        Ok(self.client.get_or_init(|| client).clone())
    }
}

/// Make sure an image given as a registry reference is in the local store (pulled once,
/// then reused while the registry serves the same digest). Other references are left alone.
pub fn ensure_local(reference: &ImageRef, store: &ImageStore, registries: &Registries) -> Result<(), RegistryError> {
    if let ImageRef::Registry(r) = reference {
        registries.client()?.pull_cached(r, store, &reference.tag_name())?;
    }
    Ok(())
}

//! OCI registries: pull into the local store, fetch only a manifest and config, push from it.
//!
//! Built on `oci-client` (reqwest + tokio). kiln is synchronous, so a [`RegistryClient`] owns
//! a current-thread tokio runtime and blocks on each operation; nothing async leaks out.
//!
//! - Transport: HTTPS, except plain HTTP for loopback registries (`localhost`, `127.*`,
//!   `[::1]`) and for hosts given with `--insecure-registry HOST` (repeatable).
//! - Auth: [`Credentials`] from `$REGISTRY_AUTH_FILE` / `~/.docker/config.json` (basic
//!   `auth`, `username`/`password`, or a bearer `registrytoken`); anonymous otherwise. Token
//!   exchange (`WWW-Authenticate: Bearer`) is done by `oci-client`.
//! - Retries: every request is retried up to [`RETRIES`] times with exponential backoff on
//!   transient failures (connection errors, timeouts, 429, 5xx); a blob upload restarts from
//!   its first byte.
//! - Pull verifies every blob's digest before it becomes visible in the store.
//! - Push (see `registry_push.rs`): HEAD each blob first, mount from another repository of
//!   the same registry when possible, stream the rest from the store's files, the manifest
//!   last, so a failed push never leaves a tag pointing at a partial image.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;

#[path = "registry_push.rs"]
mod push;

pub use super::registry_auth::Credentials;
pub use push::{PushReport, PushSources};

use super::oci::{
    Descriptor, ImageConfig, Index, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST, Manifest, Platform, is_index_media_type, is_manifest_media_type,
};
use super::reference::RegistryRef;
use super::store::{Image, ImageStore};
use super::{Digest, ImageError};
use crate::error_text::error_chain;

/// How many times a transient failure is retried (so up to `RETRIES + 1` attempts).
pub const RETRIES: u32 = 4;
/// The first backoff delay; it doubles after each attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);

const MANIFEST_TYPES: &[&str] =
    &[MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST];

/// Errors talking to a registry. Each names the registry (and blob or reference) and says
/// what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry refused the credentials (or demanded some).
    #[error(
        "authentication to {registry} failed: check the credentials for {registry} in {auth_file} (the `auths` entry, e.g. written by `podman login` or `docker login`){detail}"
    )]
    Auth {
        /// The registry host.
        registry: String,
        /// The auth file consulted, for the message.
        auth_file: String,
        /// What the registry said.
        detail: String,
    },
    /// The registry could not be reached (after retries).
    #[error("cannot reach registry {registry} while {action}: {detail}; check that it is running and reachable{hint}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// What kiln was doing.
        action: String,
        /// The underlying error.
        detail: String,
        /// A hint about --insecure-registry, when relevant.
        hint: String,
    },
    /// No such image (manifest) in the registry.
    #[error("image {reference} was not found in the registry: {detail}")]
    NotFound {
        /// The reference.
        reference: String,
        /// What the registry said.
        detail: String,
    },
    /// Another failure of one registry operation.
    #[error("registry {registry}: {action} failed: {detail}")]
    Failed {
        /// The registry host.
        registry: String,
        /// What kiln was doing, naming the blob or reference.
        action: String,
        /// The underlying error.
        detail: String,
    },
    /// A pulled blob or manifest does not hash to its digest.
    #[error("{what} from {registry} does not match its digest: expected {expected}, got {actual}; the registry or a proxy corrupted it")]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// Which blob or manifest.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The registry returned something kiln cannot use.
    #[error("{reference}: {reason}")]
    Unsupported {
        /// The reference.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// The auth file is unreadable or malformed.
    #[error("cannot read registry credentials from {path}: {reason}")]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
    /// A local store operation failed while pulling or pushing.
    #[error(transparent)]
    Store(Box<ImageError>),
}

impl RegistryError {
    /// Whether the registry rejected the credentials.
    pub fn is_auth(&self) -> bool {
        matches!(self, RegistryError::Auth { .. })
    }
}

impl From<ImageError> for RegistryError {
    fn from(error: ImageError) -> Self {
        RegistryError::Store(Box::new(error))
    }
}

/// Settings for talking to registries; every field is a flag or env var of the CLI.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) reached over plain HTTP (`--insecure-registry`).
    pub insecure: Vec<String>,
    /// The credentials.
    pub credentials: Credentials,
}

impl RegistryOptions {
    /// Options from the environment's auth file and the given insecure hosts.
    pub fn from_env(insecure: Vec<String>) -> Result<Self, RegistryError> {
        Self::with_auth_file(insecure, None)
    }

    /// Like [`RegistryOptions::from_env`], with `configured_auth_file` (kiln's config) used when
    /// `$REGISTRY_AUTH_FILE` is not set.
    pub fn with_auth_file(insecure: Vec<String>, configured_auth_file: Option<&std::path::Path>) -> Result<Self, RegistryError> {
        let from_env = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty());
        let file = match (from_env, configured_auth_file) {
            (None, Some(configured)) => Some(configured.to_path_buf()),
            _ => Credentials::default_file(),
        };
        let credentials = Credentials::load(file.as_deref())?;
        Ok(Self { insecure, credentials })
    }
}

/// A progress callback: one human-readable line per blob or step.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// An image's manifest and config read from a registry, without its layers.
#[derive(Debug, Clone)]
pub struct RemoteImage {
    /// The reference, pinned to the manifest's digest.
    pub reference: RegistryRef,
    /// The manifest, its descriptor and the config (as the store's [`Image`]).
    pub image: Image,
    /// The exact manifest bytes.
    pub manifest_bytes: Vec<u8>,
    /// The exact config bytes.
    pub config_bytes: Vec<u8>,
}

/// A client for OCI registries; one per command. Blocking.
pub struct RegistryClient {
    options: RegistryOptions,
    runtime: tokio::runtime::Runtime,
    progress: Option<Progress>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("options", &self.options).finish_non_exhaustive()
    }
}

/// Whether `registry` is on the loopback interface (plain HTTP is then the default).
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').filter(|(h, p)| !h.ends_with(':') && p.parse::<u16>().is_ok()).map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1"
}

impl RegistryClient {
    /// A client with `options`.
    pub fn new(options: RegistryOptions) -> Result<Self, RegistryError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(RegistryError::Runtime)?;
        Ok(Self { options, runtime, progress: None })
    }

    /// Report progress lines to `progress`.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    fn say(&self, line: &str) {
        if let Some(progress) = &self.progress {
            progress(line);
        }
    }

    /// Whether `registry` is spoken to over plain HTTP.
    pub fn is_plain_http(&self, registry: &str) -> bool {
        is_loopback(registry) || self.options.insecure.iter().any(|h| h == registry)
    }

    /// An `oci-client` for `registries`, with their credentials stored.
    fn oci(&self, registries: &[&str]) -> oci_client::Client {
        let mut plain: Vec<String> = self.options.insecure.clone();
        plain.extend(registries.iter().filter(|r| is_loopback(r)).map(|r| r.to_string()));
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain),
            use_monolithic_push: true,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(120)),
            user_agent: concat!("kiln/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let client = oci_client::Client::new(config);
        self.runtime.block_on(async {
            for registry in registries {
                let auth = self.options.credentials.for_registry(registry);
                let key = oci_client::Reference::with_tag(registry.to_string(), "x".into(), "x".into());
                client.store_auth_if_needed(key.resolve_registry(), &auth).await;
            }
        });
        client
    }

    fn auth(&self, registry: &str) -> RegistryAuth {
        self.options.credentials.for_registry(registry)
    }

    /// Turn an `oci-client` error into a [`RegistryError`] naming what was being done.
    fn classify(&self, registry: &str, action: &str, error: OciDistributionError) -> RegistryError {
        let auth_file = self
            .options
            .credentials
            .file
            .as_ref()
            .map_or("$REGISTRY_AUTH_FILE or ~/.docker/config.json".to_owned(), |p| p.display().to_string());
        let auth = |detail: String| RegistryError::Auth {
            registry: registry.to_owned(),
            auth_file: auth_file.clone(),
            detail: if self.options.credentials.has(registry) {
                format!(" ({detail})")
            } else {
                format!(" (it has no entry for {registry}, so kiln tried anonymous access; {detail})")
            },
        };
        match error {
            OciDistributionError::UnauthorizedError { url } => auth(format!("401 Unauthorized for {url}")),
            OciDistributionError::AuthenticationFailure(reason) => auth(reason),
            OciDistributionError::ServerError { code: code @ (401 | 403), url, message } => {
                auth(format!("HTTP {code} for {url}: {}", message.trim()))
            }
            OciDistributionError::RegistryError { envelope, url }
                if envelope.errors.iter().any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)) =>
            {
                auth(format!("{envelope} ({url})"))
            }
            OciDistributionError::RegistryError { envelope, url }
                if envelope
                    .errors
                    .iter()
                    .any(|e| matches!(e.code, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound)) =>
            {
                RegistryError::NotFound { reference: action.to_owned(), detail: format!("{envelope} ({url})") }
            }
            OciDistributionError::ImageManifestNotFoundError(detail) => RegistryError::NotFound { reference: action.to_owned(), detail },
            OciDistributionError::ServerError { code: 404, url, message } => {
                RegistryError::NotFound { reference: action.to_owned(), detail: format!("HTTP 404 for {url} {}", message.trim()) }
            }
            OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                let hint = if self.is_plain_http(registry) {
                    String::new()
                } else {
                    format!(" (kiln used HTTPS; for a plain-HTTP registry pass --insecure-registry {registry})")
                };
                RegistryError::Unreachable { registry: registry.to_owned(), action: action.to_owned(), detail: error_chain(&e), hint }
            }
            OciDistributionError::RequestError(e) => {
                RegistryError::Failed { registry: registry.to_owned(), action: action.to_owned(), detail: error_chain(&e) }
            }
            other => RegistryError::Failed { registry: registry.to_owned(), action: action.to_owned(), detail: other.to_string() },
        }
    }

    /// Run `attempt` until it succeeds, fails permanently or runs out of retries.
    async fn retry<T, F, Fut>(&self, registry: &str, action: &str, mut attempt: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = FIRST_BACKOFF;
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) if tries < RETRIES && is_transient(&error) => {
                    tries += 1;
                    tracing::debug!(%registry, %action, attempt = tries, error = %error, "transient registry error; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(error) => return Err(self.classify(registry, action, error)),
            }
        }
    }

    /// The current digest of `reference` (a HEAD request; GET when the registry sends no digest).
    pub fn resolve_digest(&self, reference: &RegistryRef) -> Result<Digest, RegistryError> {
        if let Some(digest) = reference.digest() {
            return Digest::parse(digest).map_err(RegistryError::from);
        }
        let client = self.oci(&[reference.registry()]);
        let oci_ref = reference.to_oci();
        let auth = self.auth(reference.registry());
        let action = format!("resolving {reference}");
        let (client, oci_ref, auth) = (&client, &oci_ref, &auth);
        let digest = self.runtime.block_on(self.retry(reference.registry(), &action, || async move {
            client.store_auth_if_needed(oci_ref.resolve_registry(), auth).await;
            client.fetch_manifest_digest(oci_ref, auth).await
        }))?;
        Digest::parse(&digest).map_err(RegistryError::from)
    }

    /// Fetch the manifest (choosing linux/host-arch from an index) and config of `reference`;
    /// no layer is downloaded.
    pub fn fetch_image(&self, reference: &RegistryRef) -> Result<RemoteImage, RegistryError> {
        let client = self.oci(&[reference.registry()]);
        self.runtime.block_on(self.fetch_image_async(&client, reference))
    }

    async fn fetch_manifest(&self, client: &oci_client::Client, reference: &RegistryRef) -> Result<(Vec<u8>, Descriptor), RegistryError> {
        let registry = reference.registry();
        let auth = self.auth(registry);
        let oci_ref = reference.to_oci();
        let action = format!("fetching the manifest of {reference}");
        let (bytes, digest) =
            self.retry(registry, &action, || client.pull_manifest_raw(&oci_ref, &auth, MANIFEST_TYPES)).await.map_err(|e| match e {
                RegistryError::NotFound { detail, .. } => RegistryError::NotFound { reference: reference.to_string(), detail },
                other => other,
            })?;
        let actual = Digest::of_bytes(&bytes);
        if actual.as_str() != digest {
            return Err(RegistryError::DigestMismatch {
                registry: registry.to_owned(),
                what: format!("the manifest of {reference}"),
                expected: digest,
                actual: actual.to_string(),
            });
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| MEDIA_TYPE_OCI_MANIFEST.to_owned());
        let size = bytes.len() as u64;
        Ok((bytes.to_vec(), Descriptor::new(media_type, actual, size)))
    }

    async fn fetch_image_async(&self, client: &oci_client::Client, reference: &RegistryRef) -> Result<RemoteImage, RegistryError> {
        let (mut bytes, mut descriptor) = self.fetch_manifest(client, reference).await?;
        if is_index_media_type(&descriptor.media_type) {
            let index: Index = serde_json::from_slice(&bytes).map_err(|e| unsupported(reference, format!("invalid image index: {e}")))?;
            let want = Platform::host_linux();
            let chosen = index
                .manifests
                .iter()
                .find(|m| {
                    is_manifest_media_type(&m.media_type)
                        && m.platform.as_ref().is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
                })
                .ok_or_else(|| unsupported(reference, format!("its image index has no manifest for {}/{}", want.os, want.architecture)))?;
            let pinned = reference.with_digest(chosen.digest.as_str());
            (bytes, descriptor) = self.fetch_manifest(client, &pinned).await?;
        }
        if !is_manifest_media_type(&descriptor.media_type) {
            return Err(unsupported(reference, format!("unsupported manifest media type {}", descriptor.media_type)));
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| unsupported(reference, format!("invalid manifest: {e}")))?;
        let config_bytes = self.fetch_blob_bytes(client, reference, &manifest.config, "config").await?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|e| unsupported(reference, format!("invalid image config: {e}")))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(unsupported(
                reference,
                format!("its manifest has {} layers but its config lists {} diff_ids", manifest.layers.len(), config.rootfs.diff_ids.len()),
            ));
        }
        let pinned = reference.with_digest(descriptor.digest.as_str());
        Ok(RemoteImage {
            reference: pinned,
            image: Image { manifest_descriptor: descriptor, manifest, config },
            manifest_bytes: bytes,
            config_bytes,
        })
    }

    /// A small blob (a config) into memory, verified.
    async fn fetch_blob_bytes(
        &self,
        client: &oci_client::Client,
        reference: &RegistryRef,
        descriptor: &Descriptor,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let registry = reference.registry();
        let oci_ref = reference.to_oci();
        let layer = oci_descriptor(descriptor);
        let action = format!("downloading {what} blob {} of {reference}", descriptor.digest);
        let (oci_ref, layer) = (&oci_ref, &layer);
        let bytes = self
            .retry(registry, &action, || async move {
                let mut out = Vec::new();
                client.pull_blob(oci_ref, layer, &mut out).await?;
                Ok(out)
            })
            .await?;
        let actual = Digest::of_bytes(&bytes);
        if actual != descriptor.digest {
            return Err(RegistryError::DigestMismatch {
                registry: registry.to_owned(),
                what: format!("{what} blob"),
                expected: descriptor.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Pull `reference` into `store` (manifest, config and every layer the store lacks, each
    /// verified) and tag it `tag`. Returns the manifest descriptor.
    pub fn pull(&self, reference: &RegistryRef, store: &ImageStore, tag: &str) -> Result<Descriptor, RegistryError> {
        let client = self.oci(&[reference.registry()]);
        self.runtime.block_on(async {
            let remote = self.fetch_image_async(&client, reference).await?;
            self.pull_layers(&client, &remote.reference, &remote.image.manifest.layers, store).await?;
            let config = &remote.image.manifest.config;
            store.put_blob_bytes(&remote.config_bytes, &config.media_type)?;
            let descriptor = store.put_blob_bytes(&remote.manifest_bytes, &remote.image.manifest_descriptor.media_type)?;
            store.tag(tag, &descriptor)?;
            self.say(&format!("[pull] {reference} -> {tag} ({})", descriptor.digest));
            Ok::<_, RegistryError>(descriptor)
        })
    }

    /// Download the blobs `layers` of the repository of `reference` into `store` (those it
    /// lacks), each verified against its digest.
    pub fn pull_blobs(&self, reference: &RegistryRef, layers: &[Descriptor], store: &ImageStore) -> Result<(), RegistryError> {
        let client = self.oci(&[reference.registry()]);
        self.runtime.block_on(self.pull_layers(&client, reference, layers, store))
    }

    async fn pull_layers(
        &self,
        client: &oci_client::Client,
        reference: &RegistryRef,
        layers: &[Descriptor],
        store: &ImageStore,
    ) -> Result<(), RegistryError> {
        let registry = reference.registry();
        let oci_ref = reference.to_oci();
        let total = layers.len();
        for (i, layer) in layers.iter().enumerate() {
            if store.has_blob(&layer.digest) {
                continue;
            }
            let action = format!("downloading layer {} of {total} ({}) of {reference}", i + 1, layer.digest);
            let descriptor = oci_descriptor(layer);
            let (oci_ref, descriptor) = (&oci_ref, &descriptor);
            self.retry(registry, &action, || async move {
                let mut stream = client.pull_blob_stream(oci_ref, descriptor).await?;
                let mut writer = store.blob_writer().map_err(|e| OciDistributionError::GenericError(Some(e.to_string())))?;
                while let Some(chunk) = stream.next().await {
                    writer.write_all(&chunk?)?;
                }
                writer
                    .commit_expecting(&layer.media_type, &layer.digest)
                    .map_err(|e| OciDistributionError::GenericError(Some(e.to_string())))?;
                Ok(())
            })
            .await?;
            self.say(&format!("[pull] layer {}/{total} {} ({} bytes)", i + 1, short(&layer.digest), layer.size));
        }
        Ok(())
    }

    /// Pull `reference` into `store` under `tag` unless the store already has the digest the
    /// registry currently serves under that tag; when the registry is unreachable and the
    /// store has the tag, the stored image is used. Returns the manifest descriptor.
    pub fn pull_cached(&self, reference: &RegistryRef, store: &ImageStore, tag: &str) -> Result<Descriptor, RegistryError> {
        let local = store.resolve(tag)?;
        let current = match self.resolve_digest(reference) {
            Ok(digest) => digest,
            Err(RegistryError::Unreachable { .. }) if local.is_some() => {
                let local = local.expect("checked");
                self.say(&format!("[pull] {} unreachable; using the cached {tag} ({})", reference.registry(), local.digest));
                return Ok(local);
            }
            Err(e) => return Err(e),
        };
        if let Some(local) = local
            && local.digest == current
            && store.read_image_at(&local).is_ok_and(|image| image.manifest.layers.iter().all(|l| store.has_blob(&l.digest)))
        {
            self.say(&format!("[pull] {reference} is cached ({current})"));
            return Ok(local);
        }
        self.pull(reference, store, tag)
    }
}

fn is_transient(error: &OciDistributionError) -> bool {
    match error {
        OciDistributionError::RequestError(e) => e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

fn unsupported(reference: &RegistryRef, reason: String) -> RegistryError {
    RegistryError::Unsupported { reference: reference.to_string(), reason }
}

/// `sha256:0123456789ab`.
pub(crate) fn short(digest: &Digest) -> String {
    digest.as_str().chars().take(19).collect()
}

pub(crate) fn oci_descriptor(descriptor: &Descriptor) -> OciDescriptor {
    OciDescriptor {
        media_type: descriptor.media_type.clone(),
        digest: descriptor.digest.to_string(),
        size: descriptor.size as i64,
        ..OciDescriptor::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http() {
        for host in ["localhost", "localhost:5000", "127.0.0.1:41234", "127.0.0.1", "[::1]:5000"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com", "my127.0.0.1.io"] {
            assert!(!is_loopback(host), "{host}");
        }
        let client = RegistryClient::new(RegistryOptions { insecure: vec!["reg.lan:5000".into()], ..Default::default() }).unwrap();
        assert!(client.is_plain_http("reg.lan:5000"));
        assert!(!client.is_plain_http("reg.lan"));
    }

    #[test]
    fn unreachable_registry_is_a_clear_error() {
        // A port nothing listens on: connection refused, retried, then reported.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = RegistryClient::new(RegistryOptions::default()).unwrap();
        let reference = RegistryRef::parse(&format!("127.0.0.1:{port}/app:v1")).unwrap();
        let err = client.resolve_digest(&reference).unwrap_err();
        assert!(matches!(err, RegistryError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("running"), "{text}");
    }
}

//! Registry credentials from the user's container auth file.
//!
//! The file is `$REGISTRY_AUTH_FILE` if set (podman/skopeo's variable), else
//! `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. Its `auths` map is keyed by
//! registry host (`127.0.0.1:5000`, `ghcr.io`) or, for Docker Hub, by
//! `https://index.docker.io/v1/`; each entry holds `auth` (base64 of `user:password`),
//! or `username` and `password`, or `registrytoken` (a bearer token used as is). Bearer token
//! exchange with the basic credentials is done by `oci-client`. Credential helpers
//! (`credsStore`, `credHelpers`) are not run: kiln reports that it ignored them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::registry::RegistryError;

/// The `config.json` shape kiln reads.
#[derive(Debug, Default, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "registrytoken")]
    registry_token: Option<String>,
}

/// Credentials for registries, read once from the auth file.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The file they came from, named in authentication errors.
    pub file: Option<PathBuf>,
    by_host: BTreeMap<String, RegistryAuth>,
    helpers: Vec<String>,
}

impl Credentials {
    /// The auth file kiln reads: `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`.
    pub fn default_file() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }

    /// Reads `path`; a missing file means no credentials (anonymous access).
    pub fn load(path: Option<&Path>) -> Result<Self, RegistryError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { file: Some(path.to_path_buf()), ..Self::default() });
            }
            Err(e) => {
                return Err(RegistryError::AuthFile { path: path.to_path_buf(), reason: e.to_string() });
            }
        };
        let file: AuthFile =
            serde_json::from_str(&text).map_err(|e| RegistryError::AuthFile { path: path.to_path_buf(), reason: e.to_string() })?;
        let mut by_host = BTreeMap::new();
        for (key, entry) in file.auths {
            let auth = entry_auth(&entry)
                .map_err(|reason| RegistryError::AuthFile { path: path.to_path_buf(), reason: format!("entry {key:?}: {reason}") })?;
            if let Some(auth) = auth {
                by_host.insert(normalize_host(&key), auth);
            }
        }
        let mut helpers: Vec<String> = file.cred_helpers.into_keys().collect();
        if let Some(store) = file.creds_store {
            helpers.push(format!("credsStore {store}"));
        }
        Ok(Self { file: Some(path.to_path_buf()), by_host, helpers })
    }

    /// The credentials for `registry` (host with port), or anonymous access.
    pub fn for_registry(&self, registry: &str) -> RegistryAuth {
        self.by_host.get(&normalize_host(registry)).cloned().unwrap_or(RegistryAuth::Anonymous)
    }

    /// Whether the file has credentials for `registry`.
    pub fn has(&self, registry: &str) -> bool {
        self.by_host.contains_key(&normalize_host(registry))
    }

    /// Credential helpers named in the file, which kiln does not run.
    pub fn ignored_helpers(&self) -> &[String] {
        &self.helpers
    }
}

fn entry_auth(entry: &AuthEntry) -> Result<Option<RegistryAuth>, String> {
    if let Some(token) = entry.registry_token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(RegistryAuth::Bearer(token.to_owned())));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|e| format!("`auth` is not base64: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| "`auth` is not UTF-8".to_owned())?;
        let (user, password) = text.split_once(':').ok_or("`auth` is not base64 of user:password")?;
        return Ok(Some(RegistryAuth::Basic(user.to_owned(), password.to_owned())));
    }
    match (&entry.username, &entry.password) {
        (Some(user), Some(password)) => Ok(Some(RegistryAuth::Basic(user.clone(), password.clone()))),
        _ => Ok(None),
    }
}

/// `https://index.docker.io/v1/` -> `docker.io`; `http://h:5000/` -> `h:5000`.
fn normalize_host(key: &str) -> String {
    let host = key.split_once("://").map_or(key, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".to_owned(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_config_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // "alice:s3cret:with-colon" in base64.
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:with-colon");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"username":"bob","password":"pw"}},"ghcr.io":{{"registrytoken":"tok"}},"empty.io":{{}}}},"credHelpers":{{"gcr.io":"gcloud"}}}}"#
            ),
        )
        .unwrap();
        let creds = Credentials::load(Some(&path)).unwrap();
        assert!(matches!(creds.for_registry("127.0.0.1:5000"), RegistryAuth::Basic(u, p) if u == "alice" && p == "s3cret:with-colon"));
        assert!(matches!(creds.for_registry("docker.io"), RegistryAuth::Basic(u, _) if u == "bob"));
        assert!(matches!(creds.for_registry("index.docker.io"), RegistryAuth::Basic(u, _) if u == "bob"));
        assert!(matches!(creds.for_registry("ghcr.io"), RegistryAuth::Bearer(t) if t == "tok"));
        assert!(matches!(creds.for_registry("empty.io"), RegistryAuth::Anonymous));
        assert!(matches!(creds.for_registry("other.io"), RegistryAuth::Anonymous));
        assert_eq!(creds.ignored_helpers(), ["gcr.io"]);
    }

    #[test]
    fn missing_file_is_anonymous_and_bad_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let creds = Credentials::load(Some(&dir.path().join("nope.json"))).unwrap();
        assert!(matches!(creds.for_registry("x.io"), RegistryAuth::Anonymous));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"auths":{"x.io":{"auth":"%%%"}}}"#).unwrap();
        let err = Credentials::load(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("bad.json") && err.contains("x.io"), "{err}");
    }
}

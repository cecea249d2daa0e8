//! OCI image spec data types: descriptor, manifest, index and image config.
//!
//! Follows the OCI image spec v1.1 (`descriptor.md`, `manifest.md`, `image-index.md`,
//! `config.md`). Every map is a `BTreeMap` and optional fields are skipped when empty, so
//! the same values always serialize to the same bytes and therefore the same digest.
//! Docker schema 2 manifests and configs have the same shape; their media types are accepted
//! when reading.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// Media type of an OCI image manifest.
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image config.
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a gzip-compressed OCI layer (what kiln writes).
pub const MEDIA_TYPE_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Media type of an uncompressed OCI layer.
pub const MEDIA_TYPE_OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Media type of a zstd-compressed OCI layer (recognized, not produced).
pub const MEDIA_TYPE_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Media type of a Docker schema 2 manifest (read only).
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a Docker manifest list (read only).
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of a Docker image config (read only).
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Media type of a gzip-compressed Docker layer (read only).
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Annotation naming a tag inside an image layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation with the creation time of an image.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// The `created` time kiln writes: 1980-01-01T00:00:01Z, the constant the CNB lifecycle uses.
pub const NORMALIZED_CREATED: &str = "1980-01-01T00:00:01Z";

/// The `PATH=...` env entry a Linux base image gets when none is given: the shared
/// [`kiln_cnb::env::DEFAULT_PATH`]. An env entry, not a value: to get the `PATH` of an app
/// image use [`kiln_cnb::env::app_image_path`].
pub fn default_path_env() -> String {
    format!("PATH={}", kiln_cnb::env::DEFAULT_PATH)
}

/// Whether `media_type` is an image manifest (OCI or Docker schema 2).
pub fn is_manifest_media_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_MANIFEST || media_type == MEDIA_TYPE_DOCKER_MANIFEST
}

/// Whether `media_type` is an image index (OCI index or Docker manifest list).
pub fn is_index_media_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_INDEX || media_type == MEDIA_TYPE_DOCKER_MANIFEST_LIST
}

/// Whether `media_type` is an image config (OCI or Docker).
pub fn is_config_media_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_CONFIG || media_type == MEDIA_TYPE_DOCKER_CONFIG
}

/// Whether `media_type` is a gzip-compressed layer (OCI or Docker).
pub fn is_gzip_layer_media_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_OCI_LAYER_GZIP || media_type == MEDIA_TYPE_DOCKER_LAYER_GZIP
}

/// Whether `media_type` is any filesystem layer kiln recognizes.
pub fn is_layer_media_type(media_type: &str) -> bool {
    is_gzip_layer_media_type(media_type) || media_type == MEDIA_TYPE_OCI_LAYER_TAR || media_type == MEDIA_TYPE_OCI_LAYER_ZSTD
}

/// The OCI architecture name of the machine kiln runs on (`amd64`, `arm64`, ...).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// A content descriptor: what a blob is, its digest and size (OCI `descriptor.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// Alternative download locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Arbitrary metadata, e.g. `org.opencontainers.image.ref.name` in an index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform of a manifest referenced from an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type of an artifact manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }

    /// The `org.opencontainers.image.ref.name` annotation, if any.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)
    }
}

/// The platform an image runs on (OCI `image-index.md`, `platform`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// OS version (Windows).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Required OS features (Windows).
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `linux` on the host's architecture.
    pub fn host_linux() -> Self {
        Self {
            architecture: host_architecture().to_owned(),
            os: "linux".to_owned(),
            os_version: None,
            os_features: Vec::new(),
            variant: None,
        }
    }
}

/// An image manifest (OCI `manifest.md`; Docker schema 2 has the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest media type; kiln always writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for artifact manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// An OCI manifest with the given config and layers.
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }

    /// The canonical JSON kiln stores for this manifest.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serialization cannot fail")
    }
}

/// An image index (OCI `image-index.md`), also the `index.json` of an image layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index media type; kiln always writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The referenced manifests (or nested indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for Index {
    fn default() -> Self {
        Self { schema_version: 2, media_type: Some(MEDIA_TYPE_OCI_INDEX.to_owned()), manifests: Vec::new(), annotations: BTreeMap::new() }
    }
}

/// The image config (OCI `config.md`; Docker's config has the same core fields).
///
/// Fields kiln does not model are kept in `extra` so that reading and rewriting a foreign
/// config (e.g. during rebase) does not drop them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Author of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// The runtime configuration for containers of this image.
    #[serde(default, skip_serializing_if = "ContainerConfig::is_empty")]
    pub config: ContainerConfig,
    /// The layer diffIDs.
    pub rootfs: RootFs,
    /// One entry per layer (and per empty-layer step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Fields not modelled above, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ImageConfig {
    /// An empty Linux config for the host architecture, created at [`NORMALIZED_CREATED`].
    pub fn new_linux() -> Self {
        Self {
            created: Some(NORMALIZED_CREATED.to_owned()),
            author: None,
            architecture: host_architecture().to_owned(),
            os: "linux".to_owned(),
            variant: None,
            os_version: None,
            config: ContainerConfig::default(),
            rootfs: RootFs::default(),
            history: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// The canonical JSON kiln stores for this config.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("config serialization cannot fail")
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.config.labels.get(key).map(String::as_str)
    }
}

/// An empty JSON object, the value type of `ExposedPorts` and `Volumes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EmptyObject {}

/// The container runtime part of the image config (`config` in OCI `config.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The user (name or `uid[:gid]`) processes run as.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Ports to expose, e.g. `8080/tcp`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// Environment, `NAME=value` each.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub env: Vec<String>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub entrypoint: Vec<String>,
    /// Default arguments to the entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub cmd: Vec<String>,
    /// Volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_default")]
    pub volumes: BTreeMap<String, EmptyObject>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// The stop signal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Fields not modelled above (Docker's `Hostname`, `Healthcheck`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ContainerConfig {
    /// Whether nothing is set (then the whole `config` key is omitted).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The value of environment variable `name`, if set.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
    }

    /// Sets environment variable `name` to `value`, replacing an existing entry in place.
    pub fn set_env_var(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        match self.env.iter_mut().find(|kv| kv.split_once('=').map(|(k, _)| k) == Some(name)) {
            Some(existing) => *existing = entry,
            None => self.env.push(entry),
        }
    }
}

/// The `rootfs` of an image config: the layer diffIDs, base first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// SHA-256 of each uncompressed layer tar.
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self { kind: "layers".to_owned(), diff_ids: Vec::new() }
    }
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What made the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// Deserializes `null` as the type's default (Go writes nil slices and maps as `null`).
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const D2: &str = "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn manifest_json_is_canonical() {
        let config = Descriptor::new(MEDIA_TYPE_OCI_CONFIG, Digest::parse(D1).unwrap(), 2);
        let layer = Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, Digest::parse(D2).unwrap(), 32);
        let m = Manifest::new(config, vec![layer]);
        let expected = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_OCI_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_OCI_CONFIG}","digest":"{D1}","size":2}},"layers":[{{"mediaType":"{MEDIA_TYPE_OCI_LAYER_GZIP}","digest":"{D2}","size":32}}]}}"#
        );
        assert_eq!(String::from_utf8(m.to_json()).unwrap(), expected);
        let back: Manifest = serde_json::from_str(&expected).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn index_with_ref_name() {
        let json = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{MEDIA_TYPE_OCI_MANIFEST}","digest":"{D1}","size":7,"annotations":{{"org.opencontainers.image.ref.name":"latest"}},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
        );
        let idx: Index = serde_json::from_str(&json).unwrap();
        assert_eq!(idx.manifests[0].ref_name(), Some("latest"));
        assert_eq!(idx.manifests[0].platform.as_ref().unwrap().variant.as_deref(), Some("v8"));
        assert_eq!(serde_json::to_string(&idx).unwrap(), json);
    }

    #[test]
    fn config_round_trip_keeps_unknown_fields_and_sorts_maps() {
        // A docker-style config: Go writes nil slices as null and has fields kiln doesn't model.
        let json = r#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","docker_version":"24.0",
            "config":{"Hostname":"","Env":["PATH=/bin"],"Cmd":null,"Labels":{"z":"1","a":"2"},"ExposedPorts":{"8080/tcp":{}}},
            "rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},
            "history":[{"created_by":"x","empty_layer":true}]}"#;
        let c: ImageConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.config.env_var("PATH"), Some("/bin"));
        assert!(c.config.cmd.is_empty());
        assert_eq!(c.extra["docker_version"], "24.0");
        assert_eq!(c.config.extra["Hostname"], "");
        let out = String::from_utf8(c.to_json()).unwrap();
        assert_eq!(
            out,
            r#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"8080/tcp":{}},"Env":["PATH=/bin"],"Labels":{"a":"2","z":"1"},"Hostname":""},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},"history":[{"created_by":"x","empty_layer":true}],"docker_version":"24.0"}"#
        );
        let again: ImageConfig = serde_json::from_str(&out).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn same_values_give_identical_bytes() {
        let mut a = ImageConfig::new_linux();
        let mut b = ImageConfig::new_linux();
        for (k, v) in [("b", "1"), ("a", "2"), ("c", "3")] {
            a.config.labels.insert(k.into(), v.into());
        }
        for (k, v) in [("c", "3"), ("a", "2"), ("b", "1")] {
            b.config.labels.insert(k.into(), v.into());
        }
        assert_eq!(a.to_json(), b.to_json());
    }

    #[test]
    fn env_helpers() {
        let mut c = ContainerConfig::default();
        c.set_env_var("PATH", "/bin");
        c.set_env_var("A", "1=2");
        c.set_env_var("PATH", "/usr/bin:/bin");
        assert_eq!(c.env, vec!["PATH=/usr/bin:/bin", "A=1=2"]);
        assert_eq!(c.env_var("A"), Some("1=2"));
        assert_eq!(c.env_var("P"), None);
    }

    #[test]
    fn media_type_predicates() {
        assert!(is_manifest_media_type(MEDIA_TYPE_DOCKER_MANIFEST));
        assert!(is_index_media_type(MEDIA_TYPE_DOCKER_MANIFEST_LIST));
        assert!(is_config_media_type(MEDIA_TYPE_DOCKER_CONFIG));
        assert!(is_layer_media_type(MEDIA_TYPE_DOCKER_LAYER_GZIP));
        assert!(!is_layer_media_type(MEDIA_TYPE_OCI_CONFIG));
        assert!(["amd64", "arm64"].contains(&host_architecture()) || !host_architecture().is_empty());
    }
}

//! CNB image labels: keys and JSON payloads.
//!
//! Shapes follow the CNB platform spec (platform API 0.13, section "Labels") and, where they
//! differ, what the reference lifecycle actually writes (`platform/files/analyzed.go`,
//! `metadata.go`, `stack.go`, `project_metadata.go`, `buildpack/files.go`, `launch/launch.go`,
//! `platform/cache.go`), so that `pack inspect`, kpack and the lifecycle's rebaser read kiln's
//! images and kiln reads theirs. Go writes nil slices and maps as `null`; every list and map
//! here reads `null` as empty. Field order matches the Go structs.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::ImageError;
use super::oci::null_default;

/// `io.buildpacks.lifecycle.metadata`: layer diffIDs and run image, JSON [`LayersMetadata`].
pub const LIFECYCLE_METADATA_LABEL: &str = "io.buildpacks.lifecycle.metadata";
/// `io.buildpacks.build.metadata`: processes, buildpacks, launcher, JSON [`BuildMetadata`].
pub const BUILD_METADATA_LABEL: &str = "io.buildpacks.build.metadata";
/// `io.buildpacks.project.metadata`: source info, JSON [`ProjectMetadata`].
pub const PROJECT_METADATA_LABEL: &str = "io.buildpacks.project.metadata";
/// `io.buildpacks.rebasable`: `"true"` when the app image may be rebased; only `"false"` blocks.
pub const REBASABLE_LABEL: &str = "io.buildpacks.rebasable";
/// `io.buildpacks.exec-env` (platform API 0.15).
pub const EXEC_ENV_LABEL: &str = "io.buildpacks.exec-env";
/// `io.buildpacks.lifecycle.cache.metadata`: on a cache image, JSON [`CacheMetadata`].
pub const CACHE_METADATA_LABEL: &str = "io.buildpacks.lifecycle.cache.metadata";
/// `io.buildpacks.base.id`: the target id of a base image.
pub const BASE_ID_LABEL: &str = "io.buildpacks.base.id";
/// `io.buildpacks.base.distro.name`: `ID` from the base image's `/etc/os-release`.
pub const BASE_DISTRO_NAME_LABEL: &str = "io.buildpacks.base.distro.name";
/// `io.buildpacks.base.distro.version`: `VERSION_ID` from the base image's `/etc/os-release`.
pub const BASE_DISTRO_VERSION_LABEL: &str = "io.buildpacks.base.distro.version";
/// `io.buildpacks.base.maintainer`.
pub const BASE_MAINTAINER_LABEL: &str = "io.buildpacks.base.maintainer";
/// `io.buildpacks.base.homepage`.
pub const BASE_HOMEPAGE_LABEL: &str = "io.buildpacks.base.homepage";
/// `io.buildpacks.base.released`.
pub const BASE_RELEASED_LABEL: &str = "io.buildpacks.base.released";
/// `io.buildpacks.base.description`.
pub const BASE_DESCRIPTION_LABEL: &str = "io.buildpacks.base.description";
/// `io.buildpacks.base.metadata`.
pub const BASE_METADATA_LABEL: &str = "io.buildpacks.base.metadata";
/// Prefix of the base image labels that rebase copies from the new run image.
pub const BASE_LABEL_PREFIX: &str = "io.buildpacks.base.";
/// `io.buildpacks.stack.id` (deprecated in platform API 0.12).
pub const STACK_ID_LABEL: &str = "io.buildpacks.stack.id";
/// `io.buildpacks.stack.mixins` (deprecated in platform API 0.12), a JSON array.
pub const STACK_MIXINS_LABEL: &str = "io.buildpacks.stack.mixins";
/// Prefix of the deprecated stack labels that rebase copies from the new run image.
pub const STACK_LABEL_PREFIX: &str = "io.buildpacks.stack.";
/// `io.buildpacks.buildpackage.metadata` on a buildpackage.
pub const BUILDPACKAGE_METADATA_LABEL: &str = "io.buildpacks.buildpackage.metadata";
/// `io.buildpacks.buildpack.layers` on a buildpackage or builder.
pub const BUILDPACK_LAYERS_LABEL: &str = "io.buildpacks.buildpack.layers";
/// `io.buildpacks.builder.metadata` on a builder.
pub const BUILDER_METADATA_LABEL: &str = "io.buildpacks.builder.metadata";
/// `io.buildpacks.buildpack.order` on a builder.
pub const BUILDPACK_ORDER_LABEL: &str = "io.buildpacks.buildpack.order";
/// `io.buildpacks.lifecycle.version` on a builder.
pub const LIFECYCLE_VERSION_LABEL: &str = "io.buildpacks.lifecycle.version";
/// `io.buildpacks.lifecycle.apis` on a builder.
pub const LIFECYCLE_APIS_LABEL: &str = "io.buildpacks.lifecycle.apis";

/// A type stored as the JSON value of one image label.
pub trait LabelValue: Serialize + DeserializeOwned {
    /// The label key.
    const KEY: &'static str;

    /// The label value: compact JSON, deterministic for the same value.
    fn to_label_value(&self) -> Result<String, ImageError> {
        serde_json::to_string(self).map_err(|source| ImageError::InvalidJson { what: format!("label {}", Self::KEY), source })
    }

    /// Parses a label value.
    fn from_label_value(value: &str) -> Result<Self, ImageError> {
        serde_json::from_str(value).map_err(|source| ImageError::InvalidJson { what: format!("label {}", Self::KEY), source })
    }
}

/// `{"sha": "<diffID>"}`: a layer recorded by its uncompressed digest. Empty when absent, as
/// the lifecycle writes it (`{"sha":""}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSha {
    /// The layer's diffID (`sha256:...`), or empty.
    #[serde(default)]
    pub sha: String,
}

impl LayerSha {
    /// A record of `sha`.
    pub fn new(sha: impl Into<String>) -> Self {
        Self { sha: sha.into() }
    }
}

/// The JSON of `io.buildpacks.lifecycle.metadata` (lifecycle `files.LayersMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayersMetadata {
    /// One entry per application slice layer.
    #[serde(default, deserialize_with = "null_default")]
    pub app: Vec<LayerSha>,
    /// The SBOM layer, if any.
    #[serde(rename = "sbom", default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<LayerSha>,
    /// Launch layers per buildpack, in group order.
    #[serde(default, deserialize_with = "null_default")]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
    /// The config layer (`<layers>/config/metadata.toml`).
    #[serde(default)]
    pub config: LayerSha,
    /// The launcher layer.
    #[serde(default)]
    pub launcher: LayerSha,
    /// The process-types layer (`/cnb/process/<type>` symlinks).
    #[serde(rename = "process-types", default)]
    pub process_types: LayerSha,
    /// The run image, for rebase.
    #[serde(rename = "runImage", default)]
    pub run_image: RunImageForRebase,
    /// Deprecated (platform API 0.12) copy of the run image; the lifecycle still writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Stack>,
}

impl LabelValue for LayersMetadata {
    const KEY: &'static str = LIFECYCLE_METADATA_LABEL;
}

/// Layers of one buildpack (lifecycle `buildpack.LayersMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayersMetadata {
    /// The buildpack id (JSON key `key`).
    #[serde(rename = "key")]
    pub id: String,
    /// The buildpack version.
    #[serde(default)]
    pub version: String,
    /// Layers by name.
    #[serde(default, deserialize_with = "null_default")]
    pub layers: BTreeMap<String, BuildpackLayerMetadata>,
    /// The buildpack's `store.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreMetadata>,
}

/// One layer of a buildpack: its diffID, `[metadata]` and types.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackLayerMetadata {
    /// The layer's diffID.
    #[serde(default)]
    pub sha: String,
    /// The `[metadata]` table of `<layer>.toml`, as JSON (`null` when absent).
    #[serde(default)]
    pub data: serde_json::Value,
    /// `types.build`.
    #[serde(default)]
    pub build: bool,
    /// `types.launch`.
    #[serde(default)]
    pub launch: bool,
    /// `types.cache`.
    #[serde(default)]
    pub cache: bool,
}

impl BuildpackLayerMetadata {
    /// The layer's types (e.g. for [`LayerTypes::is_launch_only`](kiln_cnb::LayerTypes::is_launch_only)).
    pub fn types(&self) -> kiln_cnb::LayerTypes {
        kiln_cnb::LayerTypes { launch: self.launch, build: self.build, cache: self.cache }
    }
}

/// A buildpack's `store.toml`: `{"metadata": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreMetadata {
    /// The `[metadata]` table.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The run image recorded for rebase (lifecycle `files.RunImageForRebase`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunImageForRebase {
    /// diffID of the run image's top layer.
    #[serde(default)]
    pub top_layer: String,
    /// The run image as a digest reference (registry) or image id.
    #[serde(default)]
    pub reference: String,
    /// The run image name the user gave.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Mirrors of the run image.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub mirrors: Vec<String>,
}

/// Deprecated `stack` key: `{"runImage": {"image", "mirrors"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// The run image.
    #[serde(rename = "runImage", default)]
    pub run_image: RunImageForExport,
}

/// A run image name and mirrors (lifecycle `files.RunImageForExport`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImageForExport {
    /// The run image name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Mirrors.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub mirrors: Vec<String>,
}

/// The JSON of `io.buildpacks.build.metadata` (lifecycle `files.BuildMetadata`, platform API
/// >= 0.9 form: the deprecated `bom` is omitted when empty).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildMetadata {
    /// The buildpacks of the chosen group.
    #[serde(default, deserialize_with = "null_default")]
    pub buildpacks: Vec<GroupElement>,
    /// The image extensions used.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub extensions: Vec<GroupElement>,
    /// The launcher.
    #[serde(default)]
    pub launcher: LauncherMetadata,
    /// The processes, sorted by type.
    #[serde(default, deserialize_with = "null_default")]
    pub processes: Vec<ProcessMetadata>,
    /// The buildpack-chosen default process type.
    #[serde(rename = "buildpack-default-process-type", default, skip_serializing_if = "String::is_empty")]
    pub buildpack_default_process_type: String,
    /// Deprecated bill of materials (opaque entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub bom: Vec<serde_json::Value>,
}

impl LabelValue for BuildMetadata {
    const KEY: &'static str = BUILD_METADATA_LABEL;
}

/// A buildpack or extension of the build (lifecycle `buildpack.GroupElement`, JSON form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupElement {
    /// The id.
    pub id: String,
    /// The version.
    #[serde(default)]
    pub version: String,
    /// The buildpack API. The spec lists it; the lifecycle does not write it (kiln leaves it
    /// `None` to match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The homepage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub homepage: String,
    /// Whether it was optional in the order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The launcher's version and source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherMetadata {
    /// The launcher version.
    #[serde(default)]
    pub version: String,
    /// Where it was built from.
    #[serde(default)]
    pub source: LauncherSource,
}

/// `{"git": {"repository", "commit"}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherSource {
    /// The git source.
    #[serde(default)]
    pub git: GitSource,
}

/// A git repository and commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    /// Repository URL.
    #[serde(default)]
    pub repository: String,
    /// Commit id.
    #[serde(default)]
    pub commit: String,
}

/// A process type (lifecycle `launch.Process`, JSON form for platform API >= 0.10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessMetadata {
    /// The process type, e.g. `web`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The command and its fixed arguments. Read from a string too (platform API < 0.10).
    #[serde(deserialize_with = "string_or_list")]
    pub command: Vec<String>,
    /// Default arguments the user may override.
    #[serde(default, deserialize_with = "null_default")]
    pub args: Vec<String>,
    /// Whether to exec directly instead of through a shell.
    #[serde(default)]
    pub direct: bool,
    /// Whether this is the default process.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// The buildpack that defined it.
    #[serde(rename = "buildpackID", default)]
    pub buildpack_id: String,
    /// The working directory (default: the app dir).
    #[serde(rename = "working-dir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Execution environments (platform API 0.15).
    #[serde(rename = "exec-env", default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_default")]
    pub exec_env: Vec<String>,
}

fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Command {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Command>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(Command::One(one)) => vec![one],
        Some(Command::Many(many)) => many,
    })
}

/// The JSON of `io.buildpacks.project.metadata` (lifecycle `files.ProjectMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectMetadata {
    /// The source, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ProjectSource>,
}

impl LabelValue for ProjectMetadata {
    const KEY: &'static str = PROJECT_METADATA_LABEL;
}

/// `[source]` of `project-metadata.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSource {
    /// e.g. `git`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// e.g. `{"commit": "..."}`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty", deserialize_with = "null_default")]
    pub version: serde_json::Map<String, serde_json::Value>,
    /// e.g. `{"repository": "...", "refs": [...]}`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty", deserialize_with = "null_default")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The JSON of `io.buildpacks.lifecycle.cache.metadata` (lifecycle `platform.CacheMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheMetadata {
    /// The cached SBOM layer.
    #[serde(rename = "sbom", default)]
    pub sbom: LayerSha,
    /// Cached layers per buildpack.
    #[serde(default, deserialize_with = "null_default")]
    pub buildpacks: Vec<BuildpackLayersMetadata>,
}

impl LabelValue for CacheMetadata {
    const KEY: &'static str = CACHE_METADATA_LABEL;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `json` parses and serializes back to exactly the same compact text.
    fn round_trip<T: LabelValue + std::fmt::Debug + PartialEq>(json: &str) -> T {
        let compact: String = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(json).unwrap()).unwrap();
        let value = T::from_label_value(json).unwrap();
        let out = value.to_label_value().unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), serde_json::from_str::<serde_json::Value>(&compact).unwrap());
        assert_eq!(T::from_label_value(&out).unwrap(), value);
        value
    }

    const SHA_A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn lifecycle_metadata_round_trip() {
        let json = format!(
            r#"{{"app":[{{"sha":"{SHA_A}"}}],"sbom":{{"sha":"{SHA_A}"}},"buildpacks":[{{"key":"paketo-buildpacks/node-engine","version":"1.2.3","layers":{{"node":{{"sha":"{SHA_A}","data":{{"version":"20.1.0"}},"build":false,"launch":true,"cache":true}}}},"store":{{"metadata":{{"k":"v"}}}}}}],"config":{{"sha":"{SHA_A}"}},"launcher":{{"sha":"{SHA_A}"}},"process-types":{{"sha":""}},"runImage":{{"topLayer":"{SHA_A}","reference":"index.docker.io/library/run@sha256:2222222222222222222222222222222222222222222222222222222222222222","image":"run:base","mirrors":["mirror.io/run:base"]}},"stack":{{"runImage":{{"image":"run:base","mirrors":["mirror.io/run:base"]}}}}}}"#
        );
        let md: LayersMetadata = round_trip(&json);
        // Exact bytes: field order follows the lifecycle's Go structs.
        assert_eq!(md.to_label_value().unwrap(), json);
        let node = &md.buildpacks[0].layers["node"];
        assert!(node.launch && node.cache && !node.build);
        assert_eq!(node.data["version"], "20.1.0");
        assert_eq!(md.run_image.top_layer, SHA_A);
        assert_eq!(md.stack.unwrap().run_image.mirrors, ["mirror.io/run:base"]);
    }

    #[test]
    fn lifecycle_metadata_accepts_go_nulls() {
        let json = r#"{"app":null,"buildpacks":[{"key":"bp","version":"1","layers":null}],"config":{"sha":""},"launcher":{"sha":""},"process-types":{"sha":""},"runImage":{"topLayer":"","reference":""}}"#;
        let md = LayersMetadata::from_label_value(json).unwrap();
        assert!(md.app.is_empty());
        assert!(md.buildpacks[0].layers.is_empty());
        assert_eq!(
            md.to_label_value().unwrap(),
            r#"{"app":[],"buildpacks":[{"key":"bp","version":"1","layers":{}}],"config":{"sha":""},"launcher":{"sha":""},"process-types":{"sha":""},"runImage":{"topLayer":"","reference":""}}"#
        );
    }

    #[test]
    fn build_metadata_round_trip() {
        let json = r#"{"buildpacks":[{"id":"kiln/node","version":"0.1.0","homepage":"https://example.com"}],"launcher":{"version":"0.1.0","source":{"git":{"repository":"https://github.com/kiln-build/kiln","commit":"abc"}}},"processes":[{"type":"web","command":["node","server.js"],"args":["--port","8080"],"direct":true,"default":true,"buildpackID":"kiln/node","working-dir":"/workspace"},{"type":"worker","command":["node"],"args":[],"direct":true,"buildpackID":"kiln/node"}],"buildpack-default-process-type":"web"}"#;
        let md: BuildMetadata = round_trip(json);
        assert_eq!(md.processes[0].command, ["node", "server.js"]);
        assert!(md.processes[1].args.is_empty());
        assert_eq!(md.buildpack_default_process_type, "web");
        assert!(md.bom.is_empty());
        let out = md.to_label_value().unwrap();
        assert!(!out.contains("\"bom\""), "empty bom is omitted like the lifecycle does: {out}");
        assert!(out.contains(r#""args":[]"#));
    }

    #[test]
    fn build_metadata_reads_legacy_string_command_and_bom() {
        let json = r#"{"bom":[{"name":"node","metadata":{"version":"20"},"buildpack":{"id":"bp","version":"1"}}],"buildpacks":[{"id":"bp","version":"1"}],"launcher":{"version":"","source":{"git":{"repository":"","commit":""}}},"processes":[{"type":"web","command":"npm start","args":null,"direct":false,"buildpackID":"bp"}]}"#;
        let md = BuildMetadata::from_label_value(json).unwrap();
        assert_eq!(md.processes[0].command, ["npm start"]);
        assert!(md.processes[0].args.is_empty(), "Go's null args read as empty");
        assert_eq!(md.bom.len(), 1);
    }

    #[test]
    fn project_metadata_round_trip() {
        let md: ProjectMetadata = round_trip(
            r#"{"source":{"type":"git","version":{"commit":"0123abc"},"metadata":{"refs":["main"],"repository":"https://github.com/x/y"}}}"#,
        );
        assert_eq!(md.source.unwrap().kind, "git");
        let empty: ProjectMetadata = round_trip("{}");
        assert_eq!(empty.to_label_value().unwrap(), "{}");
    }

    #[test]
    fn cache_metadata_round_trip() {
        let json = format!(
            r#"{{"sbom":{{"sha":""}},"buildpacks":[{{"key":"bp","version":"1","layers":{{"deps":{{"sha":"{SHA_A}","data":null,"build":true,"launch":false,"cache":true}}}}}}]}}"#
        );
        let md: CacheMetadata = round_trip(&json);
        assert_eq!(md.to_label_value().unwrap(), json);
        assert!(md.buildpacks[0].layers["deps"].data.is_null());
    }

    #[test]
    fn bad_label_json_names_the_label() {
        let err = BuildMetadata::from_label_value("{not json").unwrap_err();
        assert!(err.to_string().contains(BUILD_METADATA_LABEL), "{err}");
    }
}

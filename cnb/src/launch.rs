//! `<layers>/config/metadata.toml`: the launch metadata the exporter writes into the image
//! and the launcher reads ([platform spec, launcher](https://github.com/buildpacks/spec/blob/main/platform.md#launcher)).
//!
//! The format is the CNB lifecycle's (`launch.Metadata` in `launch/launch.go`):
//!
//! ```toml
//! buildpack-default-process-type = "web"
//!
//! [[buildpacks]]
//! id = "kiln/node"
//! version = "1.0.0"
//! api = "0.10"
//!
//! [[processes]]
//! type = "web"
//! command = ["node", "server.js"]
//! args = ["--port", "8080"]
//! direct = true
//! buildpack-id = "kiln/node"
//! working-dir = "/workspace/app"
//! ```
//!
//! Unknown keys are tolerated (no `deny_unknown_fields`): the file may be written by another
//! program (a newer lifecycle adds `exec-env`, `[[slices]]`, ...), and the launcher only needs
//! these fields. Ids and process types are validated when read, so a type like `..` cannot
//! reach a path.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::names::{BuildpackId, ProcessType};

/// Where the metadata file is below the layers dir.
pub const METADATA_PATH: &str = "config/metadata.toml";

/// The parsed launch metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LaunchMetadata {
    /// The process type to run when the launcher is started without a process and without
    /// a command. An empty string (older writers) reads as none.
    #[serde(default, deserialize_with = "empty_is_none", skip_serializing_if = "Option::is_none")]
    pub buildpack_default_process_type: Option<ProcessType>,
    /// The buildpacks of the build, in group order; their launch layers are applied in
    /// this order.
    #[serde(default)]
    pub buildpacks: Vec<GroupBuildpack>,
    /// The process types contributed by the buildpacks, sorted by type.
    #[serde(default)]
    pub processes: Vec<LaunchProcess>,
}

/// One buildpack of the build group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupBuildpack {
    /// The buildpack id, e.g. `kiln/node`; its layers are in `<layers>/<escaped id>`.
    pub id: BuildpackId,
    /// The buildpack version.
    #[serde(default)]
    pub version: String,
    /// The buildpack API the buildpack was written for, e.g. `0.10`.
    #[serde(default)]
    pub api: String,
}

/// One process type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LaunchProcess {
    /// The process type, e.g. `web`; also the name of its `/cnb/process/<type>` symlink.
    #[serde(rename = "type")]
    pub process_type: ProcessType,
    /// The executable and the arguments always passed to it. Older platforms wrote a
    /// single string, which is read as a one-element list.
    #[serde(deserialize_with = "string_or_list")]
    pub command: Vec<String>,
    /// Default arguments, replaced by the user's arguments when any are given.
    #[serde(default)]
    pub args: Vec<String>,
    /// Whether the command is executed directly (true) or through a shell. Missing means
    /// true, the only kind buildpack API >= 0.9 can declare.
    #[serde(default = "default_direct")]
    pub direct: bool,
    /// The id of the buildpack that contributed the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildpack_id: Option<BuildpackId>,
    /// The directory to run the process in; the app dir when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

fn default_direct() -> bool {
    true
}

/// Accepts `command = "exe"` as well as `command = ["exe", "arg"]`.
fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrList {
        String(String),
        List(Vec<String>),
    }
    Ok(match StringOrList::deserialize(deserializer)? {
        StringOrList::String(s) => vec![s],
        StringOrList::List(list) => list,
    })
}

/// Reads `""` as `None`, anything else as a validated process type.
fn empty_is_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ProcessType>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.is_empty() {
        return Ok(None);
    }
    ProcessType::parse(&text).map(Some).map_err(serde::de::Error::custom)
}

/// Why the metadata could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LaunchMetadataError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read launch metadata {}: {source}", path.display())]
    CannotRead {
        /// The metadata file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("cannot parse launch metadata {}: {}", path.display(), source.message())]
    CannotParse {
        /// The metadata file.
        path: PathBuf,
        /// The parse error.
        source: toml::de::Error,
    },
}

impl LaunchMetadata {
    /// Reads and parses the metadata file at `path`.
    pub fn load(path: &Path) -> Result<Self, LaunchMetadataError> {
        let text = std::fs::read_to_string(path).map_err(|source| LaunchMetadataError::CannotRead { path: path.to_path_buf(), source })?;
        Self::parse(&text).map_err(|source| LaunchMetadataError::CannotParse { path: path.to_path_buf(), source })
    }

    /// Parses metadata from TOML text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("launch metadata is plain data")
    }

    /// The process of the given type, if any.
    pub fn process(&self, process_type: &str) -> Option<&LaunchProcess> {
        self.processes.iter().find(|p| p.process_type == process_type)
    }

    /// The buildpack with the given id, if any.
    pub fn buildpack(&self, id: &str) -> Option<&GroupBuildpack> {
        self.buildpacks.iter().find(|b| b.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the lifecycle writes it, with keys kiln does not use.
    const LIFECYCLE_METADATA: &str = r#"
buildpack-default-process-type = "web"

[[buildpacks]]
  id = "paketo-buildpacks/node-engine"
  version = "3.2.1"
  api = "0.10"
  homepage = "https://example.com"

[[buildpacks]]
  id = "kiln/npm"
  version = "0.1.0"
  api = "0.9"

[[processes]]
  type = "web"
  command = ["node", "server.js"]
  args = ["--port", "8080"]
  direct = true
  buildpack-id = "kiln/npm"
  working-dir = "/workspace/srv"
  exec-env = ["production"]

[[processes]]
  type = "worker"
  command = ["node", "worker.js"]
  args = []
  direct = true
  buildpack-id = "kiln/npm"

[[slices]]
  paths = ["public/**"]
"#;

    /// What kiln's exporter writes, byte for byte.
    const KILN_METADATA: &str = r#"buildpack-default-process-type = "web"

[[buildpacks]]
id = "kiln/procfile"
version = "0.1.0"
api = "0.10"

[[processes]]
type = "web"
command = ["python3", "-m", "http.server"]
args = ["8080"]
direct = true
buildpack-id = "kiln/procfile"
working-dir = "/workspace/srv"
"#;

    #[test]
    fn parses_the_lifecycle_format_and_tolerates_extra_keys() {
        let md = LaunchMetadata::parse(LIFECYCLE_METADATA).unwrap();
        assert_eq!(md.buildpack_default_process_type.as_deref(), Some("web"));
        assert_eq!(md.buildpacks.len(), 2);
        assert_eq!(md.buildpacks[0].id, "paketo-buildpacks/node-engine");
        assert_eq!(md.buildpacks[0].id.escaped(), "paketo-buildpacks_node-engine");
        assert_eq!(md.buildpacks[1].api, "0.9");
        let web = md.process("web").unwrap();
        assert_eq!(web.command, ["node", "server.js"]);
        assert_eq!(web.args, ["--port", "8080"]);
        assert!(web.direct);
        assert_eq!(web.buildpack_id.as_deref(), Some("kiln/npm"));
        assert_eq!(web.working_dir.as_deref(), Some("/workspace/srv"));
        assert_eq!(md.process("worker").unwrap().working_dir, None);
        assert!(md.process("missing").is_none());
        assert_eq!(md.buildpack("kiln/npm").unwrap().version, "0.1.0");
    }

    #[test]
    fn kiln_metadata_round_trips_byte_for_byte() {
        let md = LaunchMetadata::parse(KILN_METADATA).unwrap();
        assert_eq!(md.to_toml(), KILN_METADATA);
        let lifecycle = LaunchMetadata::parse(LIFECYCLE_METADATA).unwrap();
        assert_eq!(LaunchMetadata::parse(&lifecycle.to_toml()).unwrap(), lifecycle);
    }

    #[test]
    fn reads_a_string_command_and_defaults_missing_keys() {
        let md = LaunchMetadata::parse(
            "buildpack-default-process-type = \"\"\n[[processes]]\ntype = \"web\"\ncommand = \"bundle exec rackup\"\n",
        )
        .unwrap();
        assert_eq!(md.buildpack_default_process_type, None, "an empty default is none");
        assert!(md.buildpacks.is_empty());
        let web = &md.processes[0];
        assert_eq!(web.command, ["bundle exec rackup"]);
        assert!(web.args.is_empty());
        assert!(web.direct, "missing direct means direct");
        assert_eq!(web.buildpack_id, None);
        assert_eq!(
            md.to_toml(),
            "buildpacks = []\n\n[[processes]]\ntype = \"web\"\ncommand = [\"bundle exec rackup\"]\nargs = []\ndirect = true\n"
        );
    }

    #[test]
    fn empty_file_is_empty_metadata() {
        assert_eq!(LaunchMetadata::parse("").unwrap(), LaunchMetadata::default());
        assert_eq!(LaunchMetadata::default().to_toml(), "buildpacks = []\nprocesses = []\n");
    }

    #[test]
    fn rejects_bad_toml_wrong_shapes_and_bad_names() {
        assert!(LaunchMetadata::parse("[[processes]\n").is_err());
        assert!(LaunchMetadata::parse("processes = 3").is_err());
        assert!(LaunchMetadata::parse("[[processes]]\ntype = \"web\"\ncommand = 7\n").is_err());
        assert!(LaunchMetadata::parse("[[processes]]\ntype = \"web\"\n").is_err(), "command is required");
        assert!(LaunchMetadata::parse("[[processes]]\ntype = \"..\"\ncommand = [\"x\"]\n").is_err());
        assert!(LaunchMetadata::parse("[[buildpacks]]\nid = \"..\"\n").is_err());
        assert!(LaunchMetadata::parse("buildpack-default-process-type = \"a/b\"\n").is_err());
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.toml");
        let err = LaunchMetadata::load(&path).unwrap_err().to_string();
        assert!(err.contains("cannot read launch metadata") && err.contains("metadata.toml"), "{err}");
        std::fs::write(&path, b"\xff\xfe not utf-8").unwrap();
        assert!(matches!(LaunchMetadata::load(&path), Err(LaunchMetadataError::CannotRead { .. })));
        std::fs::write(&path, "buildpack-default-process-type = [").unwrap();
        let err = LaunchMetadata::load(&path).unwrap_err().to_string();
        assert!(err.starts_with("cannot parse launch metadata"), "{err}");
    }
}

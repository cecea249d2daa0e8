//! `<layers>/config/metadata.toml`: the launch metadata the exporter writes.
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
//! Unknown keys are tolerated: the file is written by another program (possibly a newer
//! lifecycle), and the launcher only needs these fields.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The parsed launch metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    /// The process type to run when the launcher is started without a process and without
    /// a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildpack_default_process_type: Option<String>,
    /// The buildpacks of the build, in group order; their launch layers are applied in
    /// this order.
    #[serde(default)]
    pub buildpacks: Vec<Buildpack>,
    /// The process types contributed by the buildpacks.
    #[serde(default)]
    pub processes: Vec<Process>,
}

/// One buildpack of the build group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct Buildpack {
    /// The buildpack id, e.g. `kiln/node`; its layers are in `<layers>/<id with '/' as '_'>`.
    pub id: String,
    /// The buildpack version.
    #[serde(default)]
    pub version: String,
    /// The buildpack API the buildpack was written for, e.g. `0.10`.
    #[serde(default)]
    pub api: String,
}

impl Buildpack {
    /// The name of this buildpack's directory under the layers dir: the id with every `/`
    /// replaced by `_`, as the lifecycle's `EscapeID` does.
    pub fn escaped_id(&self) -> String {
        self.id.replace('/', "_")
    }
}

/// One process type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "kebab-case")]
pub struct Process {
    /// The process type, e.g. `web`; also the name of its `/cnb/process/<type>` symlink.
    #[serde(rename = "type")]
    pub process_type: String,
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
    #[serde(default)]
    pub buildpack_id: String,
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

/// Why the metadata could not be loaded.
#[derive(Debug)]
pub enum MetadataError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    CannotRead {
        /// The metadata file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    CannotParse {
        /// The metadata file.
        path: PathBuf,
        /// The parse error.
        source: toml::de::Error,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CannotRead { path, source } => {
                write!(
                    f,
                    "cannot read launch metadata {}: {source}",
                    path.display()
                )
            }
            Self::CannotParse { path, source } => {
                write!(
                    f,
                    "cannot parse launch metadata {}: {}",
                    path.display(),
                    source.message()
                )
            }
        }
    }
}

impl Metadata {
    /// Reads and parses the metadata file at `path`.
    pub fn load(path: &Path) -> Result<Self, MetadataError> {
        let text = std::fs::read_to_string(path).map_err(|source| MetadataError::CannotRead {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|source| MetadataError::CannotParse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses metadata from TOML text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// The process of the given type, if any.
    pub fn process(&self, process_type: &str) -> Option<&Process> {
        self.processes
            .iter()
            .find(|p| p.process_type == process_type)
    }

    /// The buildpack with the given id, if any.
    pub fn buildpack(&self, id: &str) -> Option<&Buildpack> {
        self.buildpacks.iter().find(|b| b.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the lifecycle writes it, with keys the launcher does not use.
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

    #[test]
    fn parses_the_lifecycle_format_and_tolerates_extra_keys() {
        let md = Metadata::parse(LIFECYCLE_METADATA).unwrap();
        assert_eq!(md.buildpack_default_process_type.as_deref(), Some("web"));
        assert_eq!(md.buildpacks.len(), 2);
        assert_eq!(md.buildpacks[0].id, "paketo-buildpacks/node-engine");
        assert_eq!(
            md.buildpacks[0].escaped_id(),
            "paketo-buildpacks_node-engine"
        );
        assert_eq!(md.buildpacks[1].api, "0.9");
        let web = md.process("web").unwrap();
        assert_eq!(web.command, ["node", "server.js"]);
        assert_eq!(web.args, ["--port", "8080"]);
        assert!(web.direct);
        assert_eq!(web.buildpack_id, "kiln/npm");
        assert_eq!(web.working_dir.as_deref(), Some("/workspace/srv"));
        assert_eq!(md.process("worker").unwrap().working_dir, None);
        assert!(md.process("missing").is_none());
        assert_eq!(md.buildpack("kiln/npm").unwrap().version, "0.1.0");
    }

    #[test]
    fn round_trips_through_toml() {
        let md = Metadata::parse(LIFECYCLE_METADATA).unwrap();
        let written = toml::to_string(&md).unwrap();
        assert_eq!(Metadata::parse(&written).unwrap(), md);
    }

    #[test]
    fn reads_a_string_command_and_defaults_missing_keys() {
        let md = Metadata::parse(
            r#"
[[processes]]
type = "web"
command = "bundle exec rackup"
"#,
        )
        .unwrap();
        assert_eq!(md.buildpack_default_process_type, None);
        assert!(md.buildpacks.is_empty());
        let web = &md.processes[0];
        assert_eq!(web.command, ["bundle exec rackup"]);
        assert!(web.args.is_empty());
        assert!(web.direct, "missing direct means direct");
        assert_eq!(web.buildpack_id, "");
    }

    #[test]
    fn empty_file_is_empty_metadata() {
        assert_eq!(Metadata::parse("").unwrap(), Metadata::default());
    }

    #[test]
    fn rejects_bad_toml_and_wrong_shapes() {
        assert!(Metadata::parse("[[processes]\n").is_err());
        assert!(Metadata::parse("processes = 3").is_err());
        assert!(Metadata::parse("[[processes]]\ntype = \"web\"\ncommand = 7\n").is_err());
        assert!(
            Metadata::parse("[[processes]]\ntype = \"web\"\n").is_err(),
            "command is required"
        );
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("metadata.toml");
        let err = Metadata::load(&missing).unwrap_err().to_string();
        assert!(
            err.contains("cannot read launch metadata") && err.contains("metadata.toml"),
            "{err}"
        );

        std::fs::write(&missing, b"\xff\xfe not utf-8").unwrap();
        assert!(matches!(
            Metadata::load(&missing),
            Err(MetadataError::CannotRead { .. })
        ));

        std::fs::write(&missing, "buildpack-default-process-type = [").unwrap();
        let err = Metadata::load(&missing).unwrap_err().to_string();
        assert!(err.starts_with("cannot parse launch metadata"), "{err}");
    }
}

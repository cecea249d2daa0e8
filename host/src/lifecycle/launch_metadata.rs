//! `<layers>/config/metadata.toml`: what the launcher in the image reads
//! (the lifecycle's `metadata.toml`: buildpacks, processes, default process type).

use serde::Serialize;

use super::build::{BuildpackOutput, Process};

/// The file's contents.
#[derive(Debug, Serialize)]
pub struct LaunchMetadata {
    /// The default process type, if any.
    #[serde(rename = "buildpack-default-process-type", skip_serializing_if = "String::is_empty")]
    pub default_process_type: String,
    /// Buildpacks in build order.
    pub buildpacks: Vec<LaunchBuildpack>,
    /// Processes, sorted by type.
    pub processes: Vec<LaunchProcess>,
}

/// A `[[buildpacks]]` entry.
#[derive(Debug, Serialize)]
pub struct LaunchBuildpack {
    /// Id.
    pub id: String,
    /// Version.
    pub version: String,
    /// API.
    pub api: String,
}

/// A `[[processes]]` entry.
#[derive(Debug, Serialize, Clone)]
pub struct LaunchProcess {
    /// Process type.
    #[serde(rename = "type")]
    pub process_type: String,
    /// Executable and fixed args.
    pub command: Vec<String>,
    /// Default args.
    pub args: Vec<String>,
    /// Always true for buildpack API >= 0.9.
    pub direct: bool,
    /// Declaring buildpack.
    #[serde(rename = "buildpack-id")]
    pub buildpack_id: String,
    /// Working directory.
    #[serde(rename = "working-dir", skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// Merge processes across buildpacks: a later buildpack's process replaces an earlier one
/// of the same type; the last `default` wins, and redefining the default type as
/// non-default clears the default (the lifecycle's rules).
pub fn merge_processes(outputs: &[BuildpackOutput]) -> (Vec<Process>, Option<String>) {
    let mut merged: std::collections::BTreeMap<String, Process> = std::collections::BTreeMap::new();
    let mut default: Option<String> = None;
    for output in outputs {
        for process in &output.processes {
            let name = process.process_type.to_string();
            if process.default {
                default = Some(name.clone());
            } else if default.as_deref() == Some(name.as_str()) {
                tracing::warn!(process = %name, buildpack = %output.id, "the default process was redefined as non-default");
                default = None;
            }
            merged.insert(name, process.clone());
        }
    }
    (merged.into_values().collect(), default)
}

impl LaunchMetadata {
    /// Build it from the build outputs.
    pub fn new(outputs: &[BuildpackOutput]) -> Self {
        let (processes, default) = merge_processes(outputs);
        LaunchMetadata {
            default_process_type: default.unwrap_or_default(),
            buildpacks: outputs
                .iter()
                .map(|o| LaunchBuildpack { id: o.id.to_string(), version: o.version.clone(), api: o.api.clone() })
                .collect(),
            processes: processes
                .into_iter()
                .map(|p| LaunchProcess {
                    process_type: p.process_type.to_string(),
                    command: p.command,
                    args: p.args,
                    direct: true,
                    buildpack_id: p.buildpack.to_string(),
                    working_dir: p.working_dir,
                })
                .collect(),
        }
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("launch metadata is plain data")
    }
}

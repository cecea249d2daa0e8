//! `<layers>/config/metadata.toml`: what the launcher in the image reads (the lifecycle's
//! `metadata.toml`: buildpacks, processes, default process type).
//!
//! The file's types are [`kiln_cnb::LaunchMetadata`], shared with the launcher that reads
//! them; this module makes one from the build outputs, by the lifecycle's process rules.

use kiln_cnb::{GroupBuildpack, LaunchMetadata, LaunchProcess, ProcessType};

use super::build::{BuildpackOutput, Process};

/// Merge processes across buildpacks: a later buildpack's process replaces an earlier one
/// of the same type; the last `default` wins, and redefining the default type as
/// non-default clears the default (the lifecycle's rules). Processes come out sorted by type.
pub fn merge_processes(outputs: &[BuildpackOutput]) -> (Vec<Process>, Option<ProcessType>) {
    let mut merged: std::collections::BTreeMap<ProcessType, Process> = std::collections::BTreeMap::new();
    let mut default: Option<ProcessType> = None;
    for output in outputs {
        for process in &output.processes {
            let name = &process.process_type;
            if process.default {
                default = Some(name.clone());
            } else if default.as_ref() == Some(name) {
                tracing::warn!(process = %name, buildpack = %output.id, "the default process was redefined as non-default");
                default = None;
            }
            merged.insert(name.clone(), process.clone());
        }
    }
    (merged.into_values().collect(), default)
}

/// The launch metadata of a build: its buildpacks in build order and their merged processes.
pub fn launch_metadata(outputs: &[BuildpackOutput]) -> LaunchMetadata {
    let (processes, default) = merge_processes(outputs);
    LaunchMetadata {
        buildpack_default_process_type: default,
        buildpacks: outputs.iter().map(|o| GroupBuildpack { id: o.id.clone(), version: o.version.clone(), api: o.api.clone() }).collect(),
        processes: processes
            .into_iter()
            .map(|p| LaunchProcess {
                process_type: p.process_type,
                command: p.command,
                args: p.args,
                // Buildpack API >= 0.9 declares direct processes only.
                direct: true,
                buildpack_id: Some(p.buildpack),
                working_dir: p.working_dir,
            })
            .collect(),
    }
}

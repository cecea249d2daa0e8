//! The image's record of the native steps that made it: the `io.kiln.build.exec` label,
//! made from the build's [`ExecRecord`]s and the previous image's label.
//!
//! Only what the same inputs reproduce goes in (buildpack, program, arguments, how it
//! ended), never durations or memory. A rebuild that keeps a layer does not rerun the steps
//! that made it, so a buildpack that keeps at least one of its layers (same metadata)
//! carries its steps over from the previous image, and adds the ones it ran; one that
//! recreated every layer records only what it ran. Identical steps are listed once. An
//! unchanged rebuild, or one after a change and back, therefore records the same steps and
//! keeps its digest. The cost of that rule: a step whose layer was recreated without it
//! stays listed while the buildpack keeps another layer (the record errs on the side of
//! listing a step too many, never one too few). The label is bounded ([`MAX_LABEL_BYTES`]): steps past
//! the budget are counted in `omitted`, and a long argument is cut (its full length is
//! kept). An image no native step went into has no label.

use serde::{Deserialize, Serialize};

use super::analyze::Analysis;
use super::build::BuildpackOutput;
use crate::image::labels::LabelValue;
use crate::sandbox::exec::ExecRecord;

/// The label key (in kiln's reserved `io.kiln.` namespace).
pub const NATIVE_STEPS_LABEL: &str = "io.kiln.build.exec";

/// The most bytes the label's JSON may take (the image config must stay well under the
/// 4 MiB that containers/image accepts).
pub const MAX_LABEL_BYTES: usize = 256 * 1024;

/// The longest argument or error kept, in bytes.
const MAX_TEXT: usize = 1024;

/// The label's JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeSteps {
    /// The steps, in the order they ran.
    pub steps: Vec<NativeStep>,
    /// Steps left out to keep the label within [`MAX_LABEL_BYTES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

/// One native step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NativeStep {
    /// The buildpack that ran it.
    pub buildpack: String,
    /// The program's path in the jail.
    pub program: String,
    /// Its arguments (each cut at 1 KiB).
    pub args: Vec<String>,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Why it did not run or finish, when so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LabelValue for NativeSteps {
    const KEY: &'static str = NATIVE_STEPS_LABEL;
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `text` cut to [`MAX_TEXT`] bytes on a char boundary, saying how long it was.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

impl NativeSteps {
    /// The label of an image built by `outputs`, whose native steps this build were
    /// `records`, over the previous image's steps (`analysis`); `None` when there are none.
    pub fn assemble(outputs: &[BuildpackOutput], analysis: &Analysis, records: &[ExecRecord]) -> Option<NativeSteps> {
        let mut steps: Vec<NativeStep> = Vec::new();
        for output in outputs {
            let id = output.id.as_str();
            let previous = analysis.for_buildpack(id);
            let keeps_a_layer =
                output.layers.iter().any(|l| previous.and_then(|p| p.get(l.name.as_str())).is_some_and(|p| p.metadata == l.metadata));
            let carried = analysis.native_steps.iter().filter(|s| keeps_a_layer && s.buildpack == id).cloned();
            let ran = records.iter().filter(|r| r.buildpack == id).map(|record| NativeStep {
                buildpack: record.buildpack.clone(),
                program: bounded(&record.program),
                args: record.args.iter().map(|a| bounded(a)).collect(),
                exit_code: record.exit_code,
                signal: record.signal,
                error: record.error.as_deref().map(bounded),
            });
            for step in carried.chain(ran) {
                if !steps.contains(&step) {
                    steps.push(step);
                }
            }
        }
        Self::bounded(steps)
    }

    /// The label for `steps`, cut to [`MAX_LABEL_BYTES`].
    fn bounded(steps: Vec<NativeStep>) -> Option<NativeSteps> {
        if steps.is_empty() {
            return None;
        }
        let total = steps.len();
        let mut label = NativeSteps::default();
        // The JSON around the steps, and a margin for the `omitted` count.
        let mut used = 64;
        for step in steps {
            let size = serde_json::to_string(&step).map_or(usize::MAX, |s| s.len() + 1);
            if used + size > MAX_LABEL_BYTES {
                label.omitted = total - label.steps.len();
                break;
            }
            used += size;
            label.steps.push(step);
        }
        Some(label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildpack::BuildpackId;
    use crate::layers::{BuiltLayer, LayerName, LayerTypes};
    use crate::lifecycle::analyze::{PreviousContents, PreviousLayer};

    fn record(program: &str, args: &[&str]) -> ExecRecord {
        ExecRecord {
            buildpack: "acme/bp".into(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            exit_code: Some(0),
            signal: None,
            error: None,
            millis: 1234,
            peak_memory_bytes: 99 << 20,
        }
    }

    fn output(layers: &[(&str, &str)]) -> BuildpackOutput {
        BuildpackOutput {
            id: BuildpackId::parse("acme/bp").unwrap(),
            version: "1".into(),
            api: "0.10".into(),
            homepage: None,
            processes: Vec::new(),
            labels: Vec::new(),
            layers: layers
                .iter()
                .map(|(name, version)| BuiltLayer {
                    name: LayerName::parse(name).unwrap(),
                    types: LayerTypes { launch: true, build: false, cache: true },
                    metadata: toml::from_str(&format!("v = {version:?}")).unwrap(),
                    dir: std::path::PathBuf::from("/nonexistent"),
                    from_previous_image: None,
                })
                .collect(),
        }
    }

    /// The analysis of a rebuild after an image labelled `label`, built by `built`.
    fn after(label: &NativeSteps, built: &BuildpackOutput) -> Analysis {
        let mut analysis = Analysis { native_steps: label.steps.clone(), ..Analysis::default() };
        for layer in &built.layers {
            let digest = crate::image::Digest::of_bytes(layer.name.as_str().as_bytes());
            analysis.layers.entry("acme/bp".into()).or_default().insert(
                layer.name.to_string(),
                PreviousLayer {
                    metadata: layer.metadata.clone(),
                    types: layer.types,
                    contents: PreviousContents::Image {
                        diff_id: digest.clone(),
                        descriptor: crate::image::Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", digest, 1),
                    },
                    sbom: Vec::new(),
                },
            );
        }
        analysis
    }

    #[test]
    fn no_steps_no_label_and_timings_never_recorded() {
        assert_eq!(NativeSteps::assemble(&[output(&[])], &Analysis::default(), &[]), None);
        let label = NativeSteps::assemble(&[output(&[])], &Analysis::default(), &[record("/bin/sh", &["-c", "true"])]).unwrap();
        let json = serde_json::to_string(&label).unwrap();
        assert_eq!(json, r#"{"steps":[{"buildpack":"acme/bp","program":"/bin/sh","args":["-c","true"],"exit-code":0}]}"#);
    }

    #[test]
    fn kept_layers_carry_their_steps_so_an_unchanged_rebuild_records_the_same() {
        let built = output(&[("modules", "lock-1"), ("node", "24")]);
        let install = record("/bin/sh", &["-c", "node install.js"]);
        let build = record("/bin/sh", &["-c", "esbuild"]);
        let cold = NativeSteps::assemble(std::slice::from_ref(&built), &Analysis::default(), &[install.clone(), build.clone()]).unwrap();
        assert_eq!(cold.steps.len(), 2);

        // Nothing changed: no step runs, every layer is kept: the same label.
        let warm = NativeSteps::assemble(std::slice::from_ref(&built), &after(&cold, &built), &[]).unwrap();
        assert_eq!(warm, cold);
        // A source change: the build script runs again, the install step is carried.
        let edited = NativeSteps::assemble(std::slice::from_ref(&built), &after(&cold, &built), std::slice::from_ref(&build)).unwrap();
        assert_eq!(edited, cold);
        // Every layer recreated, no step ran: nothing to record.
        let other = output(&[("modules", "lock-2"), ("node", "25")]);
        assert_eq!(NativeSteps::assemble(&[other], &after(&cold, &built), &[]), None);
    }

    #[test]
    fn the_label_stays_within_its_budget() {
        let long = "x".repeat(100_000);
        let records: Vec<_> = (0..2000).map(|n| record("/bin/sh", &["-c", &format!("{n}{long}")])).collect();
        let label = NativeSteps::assemble(&[output(&[])], &Analysis::default(), &records).unwrap();
        let json = serde_json::to_string(&label).unwrap();
        assert!(json.len() <= MAX_LABEL_BYTES, "{}", json.len());
        assert!(label.omitted > 0 && label.omitted + label.steps.len() == 2000);
        assert!(label.steps[0].args[1].ends_with("... (100001 bytes)"));
    }
}

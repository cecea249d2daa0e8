//! The image's record of the native steps its build ran: the `io.kiln.build.exec` label,
//! made from the build's [`ExecRecord`]s.
//!
//! Only what the same inputs reproduce goes in (buildpack, program, arguments, how it
//! ended), never durations or memory, so a rebuild of the same app gives the same image
//! digest. The label is bounded ([`MAX_LABEL_BYTES`]): steps past the budget are counted
//! in `omitted`, and a long argument is cut (its full length is kept). Builds without a
//! native step get no label.

use serde::{Deserialize, Serialize};

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
    /// The label for `records`, or `None` when the build ran no native step.
    pub fn from_records(records: &[ExecRecord]) -> Option<NativeSteps> {
        if records.is_empty() {
            return None;
        }
        let mut label = NativeSteps::default();
        // The JSON around the steps, and a margin for the `omitted` count.
        let mut used = 64;
        for (index, record) in records.iter().enumerate() {
            let step = NativeStep {
                buildpack: record.buildpack.clone(),
                program: bounded(&record.program),
                args: record.args.iter().map(|a| bounded(a)).collect(),
                exit_code: record.exit_code,
                signal: record.signal,
                error: record.error.as_deref().map(bounded),
            };
            let size = serde_json::to_string(&step).map_or(usize::MAX, |s| s.len() + 1);
            if used + size > MAX_LABEL_BYTES {
                label.omitted = records.len() - index;
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

    #[test]
    fn no_steps_no_label_and_timings_never_recorded() {
        assert_eq!(NativeSteps::from_records(&[]), None);
        let label = NativeSteps::from_records(&[record("/bin/sh", &["-c", "true"])]).unwrap();
        let json = serde_json::to_string(&label).unwrap();
        assert_eq!(json, r#"{"steps":[{"buildpack":"acme/bp","program":"/bin/sh","args":["-c","true"],"exit-code":0}]}"#);
    }

    #[test]
    fn the_label_stays_within_its_budget() {
        let long = "x".repeat(100_000);
        let records: Vec<_> = (0..2000).map(|_| record("/bin/sh", &["-c", &long])).collect();
        let label = NativeSteps::from_records(&records).unwrap();
        let json = serde_json::to_string(&label).unwrap();
        assert!(json.len() <= MAX_LABEL_BYTES, "{}", json.len());
        assert!(label.omitted > 0 && label.omitted + label.steps.len() == 2000);
        assert!(label.steps[0].args[1].ends_with("... (100000 bytes)"));
    }
}

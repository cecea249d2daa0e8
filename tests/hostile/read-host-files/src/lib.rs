//! Hostile: tries to read the host's files and environment from build, and reports
//! everything it managed to see, in its log and in a launch layer `seen/report.txt`.
//!
//! Contained means: every host path is denied (WASI has no path outside the grants),
//! listing `/` shows nothing of the host, and the environment holds only CNB variables.

use std::fmt::Write as _;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct ReadHostFiles;

/// Files read whole; `..` forms try to climb out of a granted directory.
const FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/hostname",
    "/proc/self/environ",
    "/proc/self/maps",
    "/workspace/../../etc/passwd",
    "/workspace/../../../../../../../../etc/passwd",
    "/tmp/../etc/passwd",
    "/platform/../etc/passwd",
    // KILN_HOME/secret.txt seen from the host's workspace copy (KILN_HOME/work/build-*/app).
    "/workspace/../../../secret.txt",
    "/workspace/../../secret.txt",
    "/tmp/../../../../secret.txt",
    "/layers/../../../secret.txt",
];

/// Directories listed.
const DIRS: &[&str] = &["/", "/root", "/etc", "/proc", "/workspace/..", "/tmp/..", "/layers", "/.."];

fn read_file(path: &str, out: &mut String) {
    match std::fs::read(path) {
        Ok(bytes) => writeln!(out, "READ {path}: {}", String::from_utf8_lossy(&bytes)),
        Err(e) => writeln!(out, "DENIED {path}: {e}"),
    }
    .expect("writing to a String");
}

fn list_dir(path: &str, out: &mut String) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            let names: Vec<String> =
                entries.map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()).unwrap_or_else(|e| format!("<{e}>"))).collect();
            writeln!(out, "LISTED {path}: {names:?}")
        }
        Err(e) => writeln!(out, "DENIED {path}: {e}"),
    }
    .expect("writing to a String");
}

impl Buildpack for ReadHostFiles {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let mut report = String::new();
        for path in FILES {
            read_file(path, &mut report);
        }
        for path in DIRS {
            list_dir(path, &mut report);
        }
        let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(report, "ENV {env:?}").expect("writing to a String");
        for line in report.lines() {
            kiln_sdk::log::info(line);
        }
        let layer = ctx.layer("seen", LayerTypes::LAUNCH)?;
        std::fs::write(layer.path().join("report.txt"), &report)?;
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(ReadHostFiles);

//! The `kiln` binary itself: it starts, reports its version, and rejects bad input with the
//! documented exit code instead of a panic.
//!
//! Having an integration test in this package also makes `cargo test --workspace` build
//! `target/<profile>/kiln`, which the end-to-end suites in `tests/` drive.

use std::process::Command;

fn kiln() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
}

#[test]
fn version_names_the_crate_version() {
    let output = kiln().arg("--version").output().expect("run kiln --version");
    assert!(output.status.success(), "kiln --version failed: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "version output {stdout:?} lacks {}", env!("CARGO_PKG_VERSION"));
}

#[test]
fn build_of_a_missing_path_exits_3_with_the_path_named() {
    let home = tempfile::tempdir().expect("temp KILN_HOME");
    let missing = home.path().join("no-such-app");
    let output =
        kiln().env("KILN_HOME", home.path()).args(["build", "app:latest", "--path"]).arg(&missing).output().expect("run kiln build");
    assert_eq!(output.status.code(), Some(3), "unexpected exit: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-app"), "error does not name the path: {stderr}");
    assert!(!stderr.contains("panicked"), "kiln panicked: {stderr}");
}

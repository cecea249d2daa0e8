// Shared by host/build.rs and tests/build.rs (via `include!`): compile a cargo workspace
// of guest crates for another target (wasm32-wasip2 components, the musl launcher).
//
// Guests are built by a nested cargo into `<target>/guests`, a target dir of their own:
// the outer cargo holds the lock on its own target dir, so sharing it would deadlock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The outer build's target dir (`.../target`), found from OUT_DIR.
fn outer_target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR = <target>/<profile>/build/<pkg>-<hash>/out
    out.ancestors().nth(4).expect("OUT_DIR is inside the target dir").to_path_buf()
}

/// Add the rustup target if the toolchain lacks it (rustup does not auto-install here).
fn ensure_rust_target(target: &str) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc).args(["--print", "sysroot"]).output().expect("run rustc --print sysroot");
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_string();
    if Path::new(&sysroot).join("lib/rustlib").join(target).exists() {
        return;
    }
    println!("cargo:warning=adding the rust target {target} with rustup");
    let status = Command::new("rustup").args(["target", "add", target]).status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!("the rust target {target} is missing and `rustup target add {target}` failed ({other:?}); install it by hand"),
    }
}

/// Build `manifest` (a workspace or package) for `target` in release mode with extra env;
/// returns the directory holding the artifacts.
fn build_guests(manifest: &Path, target: &str, extra_args: &[&str], extra_env: &[(&str, &str)]) -> PathBuf {
    ensure_rust_target(target);
    let target_dir = outer_target_dir().join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target")
        .arg(target)
        .arg("--target-dir")
        .arg(&target_dir)
        .args(extra_args);
    // The outer build's cargo/rustc settings are for the host target: do not leak them.
    for (key, _) in std::env::vars() {
        let leaks = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER";
        if leaks {
            cmd.env_remove(&key);
        }
    }
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let status = cmd.status().expect("run the nested cargo build of the guests");
    if !status.success() {
        panic!("building {} for {target} failed ({status}); see the errors above", manifest.display());
    }
    target_dir.join(target).join("release")
}

/// Tell cargo to rerun when anything under `dir` changes (skipping build outputs).
fn rerun_if_tree_changed(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
}

//! Builds the buildpack components the tests run: the hostile buildpacks (tests/hostile)
//! and the fixture buildpacks (tests/buildpacks), each a wasm32-wasip2 workspace compiled
//! by a nested cargo into `<target>/guests` (see host/build/guest_build.rs).
//!
//! Every `cdylib` member becomes an env var for the tests, named after its artifact:
//! package `hostile-read-host-files` -> `HOSTILE_READ_HOST_FILES=<path of
//! hostile_read_host_files.wasm>`, `fixture-layer-reuse` -> `FIXTURE_LAYER_REUSE=...`.
//! `HOSTILE_WASM_DIR` is the directory holding them all.

include!("../host/build/guest_build.rs");

/// The guest workspaces under tests/.
const WORKSPACES: &[&str] = &["hostile", "buildpacks"];

fn main() {
    let tests = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = tests.parent().expect("tests/ is inside the repository").to_path_buf();
    for dir in ["wit", "sdk"] {
        rerun_if_tree_changed(&root.join(dir));
    }
    for workspace in WORKSPACES {
        let dir = tests.join(workspace);
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        // The nested build's target dir is <target>/guests, never inside these trees.
        rerun_if_tree_changed(&dir);
        let wasm_dir = build_guests(&manifest, "wasm32-wasip2", &[], &[]);
        if *workspace == "hostile" {
            println!("cargo:rustc-env=HOSTILE_WASM_DIR={}", wasm_dir.display());
        }
        for package in component_packages(&dir) {
            let stem = package.replace('-', "_");
            let file = wasm_dir.join(format!("{stem}.wasm"));
            assert!(file.exists(), "the test buildpack {package} was not built at {}", file.display());
            println!("cargo:rustc-env={}={}", stem.to_uppercase(), file.display());
        }
    }
}

/// The package names of a workspace's `cdylib` members.
fn component_packages(workspace: &Path) -> Vec<String> {
    let read = |path: &Path| -> toml::Table {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        text.parse().unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()))
    };
    let root = read(&workspace.join("Cargo.toml"));
    let members = root["workspace"]["members"].as_array().expect("[workspace] members is a list");
    let mut packages = Vec::new();
    for member in members {
        let member = member.as_str().expect("a workspace member is a path");
        let manifest = read(&workspace.join(member).join("Cargo.toml"));
        let is_component = manifest
            .get("lib")
            .and_then(|lib| lib.get("crate-type"))
            .and_then(|types| types.as_array())
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
        if is_component {
            packages.push(manifest["package"]["name"].as_str().expect("package.name is a string").to_string());
        }
    }
    packages
}

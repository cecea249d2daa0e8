//! Builds what the `kiln` binary embeds: the bundled buildpacks (wasm32-wasip2 components)
//! and the launcher (a static x86_64-unknown-linux-musl binary).

include!("build/guest_build.rs");

fn main() {
    let host = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = host.parent().unwrap().to_path_buf();
    for dir in ["wit", "sdk", "buildpacks", "launcher", "cnb"] {
        rerun_if_tree_changed(&root.join(dir));
    }

    let wasm_dir = build_guests(&root.join("buildpacks/Cargo.toml"), "wasm32-wasip2", &[], &[]);
    // One entry per bundled buildpack crate (buildpacks/<name>, package kiln-buildpack-<name>).
    let bundled: &[&str] = &["go", "java", "nodejs", "procfile", "python", "static"];
    for name in bundled {
        let file = wasm_dir.join(format!("kiln_buildpack_{name}.wasm"));
        assert!(file.exists(), "the bundled buildpack {name} was not built at {}", file.display());
        println!("cargo:rustc-env=KILN_BUNDLED_{}={}", name.to_uppercase(), file.display());
    }

    let launcher_dir = build_guests(
        &root.join("launcher/Cargo.toml"),
        "x86_64-unknown-linux-musl",
        &["--bin", "launcher"],
        &[
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
            ("CARGO_PROFILE_RELEASE_STRIP", "true"),
            ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
            ("CARGO_PROFILE_RELEASE_LTO", "true"),
            ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
        ],
    );
    let launcher = launcher_dir.join("launcher");
    assert!(launcher.exists(), "the launcher was not built at {}", launcher.display());
    println!("cargo:rustc-env=KILN_LAUNCHER={}", launcher.display());
}

//! Rebuilds reuse what did not change: an unchanged app rebuilds no layer and keeps every
//! digest; changing one input rebuilds only the layer keyed by it; a build+cache layer
//! (JDK-style) lands in the cache but not the image, a launch layer (JRE-style) in the
//! image but not the cache.

use std::path::Path;
use std::time::Instant;

use kiln_tests::{KilnHome, KilnRun, skopeo_inspect_config, umoci_unpack};

const FIXTURE: &str = env!("FIXTURE_LAYER_REUSE");
const BP_DIR: &str = "fixture_layer-reuse";

fn build(home: &KilnHome, app: &Path, extra: &[&str]) -> (KilnRun, f64) {
    let started = Instant::now();
    let mut args = vec!["build", "reuse", "--path", app.to_str().unwrap(), "--buildpack", FIXTURE, "--run-image", "run-base"];
    args.extend_from_slice(extra);
    let run = home.run(&args).success();
    (run, started.elapsed().as_secs_f64())
}

/// (layer name -> (diffID, builds)) from the image's lifecycle metadata label.
fn layers(home: &KilnHome) -> std::collections::BTreeMap<String, (String, i64)> {
    let config = skopeo_inspect_config(&home.store(), "reuse:latest");
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().unwrap().to_string();
    let metadata: serde_json::Value = serde_json::from_str(&label).unwrap();
    let buildpack = &metadata["buildpacks"][0];
    assert_eq!(buildpack["key"], "fixture/layer-reuse");
    buildpack["layers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, layer)| (name.clone(), (layer["sha"].as_str().unwrap().to_string(), layer["data"]["builds"].as_i64().unwrap())))
        .collect()
}

fn app_dir() -> tempfile::TempDir {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("version.txt"), "17\n").unwrap();
    std::fs::write(app.path().join("deps.txt"), "express@4\n").unwrap();
    std::fs::write(app.path().join("index.html"), "hello\n").unwrap();
    app
}

#[test]
fn an_unchanged_rebuild_reuses_every_layer_and_one_change_rebuilds_one_layer() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app_dir();

    let (cold, cold_secs) = build(&home, app.path(), &[]);
    let first = layers(&home);
    let (warm, warm_secs) = build(&home, app.path(), &[]);
    println!("cold build {cold_secs:.2}s, warm build {warm_secs:.2}s");
    assert_eq!(cold.digest(), warm.digest(), "an unchanged rebuild gives the same image");
    assert_eq!(first, layers(&home), "same diffIDs, and no layer was rebuilt (builds unchanged)");
    assert!(first.values().all(|(_, builds)| *builds == 1), "{first:?}");
    for layer in ["jre", "runtime", "deps", "app"] {
        assert!(warm.stderr.contains(&format!("{layer} ")), "{warm}");
    }
    assert_eq!(warm.stderr.matches("(reused)").count(), 4, "jre, runtime, deps and app reused:\n{warm}");
    assert!(!warm.stderr.contains("rebuilding"), "{warm}");

    std::fs::write(app.path().join("deps.txt"), "express@5\n").unwrap();
    let (changed, _) = build(&home, app.path(), &[]);
    let after = layers(&home);
    assert_eq!(after["deps"].1, 2, "deps rebuilt once more");
    assert_ne!(after["deps"].0, first["deps"].0, "deps has new content");
    for kept in ["jre", "runtime"] {
        assert_eq!(after[kept], first[kept], "{kept} untouched");
    }
    assert!(changed.stderr.contains("rebuilding deps"), "{changed}");

    let (cleared, _) = build(&home, app.path(), &["--clear-cache"]);
    assert!(cleared.stderr.contains("building runtime"), "--clear-cache rebuilds cached layers:\n{cleared}");
}

/// A big file in the app gets a layer of its own: a code change rewrites only the small app
/// layer, the big file's layer keeps its blob, and the lifecycle metadata lists both.
#[test]
fn a_big_app_file_gets_its_own_layer_that_survives_a_code_change() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app_dir();
    let model = std::fs::File::create(app.path().join("model.bin")).unwrap();
    model.set_len(40 << 20).unwrap();

    let (cold, _) = build(&home, app.path(), &[]);
    assert!(cold.stderr.contains("[export] layer app:model.bin "), "{cold}");
    let app_shas = |home: &KilnHome| -> Vec<String> {
        let config = skopeo_inspect_config(&home.store(), "reuse:latest");
        let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().unwrap().to_string();
        let metadata: serde_json::Value = serde_json::from_str(&label).unwrap();
        metadata["app"].as_array().unwrap().iter().map(|a| a["sha"].as_str().unwrap().to_string()).collect()
    };
    let before = app_shas(&home);
    assert_eq!(before.len(), 2, "the app layer and model.bin's: {before:?}");

    std::fs::write(app.path().join("index.html"), "hello again\n").unwrap();
    let (changed, _) = build(&home, app.path(), &[]);
    let line = |name: &str| {
        changed
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("[export] layer {name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{changed}"))
            .to_string()
    };
    assert!(line("app:model.bin").ends_with("(reused)"), "the big file's layer was rewritten:\n{changed}");
    assert!(!line("app").ends_with("(reused)"), "the changed app layer was reused:\n{changed}");
    let after = app_shas(&home);
    assert_ne!(after[0], before[0], "the small app layer changed");
    assert_eq!(after[1], before[1], "model.bin's layer kept its diffID");

    // The image still holds the whole app.
    let bundle = umoci_unpack(&home.store(), "reuse:latest", &home.path().join("bundle"));
    assert_eq!(std::fs::metadata(bundle.rootfs.join("workspace/model.bin")).unwrap().len(), 40 << 20);
    assert_eq!(std::fs::read_to_string(bundle.rootfs.join("workspace/index.html")).unwrap(), "hello again\n");
}

#[test]
fn build_cache_layers_stay_out_of_the_image_and_launch_layers_out_of_the_cache() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app_dir();
    build(&home, app.path(), &[]);

    let in_image = layers(&home);
    assert!(in_image.contains_key("jre") && in_image.contains_key("runtime"), "{in_image:?}");
    assert!(!in_image.contains_key("jdk"), "the build+cache jdk layer is not in the image metadata");
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "reuse:latest", &bundle_dir.path().join("b"));
    let layers_root = bundle.rootfs.join("layers").join(BP_DIR);
    assert!(layers_root.join("jre/bin/jre").is_file());
    assert!(!layers_root.join("jdk").exists(), "jdk is not in the image");

    let cache_root = home.path().join("cache/build-cache");
    let cache_dir = std::fs::read_dir(&cache_root).unwrap().next().unwrap().unwrap().path();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(cache_dir.join("kiln-cache.json")).unwrap()).unwrap();
    let cached = index["buildpacks"]["fixture/layer-reuse"].as_object().unwrap();
    assert!(cached.contains_key("jdk"), "jdk is cached");
    assert!(cached.contains_key("runtime") && cached.contains_key("deps"));
    assert!(!cached.contains_key("jre"), "the launch-only jre is not cached");
}

#[test]
fn the_launcher_applies_launch_layer_env_in_the_container() {
    let bwrap = kiln_tests::require_tool("bwrap");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app_dir();
    build(&home, app.path(), &[]);
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "reuse:latest", &bundle_dir.path().join("b"));
    let mut cmd = std::process::Command::new(bwrap);
    cmd.args(["--unshare-all", "--die-with-parent", "--bind"]).arg(&bundle.rootfs).args([
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--uid",
        "1000",
        "--gid",
        "1000",
        "--clearenv",
    ]);
    for (key, value) in bundle.env() {
        cmd.args(["--setenv", &key, &value]);
    }
    cmd.args(["/cnb/lifecycle/launcher", "--", "/bin/sh", "-c", "echo HOME=$FIXTURE_HOME; echo PATH=$PATH; jre"]);
    let output = kiln_tests::run_stdout(&mut cmd);
    // `.default`: the earliest launch layer (alphabetical: deps) sets it; later ones do not override.
    assert!(output.contains("HOME=/layers/fixture_layer-reuse/deps\n"), "{output}");
    for layer in ["deps", "jre", "runtime"] {
        assert!(output.contains(&format!("/layers/fixture_layer-reuse/{layer}/bin")), "{layer}/bin on PATH: {output}");
    }
    assert!(!output.contains("/layers/fixture_layer-reuse/jdk"), "the build-only jdk is not in the image: {output}");
    assert!(output.contains("jre for 17"), "the jre layer's bin/jre ran from PATH: {output}");
}

//! `kiln inspect`, `kiln rmi` and `kiln gc` on real images, checked against skopeo.

use std::path::{Path, PathBuf};

use kiln_tests::{KilnHome, Registry, skopeo_inspect, skopeo_inspect_config};
use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

#[test]
fn inspect_shows_processes_buildpacks_run_image_layers_and_labels() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let digest = home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base"]).success().digest();

    let text = home.run(&["inspect", "app"]).success().stdout;
    for needle in
        ["web (default): ", "httpd -f -v -p", "kiln/procfile@", "Run image:    run-base", &digest, "io.buildpacks.build.metadata="]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }

    let json: Value = serde_json::from_str(&home.run(&["--json", "inspect", "app"]).success().stdout).unwrap();
    let skopeo = skopeo_inspect(&home.store(), "app:latest");
    let config = skopeo_inspect_config(&home.store(), "app:latest");
    assert_eq!(json["digest"], skopeo["Digest"]);
    let digests: Vec<&Value> = json["layers"].as_array().unwrap().iter().map(|l| &l["digest"]).collect();
    let skopeo_digests: Vec<&Value> = skopeo["Layers"].as_array().unwrap().iter().collect();
    assert_eq!(digests, skopeo_digests);
    let diff_ids: Vec<&Value> = json["layers"].as_array().unwrap().iter().map(|l| &l["diffID"]).collect();
    assert_eq!(diff_ids, config["rootfs"]["diff_ids"].as_array().unwrap().iter().collect::<Vec<_>>());
    assert!(json["layers"].as_array().unwrap().iter().all(|l| l["size"].as_u64().unwrap() > 0));
    assert_eq!(json["processes"][0]["type"], "web");
    assert!(json["buildpacks"].as_array().unwrap().iter().any(|b| b["id"] == "kiln/procfile"), "{}", json["buildpacks"]);
    assert_eq!(json["runImage"]["image"], "run-base:latest");
    assert_eq!(json["runImage"]["topLayer"], config["rootfs"]["diff_ids"][0]);
    assert_eq!(json["labels"]["io.buildpacks.lifecycle.metadata"], config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"]);

    // A registry image is read from the registry (manifest and config only).
    let registry = Registry::start();
    registry.push_layout(&home.store(), "app:latest", "app:v1");
    let remote: Value =
        serde_json::from_str(&home.run(&["--json", "inspect", &format!("{}/app:v1", registry.addr())]).success().stdout).unwrap();
    assert_eq!(remote["digest"], json["digest"]);
    assert_eq!(remote["processes"], json["processes"]);
    home.run(&["inspect", &format!("{}/nope:v1", registry.addr())]).failure(3, &["nope", "not found"]);
}

#[test]
fn rmi_and_gc_free_blobs_no_tag_uses() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base"]).success();
    let blobs = || std::fs::read_dir(home.store().join("blobs/sha256")).unwrap().count();
    let with_app = blobs();

    // Nothing is unreachable yet; recent blobs are protected by the grace period anyway.
    let kept = home.run(&["gc"]).success();
    assert!(kept.stdout.contains("removed 0 blob(s)"), "{kept}");
    home.run(&["rmi", "app"]).success();
    home.run(&["rmi", "app"]).failure(3, &["no image named app:latest"]);
    let young = home.run(&["gc"]).success();
    assert!(young.stdout.contains("removed 0 blob(s)"), "within the grace period: {young}");
    assert_eq!(blobs(), with_app);
    let removed = home.run(&["--json", "gc", "--grace", "0s"]).success();
    let report: Value = serde_json::from_str(removed.stdout.trim()).unwrap();
    assert!(report["removed"].as_u64().unwrap() >= 5, "app manifest, config and layers: {report}");
    assert_eq!(blobs(), with_app - report["removed"].as_u64().unwrap() as usize);
    // The run image is intact and still builds.
    skopeo_inspect(&home.store(), "run-base:latest");
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base"]).success();
    assert!(!home.run(&["images"]).success().stdout.is_empty());
}

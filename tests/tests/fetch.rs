//! The `fetch` capability end to end: the real `kiln` binary, the real sandbox, the
//! fixture buildpack `fixture/fetcher`, and a file server on 127.0.0.1 (real sockets) that
//! counts requests. Success with the right digest, refusal with a wrong one, the download
//! cache (a second build makes no request), offline builds from a mirror directory, the
//! strict policy, and the SBOM in the image.

mod fetch_server;

use std::path::Path;

use fetch_server::FileServer;
use kiln_tests::{KilnHome, KilnRun, sha256_digest};
use sha2::{Digest, Sha512};

const FETCHER: &str = env!("FIXTURE_FETCHER");

fn app() -> tempfile::TempDir {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.txt"), "an app\n").unwrap();
    app
}

fn build(home: &KilnHome, app: &Path, image: &str, url: &str, digest: &str, extra: &[&str]) -> KilnRun {
    let mut args = vec!["build", image, "--path", app.to_str().unwrap(), "--buildpack", FETCHER, "--run-image", "run-base"];
    let (url_env, digest_env) = (format!("FETCH_URL={url}"), format!("FETCH_DIGEST={digest}"));
    args.extend(["--env", &url_env, "--env", &digest_env]);
    args.extend_from_slice(extra);
    home.run(&args)
}

fn sri512(bytes: &[u8]) -> String {
    use base64_like::encode;
    format!("sha512-{}", encode(&Sha512::digest(bytes)))
}

/// Standard base64 (the test crate has no base64 dependency).
mod base64_like {
    pub fn encode(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[test]
fn a_fetch_is_verified_cached_for_the_next_build_and_listed_in_the_sbom() {
    let server = FileServer::start();
    let tool = b"#!/bin/sh\necho a downloaded tool\n".repeat(100);
    let data = b"{\"a\": \"second artifact\"}\n";
    server.add("tool-1.0.tar.gz", &tool);
    server.add("data.json", data);
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app();
    let urls = format!("{} {}", server.url("/files/tool-1.0.tar.gz"), server.url("/files/data.json"));
    let digests = format!("{} {}", sha256_digest(&tool), sri512(data));

    let first = build(&home, app.path(), "app", &urls, &digests, &["--allow-host", &server.host()]).success();
    assert_eq!(server.request_count(), 2, "one request per file: {:?}", server.requests());
    assert!(
        first.stderr.contains(&format!("fetched {} ({} bytes, from network)", server.url("/files/tool-1.0.tar.gz"), tool.len())),
        "{first}"
    );

    // The file is in the image, byte for byte.
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = kiln_tests::umoci_unpack(&home.store(), "app:latest", &bundle_dir.path().join("bundle"));
    let placed = bundle.rootfs.join("layers/fixture_fetcher/downloads/artifact");
    assert_eq!(std::fs::read(&placed).unwrap(), tool);
    assert_eq!(std::fs::read(bundle.rootfs.join("layers/fixture_fetcher/downloads/artifact.1")).unwrap(), data);

    // The SBOM lists both artifacts with their digests, URLs and buildpack.
    let sbom = home.run(&["sbom", "app"]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.5");
    let components = doc["components"].as_array().unwrap();
    assert_eq!(components.len(), 2, "{doc:#}");
    let find = |name: &str| components.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} in {doc:#}"));
    let tool_c = find("tool-1.0.tar.gz");
    assert_eq!(tool_c["hashes"][0]["alg"], "SHA-256");
    assert_eq!(format!("sha256:{}", tool_c["hashes"][0]["content"].as_str().unwrap()), sha256_digest(&tool));
    assert_eq!(tool_c["externalReferences"][0]["url"], server.url("/files/tool-1.0.tar.gz"));
    assert_eq!(tool_c["properties"][0]["value"], "fixture/fetcher");
    assert_eq!(tool_c["properties"][1]["value"], tool.len().to_string());
    let data_c = find("data.json");
    assert_eq!(data_c["hashes"][0]["alg"], "SHA-512");
    assert_eq!(data_c["hashes"][0]["content"], hex::encode(Sha512::digest(data)));
    // The label points at the SBOM layer, as skopeo sees it.
    let config = kiln_tests::skopeo_inspect_config(&home.store(), "app:latest");
    let label = config["config"]["Labels"]["io.kiln.sbom"].as_str().expect("io.kiln.sbom label");
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(diff_ids.last(), Some(&label), "the SBOM is the top layer");
    assert!(bundle.rootfs.join("layers/sbom/launch/sbom.cdx.json").is_file());

    // Second build: served from the download cache, no request, the same image.
    let second = build(&home, app.path(), "app", &urls, &digests, &["--allow-host", &server.host()]).success();
    assert_eq!(server.request_count(), 2, "the second build made a request: {:?}", server.requests());
    assert!(second.stderr.contains("from cache)"), "{second}");
    assert_eq!(first.digest(), second.digest(), "cache or network, the image is the same");

    // The cache lists them, with their URLs.
    let list = home.run(&["fetch-cache", "list"]).success();
    assert!(list.stdout.contains(&sha256_digest(&tool)) && list.stdout.contains(&server.url("/files/tool-1.0.tar.gz")), "{list}");
}

#[test]
fn a_wrong_digest_is_refused_and_nothing_is_cached() {
    let server = FileServer::start();
    server.add("tool.tgz", b"the real bytes");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app();
    let wrong = sha256_digest(b"other bytes");
    let run = build(&home, app.path(), "app", &server.url("/files/tool.tgz"), &wrong, &["--allow-host", &server.host()]);
    run.failure(51, &["buildpack fixture/fetcher failed during build", "digest mismatch", &wrong, &sha256_digest(b"the real bytes")]);
    let cached: Vec<_> = walk_files(&home.path().join("cache/downloads"));
    assert!(cached.is_empty(), "a file that failed verification was kept: {cached:?}");
}

#[test]
fn builds_run_offline_from_a_prepared_mirror() {
    let mut server = FileServer::start();
    let bytes = b"mirror me\n".repeat(1000);
    server.add("pkg/dep-2.0.tgz", &bytes);
    let url = server.url("/files/pkg/dep-2.0.tgz");
    let digest = sha256_digest(&bytes);
    let online = KilnHome::new();
    online.busybox_run_image("run-base");
    let app = app();
    build(&online, app.path(), "app", &url, &digest, &["--allow-host", &server.host()]).success();
    let mirror = tempfile::tempdir().unwrap();
    let prefix = server.url("/");
    online.run(&["fetch-cache", "mirror", mirror.path().to_str().unwrap(), "--prefix", &prefix]).success();
    assert_eq!(std::fs::read(mirror.path().join("files/pkg/dep-2.0.tgz")).unwrap(), bytes);
    server.stop();

    // A fresh home (empty download cache), the server gone: only the mirror can serve it.
    let offline = KilnHome::new();
    offline.busybox_run_image("run-base");
    let no_mirror = build(&offline, app.path(), "app", &url, &digest, &["--allow-host", &server.host()]);
    no_mirror.failure(51, &["cannot download", &url]);
    let mirror_flag = format!("{prefix}={}", mirror.path().display());
    let run = build(&offline, app.path(), "app", &url, &digest, &["--allow-host", &server.host(), "--mirror", &mirror_flag]).success();
    assert!(run.stderr.contains("from mirror)"), "{run}");
    let sbom = offline.run(&["sbom", "app"]).success();
    assert!(
        sbom.stdout.contains(&url) && sbom.stdout.contains(digest.trim_start_matches("sha256:")),
        "the SBOM names the original URL:\n{sbom}"
    );
}

#[test]
fn the_policy_decides_what_may_be_fetched() {
    let server = FileServer::start();
    server.add("f", b"x");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = app();
    let url = server.url("/files/f");
    let digest = sha256_digest(b"x");
    // Not on the allow-list (the default is the machine's package registries).
    build(&home, app.path(), "app", &url, &digest, &[])
        .failure(51, &["is not allowed by the fetch policy", &format!("--allow-host {}", server.host())]);
    // Strict denies even an allowed host.
    build(&home, app.path(), "app", &url, &digest, &["--allow-host", &server.host(), "--policy", "strict"])
        .failure(51, &["--policy strict"]);
    build(&home, app.path(), "app", &url, &digest, &["--allow-host", &server.host(), "--deny-fetch"]).failure(51, &["--deny-fetch"]);
    // A redirect from an allowed host to one that is not allowed is refused at the hop.
    let redirect = server.url(&format!("/redirect?http://127.0.0.2:{}/files/f", server.port()));
    build(&home, app.path(), "app", &redirect, &digest, &["--allow-host", &server.host()])
        .failure(51, &[&format!("http://127.0.0.2:{}/files/f is not allowed", server.port())]);
    assert_eq!(server.request_count(), 1, "only the redirect itself was requested: {:?}", server.requests());
    // kiln's config file allows it too.
    std::fs::write(home.path().join("config.toml"), format!("[fetch]\nallow = [\"{}\"]\n", server.url("/files/"))).unwrap();
    let run = build(&home, app.path(), "app", &url, &digest, &["--json"]).success();
    // The `fetched` event is part of the documented --json stream.
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let events: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for event in &events {
        let errors: Vec<String> = validator.iter_errors(event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{event} does not match the schema: {errors:?}");
    }
    let fetched = events.iter().find(|e| e["event"] == "fetched").unwrap_or_else(|| panic!("no fetched event:\n{run}"));
    assert_eq!(fetched["url"], url.as_str());
    assert_eq!(fetched["digest"], digest.as_str());
    assert_eq!(fetched["origin"], "network", "every earlier attempt was refused before downloading");
}

fn walk_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

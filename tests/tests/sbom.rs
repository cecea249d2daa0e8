//! The image SBOM survives layer reuse: the real `kiln` binary, the fixture buildpack
//! `fixture/fetcher` (which keeps its `downloads` layer with `FETCH_KEEP=1` when its
//! metadata is unchanged, without fetching) and a file server on 127.0.0.1.
//!
//! A warm rebuild that keeps the layer (from the previous image, or restored from the
//! build cache) lists the same components, byte for byte, and gives the cold build's image
//! digest; a layer rebuilt for new inputs loses the old file; a dropped layer takes its
//! components with it. The buildpack's own `downloads.sbom.cdx.json` is merged and carried
//! over the same way.

mod fetch_server;

use std::path::Path;

use fetch_server::FileServer;
use kiln_tests::{KilnHome, KilnRun, sha256_digest};
use serde_json::Value;

const FETCHER: &str = env!("FIXTURE_FETCHER");

/// A buildpack's own CycloneDX SBOM for the layer.
const LAYER_SBOM: &str = r#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"type": "library", "name": "libfixture", "version": "2.1.0", "purl": "pkg:generic/libfixture@2.1.0"}]}"#;

fn build(home: &KilnHome, app: &Path, image: &str, url: &str, digest: &str, env: &[&str]) -> KilnRun {
    build_with(home, app, image, url, digest, env, &[])
}

fn build_with(home: &KilnHome, app: &Path, image: &str, url: &str, digest: &str, env: &[&str], extra: &[&str]) -> KilnRun {
    run_build(home, app, image, url, digest, LAYER_SBOM, env, extra).success()
}

#[allow(clippy::too_many_arguments)] // reason: each is one flag of the kiln command line
fn run_build(home: &KilnHome, app: &Path, image: &str, url: &str, digest: &str, layer_sbom: &str, env: &[&str], extra: &[&str]) -> KilnRun {
    let (url_env, digest_env, sbom_env) =
        (format!("FETCH_URL={url}"), format!("FETCH_DIGEST={digest}"), format!("FETCH_SBOM={layer_sbom}"));
    let mut args = vec!["build", image, "--path", app.to_str().unwrap(), "--buildpack", FETCHER, "--run-image", "run-base"];
    args.extend(["--env", &url_env, "--env", &digest_env, "--env", &sbom_env, "--env", "FETCH_KEEP=1"]);
    for e in env {
        args.extend(["--env", e]);
    }
    let host = url.split('/').nth(2).unwrap().to_string();
    args.extend(["--allow-host", &host]);
    args.extend_from_slice(extra);
    home.run(&args)
}

/// `kiln sbom IMAGE`: the raw text and the parsed document.
fn sbom(home: &KilnHome, image: &str) -> (String, Value) {
    let run = home.run(&["sbom", image]).success();
    let doc = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{run}"));
    (run.stdout, doc)
}

/// (component name, its io.kiln.layer values) of every component.
fn listed(doc: &Value) -> Vec<(String, Vec<String>)> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let layers = c["properties"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["name"] == "io.kiln.layer")
                .map(|p| p["value"].as_str().unwrap().to_string())
                .collect();
            (c["name"].as_str().unwrap().to_string(), layers)
        })
        .collect()
}

fn layer_of_fetcher() -> Vec<String> {
    vec!["fixture/fetcher/downloads".to_string()]
}

#[test]
fn a_kept_layer_keeps_its_sbom_entries_and_the_image_digest() {
    let server = FileServer::start();
    let tool = b"#!/bin/sh\necho tool 1\n".repeat(50);
    let tool2 = b"#!/bin/sh\necho tool 2\n".repeat(50);
    server.add("tool-1.tgz", &tool);
    server.add("tool-2.tgz", &tool2);
    let (url, digest) = (server.url("/files/tool-1.tgz"), sha256_digest(&tool));
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.txt"), "an app\n").unwrap();

    // Cold: fetched, listed with its layer, and the buildpack's own component merged.
    let cold = build(&home, app.path(), "app", &url, &digest, &[]);
    assert!(cold.stderr.contains("FETCHED"), "{cold}");
    let (cold_text, cold_doc) = sbom(&home, "app");
    assert_eq!(
        listed(&cold_doc),
        [("libfixture".to_string(), layer_of_fetcher()), ("tool-1.tgz".to_string(), layer_of_fetcher())],
        "{cold_text}"
    );
    let lib = cold_doc["components"].as_array().unwrap().iter().find(|c| c["name"] == "libfixture").unwrap();
    assert_eq!(lib["purl"], "pkg:generic/libfixture@2.1.0");
    assert!(lib["properties"].as_array().unwrap().iter().any(|p| p["name"] == "io.kiln.source" && p["value"] == "buildpack-sbom"));

    // Warm: the layer is kept from the previous image, nothing is fetched, the SBOM and
    // the image are the same bytes.
    let requests = server.request_count();
    let warm = build(&home, app.path(), "app", &url, &digest, &[]);
    assert!(warm.stderr.contains("KEPT downloads") && !warm.stderr.contains("FETCHED"), "{warm}");
    assert_eq!(server.request_count(), requests, "the kept layer fetched nothing");
    let (warm_text, _) = sbom(&home, "app");
    assert_eq!(warm_text, cold_text, "the warm SBOM is the cold one");
    assert_eq!(warm.digest(), cold.digest(), "the warm image is the cold one");

    // New inputs: the layer is rebuilt, the old file and its layer entry are gone.
    let rebuilt = build(&home, app.path(), "app", &server.url("/files/tool-2.tgz"), &sha256_digest(&tool2), &[]);
    assert!(rebuilt.stderr.contains("FETCHED"), "{rebuilt}");
    let (_, doc) = sbom(&home, "app");
    assert_eq!(listed(&doc), [("libfixture".to_string(), layer_of_fetcher()), ("tool-2.tgz".to_string(), layer_of_fetcher())]);

    // The layer dropped: its components go with it, and the image has no SBOM at all.
    let dropped = build(&home, app.path(), "app", &url, &digest, &["FETCH_DROP=1"]);
    assert!(dropped.stderr.contains("DROPPED downloads"), "{dropped}");
    home.run(&["sbom", "app"]).failure(3, &["has no SBOM"]);
}

#[test]
fn a_layer_restored_from_the_cache_brings_its_sbom_entries_from_the_cache_index() {
    let server = FileServer::start();
    let tool = b"cached tool\n".repeat(100);
    server.add("tool.tgz", &tool);
    let (url, digest) = (server.url("/files/tool.tgz"), sha256_digest(&tool));
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.txt"), "an app\n").unwrap();
    let cache_dir = home.path().join("shared-cache");
    let cache_arg = format!("--cache-dir={}", cache_dir.display());

    let with_cache = |image: &str| build_with(&home, app.path(), image, &url, &digest, &["FETCH_CACHE=1"], &[&cache_arg]);

    let first = with_cache("one");
    assert!(first.stderr.contains("FETCHED"), "{first}");
    let index: Value = serde_json::from_slice(&std::fs::read(cache_dir.join("kiln-cache.json")).unwrap()).unwrap();
    let cached = &index["buildpacks"]["fixture/fetcher"]["downloads"]["sbom"];
    let names: Vec<&str> =
        cached.as_array().unwrap_or_else(|| panic!("no sbom in {index:#}")).iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["libfixture", "tool.tgz"], "the cache index lists the layer's components");

    // Another image name with the same cache: no previous image, so the components can
    // only come from the cache index.
    let second = with_cache("two");
    assert!(second.stderr.contains("KEPT downloads") && !second.stderr.contains("FETCHED"), "{second}");
    let (one, _) = sbom(&home, "one");
    let (two, doc) = sbom(&home, "two");
    assert_eq!(listed(&doc), [("libfixture".to_string(), layer_of_fetcher()), ("tool.tgz".to_string(), layer_of_fetcher())]);
    assert_eq!(one, two);
    assert_eq!(first.digest(), second.digest(), "the image from a restored layer is the cold image");
}

#[test]
fn a_buildpack_sbom_file_that_is_not_cyclonedx_json_fails_the_build() {
    let server = FileServer::start();
    server.add("tool.tgz", b"bytes");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    let (url, digest) = (server.url("/files/tool.tgz"), sha256_digest(b"bytes"));
    for (bad, why) in [
        ("{ not json", "not valid JSON"),
        (r#"{"bomFormat": "SPDX"}"#, "CycloneDX"),
        (r#"{"bomFormat": "CycloneDX", "components": [7]}"#, "component 0"),
    ] {
        run_build(&home, app.path(), "app", &url, &digest, bad, &[], &[])
            .failure(51, &["buildpack fixture/fetcher returned an invalid result", "downloads.sbom.cdx.json", why, "remove it"]);
    }
    let none = home.run(&["sbom", "app"]);
    assert_ne!(none.code, Some(0), "no image was written:\n{none}");
}

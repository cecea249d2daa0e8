//! kiln/python: examples/python-wsgi built on a Debian bookworm run image.
//!
//! Network tier (runs with `KILN_NETWORK_TESTS=1`, as `.ci/run` sets it): CPython's .debs
//! come from the Debian archive and waitress's wheel from PyPI's file host, each checked
//! against the digest pinned in the buildpack or requirements.txt.
//!
//! Shown here: the image passes skopeo and umoci; in bwrap as uid 1000 `python app.py`
//! serves the page, and the console script `waitress-serve` serves it too; the SBOM lists
//! every .deb and the wheel with their digests; after an app.py change the rebuild keeps
//! the `python` and `packages` layers (same diffIDs, nothing downloaded) and is faster.
//! Without network: requirements that are not hash-pinned, or a pyproject.toml with
//! dependencies and no requirements.txt, fail before any download with what to do.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_tests::{
    Bundle, KilnHome, KilnRun, RunningContainer, free_port, network_tests_enabled, require_tool, skopeo_inspect, skopeo_inspect_config,
    umoci_unpack,
};

/// The wheel requirements.txt pins, and its digest.
const WAITRESS_WHEEL: &str = "https://files.pythonhosted.org/packages/8d/57/a27182528c90ef38d82b636a11f606b0cbb0e17588ed205435f8affe3368/waitress-3.0.2-py3-none-any.whl";
const WAITRESS_SHA256: &str = "c56d67fd6e87c2ee598b76abdd4e96cfad1f24cacdea5078d382b1f9d7b5ed2e";
/// Packages the runtime table has (a sample; the SBOM must list all 26).
const SOME_DEBS: &[&str] = &[
    "python3.11-minimal_3.11.2-6+deb12u8_amd64.deb",
    "libpython3.11-stdlib_3.11.2-6+deb12u8_amd64.deb",
    "libssl3_3.0.20-1~deb12u2_amd64.deb",
    "libexpat1_2.5.0-1+deb12u2_amd64.deb",
];
const PYTHON_DEBS: usize = 26;

/// A copy of examples/python-wsgi that the test may change.
fn example_copy() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-wsgi");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    dir
}

fn build(home: &KilnHome, app: &Path, run_image: &str) -> (KilnRun, Duration) {
    let started = Instant::now();
    let run =
        home.run(&["build", "pyapp", "--path", app.to_str().unwrap(), "--buildpack", "kiln/python", "--run-image", run_image]).success();
    (run, started.elapsed())
}

/// kiln/python's layers in the image: name -> diffID.
fn layers(home: &KilnHome) -> BTreeMap<String, String> {
    let config = skopeo_inspect_config(&home.store(), "pyapp:latest");
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().expect("lifecycle metadata label");
    let metadata: serde_json::Value = serde_json::from_str(label).unwrap();
    let buildpack =
        metadata["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == "kiln/python").expect("kiln/python in the metadata");
    buildpack["layers"].as_object().unwrap().iter().map(|(name, l)| (name.clone(), l["sha"].as_str().unwrap().to_string())).collect()
}

/// Serve with the image's default process (or `argv` through the launcher) and return the body.
fn serve(bundle: &Bundle, argv: Option<&[&str]>) -> String {
    let port = free_port();
    let mut bundle = Bundle { rootfs: bundle.rootfs.clone(), config: bundle.config.clone() };
    if let Some(argv) = argv {
        let argv: Vec<String> = argv.iter().map(|a| a.replace("{port}", &port.to_string())).collect();
        bundle.config["process"]["args"] = serde_json::json!(argv);
    }
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    container.wait_for_http(port, "/", Duration::from_secs(30))
}

#[test]
fn python_wsgi_example_serves_and_a_code_change_keeps_the_python_and_packages_layers() {
    if !network_tests_enabled("the kiln/python build") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]).success();
    let app = example_copy();

    let (cold, cold_time) = build(&home, app.path(), "run-debian");
    eprintln!("{cold}");
    assert!(cold.stderr.contains("installing Python 3.11.2"), "{cold}");
    assert!(cold.stderr.contains("installed waitress-3.0.2-py3-none-any.whl, scripts: waitress-serve"), "{cold}");
    let inspect = skopeo_inspect(&home.store(), "pyapp:latest");
    assert_eq!(inspect["Digest"], cold.digest().as_str(), "skopeo sees the digest kiln printed");
    let first = layers(&home);
    assert!(first.contains_key("python") && first.contains_key("packages"), "{first:?}");

    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "pyapp:latest", &bundle_dir.path().join("bundle"));
    let python = bundle.rootfs.join("layers/kiln_python/python");
    assert!(python.join("usr/bin/python3.11").is_file());
    assert_eq!(std::fs::read_link(python.join("usr/bin/python3")).unwrap(), Path::new("python3.11"));
    assert!(python.join("usr/lib/python3.11/lib-dynload").is_dir());
    assert!(python.join("usr/lib/x86_64-linux-gnu/libssl.so.3").exists());
    let packages = bundle.rootfs.join("layers/kiln_python/packages");
    assert!(packages.join("site-packages/waitress/server.py").is_file());
    assert_eq!(std::fs::read_to_string(packages.join("site-packages/waitress-3.0.2.dist-info/INSTALLER")).unwrap(), "kiln\n");
    let script = std::fs::read_to_string(packages.join("bin/waitress-serve")).unwrap();
    assert!(script.starts_with("#!/layers/kiln_python/python/usr/bin/python3.11\n"), "{script}");

    // `python app.py`, the default process, as uid 1000.
    let body = serve(&bundle, None);
    assert_eq!(body, "Hello from kiln python 3.11\n");
    // The console script, through the launcher's env (PATH, PYTHONHOME, PYTHONPATH, LD_LIBRARY_PATH).
    let body = serve(&bundle, Some(&["/cnb/lifecycle/launcher", "--", "waitress-serve", "--port={port}", "app:app"]));
    assert_eq!(body, "Hello from kiln python 3.11\n");

    // The stdlib modules backed by the packaged libraries load (ssl: libssl3, sqlite3,
    // ctypes: libffi8, lzma, bz2, uuid, readline, dbm: libdb5.3, crypt, nis: libnsl2/libtirpc3).
    let imports = "import ssl, sqlite3, ctypes, lzma, bz2, uuid, readline, dbm.ndbm, crypt, nis, pyexpat, decimal, zlib; \
                   import sys; print(sys.prefix, ssl.OPENSSL_VERSION, sqlite3.sqlite_version)";
    let out = RunningContainer::run_to_exit(&bundle, &["/cnb/lifecycle/launcher", "--", "python", "-W", "ignore", "-c", imports], 1000);
    assert!(out.starts_with("/layers/kiln_python/python/usr OpenSSL 3.0."), "{out}");

    // The SBOM names every .deb and the wheel, with its URL and digest.
    let sbom = home.run(&["sbom", "pyapp"]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    let components = doc["components"].as_array().unwrap();
    let debs: Vec<&serde_json::Value> = components.iter().filter(|c| c["name"].as_str().unwrap().ends_with(".deb")).collect();
    assert_eq!(debs.len(), PYTHON_DEBS, "{doc:#}");
    for deb in &debs {
        let url = deb["externalReferences"][0]["url"].as_str().unwrap();
        assert!(url.starts_with("http://deb.debian.org/debian/pool/main/"), "{url}");
        assert_eq!(deb["hashes"][0]["alg"], "SHA-256");
        assert_eq!(deb["properties"][0]["value"], "kiln/python");
    }
    for name in SOME_DEBS {
        assert!(debs.iter().any(|d| d["name"] == *name), "{name} not in the SBOM");
    }
    let wheel = components.iter().find(|c| c["name"] == "waitress-3.0.2-py3-none-any.whl").expect("the wheel in the SBOM");
    assert_eq!(wheel["externalReferences"][0]["url"], WAITRESS_WHEEL);
    assert_eq!(wheel["hashes"][0]["content"], WAITRESS_SHA256);

    // Change the code: only the app layer changes.
    let code = std::fs::read_to_string(app.path().join("app.py")).unwrap();
    std::fs::write(app.path().join("app.py"), code.replace("Hello from kiln python", "Hello again from kiln python")).unwrap();
    let (warm, warm_time) = build(&home, app.path(), "run-debian");
    eprintln!("{warm}");
    eprintln!(
        "kiln/python example: cold build {:.2}s, warm build after an app.py change {:.2}s",
        cold_time.as_secs_f64(),
        warm_time.as_secs_f64()
    );
    assert_ne!(warm.digest(), cold.digest());
    assert!(warm.stderr.contains("reusing Python 3.11.2"), "{warm}");
    assert!(warm.stderr.contains("reusing 1 packages (requirements.txt unchanged)"), "{warm}");
    assert!(!warm.stderr.contains("from network"), "a warm build downloads nothing:\n{warm}");
    assert_eq!(layers(&home), first, "python and packages keep their diffIDs");
    assert!(warm_time < cold_time, "warm {warm_time:?} should beat cold {cold_time:?}");
    let bundle = umoci_unpack(&home.store(), "pyapp:latest", &bundle_dir.path().join("bundle2"));
    assert_eq!(serve(&bundle, None), "Hello again from kiln python 3.11\n");

    // Offline: no build cache and no network at all (an empty network namespace); the
    // download cache serves every .deb and the wheel, and the same inputs give the same image.
    let mut cmd = std::process::Command::new(require_tool("bwrap"));
    cmd.args(["--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", "--"])
        .arg(kiln_tests::kiln_binary())
        .args([
            "build",
            "pyapp",
            "--path",
            app.path().to_str().unwrap(),
            "--buildpack",
            "kiln/python",
            "--run-image",
            "run-debian",
            "--clear-cache",
        ])
        .env("KILN_HOME", home.path())
        .env_remove("KILN_LOG");
    let line = kiln_tests::command_line(&cmd);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {line}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "offline rebuild failed: {line}\n{stdout}\n{stderr}");
    assert!(!stderr.contains("from network"), "the offline build reached the network:\n{stderr}");
    assert!(stderr.contains("from cache)"), "nothing came from the download cache:\n{stderr}");
    assert!(stdout.trim_end().ends_with(&warm.digest()), "the warm build's inputs, the warm build's image:\n{stdout}\n{stderr}");
}

/// Needs no network: what is wrong with the app is reported before any download.
#[test]
fn unpinned_requirements_fail_before_any_download_with_what_to_do() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.py"), "print('hi')\n").unwrap();
    std::fs::write(app.path().join("requirements.txt"), "# deps\nflask>=3\n").unwrap();
    let args = ["build", "bad", "--path", app.path().to_str().unwrap(), "--buildpack", "kiln/python", "--run-image", "run-base"];
    let run = home.run(&args).failure(51, &["requirements.txt line 2", "\"flask>=3\" is not pinned", "--generate-hashes"]);
    assert!(!run.stderr.contains("fetched"), "nothing is downloaded:\n{run}");

    std::fs::write(app.path().join("requirements.txt"), "waitress==3.0.2\n").unwrap();
    home.run(&args).failure(51, &["requirements.txt line 1", "waitress has no --hash"]);

    // A wheel for another platform is refused before anything is downloaded, the runtime included.
    let mac = format!(
        "markupsafe @ https://files.pythonhosted.org/packages/aa/bb/MarkupSafe-2.1.3-cp311-cp311-macosx_10_9_universal2.whl --hash=sha256:{WAITRESS_SHA256}\n"
    );
    std::fs::write(app.path().join("requirements.txt"), mac).unwrap();
    let run = home.run(&args).failure(51, &["requirements.txt line 1", "cannot be installed", "macosx_10_9_universal2"]);
    assert!(!run.stderr.contains("fetched"), "nothing is downloaded:\n{run}");

    std::fs::remove_file(app.path().join("requirements.txt")).unwrap();
    std::fs::write(app.path().join("pyproject.toml"), "[project]\nname = \"x\"\ndependencies = [\"flask>=3\"]\n").unwrap();
    home.run(&args).failure(51, &["pyproject.toml declares dependencies (flask>=3)", "uv export", "requirements.txt"]);

    // Detection: no requirements.txt or pyproject.toml, no Python app.
    std::fs::remove_file(app.path().join("pyproject.toml")).unwrap();
    home.run(&[&args[..], &["-v"]].concat()).failure(20, &["no requirements.txt or pyproject.toml"]);
}

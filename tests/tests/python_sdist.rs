//! kiln/python builds an sdist-only requirement into a wheel in kiln's jail:
//! examples/python-sdist pins docopt 0.6.2 (on PyPI only as `docopt-0.6.2.tar.gz`) and the
//! waitress wheel, and is built with nothing but `--path` (the default builder and its
//! Debian run image).
//!
//! Network tier (runs with `KILN_NETWORK_TESTS=1`, as `.ci/run` sets it): CPython's .debs
//! come from the Debian archive, pip/setuptools/wheel/flit_core and the app's files from
//! PyPI's file host, each checked against its pinned digest; pip itself runs offline.
//!
//! Shown here: the build log shows pip's exec; the image passes skopeo and umoci, runs as
//! uid 1000 and answers with docopt's output; pip and setuptools are not in it; the
//! `io.kiln.build.exec` label records the step; a cold build in a clean KILN_HOME gives the
//! same digest; a warm rebuild runs no pip, keeps every layer and gives the same digest (the
//! kept layers carry the pip step into the label). An sdist with a backend
//! kiln/python does not carry (iniconfig: hatch-vcs) fails before the runtime download,
//! and one with a C extension (netifaces) fails saying that it needs a C compiler;
//! flit_core (tomli) and hatchling (annotated-types) sdists build, and so does a
//! `name==version --hash` sdist found at the `source/` path of a files mirror.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

mod fetch_server;

use kiln_tests::{
    KilnHome, KilnRun, RunningContainer, free_port, network_tests_enabled, require_tool, skopeo_inspect, skopeo_inspect_config,
    umoci_unpack,
};

const IMAGE: &str = "sdistapp";
/// The line kiln prints for the jailed pip.
const PIP_EXEC: &str = "[kiln/python] exec /layers/kiln_python/python/usr/bin/python3.11: exit 0";
/// The wheel pip makes of docopt's sdist.
const DOCOPT_WHEEL: &str = "docopt-0.6.2-py2.py3-none-any.whl";

/// A copy of examples/python-sdist.
fn example_copy() -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-sdist");
    let dir = tempfile::tempdir().unwrap();
    for file in ["app.py", "requirements.txt"] {
        std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

fn build(home: &KilnHome, app: &Path) -> (KilnRun, Duration) {
    let started = Instant::now();
    let run = home.run(&["build", IMAGE, "--path", app.to_str().unwrap()]).success();
    (run, started.elapsed())
}

/// The image config's labels.
fn labels(home: &KilnHome) -> serde_json::Map<String, serde_json::Value> {
    let config = skopeo_inspect_config(&home.store(), &format!("{IMAGE}:latest"));
    config["config"]["Labels"].as_object().expect("labels").clone()
}

/// kiln/python's layers in the image: name -> diffID.
fn layers(home: &KilnHome) -> BTreeMap<String, String> {
    let labels = labels(home);
    let metadata: serde_json::Value = serde_json::from_str(labels["io.buildpacks.lifecycle.metadata"].as_str().unwrap()).unwrap();
    let buildpack = metadata["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == "kiln/python").expect("kiln/python");
    buildpack["layers"].as_object().unwrap().iter().map(|(name, l)| (name.clone(), l["sha"].as_str().unwrap().to_string())).collect()
}

/// Every directory under `root` named one of `names` (relative paths).
fn dirs_named(root: &Path, names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if names.contains(&name.as_str()) {
                    found.push(entry.path().strip_prefix(root).unwrap().display().to_string());
                }
                stack.push(entry.path());
            }
        }
    }
    found
}

#[test]
fn an_sdist_only_requirement_is_built_in_the_jail_and_the_image_serves_it_reproducibly() {
    if !network_tests_enabled("the kiln/python sdist build") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    let app = example_copy();

    let (cold, cold_time) = build(&home, app.path());
    eprintln!("{cold}");
    for needle in [
        "docopt has no usable wheel: building its sdist docopt-0.6.2.tar.gz (setuptools (setup.py))",
        "installing the build tools: pip 26.3, setuptools 84.2.1, wheel 0.48.0, flit-core 4.2.0",
        "building docopt-0.6.2.tar.gz into a wheel: python3.11 -m pip wheel --no-deps --no-build-isolation --no-index",
        PIP_EXEC,
        &format!("built {DOCOPT_WHEEL} from docopt-0.6.2.tar.gz"),
        &format!("installed {DOCOPT_WHEEL}"),
        "installed waitress-3.0.2-py3-none-any.whl",
    ] {
        assert!(cold.stderr.contains(needle), "{needle:?} not in the build log:\n{cold}");
    }
    assert_eq!(cold.stderr.matches("] exec ").count(), 1, "one native step:\n{cold}");
    assert_eq!(skopeo_inspect(&home.store(), &format!("{IMAGE}:latest"))["Digest"], cold.digest().as_str());
    let steps: serde_json::Value =
        serde_json::from_str(labels(&home)["io.kiln.build.exec"].as_str().expect("the native steps label")).unwrap();
    let step = &steps["steps"][0];
    assert_eq!(step["buildpack"], "kiln/python");
    assert_eq!(step["program"], "/layers/kiln_python/python/usr/bin/python3.11");
    assert_eq!(step["exit-code"], 0);
    let args: Vec<&str> = step["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[..7], ["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir"]);
    let first = layers(&home);
    assert_eq!(first.keys().collect::<Vec<_>>(), ["packages", "python"], "build-tools is never exported");

    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), &format!("{IMAGE}:latest"), &bundle_dir.path().join("bundle"));
    let site_packages = bundle.rootfs.join("layers/kiln_python/packages/site-packages");
    assert!(site_packages.join("docopt.py").is_file());
    assert_eq!(std::fs::read_to_string(site_packages.join("docopt-0.6.2.dist-info/INSTALLER")).unwrap(), "kiln\n");
    assert!(!bundle.rootfs.join("layers/kiln_python/build-tools").exists());
    let tools = dirs_named(&bundle.rootfs, &["pip", "setuptools", "_distutils_hack", "flit_core", "hatchling"]);
    assert!(tools.is_empty(), "build tools in the image: {tools:?}");

    // The default process (`python app.py`, waitress) as uid 1000 answers with docopt's parse.
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    assert_eq!(container.wait_for_http(port, "/", Duration::from_secs(30)), "Hello kiln from docopt 0.6.2\n");
    container.kill();

    // The SBOM names the sdist and the build tools kiln fetched.
    let sbom = home.run(&["sbom", IMAGE]).success();
    let doc: serde_json::Value = serde_json::from_str(&sbom.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{sbom}"));
    let names: Vec<&str> = doc["components"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in ["docopt-0.6.2.tar.gz", "pip-26.3-py3-none-any.whl", "setuptools-84.2.1-py3-none-any.whl"] {
        assert!(names.contains(&name), "{name} not in the SBOM: {names:?}");
    }

    // Warm, nothing changed: no pip, no download, every layer kept.
    let cold_config = skopeo_inspect_config(&home.store(), &format!("{IMAGE}:latest"));
    let (warm, warm_time) = build(&home, app.path());
    eprintln!("{warm}");
    assert!(warm.stderr.contains("reusing 2 packages (requirements.txt unchanged)"), "{warm}");
    assert!(warm.stderr.contains("reusing the build tools (pip 26.3, "), "kept with the packages it built:\n{warm}");
    assert!(!warm.stderr.contains("] exec "), "a warm build runs no native step:\n{warm}");
    assert!(!warm.stderr.contains("from network"), "a warm build downloads nothing:\n{warm}");
    assert_eq!(layers(&home), first, "python and packages keep their diffIDs");
    // The kept layers carry the pip step they were made by: the same label, the same image.
    assert_eq!(warm.digest(), cold.digest(), "an unchanged rebuild gives the cold build's image");
    let warm_config = skopeo_inspect_config(&home.store(), &format!("{IMAGE}:latest"));
    assert_eq!(warm_config["config"]["Labels"]["io.kiln.build.exec"], cold_config["config"]["Labels"]["io.kiln.build.exec"]);
    eprintln!("kiln/python sdist example: cold build {:.2}s, warm rebuild {:.2}s", cold_time.as_secs_f64(), warm_time.as_secs_f64());

    // Cold again in a clean KILN_HOME: the same image, byte for byte.
    let other = KilnHome::new();
    let (again, _) = build(&other, app.path());
    assert!(again.stderr.contains(PIP_EXEC), "{again}");
    assert_eq!(again.digest(), cold.digest(), "two cold builds give the same image");
}

/// A backend kiln/python does not carry, and a C extension with no compiler in the jail,
/// fail with what to do; flit_core, hatchling and `name==version` sdists build.
#[test]
fn sdists_that_cannot_be_built_fail_with_what_to_do_and_flit_and_hatchling_ones_build() {
    if !network_tests_enabled("the kiln/python sdist refusals") {
        return;
    }
    let home = KilnHome::new();
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("app.py"), "print('hi')\n").unwrap();
    let args = ["build", "bad", "--path", app.path().to_str().unwrap()];

    // iniconfig's sdist builds with hatchling and hatch-vcs (not carried): refused before the runtime download.
    std::fs::write(
        app.path().join("requirements.txt"),
        "iniconfig @ https://files.pythonhosted.org/packages/d7/4b/cbd8e699e64a6f16ca3a8220661b5f83792b3017d0f79807cb8708d33913/iniconfig-2.0.0.tar.gz \\\n    --hash=sha256:2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3\n",
    )
    .unwrap();
    let run = home.run(&args).failure(
        51,
        &[
            "requirements.txt line 1: iniconfig has no usable wheel",
            "iniconfig-2.0.0.tar.gz builds with hatchling.build",
            "requires hatch-vcs, hatchling",
            "setuptools.build_meta",
            "pin a wheel of iniconfig",
            "does not carry hatch-vcs",
            "pin hatch-vcs (and what they need) in requirements.txt",
        ],
    );
    assert!(!run.stderr.contains("python3.11-minimal"), "the runtime is not downloaded:\n{run}");

    // netifaces is C: pip runs in the jail and finds no compiler in the run image.
    std::fs::write(
        app.path().join("requirements.txt"),
        "netifaces @ https://files.pythonhosted.org/packages/a6/91/86a6eac449ddfae239e93ffc1918cf33fd9bab35c04d1e963b311e347a73/netifaces-0.11.0.tar.gz \\\n    --hash=sha256:043a79146eb2907edf439899f262b3dfe41717d34124298ed281139a8b93ca32\n",
    )
    .unwrap();
    let run = home.run(&args).failure(
        51,
        &[
            "requirements.txt line 1: netifaces has native code (netifaces.c)",
            "needs a C compiler",
            "does not have",
            "Pin a wheel of netifaces",
        ],
    );
    assert!(run.stderr.contains("[kiln/python] exec /layers/kiln_python/python/usr/bin/python3.11: exit 1"), "{run}");

    // tomli's sdist builds with flit_core (requires "flit_core>=3.12,<5"), which kiln/python carries.
    std::fs::write(
        app.path().join("requirements.txt"),
        "tomli @ https://files.pythonhosted.org/packages/b0/78/9ad63712633ed3ab5cc1a648d863d7e7da371e9425e209555a0fe711b695/tomli-2.5.0.tar.gz \\\n    --hash=sha256:264507556cd8b8c8e7c6ee037cdf443a463f03f4c958e57195e3d369711b8ff6\n",
    )
    .unwrap();
    let run = home.run(&args).success();
    for needle in [
        "building its sdist tomli-2.5.0.tar.gz (flit_core.buildapi)",
        "built tomli-2.5.0-py3-none-any.whl from tomli-2.5.0.tar.gz",
        PIP_EXEC,
    ] {
        assert!(run.stderr.contains(needle), "{needle:?} not in the build log:\n{run}");
    }
}

//! The end-to-end slice: `kiln build` of examples/procfile-web gives an OCI image that
//! skopeo and umoci accept and that serves its page from a namespace; builds are
//! reproducible; compiled components are cached; bad input gets clear errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_tests::{KilnHome, RunningContainer, free_port, require_tool, skopeo_inspect, skopeo_inspect_config, umoci_unpack};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

fn build_example(home: &KilnHome, image: &str) -> String {
    let app = example("procfile-web");
    home.run(&["build", image, "--path", app.to_str().unwrap(), "--run-image", "run-base"]).success().digest()
}

#[test]
fn procfile_web_builds_into_an_image_that_serves_its_page() {
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let digest = build_example(&home, "procfile-web");

    let inspect = skopeo_inspect(&home.store(), "procfile-web:latest");
    assert_eq!(inspect["Digest"], digest, "skopeo sees the digest kiln printed");
    let config = skopeo_inspect_config(&home.store(), "procfile-web:latest");
    assert_eq!(config["config"]["Entrypoint"][0], "/cnb/process/web");
    assert_eq!(config["config"]["WorkingDir"], "/workspace");
    let labels = &config["config"]["Labels"];
    let build_metadata: serde_json::Value =
        serde_json::from_str(labels["io.buildpacks.build.metadata"].as_str().expect("build metadata label")).unwrap();
    assert_eq!(build_metadata["processes"][0]["type"], "web");
    assert_eq!(build_metadata["buildpacks"][0]["id"], "kiln/static", "default builder: static + optional procfile");
    assert_eq!(build_metadata["buildpacks"][1]["id"], "kiln/procfile");
    assert_eq!(build_metadata["processes"][0]["buildpackID"], "kiln/procfile", "the Procfile's web wins");
    let lifecycle: serde_json::Value =
        serde_json::from_str(labels["io.buildpacks.lifecycle.metadata"].as_str().expect("lifecycle metadata label")).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(lifecycle["runImage"]["topLayer"], diff_ids[0], "the run image's one layer is the top run layer");
    assert_eq!(lifecycle["app"][0]["sha"], diff_ids[2], "run, launcher, app, process types, config");

    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "procfile-web:latest", &bundle_dir.path().join("bundle"));
    let launcher = bundle.rootfs.join("cnb/lifecycle/launcher");
    assert!(launcher.is_file(), "the launcher is in the image");
    let web = std::fs::read_link(bundle.rootfs.join("cnb/process/web")).expect("/cnb/process/web is a symlink");
    assert_eq!(web, Path::new("/cnb/lifecycle/launcher"));
    assert!(bundle.rootfs.join("workspace/public/index.html").is_file());

    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(page.contains("<h1>Hello from kiln</h1>"), "unexpected page: {page}");
}

#[test]
fn the_same_app_builds_to_the_same_digest() {
    let first = KilnHome::new();
    first.busybox_run_image("run-base");
    let a = build_example(&first, "app");
    let b = build_example(&first, "app");
    assert_eq!(a, b, "rebuilding in the same home");
    // A different home (a fresh machine, as far as kiln can tell) gives the same digest too.
    let second = KilnHome::new();
    second.busybox_run_image("run-base");
    let c = build_example(&second, "app");
    assert_eq!(a, c, "building in a fresh home");
    println!("reproducible digest: {a}");
}

#[test]
fn a_compiled_component_is_loaded_from_the_cache_the_second_time() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let loads: Vec<(bool, u64)> = (0..2)
        .map(|_| {
            let run = home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--json"]).success();
            let event = run
                .stdout
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every --json line is JSON"))
                .find(|e| e["event"] == "buildpack-loaded")
                .expect("a buildpack-loaded event");
            (event["cached"].as_bool().unwrap(), event["millis"].as_u64().unwrap())
        })
        .collect();
    println!("component load: compiled {} ms, from cache {} ms", loads[0].1, loads[1].1);
    assert!(!loads[0].0, "first load compiles");
    assert!(loads[1].0, "second load comes from the cache");
    let cached = std::fs::read_dir(home.path().join("cache/components")).unwrap().count();
    let builder: serde_json::Value = serde_json::from_str(&home.run(&["builder", "inspect", "--json"]).success().stdout).unwrap();
    let buildpacks = builder["buildpacks"].as_array().unwrap().len();
    assert!(buildpacks >= 4, "nodejs, python, static, procfile: {builder}");
    assert_eq!(cached, 2 * buildpacks, "each of the default builder's buildpacks: a .cwasm and its checksum");
}

#[test]
fn bad_input_gets_a_clear_error_and_no_panic() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let missing = home.path().join("no-such-app");
    home.run(&["build", "app", "--path", missing.to_str().unwrap(), "--run-image", "run-base"])
        .failure(3, &["no-such-app", "does not exist"]);

    let empty = tempfile::tempdir().unwrap();
    home.run(&["build", "app", "--path", empty.path().to_str().unwrap(), "--run-image", "run-base", "-v"])
        .failure(20, &["no buildpack group passed detection", "no Procfile"]);

    let malformed = tempfile::tempdir().unwrap();
    std::fs::write(malformed.path().join("Procfile"), "web httpd -f\n").unwrap();
    home.run(&["build", "app", "--path", malformed.path().to_str().unwrap(), "--run-image", "run-base"])
        .failure(21, &["Procfile line 1", "expected `type: command`"]);

    let app = example("procfile-web");
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "nope"]).failure(3, &["run image nope"]);
    // A builder without a run image, and no --run-image.
    let builder = home.path().join("builder.toml");
    std::fs::write(&builder, "[[buildpacks]]\nid = \"kiln/procfile\"\n\n[[order]]\ngroup = [{ id = \"kiln/procfile\" }]\n").unwrap();
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--builder", builder.to_str().unwrap()]).failure(3, &["--run-image"]);
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--buildpack", "kiln/nope"])
        .failure(3, &["kiln/nope", "bundled"]);
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base", "--limit-memory", "lots"])
        .failure(3, &["--limit-memory"]);
}

#[test]
fn the_default_builder_serves_a_static_site_and_lets_a_procfile_override_it() {
    require_tool("bwrap");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let site = example("static-site");
    let run = home.run(&["build", "site", "--path", site.to_str().unwrap(), "--run-image", "run-base"]).success();
    assert!(run.stderr.contains("[detect] group: kiln/static"), "{run}");
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "site:latest", &bundle_dir.path().join("bundle"));
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(page.contains("A static site built by kiln"), "unexpected page: {page}");

    // procfile-web has both public/index.html and a Procfile: the static group passes with
    // the optional procfile, and the Procfile's web process (a later buildpack) wins.
    let run = home.run(&["build", "pw", "--path", example("procfile-web").to_str().unwrap(), "--run-image", "run-base"]).success();
    assert!(run.stderr.contains("[detect] group: kiln/static, kiln/procfile"), "{run}");
    let config = skopeo_inspect_config(&home.store(), "pw:latest");
    let metadata: serde_json::Value =
        serde_json::from_str(config["config"]["Labels"]["io.buildpacks.build.metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["processes"][0]["buildpackID"], "kiln/procfile", "{metadata}");
}

/// `kiln run`: the image runs without a daemon (unpacked, in kiln's jail, as its user) and
/// answers; what cannot run is refused with exit 3 and the reason.
#[test]
fn kiln_run_serves_the_image_and_refuses_what_it_cannot_run() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    build_example(&home, "app");
    let port = free_port();
    let mut child = home
        .command()
        .args(["run", "app", "--port", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kiln run");
    let answer = kiln_tests::poll_http(port, "/", Duration::from_secs(30), || {
        child.try_wait().ok().flatten().map(|status| format!("kiln run exited ({status})"))
    });
    // Stop it the way a supervisor does: SIGTERM to kiln, which stops the sandbox and cleans up.
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("wait for kiln run");
    let page = answer.unwrap_or_else(|why| panic!("{why}"));
    assert!(page.body.contains("<h1>Hello from kiln</h1>"), "unexpected page: {}", page.body);
    assert_eq!(status.code(), Some(143), "httpd got the SIGTERM kiln forwarded and died of it (128 + 15): {status}");
    let leftovers: Vec<_> =
        std::fs::read_dir(home.path().join("work")).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    assert!(leftovers.iter().all(|p| !p.file_name().unwrap().to_string_lossy().starts_with("run-")), "rootfs left behind: {leftovers:?}");

    home.run(&["run", "nope"]).failure(3, &["nope"]);
    home.run(&["run", "app", "--process", "worker"]).failure(3, &["no process type \"worker\""]);
    home.run(&["run", "127.0.0.1:5000/app"]).failure(3, &["pull it first"]);
}

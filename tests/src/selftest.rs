//! The helpers exercised for real: busybox in bwrap, umoci/skopeo round trips, a registry.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::*;

const PAGE: &str = "<h1>Hello from kiln tests</h1>\n";
const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

fn runtime_config(args: &[&str], env: &[&str], cwd: &str) -> serde_json::Value {
    json!({ "process": { "args": args, "env": env, "cwd": cwd } })
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().unwrap_or(&"?").to_string(),
    }
}

#[test]
fn busybox_rootfs_runs_httpd_in_bwrap() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    fs::create_dir(rootfs.join("www")).unwrap();
    fs::write(rootfs.join("www/index.html"), PAGE).unwrap();

    let port = free_port().to_string();
    let bundle = Bundle {
        rootfs,
        config: runtime_config(&["/bin/busybox", "httpd", "-f", "-v", "-p", &port, "-h", "/www"], &["PATH=/usr/bin:/bin"], "/"),
    };
    let mut container = RunningContainer::start(&bundle, &[], 1000);
    let body = container.wait_for_http(port.parse().unwrap(), "/index.html", HTTP_TIMEOUT);
    assert_eq!(body, PAGE);
    let resp = http_get(port.parse().unwrap(), "/missing").unwrap();
    assert_eq!(resp.status, 404, "{resp:?}");
}

#[test]
fn container_gets_uid_cwd_and_only_its_env() {
    let dir = tempfile::tempdir().unwrap();
    busybox_rootfs(dir.path());
    let bundle = Bundle {
        rootfs: dir.path().to_path_buf(),
        config: runtime_config(
            &["sh", "-c", "id -u; id -g; pwd; echo \"FOO=$FOO\"; env; touch /tmp/x && echo tmp-ok"],
            &["PATH=/usr/bin:/bin", "FOO=from-image", "HOME=/home/cnb"],
            "/home/cnb",
        ),
    };
    let mut container = RunningContainer::start(&bundle, &[("FOO", "from-test")], 1000);
    let status = container.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{}", container.report());
    let out = container.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..4], ["1000", "1000", "/home/cnb", "FOO=from-test"], "{}", container.report());
    assert!(out.contains("tmp-ok"), "{}", container.report());
    // --clearenv: nothing of the test process (cargo sets CARGO_* for tests) leaks in.
    assert!(!out.contains("CARGO"), "{}", container.report());
    assert!(!out.contains("from-image"), "{}", container.report());
}

#[test]
fn wait_for_http_panics_with_the_output_of_a_dead_container() {
    let dir = tempfile::tempdir().unwrap();
    busybox_rootfs(dir.path());
    let bundle = Bundle {
        rootfs: dir.path().to_path_buf(),
        config: runtime_config(&["/bin/sh", "-c", "echo to-stdout; echo boom-on-stderr >&2; exit 7"], &["PATH=/bin"], "/"),
    };
    let mut container = RunningContainer::start(&bundle, &[], 1000);
    let port = free_port();
    let start = Instant::now();
    let err = catch_unwind(AssertUnwindSafe(|| container.wait_for_http(port, "/", Duration::from_secs(60)))).unwrap_err();
    let msg = panic_text(err);
    assert!(start.elapsed() < Duration::from_secs(30), "did not notice the exit");
    for needle in ["exited", "exit status: 7", "to-stdout", "boom-on-stderr", "bwrap"] {
        assert!(msg.contains(needle), "missing {needle:?} in:\n{msg}");
    }
}

fn pids_running(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.first() == Some(&&b"sleep"[..]) && args.get(1) == Some(&marker.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn drop_kills_every_process_of_the_container() {
    let dir = tempfile::tempdir().unwrap();
    busybox_rootfs(dir.path());
    // Unique sleep durations mark this test's processes in /proc.
    let a = (u32::from(free_port()) + 700_000).to_string();
    let b = (u32::from(free_port()) + 800_000).to_string();
    let script = format!("sleep {a} & sleep {b}");
    let bundle = Bundle { rootfs: dir.path().to_path_buf(), config: runtime_config(&["sh", "-c", &script], &["PATH=/bin"], "/") };
    let container = RunningContainer::start(&bundle, &[], 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids_running(&a).is_empty() || pids_running(&b).is_empty() {
        assert!(Instant::now() < deadline, "sleeps never started\n{}", container.report());
        thread::sleep(Duration::from_millis(50));
    }
    let bwrap_pid = container.pid();
    drop(container);
    assert!(!Path::new(&format!("/proc/{bwrap_pid}")).exists(), "bwrap not reaped");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(pids_running(&a).is_empty() && pids_running(&b).is_empty()) {
        assert!(Instant::now() < deadline, "container processes survived drop: {:?} {:?}", pids_running(&a), pids_running(&b));
        thread::sleep(Duration::from_millis(50));
    }
}

/// Builds a busybox image with umoci whose process serves `/www` on `$PORT`.
fn busybox_web_image(layout: &Path, tag: &str) {
    let scratch = tempfile::tempdir().unwrap();
    let rootfs = scratch.path().join("rootfs");
    busybox_rootfs(&rootfs);
    fs::create_dir(rootfs.join("www")).unwrap();
    fs::write(rootfs.join("www/index.html"), PAGE).unwrap();
    umoci_image_from_dir(
        layout,
        tag,
        &rootfs,
        &[
            "--config.entrypoint=/bin/sh",
            "--config.entrypoint=-c",
            "--config.cmd=exec httpd -f -v -p 127.0.0.1:$PORT -h /www",
            "--config.env=PATH=/usr/bin:/bin",
            "--config.env=PORT=1",
            "--config.workingdir=/home/cnb",
            "--config.label=io.kiln.test=yes",
        ],
    );
}

#[test]
fn umoci_image_inspects_unpacks_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    busybox_web_image(&layout, "v1");

    let summary = skopeo_inspect(&layout, "v1");
    assert_eq!(summary["Labels"]["io.kiln.test"], "yes", "{summary:#}");
    assert_eq!(summary["Layers"].as_array().unwrap().len(), 1, "{summary:#}");
    let digest = manifest_digest_via_skopeo(&layout, "v1");
    assert_eq!(summary["Digest"], digest.as_str(), "{summary:#}");
    let config = skopeo_inspect_config(&layout, "v1");
    assert_eq!(config["config"]["Entrypoint"], json!(["/bin/sh", "-c"]), "{config:#}");
    assert_eq!(config["config"]["WorkingDir"], "/home/cnb", "{config:#}");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);

    let bundle = umoci_unpack(&layout, "v1", &dir.path().join("bundle"));
    assert!(bundle.rootfs.join("bin/busybox").is_file());
    assert_eq!(bundle.args(), ["/bin/sh", "-c", "exec httpd -f -v -p 127.0.0.1:$PORT -h /www"]);
    assert_eq!(bundle.cwd(), "/home/cnb");
    assert!(bundle.env().contains(&("PORT".into(), "1".into())));

    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    assert_eq!(container.wait_for_http(port, "/", HTTP_TIMEOUT), PAGE);
}

#[test]
fn procfile_web_example_serves_from_workspace() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/procfile-web");
    let procfile = fs::read_to_string(example.join("Procfile")).unwrap();
    let web = procfile.lines().find_map(|l| l.strip_prefix("web:")).expect("Procfile has a web process").trim().to_string();

    let dir = tempfile::tempdir().unwrap();
    busybox_rootfs(dir.path());
    run(Command::new("cp").arg("-a").arg(&example).arg(dir.path().join("workspace")));
    let bundle = Bundle {
        rootfs: dir.path().to_path_buf(),
        config: runtime_config(&["/bin/sh", "-c", &web], &["PATH=/usr/bin:/bin"], "/workspace"),
    };
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let body = container.wait_for_http(port, "/", HTTP_TIMEOUT);
    assert!(body.contains("<h1>Hello from kiln</h1>"), "{body}");
}

#[test]
fn registry_round_trip_keeps_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    busybox_web_image(&layout, "v1");
    let digest = manifest_digest_via_skopeo(&layout, "v1");

    let registry = Registry::start();
    let remote = registry.docker_ref("kiln/busybox-web:v1");
    let skopeo = require_tool("skopeo");
    run(Command::new(&skopeo).args(["copy", "--dest-tls-verify=false", &oci_ref(&layout, "v1"), &remote]));
    let out = run(Command::new(&skopeo).args(["inspect", "--tls-verify=false", &remote]));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["Digest"], digest.as_str(), "{summary:#}\n{}", registry.log());

    let back = dir.path().join("back");
    run(Command::new(&skopeo).args(["copy", "--src-tls-verify=false", &remote, &oci_ref(&back, "pulled")]));
    assert_eq!(manifest_digest_via_skopeo(&back, "pulled"), digest);
}

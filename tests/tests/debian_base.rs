//! Network tier: `kiln base build --distro debian:bookworm` against the real Debian archive.
//!
//! Runs only with `KILN_NETWORK_TESTS=1` (`.ci/run` sets it, so CI always runs it); without
//! it the test says so and returns. The archive is the machine's apt source for bookworm, or
//! `KILN_DEBIAN_MIRROR` when set.
//!
//! Shown here: the default image passes skopeo and umoci; in bwrap as uid 1000 its `/bin/sh`
//! runs, the dynamic loader resolves libstdc++'s libraries inside the image, glibc runs, the
//! CA bundle is there and the user's home is writable; a second build downloads no package,
//! gives the same digest and is faster; one more package gives another digest.

use std::fs;
use std::time::{Duration, Instant};

use kiln_tests::{
    Bundle, KilnHome, KilnRun, RunningContainer, network_tests_enabled, require_tool, skopeo_inspect, skopeo_inspect_config, umoci_unpack,
};

/// The number before `label` in kiln's summary line, e.g. `3 requests`.
fn count(run: &KilnRun, label: &str) -> u64 {
    let line = run.stderr.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no {label:?} in:\n{run}"));
    let before = &line[..line.find(label).unwrap()];
    before.split_whitespace().last().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no count before {label:?} in {line:?}"))
}

fn build(home: &KilnHome, extra: &[&str]) -> (KilnRun, Duration) {
    let mut args = vec!["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let run = home.run(&args).success();
    (run, started.elapsed())
}

/// Runs `sh -c SCRIPT` in the unpacked image as uid 1000 and returns its stdout.
fn sh(bundle: &Bundle, script: &str) -> String {
    RunningContainer::run_to_exit(bundle, &["/bin/sh", "-c", script], 1000)
}

#[test]
fn debian_run_image_from_the_archive() {
    if !network_tests_enabled("the Debian archive test") {
        return;
    }
    require_tool("skopeo");
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();

    let (first, cold) = build(&home, &[]);
    let digest = first.digest();
    eprintln!("{first}");
    assert!(first.stderr.contains("InRelease signature verified"), "{first}");
    assert!(count(&first, "bytes downloaded") > 1_000_000, "{first}");

    let inspect = skopeo_inspect(&home.store(), "run-debian:latest");
    assert_eq!(inspect["Digest"], digest.as_str());
    let config = skopeo_inspect_config(&home.store(), "run-debian:latest");
    assert_eq!(config["config"]["User"], "1000:1000");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["io.buildpacks.base.distro.name"], "debian");
    assert_eq!(labels["io.buildpacks.base.distro.version"], "12");
    assert_eq!(labels["io.buildpacks.base.id"], "kiln/debian-bookworm");
    assert_eq!(labels["io.buildpacks.rebasable"], "true");
    let metadata: serde_json::Value =
        serde_json::from_str(labels["io.buildpacks.base.metadata"].as_str().expect("base metadata label")).unwrap();
    let packages: Vec<&str> = metadata["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    for wanted in ["libc6", "libgcc-s1", "libstdc++6", "zlib1g", "ca-certificates", "tzdata", "busybox-static"] {
        assert!(packages.contains(&wanted), "{wanted} missing from {packages:?}");
    }
    for unwanted in ["debconf", "perl-base", "dpkg", "openssl"] {
        assert!(!packages.contains(&unwanted), "{unwanted} should be left out: {packages:?}");
    }
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);

    let bundle_dir = home.path().join("bundle");
    let bundle = umoci_unpack(&home.store(), "run-debian:latest", &bundle_dir);
    let rootfs = &bundle.rootfs;
    let passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("cnb:x:1000:1000:cnb:/home/cnb:/bin/sh"), "{passwd}");
    assert_eq!(fs::read_link(rootfs.join("bin/sh")).unwrap().to_str(), Some("busybox"));
    let bundle_crt = fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    let certs = bundle_crt.matches("-----BEGIN CERTIFICATE-----").count();
    assert!(certs > 100, "only {certs} certificates in the CA bundle");
    assert!(rootfs.join("usr/lib/x86_64-linux-gnu/libstdc++.so.6").exists());
    assert!(fs::symlink_metadata(rootfs.join("lib64/ld-linux-x86-64.so.2")).is_ok());
    assert!(fs::read_to_string(rootfs.join("usr/lib/os-release")).unwrap().contains("VERSION_ID=\"12\""));

    let out = sh(&bundle, "echo ok; busybox id -u; busybox touch /home/cnb/x && echo home-writable");
    assert_eq!(out, "ok\n1000\nhome-writable\n");
    // glibc's own banner, then the loader resolving libstdc++'s libraries inside the image.
    let out = sh(
        &bundle,
        "/lib/x86_64-linux-gnu/libc.so.6 | busybox head -n 1; \
         /lib64/ld-linux-x86-64.so.2 --list /usr/lib/x86_64-linux-gnu/libstdc++.so.6",
    );
    eprintln!("{out}");
    assert!(out.starts_with("GNU C Library (Debian GLIBC 2.36"), "{out}");
    assert!(out.contains("libgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1"), "{out}");
    assert!(out.contains("libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6"), "{out}");
    assert!(!out.contains("not found"), "{out}");
    let out = sh(&bundle, "busybox test -s /etc/ssl/certs/ca-certificates.crt && echo certs; busybox cat /etc/timezone");
    assert_eq!(out, "certs\nEtc/UTC\n");

    // Warm: every .deb (and the index) from the cache, only InRelease is requested.
    let (second, warm) = build(&home, &[]);
    assert_eq!(second.digest(), digest, "same package set, same digest:\n{second}");
    assert_eq!(count(&second, "requests"), 1, "{second}");
    // The package set comes from the resolution cache: the index is neither fetched nor parsed.
    assert_eq!(count(&second, "files from the cache"), packages.len() as u64, "{second}");
    eprintln!("cold build {:.2}s, warm build {:.2}s", cold.as_secs_f64(), warm.as_secs_f64());
    assert!(warm < cold, "warm {warm:?} should beat cold {cold:?}");

    // One more package: a new image (as a package bump in the archive would give).
    let (third, _) = build(&home, &["--package", "libssl3"]);
    assert_ne!(third.digest(), digest);
    assert!(third.stderr.contains("libssl3 "), "{third}");
    let config = skopeo_inspect_config(&home.store(), "run-debian:latest");
    assert!(config["config"]["Labels"]["io.buildpacks.base.metadata"].as_str().unwrap().contains("\"libssl3\""));
}

/// `kiln build` with the default builder and no `--run-image`: the Debian run image is built
/// on first use, kept in the store, and the static site it serves answers over HTTP.
#[test]
fn default_builder_makes_its_run_image_on_first_use() {
    if !network_tests_enabled("the Debian archive test") {
        return;
    }
    require_tool("umoci");
    require_tool("bwrap");
    let home = KilnHome::new();
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/static-site");
    let site = site.to_str().unwrap();

    let first = home.run(&["build", "site", "--path", site]).success();
    assert!(first.stderr.contains("building it from Debian packages"), "{first}");
    let images = home.run(&["images"]).success();
    assert!(images.stdout.contains("kiln/run:debian-bookworm"), "{images}");
    let inspect = home.run(&["builder", "inspect"]).success();
    assert!(inspect.stdout.contains("Run image: kiln/run:debian-bookworm (in the local store: sha256:"), "{inspect}");

    let second = home.run(&["build", "site", "--path", site]).success();
    assert!(!second.stderr.contains("building it from Debian packages"), "the run image was built twice:\n{second}");
    assert_eq!(second.digest(), first.digest(), "same app, same run image, same digest");

    let bundle = umoci_unpack(&home.store(), "site:latest", &home.path().join("bundle"));
    let port = kiln_tests::free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(page.contains("kiln"), "unexpected page: {page}");
}

/// Needs no network: what is refused before the archive is asked.
#[test]
fn bad_requests_are_refused_before_any_download() {
    let home = KilnHome::new();
    home.run(&["base", "build", "--distro", "ubuntu:noble"]).failure(3, &["unsupported --distro", "debian:bookworm"]);
    home.run(&["base", "build", "--no-default-packages"]).failure(3, &["no package to install"]);
}

//! Hostile buildpacks (tests/hostile) against the real `kiln` binary: each tries one escape
//! from the sandbox, and each test asserts the exact contained outcome (exit code, message,
//! nothing on the host, nothing smuggled into the image). That the test process carries on
//! after each run is the proof the host stayed up; every run that ends by itself must also
//! leave no build dir behind.
//!
//! The components are built by tests/build.rs; the `kiln` binary by `cargo build -p kiln`.

mod common;
// Archives unpacked by kiln_sdk::archive (tests/hostile/evil-archive).
#[path = "hostile/evil_archive.rs"]
mod evil_archive;
mod fetch_server;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::{APP_TXT, Hostile, host_passwd_lines, unique_marker, walk};
use kiln_tests::{skopeo_inspect_config, skopeo_inspect_raw};

const READ_HOST_FILES: &str = env!("HOSTILE_READ_HOST_FILES");
const WRITE_OUTSIDE: &str = env!("HOSTILE_WRITE_OUTSIDE");
const DETECT_WRITES_APP: &str = env!("HOSTILE_DETECT_WRITES_APP");
const SYMLINK_TO_ROOT: &str = env!("HOSTILE_SYMLINK_TO_ROOT");
const SYMLINK_LAYER_DIR: &str = env!("HOSTILE_SYMLINK_LAYER_DIR");
const HARDLINK: &str = env!("HOSTILE_HARDLINK");
const LAYER_NAME_TRAVERSAL: &str = env!("HOSTILE_LAYER_NAME_TRAVERSAL");
const INFINITE_LOOP: &str = env!("HOSTILE_INFINITE_LOOP");
const DEEP_RECURSION: &str = env!("HOSTILE_DEEP_RECURSION");
const MEMORY_BOMB: &str = env!("HOSTILE_MEMORY_BOMB");
const LOG_FLOOD: &str = env!("HOSTILE_LOG_FLOOD");
const HUGE_METADATA: &str = env!("HOSTILE_HUGE_METADATA");
const MANY_FILES: &str = env!("HOSTILE_MANY_FILES");
const SHELL_INJECTION: &str = env!("HOSTILE_SHELL_INJECTION");
const BAD_CONTRACT: &str = env!("HOSTILE_BAD_CONTRACT");
const SLEEPER: &str = env!("HOSTILE_SLEEPER");
const FD_EXHAUSTION: &str = env!("HOSTILE_FD_EXHAUSTION");
const FORGE_LABELS: &str = env!("HOSTILE_FORGE_LABELS");
const ESCAPED_ID_VICTIM: &str = env!("HOSTILE_ESCAPED_ID_VICTIM");
const ESCAPED_ID_IMPOSTOR: &str = env!("HOSTILE_ESCAPED_ID_IMPOSTOR");
const TERMINAL_ESCAPE: &str = env!("HOSTILE_TERMINAL_ESCAPE");
const WHITEOUT_NAMES: &str = env!("HOSTILE_WHITEOUT_NAMES");

/// Most of kiln's stderr a buildpack with `--limit-log 64KiB` may cause: its 64 KiB plus
/// the `[id] ` prefixes and kiln's own lines.
const OUTPUT_BOUND: usize = 128 << 10;

/// A generous bound for a run whose buildpack is stopped after a 1-2 s limit: compiling
/// the component and exporting happen too, on a loaded CI machine.
const STOPPED_WITHIN: Duration = Duration::from_secs(30);

fn assert_all_denied(lines: &[String], allowed_prefixes: &[&str]) {
    for line in lines {
        assert!(
            line.starts_with("DENIED ") || allowed_prefixes.iter().any(|p| line.starts_with(p)),
            "the attack got through: {line:?}\nall lines:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn reading_host_files_gets_nothing() {
    let t = Hostile::new();
    let secret = unique_marker("secret");
    fs::write(t.home.path().join("secret.txt"), &secret).unwrap();
    let out = t.build_within(&[READ_HOST_FILES], &[], &[("KILN_HOSTILE_SECRET", &secret)], common::DEFAULT_TIMEOUT).success();

    let lines = out.log_lines("hostile/read-host-files");
    assert!(lines.iter().any(|l| l.starts_with("DENIED /etc/passwd:")), "the buildpack reported nothing:\n{}", out.run);
    assert!(lines.iter().any(|l| l.starts_with("DENIED /:")), "listing / must fail:\n{}", out.run);
    assert_all_denied(&lines, &["ENV "]);
    let env_line = lines.iter().find(|l| l.starts_with("ENV ")).expect("the buildpack reports its env");
    for name in ["KILN_HOSTILE_SECRET", "KILN_HOME", "PATH=", "USER="] {
        assert!(!env_line.contains(name), "the host's env leaked into the guest ({name}): {env_line}");
    }

    let (_dir, bundle) = t.unpack();
    let report = fs::read_to_string(bundle.rootfs.join("layers/hostile_read-host-files/seen/report.txt")).unwrap();
    for text in [&out.run.stderr, &out.run.stdout, &report] {
        assert!(!text.contains(&secret), "a host secret leaked:\n{text}");
        for line in host_passwd_lines() {
            assert!(!text.contains(&line), "the host's /etc/passwd leaked ({line:?}):\n{text}");
        }
    }
}

#[test]
fn writing_outside_the_grants_leaves_nothing_on_the_host_or_in_the_image() {
    let t = Hostile::new();
    let marker = unique_marker("escape");
    let out = t.build(&[WRITE_OUTSIDE], &["--env", &format!("HOSTILE_MARKER={marker}")]).success();

    let lines = out.log_lines("hostile/write-outside");
    // The guest's /tmp is a private scratch dir: writing there works, and lands nowhere else.
    assert!(lines.contains(&format!("WROTE /tmp/{marker}")), "the private /tmp must be writable:\n{}", out.run);
    let others: Vec<String> = lines.into_iter().filter(|l| *l != format!("WROTE /tmp/{marker}")).collect();
    assert_eq!(others.len(), 12, "every other attempt is reported:\n{}", out.run);
    assert_all_denied(&others, &[]);

    for host_path in [Path::new("/tmp").join(&marker), Path::new("/").join(&marker)] {
        assert!(!host_path.exists(), "the buildpack wrote {} on the host", host_path.display());
    }
    let in_home: Vec<_> = walk(t.home.path()).into_iter().filter(|p| p.to_string_lossy().contains(&marker)).collect();
    assert!(in_home.is_empty(), "the buildpack's file survived in KILN_HOME: {in_home:?}");
    let in_app: Vec<_> = walk(t.app()).into_iter().filter(|p| p.to_string_lossy().contains(&marker)).collect();
    assert!(in_app.is_empty(), "the buildpack wrote into the user's source: {in_app:?}");
    let (_dir, bundle) = t.unpack();
    let in_image: Vec<_> = walk(&bundle.rootfs).into_iter().filter(|p| p.to_string_lossy().contains(&marker)).collect();
    assert!(in_image.is_empty(), "the buildpack's file reached the image: {in_image:?}");
}

#[test]
fn detect_cannot_change_the_app() {
    let t = Hostile::new();
    let out = t.build(&[DETECT_WRITES_APP], &[]).success();

    let lines = out.log_lines("hostile/detect-writes-app");
    let attempts: Vec<String> = lines.iter().filter(|l| !l.starts_with("build sees")).cloned().collect();
    assert_eq!(attempts.len(), 8, "every detect attempt is reported:\n{}", out.run);
    assert_all_denied(&attempts, &[]);
    assert!(lines.contains(&"build sees detect-was-here: false".to_string()), "{}", out.run);
    assert!(lines.contains(&format!("build sees app.txt: {APP_TXT:?}")), "{}", out.run);

    let (_dir, bundle) = t.unpack();
    let workspace = bundle.rootfs.join("workspace");
    for name in ["detect-was-here", "detect-dir", "detect-link", "renamed.txt"] {
        assert!(fs::symlink_metadata(workspace.join(name)).is_err(), "/workspace/{name} exists in the image");
    }
    assert_eq!(fs::read_to_string(workspace.join("app.txt")).unwrap(), APP_TXT);
    // Build may write the app, but only kiln's private copy of it: the image has the file,
    // the user's source dir does not.
    assert_eq!(fs::read_to_string(workspace.join("build-was-here")).unwrap(), "build wrote this");
    assert!(!t.app().join("build-was-here").exists(), "build wrote into the user's source dir");
    assert_eq!(fs::read_to_string(t.app().join("app.txt")).unwrap(), APP_TXT);
}

#[test]
fn symlinks_out_of_a_layer_are_exported_as_symlinks_and_never_followed() {
    let t = Hostile::new();
    let out = t.build(&[SYMLINK_TO_ROOT], &[]).success();

    let lines = out.log_lines("hostile/symlink-to-root");
    // WASI refuses to create absolute symlinks at all; relative ones that climb out can be
    // created, but not followed.
    for link in ["root -> /", "abs-passwd -> /etc/passwd"] {
        assert!(
            lines.iter().any(|l| l.starts_with("DENIED link ") && l.contains(&format!("/links/{link}:"))),
            "creating the absolute symlink {link} must fail:\n{}",
            out.run
        );
    }
    assert!(lines.iter().any(|l| l.starts_with("LINKED ") && l.ends_with("/links/etc -> ../../../../etc")), "{}", out.run);
    let reads: Vec<String> = lines.iter().filter(|l| !l.starts_with("LINKED ") && !l.starts_with("DENIED link ")).cloned().collect();
    assert_eq!(reads.len(), 12, "every read through a link is reported:\n{}", out.run);
    assert_all_denied(&reads, &[]);

    let (_dir, bundle) = t.unpack();
    let layer = bundle.rootfs.join("layers/hostile_symlink-to-root/links");
    let expected = [
        ("etc", "../../../../etc"),
        ("host-root", "../../../../../../../../../../../.."),
        ("passwd", "../../../../../../../../../../../../etc/passwd"),
    ];
    for (name, target) in expected {
        let meta = fs::symlink_metadata(layer.join(name)).unwrap_or_else(|e| panic!("{name} is missing from the layer: {e}"));
        assert!(meta.file_type().is_symlink(), "{name} must be a symlink in the image");
        assert_eq!(fs::read_link(layer.join(name)).unwrap(), Path::new(target), "{name}'s target, verbatim");
    }
    for name in ["root", "abs-passwd"] {
        assert!(fs::symlink_metadata(layer.join(name)).is_err(), "{name} was never created, so it cannot be in the image");
    }
    let leak = bundle.rootfs.join("workspace/leak");
    assert!(fs::symlink_metadata(&leak).unwrap().file_type().is_symlink(), "/workspace/leak stays a symlink");

    // No host content was copied: the only regular file in the layer is the buildpack's own.
    let host_passwd = fs::read("/etc/passwd").unwrap();
    let mut regular = Vec::new();
    for path in walk(&layer) {
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_file() {
            assert_ne!(fs::read(&path).unwrap(), host_passwd, "{} holds the host's /etc/passwd", path.display());
            regular.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert_eq!(regular, ["marker.txt"], "regular files in the layer");
}

#[test]
fn a_layer_dir_that_is_a_symlink_is_refused() {
    let t = Hostile::new();
    for mode in ["root", "app"] {
        let out = t
            .build(&[SYMLINK_LAYER_DIR], &["--env", &format!("HOSTILE_MODE={mode}")])
            .failure(51, &["hostile/symlink-layer-dir", "layer evil is a symlink"]);
        let lines = out.log_lines("hostile/symlink-layer-dir");
        assert!(lines[0].starts_with("DENIED link "), "the absolute target is refused by WASI first:\n{}", out.run);
        assert!(lines[1].starts_with("LINKED "), "a relative climb can be created (and must be refused by kiln):\n{}", out.run);
    }
}

#[test]
fn hard_links_stay_inside_the_grants() {
    let t = Hostile::new();
    let out = t.build(&[HARDLINK], &["--env", "HOSTILE_MODE=present"]).success();

    let lines = out.log_lines("hostile/hardlink");
    // From the app (read-write in build) into the layer: allowed, and it is the app copy's
    // inode, so writing through the link changes the copy, never the user's source.
    assert!(lines.iter().any(|l| l.starts_with("LINKED /workspace/app.txt => ") && l.ends_with("/linked/app-hardlink.txt")), "{}", out.run);
    assert!(lines.contains(&"app.txt now reads \"changed through the layer's hard link\"".to_string()), "{}", out.run);
    // From the read-only platform dir: denied.
    assert!(lines.iter().any(|l| l.starts_with("DENIED link /platform/env/HOSTILE_MODE => ")), "{}", out.run);
    assert!(!lines.iter().any(|l| l.starts_with("WROTE")), "{}", out.run);
    assert_eq!(fs::read_to_string(t.app().join("app.txt")).unwrap(), APP_TXT, "the user's source is untouched");

    let (_dir, bundle) = t.unpack();
    let layer = bundle.rootfs.join("layers/hostile_hardlink/linked");
    let linked = layer.join("app-hardlink.txt");
    assert!(fs::symlink_metadata(&linked).unwrap().is_file(), "a hard link is exported as a regular file");
    assert_eq!(fs::read_to_string(&linked).unwrap(), "changed through the layer's hard link");
    assert!(fs::symlink_metadata(layer.join("platform-hardlink")).is_err());
}

#[test]
fn layer_names_that_are_paths_are_refused() {
    let t = Hostile::new();
    let long = "x".repeat(80);
    let cases: [(&str, &[&str]); 4] = [
        ("dotdot", &[r#"layer name "../escape""#]),
        ("abs", &[r#"layer name "/abs""#]),
        ("nul", &[r#"layer name "a\0b""#]),
        ("long", &[&format!("layer name \"{long}\""), "must be 1 to 255 bytes"]),
    ];
    for (mode, needles) in cases {
        let mut all = vec!["hostile/layer-name-traversal", "returned an invalid result"];
        all.extend_from_slice(needles);
        t.build(&[LAYER_NAME_TRAVERSAL], &["--env", &format!("HOSTILE_MODE={mode}")]).failure(51, &all);
    }
}

#[test]
fn an_infinite_loop_is_stopped_by_the_wall_time_limit() {
    let t = Hostile::new();
    let out = t
        .build(&[INFINITE_LOOP], &["--limit-time", "2s"])
        .failure(52, &["buildpack hostile/infinite-loop exceeded its wall-time limit during build", "--limit-time"]);
    assert!(out.elapsed < STOPPED_WITHIN, "stopping took {:.1?}", out.elapsed);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_cpu_limit_in_build_and_in_detect() {
    let t = Hostile::new();
    let out = t
        .build(&[INFINITE_LOOP], &["--limit-cpu", "1s"])
        .failure(52, &["buildpack hostile/infinite-loop exceeded its CPU time limit during build", "--limit-cpu"]);
    assert!(out.elapsed < STOPPED_WITHIN, "stopping took {:.1?}", out.elapsed);
    let out = t
        .build(&[INFINITE_LOOP], &["--limit-cpu", "1s", "--env", "HOSTILE_MODE=detect"])
        .failure(52, &["buildpack hostile/infinite-loop exceeded its CPU time limit during detect"]);
    assert!(out.elapsed < STOPPED_WITHIN, "stopping took {:.1?}", out.elapsed);
}

#[test]
fn unbounded_recursion_hits_the_stack_limit() {
    let t = Hostile::new();
    t.build(&[DEEP_RECURSION], &[]).failure(52, &["buildpack hostile/deep-recursion exceeded its stack limit during build"]);
}

#[test]
fn overflowing_the_guests_own_stack_is_a_contained_crash() {
    // Big frames exhaust the stack Rust keeps in linear memory (1 MiB) before wasmtime's
    // native stack: the guest then accesses memory out of bounds, which wasmtime traps. kiln
    // cannot tell that from any other bad access, so it is a crash (51), not the stack limit.
    let t = Hostile::new();
    t.build(&[DEEP_RECURSION], &["--env", "HOSTILE_MODE=shadow"])
        .failure(51, &["buildpack hostile/deep-recursion crashed during build", "out of bounds memory access"]);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let t = Hostile::new();
    t.build(&[MEMORY_BOMB], &["--limit-memory", "128MiB"])
        .failure(52, &["buildpack hostile/memory-bomb exceeded its memory limit during build", "limit 128 MiB", "--limit-memory"]);
    // A guest that handles the refusal carries on: the denied growth is not a crash.
    let out = t.build(&[MEMORY_BOMB], &["--limit-memory", "128MiB", "--env", "HOSTILE_MODE=graceful"]).success();
    assert!(out.log_lines("hostile/memory-bomb").iter().any(|l| l.starts_with("REFUSED after 64 MiB")), "{}", out.run);
}

#[test]
fn log_floods_hit_the_log_limit() {
    let t = Hostile::new();
    for mode in ["log", "println", "eprintln", "huge-line"] {
        let out = t
            .build(&[LOG_FLOOD], &["--limit-log", "64KiB", "--env", &format!("HOSTILE_MODE={mode}")])
            .failure(52, &["buildpack hostile/log-flood exceeded its log output limit during build", "--limit-log"]);
        println!("log-flood {mode}: {} bytes on stderr", out.run.stderr.len());
        assert!(out.run.stderr.len() < OUTPUT_BOUND, "{mode}: kiln printed {} bytes for a 64 KiB budget", out.run.stderr.len());
    }
}

#[test]
fn a_huge_error_message_is_cut_to_a_bounded_size() {
    // The error text build returns is not a log line, but it reaches the user's terminal
    // (and CI logs) all the same: it must not bypass the output budget.
    let t = Hostile::new();
    let out = t
        .build(&[LOG_FLOOD], &["--limit-log", "64KiB", "--env", "HOSTILE_MODE=huge-error"])
        .failure(51, &["buildpack hostile/log-flood failed during build: huge error zzz"]);
    assert!(
        out.run.stderr.len() < OUTPUT_BOUND,
        "kiln printed the buildpack's whole {} byte error message (log budget 64 KiB)",
        out.run.stderr.len()
    );
}

#[test]
fn oversized_layer_metadata_is_refused() {
    let t = Hostile::new();
    t.build(&[HUGE_METADATA], &[]).failure(
        51,
        &["buildpack hostile/huge-metadata returned an invalid result", "layer big: metadata is 2097162 bytes; the limit is 1048576 bytes"],
    );
}

#[test]
fn output_that_would_overflow_the_image_config_is_refused_naming_the_item() {
    // Each layer's metadata is under the 1 MiB per-layer limit, but five of them would make
    // an image config that skopeo, podman and CRI-O refuse (4 MiB).
    let t = Hostile::new();
    t.build(&[HUGE_METADATA], &["--env", "HOSTILE_MODE=many-layers"]).failure(
        51,
        &[
            "buildpack hostile/huge-metadata returned an invalid result",
            "over the 1024 KiB one buildpack may use",
            "the metadata of layer big-",
        ],
    );
    t.build(&[HUGE_METADATA], &["--env", "HOSTILE_MODE=many-labels"])
        .failure(51, &["hostile/huge-metadata", "over the 1024 KiB one buildpack may use", "the largest item is label \"big."]);
}

#[test]
fn whiteout_names_never_reach_a_layer() {
    // `.wh.sh` in a layer would delete the run image's /bin/sh, `.wh..wh..opq` a whole dir.
    let t = Hostile::new();
    t.build(&[WHITEOUT_NAMES], &[])
        .failure(51, &["buildpack hostile/whiteout-names returned an invalid result", "layer wipe", ".wh.", "OCI whiteout name"]);
    t.build(&[WHITEOUT_NAMES], &["--env", "HOSTILE_MODE=app-file"]).failure(3, &["/workspace/.wh.etc", "OCI whiteout name"]);
    t.build(&[WHITEOUT_NAMES], &["--env", "HOSTILE_MODE=process"]).failure(51, &["hostile/whiteout-names", ".wh.web"]);
}

#[test]
fn deeply_nested_metadata_is_refused_without_crashing_the_host() {
    // 100 000 levels of nesting in under 1 MiB: a recursive parser on the host would
    // overflow kiln's own stack. The TOML parser has a depth limit.
    let t = Hostile::new();
    for mode in ["deep-array", "deep-table"] {
        t.build(&[HUGE_METADATA], &["--env", &format!("HOSTILE_MODE={mode}")])
            .failure(51, &["layer big: metadata is not a TOML table", "max recursion depth"]);
    }
    t.build(&[HUGE_METADATA], &["--env", "HOSTILE_MODE=plan-deep"])
        .failure(21, &["require \"deep\": metadata is not a TOML table", "max recursion depth"]);
}

#[test]
fn invalid_metadata_is_not_echoed_back_in_full() {
    // The parse error quotes the offending line: 200 KB of `[` from the buildpack.
    let t = Hostile::new();
    let out = t
        .build(&[HUGE_METADATA], &["--limit-log", "64KiB", "--env", "HOSTILE_MODE=deep-array"])
        .failure(51, &["layer big: metadata is not a TOML table"]);
    assert!(
        out.run.stderr.len() < OUTPUT_BOUND,
        "kiln echoed {} bytes of the buildpack's metadata in its error (log budget 64 KiB)",
        out.run.stderr.len()
    );
}

#[test]
fn many_files_in_a_launch_layer_build_or_fail_cleanly() {
    // No limit on a layer's file count exists yet: this records what 200 000 files cost.
    let count: usize = std::env::var("KILN_HOSTILE_MANY_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let t = Hostile::new();
    let out = t.build_within(&[MANY_FILES], &["--verbose", "--env", &format!("HOSTILE_COUNT={count}")], &[], Duration::from_secs(20 * 60));
    assert!(!out.timed_out, "{count} files: kiln still running after {:.0?}", out.elapsed);
    let phases: Vec<&str> = out.run.stderr.lines().filter(|l| l.contains(" took ") || l.contains("CREATED")).collect();
    println!("many-files: {count} files, exit {:?} in {:.1?}; {}", out.run.code, out.elapsed, phases.join("; "));
    if out.run.code != Some(0) {
        // Failing is acceptable if it is clean: a buildpack or image error, no panic.
        assert!(matches!(out.run.code, Some(51 | 52 | 60)) && !out.run.stderr.contains("panicked"), "{}", out.run);
        return;
    }

    // The image is valid: skopeo reads it, and its layer tar for `many` holds every file.
    let config = skopeo_inspect_config(&t.home.store(), "app:latest");
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().unwrap();
    let lifecycle: serde_json::Value = serde_json::from_str(label).unwrap();
    let diff_id = lifecycle["buildpacks"][0]["layers"]["many"]["sha"].as_str().expect("the many layer is exported").to_string();
    let index = config["rootfs"]["diff_ids"].as_array().unwrap().iter().position(|d| d == &diff_id).expect("its diff id is in the config");
    let manifest: serde_json::Value = serde_json::from_slice(&skopeo_inspect_raw(&t.home.store(), "app:latest")).unwrap();
    let digest = manifest["layers"][index]["digest"].as_str().unwrap();
    let blob = t.home.store().join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(&blob).unwrap()));
    let mut files = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            assert_eq!(body, b"x");
            files += 1;
        }
    }
    assert_eq!(files, count, "every file is in the layer");
}

#[test]
fn a_process_type_with_shell_syntax_is_refused() {
    let t = Hostile::new();
    t.build(&[SHELL_INJECTION], &[]).failure(51, &["hostile/shell-injection", r#"process type "web; rm -rf /" must be"#]);
    t.build(&[SHELL_INJECTION], &["--env", "HOSTILE_MODE=nul"]).failure(51, &["process web has a NUL byte in its command"]);
}

#[test]
fn a_shell_command_is_stored_verbatim_and_never_run_at_build_time() {
    let t = Hostile::new();
    let marker = unique_marker("pwned");
    t.build(&[SHELL_INJECTION], &["--env", "HOSTILE_MODE=command", "--env", &format!("HOSTILE_MARKER={marker}")]).success();

    let line = format!("echo hi $(touch /tmp/{marker}) `touch /tmp/{marker}`; touch /tmp/{marker}");
    let config = skopeo_inspect_config(&t.home.store(), "app:latest");
    let label = config["config"]["Labels"]["io.buildpacks.build.metadata"].as_str().expect("build metadata label");
    let metadata: serde_json::Value = serde_json::from_str(label).unwrap();
    let process = &metadata["processes"][0];
    assert_eq!(process["type"], "web");
    assert_eq!(process["command"], serde_json::json!(["/bin/sh", "-c", line]), "the command is the app's, verbatim");
    assert!(!Path::new("/tmp").join(&marker).exists(), "the process command ran on the host at build time");
}

#[test]
fn a_component_for_another_contract_is_refused() {
    let t = Hostile::new();
    t.build(&[BAD_CONTRACT], &[]).failure(3, &["hostile_bad_contract.wasm", "kiln:buildpack@0.9.0", "kiln:buildpack@0.2.0"]);
}

#[test]
fn files_that_are_not_components_are_refused() {
    let t = Hostile::new();
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let text = dir.path().join("text.wasm");
    fs::write(&text, "#!/bin/sh\necho I am not wasm\n").unwrap();
    t.build(&[core.to_str().unwrap()], &[]).failure(3, &["core.wasm is not a WebAssembly component", "core WebAssembly module"]);
    t.build(&[text.to_str().unwrap()], &[]).failure(3, &["text.wasm is not a WebAssembly component", "magic bytes"]);
}

#[test]
fn a_buildpack_blocked_in_a_host_call_is_stopped_by_the_wall_time_limit() {
    // std::thread::sleep is a WASI clock subscription polled inside the host: epoch
    // interruption only fires while wasm code runs, so the limit must be enforced there too.
    let t = Hostile::new();
    let out = t.build_within(&[SLEEPER], &["--limit-time", "2s"], &[], Duration::from_secs(20));
    assert!(
        !out.timed_out,
        "kiln was still running {:.0?} into a build with --limit-time 2s: a buildpack sleeping in a host call is never stopped\n{}",
        out.elapsed, out.run
    );
    out.failure(52, &["buildpack hostile/sleeper exceeded its wall-time limit during build"]);
}

#[test]
fn exhausting_file_descriptors_does_not_break_the_host() {
    let t = Hostile::new();
    let out = t.build(&[FD_EXHAUSTION], &[]).success();
    let lines = out.log_lines("hostile/fd-exhaustion");
    let opened = lines.iter().find(|l| l.starts_with("OPENED ")).unwrap_or_else(|| panic!("no report:\n{}", out.run));
    println!("fd-exhaustion: {opened}");
    let (_dir, bundle) = t.unpack();
    assert_eq!(fs::read_to_string(bundle.rootfs.join("layers/hostile_fd-exhaustion/after/ok.txt")).unwrap(), "the guest carried on");
}

#[test]
fn buildpack_labels_cannot_forge_the_lifecycle_metadata() {
    let t = Hostile::new();
    t.build(&[FORGE_LABELS], &[]).success();
    let config = skopeo_inspect_config(&t.home.store(), "app:latest");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.example.ordinary"], "fine", "an ordinary label is kept");
    for key in ["io.buildpacks.lifecycle.metadata", "io.buildpacks.build.metadata"] {
        let value = labels[key].as_str().unwrap_or_else(|| panic!("{key} is missing"));
        assert!(!value.contains("forged"), "{key} was forged: {value}");
    }
    println!("io.buildpacks.base.distro.name after a buildpack set it: {}", labels["io.buildpacks.base.distro.name"]);
    // kiln's own namespace is reserved too: no SBOM pointer to a forged layer, no fake record
    // of native steps (this build ran none, so neither label is there at all).
    for key in ["io.kiln.sbom", "io.kiln.build.exec"] {
        assert!(
            labels.get(key).is_none_or(|v| !v.as_str().unwrap_or_default().contains("0000") && !v.to_string().contains("forged")),
            "{key}: {}",
            labels[key]
        );
    }
    assert!(labels.get("io.kiln.build.exec").is_none(), "no native step ran: {}", labels["io.kiln.build.exec"]);
}

#[test]
fn buildpack_ids_that_escape_alike_cannot_touch_each_others_layers() {
    // `hostile/victim` and `hostile_victim` both escape to the layers dir `hostile_victim`.
    let t = Hostile::new();
    let out = t.build(&[ESCAPED_ID_VICTIM, ESCAPED_ID_IMPOSTOR], &[]);
    if out.run.code == Some(3) {
        out.failure(3, &["hostile/victim", "hostile_victim"]);
        return;
    }
    let out = out.success();
    let impostor = out.log_lines("hostile_victim");
    assert!(
        !impostor.iter().any(|l| l.starts_with("READ ") || l.starts_with("WROTE ")),
        "buildpack hostile_victim reached hostile/victim's layers through the shared dir {}: {impostor:?}",
        "/layers/hostile_victim"
    );
    let (_dir, bundle) = t.unpack();
    assert_eq!(fs::read_to_string(bundle.rootfs.join("layers/hostile_victim/data/owner")).unwrap(), "victim");
}

#[test]
fn terminal_control_sequences_from_a_buildpack_never_reach_the_terminal() {
    let t = Hostile::new();
    let mut leaked = Vec::new();
    for mode in ["log", "stdout", "stderr", "error", "detect-reason"] {
        let out = t.build(&[TERMINAL_ESCAPE], &["--verbose", "--env", &format!("HOSTILE_MODE={mode}")]);
        assert!(!out.timed_out && !out.run.stderr.contains("panicked"), "{}", out.run);
        let output = format!("{}{}", out.run.stdout, out.run.stderr);
        assert!(output.contains("kiln-pwned"), "{mode}: the payload should show, escaped:\n{}", out.run);
        if output.contains(['\x1b', '\x07']) {
            leaked.push(mode);
        }
    }
    assert!(leaked.is_empty(), "raw ESC/BEL bytes from the buildpack reached kiln's output via: {leaked:?}");
}

// --- Capabilities: fetch and write limits (issue 4) ---

const FETCH_ABUSE: &str = env!("HOSTILE_FETCH_ABUSE");
const BIG_LAYER: &str = env!("HOSTILE_BIG_LAYER");

#[test]
fn a_fetch_of_a_disallowed_url_never_reaches_the_network() {
    let server = fetch_server::FileServer::start();
    server.add("secret", b"internal data");
    let t = Hostile::new();
    let url = format!("HOSTILE_URL={}", server.url("/files/secret"));
    let digest = format!("HOSTILE_DIGEST={}", kiln_tests::sha256_digest(b"internal data"));
    let out = t.build(&[FETCH_ABUSE], &["--env", &url, "--env", &digest]).success();
    let lines = out.log_lines("hostile/fetch-abuse");
    assert!(
        lines.iter().any(|l| l.starts_with("DENIED ")
            && l.contains("is not allowed by the fetch policy")
            && l.contains(&format!("--allow-host {}", server.host()))),
        "{}",
        out.run
    );
    assert!(!lines.iter().any(|l| l.starts_with("FETCHED") || l.starts_with("EXISTS")), "{}", out.run);
    assert_eq!(server.request_count(), 0, "the server was reached: {:?}", server.requests());
    let (_dir, bundle) = t.unpack();
    assert!(!bundle.rootfs.join("layers/hostile_fetch-abuse/got/file").exists());
    assert!(t.home.run(&["sbom", "app"]).code == Some(3), "nothing fetched, so no SBOM");
}

#[test]
fn a_fetch_with_a_wrong_digest_leaves_nothing_anywhere() {
    let server = fetch_server::FileServer::start();
    server.add("tool", b"what the server has");
    let t = Hostile::new();
    let wrong = kiln_tests::sha256_digest(b"what the buildpack claims");
    let out = t
        .build(
            &[FETCH_ABUSE],
            &[
                "--allow-host",
                &server.host(),
                "--env",
                &format!("HOSTILE_URL={}", server.url("/files/tool")),
                "--env",
                &format!("HOSTILE_DIGEST={wrong}"),
            ],
        )
        .success();
    let lines = out.log_lines("hostile/fetch-abuse");
    let denied = lines.iter().find(|l| l.starts_with("DENIED ")).unwrap_or_else(|| panic!("{}", out.run));
    assert!(
        denied.contains("digest mismatch")
            && denied.contains(&wrong)
            && denied.contains(&kiln_tests::sha256_digest(b"what the server has")),
        "{denied}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("EXISTS")), "the unverified file was placed:\n{}", out.run);
    let cached: Vec<_> = walk(&t.home.path().join("cache/downloads")).into_iter().filter(|p| p.is_file()).collect();
    assert!(cached.is_empty(), "unverified bytes stayed in the download cache: {cached:?}");
}

#[test]
fn a_fetch_bomb_is_cut_at_the_size_limit_and_stops_the_build() {
    let server = fetch_server::FileServer::start();
    let t = Hostile::new();
    let url = format!("HOSTILE_URL={}", server.url("/bomb/1073741824"));
    let out = t
        .build(
            &[FETCH_ABUSE],
            &["--allow-host", &server.host(), "--limit-fetch-bytes", "1MiB", "--env", "HOSTILE_MODE=bomb", "--env", &url],
        )
        .failure(
            52,
            &["buildpack hostile/fetch-abuse exceeded its fetch size limit during build", "limit 1048576 bytes", "--limit-fetch-bytes"],
        );
    let lines = out.log_lines("hostile/fetch-abuse");
    assert!(lines.iter().any(|l| l.starts_with("DENIED ") && l.contains("too large")), "the guest was told why:\n{}", out.run);
    assert!(out.elapsed < STOPPED_WITHIN, "stopping a 1 GiB download at 1 MiB took {:.1?}", out.elapsed);
    let partial: Vec<_> = walk(&t.home.path().join("cache/downloads")).into_iter().filter(|p| p.is_file()).collect();
    assert!(partial.is_empty(), "a partial download was left behind: {partial:?}");
}

#[test]
fn too_many_fetches_hit_the_fetch_count_limit() {
    let server = fetch_server::FileServer::start();
    server.add("f", b"f");
    let t = Hostile::new();
    let env_url = format!("HOSTILE_URL={}", server.url("/files/f"));
    let env_digest = format!("HOSTILE_DIGEST={}", kiln_tests::sha256_digest(b"f"));
    let out = t
        .build(
            &[FETCH_ABUSE],
            &[
                "--allow-host",
                &server.host(),
                "--limit-fetch-count",
                "3",
                "--env",
                "HOSTILE_MODE=count",
                "--env",
                &env_url,
                "--env",
                &env_digest,
            ],
        )
        .failure(
            52,
            &["buildpack hostile/fetch-abuse exceeded its fetch count limit during build", "limit 3 fetches", "--limit-fetch-count"],
        );
    let fetched = out.log_lines("hostile/fetch-abuse").iter().filter(|l| l.starts_with("FETCHED")).count();
    assert_eq!(fetched, 3, "{}", out.run);
    assert_eq!(server.request_count(), 1, "the cache served the other two: {:?}", server.requests());
}

#[test]
fn a_fetch_cannot_write_outside_its_grants_or_through_symlinks() {
    let server = fetch_server::FileServer::start();
    server.add("payload", b"PAYLOAD");
    let t = Hostile::new();
    let out = t
        .build(
            &[FETCH_ABUSE],
            &[
                "--allow-host",
                &server.host(),
                "--env",
                "HOSTILE_MODE=escape",
                "--env",
                &format!("HOSTILE_URL={}", server.url("/files/payload")),
                "--env",
                &format!("HOSTILE_DIGEST={}", kiln_tests::sha256_digest(b"PAYLOAD")),
            ],
        )
        .success();
    let lines = out.log_lines("hostile/fetch-abuse");
    let layer = "/layers/hostile_fetch-abuse/got";
    // The one legitimate destination works; every other attempt is refused with a reason.
    assert!(lines.contains(&format!("FETCHED {layer}/real/ok 7")), "{}", out.run);
    let denied: Vec<&String> = lines.iter().filter(|l| l.starts_with("DENIED ")).collect();
    assert_eq!(denied.len(), 13, "every escape is refused:\n{}", out.run);
    for (dest, reason) in [
        ("/etc/kiln-fetch-pwned", "not inside a directory this buildpack may write"),
        ("/platform/kiln-fetch-pwned", "not inside a directory this buildpack may write"),
        ("/layers/other_bp/kiln-fetch-pwned", "not inside a directory this buildpack may write"),
        ("/tmp/../etc/kiln-fetch-pwned", "'..' is not allowed"),
        (&format!("{layer}/up/kiln-fetch-pwned"), "symlinks are never followed"),
        (&format!("{layer}/leaf"), "symlinks are never followed"),
        (&format!("{layer}/real"), "is not a regular file"),
    ] {
        let line = denied
            .iter()
            .find(|l| l.starts_with(&format!("DENIED {dest}: ")))
            .unwrap_or_else(|| panic!("no attempt at {dest}:\n{}", out.run));
        assert!(line.contains(reason), "{dest}: expected {reason:?}: {line}");
    }
    let existing: Vec<&String> = lines.iter().filter(|l| l.starts_with("EXISTS ")).collect();
    assert_eq!(
        existing,
        [&format!("EXISTS {layer}/real/ok")],
        "only the legitimate file exists; the leaf link is still a link:\n{}",
        out.run
    );
    for host_path in ["/etc/kiln-fetch-pwned", "/kiln-fetch-pwned", "/tmp/kiln-fetch-pwned"] {
        assert!(!Path::new(host_path).exists(), "the fetch wrote {host_path} on the host");
    }
    let pwned: Vec<_> = walk(t.home.path()).into_iter().filter(|p| p.to_string_lossy().contains("kiln-fetch-pwned")).collect();
    assert!(pwned.is_empty(), "{pwned:?}");
    let (_dir, bundle) = t.unpack();
    assert_eq!(
        fs::read_to_string(bundle.rootfs.join("workspace/victim.txt")).unwrap(),
        "app file",
        "the symlinked app file was not overwritten"
    );
}

#[test]
fn millions_of_tiny_files_hit_the_file_limit() {
    let t = Hostile::new();
    let out = t
        .build(&[MANY_FILES], &["--limit-files", "1000", "--env", "HOSTILE_COUNT=5000"])
        .failure(52, &["buildpack hostile/many-files exceeded its file count limit during build", "limit 1000 files", "--limit-files"]);
    assert!(out.elapsed < STOPPED_WITHIN, "{:.1?}", out.elapsed);
}

#[test]
fn a_layer_larger_than_the_limit_is_refused_before_export() {
    let t = Hostile::new();
    // A 64 GiB sparse file: no disk used, but its tar would be 64 GiB.
    let out = t.build(&[BIG_LAYER], &["--limit-layer-bytes", "100MiB"]).failure(
        52,
        &["buildpack hostile/big-layer exceeded its layer size limit during build", "limit 104857600 bytes", "--limit-layer-bytes"],
    );
    assert!(out.elapsed < STOPPED_WITHIN, "the sparse file must not be read: {:.1?}", out.elapsed);
    t.build(&[BIG_LAYER], &["--limit-layer-bytes", "1MiB", "--env", "HOSTILE_MODE=dense", "--env", "HOSTILE_BYTES=2097152"])
        .failure(52, &["exceeded its layer size limit"]);
    // What a buildpack adds to the app dir counts too.
    t.build(&[BIG_LAYER], &["--limit-layer-bytes", "1MiB", "--env", "HOSTILE_MODE=app", "--env", "HOSTILE_BYTES=2097152"])
        .failure(52, &["exceeded its layer size limit"]);
    t.build(&[BIG_LAYER], &["--env", "HOSTILE_MODE=dense", "--env", "HOSTILE_BYTES=1024"]).success();
}

/// A buildpack that would write 4 GiB is stopped while it writes, near the 32 MiB limit:
/// it never gets to log `WROTE`, and the disk never holds more than a sliver of it.
#[test]
fn a_disk_filler_is_stopped_while_it_writes() {
    let t = Hostile::new();
    let out = t
        .build(&[BIG_LAYER], &["--limit-layer-bytes", "32MiB", "--env", "HOSTILE_MODE=dense", "--env", "HOSTILE_BYTES=4294967296"])
        .failure(52, &["exceeded its layer size limit during build", "limit 33554432 bytes, passed while the build was still writing"]);
    assert!(!out.run.stderr.contains("WROTE"), "the buildpack finished writing 4 GiB:\n{}", out.run);
    assert!(out.elapsed < STOPPED_WITHIN, "stopping took {:.1?}", out.elapsed);
    let left: u64 = walkdir::WalkDir::new(t.home.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    assert!(left < 1 << 30, "{left} bytes left under KILN_HOME after the build was stopped");
}

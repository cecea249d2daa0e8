//! The measures: each returns rows of kiln vs a baseline measured here and now.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln::buildpack::bundled_buildpacks;
use kiln::sandbox::bindings::types as wit;
use kiln::sandbox::{Grants, Limits, LoadedBuildpack, Sandbox};

use crate::report::Row;
use crate::workload::{Env, Scale, make_app};

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// 100 detects of a wasm buildpack (precompiled, from the cache) vs 100 spawns of a tiny
/// static native binary (busybox `true`, what a `bin/detect` costs at minimum); and the
/// one-off compile.
pub fn detect_cost(env: &Env) -> Vec<Row> {
    let cache = env.root.join("detect-cache");
    let sandbox = Sandbox::new(&cache).expect("sandbox");
    // The smallest bundled buildpack, like the tiny native `bin/detect` it is compared with.
    let (_, wasm) = bundled_buildpacks().iter().find(|(id, _)| *id == "kiln/procfile").copied().expect("kiln/procfile is bundled");
    let compile_started = Instant::now();
    let _ = LoadedBuildpack::load(&sandbox, wasm, "bench").expect("compile");
    let compile = compile_started.elapsed();
    let app = env.root.join("detect-app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: true\n").unwrap();
    let limits = Limits::default();
    let context = wit::DetectContext {
        app_dir: "/workspace".into(),
        platform_dir: "/platform".into(),
        platform_env: Vec::new(),
        target: wit::Target { os: "linux".into(), arch: "amd64".into(), distro_name: None, distro_version: None },
    };
    let started = Instant::now();
    for _ in 0..100 {
        let loaded = LoadedBuildpack::load(&sandbox, wasm, "bench").expect("load from cache");
        let grants = Grants::none().read_only(&app, "/workspace");
        loaded.detect("kiln/procfile", grants, &limits, Arc::new(|_, _| {}), &context).expect("detect");
    }
    let wasm_time = started.elapsed();
    let started = Instant::now();
    for _ in 0..100 {
        let status = Command::new("/bin/busybox").arg("true").current_dir(&app).status().expect("spawn busybox");
        assert!(status.success());
    }
    let native = started.elapsed();
    vec![
        Row {
            measure: "100 detects (load from component cache + detect)".into(),
            kiln: secs(wasm_time) * 1000.0,
            baseline: secs(native) * 1000.0,
            unit: "ms",
            baseline_name: "100 spawns of a static native binary".into(),
            goal: "<= 1x".into(),
        },
        Row {
            measure: "first load of a component (cranelift compile), once".into(),
            kiln: secs(compile) * 1000.0,
            baseline: secs(wasm_time) * 1000.0 / 100.0,
            unit: "ms",
            baseline_name: "one cached load + detect".into(),
            goal: "paid once per buildpack version".into(),
        },
    ]
}

/// Cold build of a generated app vs `tar -c | gzip` of it; warm no-change rebuild vs cold.
pub fn cold_and_warm_build(env: &Env, scale: Scale) -> Vec<Row> {
    let mb = if scale == Scale::Quick { 40 } else { 200 };
    let app = env.root.join("app-build");
    make_app(&app, mb);
    let home = env.home("build");
    let (cold, _) = env.build(&home, "app", &app);
    let (warm, events) = env.build(&home, "app", &app);
    let reused = events.iter().filter(|e| e["event"] == "layer-exported" && e["reused"] == true).count();
    let started = Instant::now();
    let status =
        Command::new("sh").arg("-c").arg(format!("tar -C '{}' -cf - . | gzip > /dev/null", app.display())).status().expect("tar | gzip");
    assert!(status.success());
    let tar_gzip = started.elapsed();
    vec![
        Row {
            measure: format!("cold build of a {mb} MB app"),
            kiln: secs(cold),
            baseline: secs(tar_gzip),
            unit: "s",
            baseline_name: "tar -c | gzip of the same files".into(),
            goal: "<= 1.5x".into(),
        },
        Row {
            measure: format!("warm no-change rebuild ({reused} layers reused)"),
            kiln: secs(warm),
            baseline: secs(cold),
            unit: "s",
            baseline_name: "the cold build".into(),
            goal: "<= 0.10x".into(),
        },
    ]
}

/// Rebase of the large app image (left by [`peak_rss`]) vs a 10 MB one, in the same store:
/// rebase rewrites the manifest and config only, so its time must not grow with the app.
/// Each is the median of 5 rebases alternating between the two run images.
pub fn rebase_cost(env: &Env, scale: Scale) -> Vec<Row> {
    let large_mb = if scale == Scale::Quick { 256 } else { 1024 };
    let home = env.home("large");
    let app = env.root.join("app-small");
    make_app(&app, 10);
    env.build(&home, "small", &app);
    let _ = std::fs::remove_dir_all(&app);
    let median = |image: &str| {
        let mut times: Vec<Duration> = (0..5)
            .map(|i| {
                let run = if i % 2 == 0 { "run-base:2" } else { "run-base" };
                env.kiln(&home, &["rebase", image, "--run-image", run]).0
            })
            .collect();
        times.sort();
        times[2]
    };
    let small = median("small");
    let large = median("large");
    let _ = std::fs::remove_dir_all(&home);
    vec![Row {
        measure: format!("rebase of a {large_mb} MB app image (ms)"),
        kiln: large.as_secs_f64() * 1000.0,
        baseline: small.as_secs_f64() * 1000.0,
        unit: "ms",
        baseline_name: "rebase of a 10 MB app image".into(),
        goal: "~1x (equal within noise)".into(),
    }]
}

/// Peak RSS of kiln building a large app, vs the app's size (streaming means flat memory).
pub fn peak_rss(env: &Env, scale: Scale) -> Vec<Row> {
    let mb = if scale == Scale::Quick { 256 } else { 1024 };
    let app = env.root.join("app-large");
    make_app(&app, mb);
    let home = env.home("large");
    let (_, events) = env.build(&home, "large", &app);
    let rss_kib = events.iter().find(|e| e["event"] == "build-finished").and_then(|e| e["peak_rss_kib"].as_u64()).unwrap_or(0);
    // The image stays in home "large" for rebase_cost.
    let _ = std::fs::remove_dir_all(&app);
    vec![Row {
        measure: format!("peak RSS building a {mb} MB app"),
        kiln: rss_kib as f64 / 1024.0,
        baseline: 150.0,
        unit: "MiB",
        baseline_name: "the 150 MiB budget".into(),
        goal: "<= 1x".into(),
    }]
}

/// 4 builds at once vs the same 4 one after another.
pub fn concurrency(env: &Env, scale: Scale) -> Vec<Row> {
    let mb = if scale == Scale::Quick { 10 } else { 40 };
    let app = env.root.join("app-concurrent");
    make_app(&app, mb);
    let homes: Vec<_> = (0..8).map(|i| env.home(&format!("c{i}"))).collect();
    let started = Instant::now();
    for home in &homes[..4] {
        env.build(home, "app", &app);
    }
    let sequential = started.elapsed();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for home in &homes[4..] {
            let app: &Path = &app;
            scope.spawn(move || env.build(home, "app", app));
        }
    });
    let concurrent = started.elapsed();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    vec![Row {
        measure: format!("4 concurrent cold builds of a {mb} MB app ({cores} cores)"),
        kiln: secs(concurrent),
        baseline: secs(sequential),
        unit: "s",
        baseline_name: "the same 4 builds one after another".into(),
        goal: format!("~1/{}x (all cores used)", cores.min(4)),
    }]
}

/// 50 jailed starts of busybox `true` (user, mount, pid, net, ipc, uts namespaces, the
/// rootfs and grants mounted, seccomp) vs 50 plain spawns of it.
pub fn jail_start(env: &Env) -> Vec<Row> {
    use kiln::jail::{JailSpec, Mount, OutputMode, ProcessLimits, Step, StepLimits};
    let rootfs = env.root.join("jail-rootfs");
    let app = env.root.join("jail-app");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("a static busybox at /bin/busybox");
    let spec = JailSpec {
        rootfs: rootfs.clone(),
        mounts: vec![Mount { host_path: app.clone(), guest_path: "/workspace".into(), writable: true }],
        program: "/bin/busybox".into(),
        args: vec!["true".into()],
        env: vec![],
        working_dir: "/workspace".into(),
        root_mountpoint: Default::default(),
        report_path: Default::default(),
        tmp_bytes: 64 << 20,
        limits: Some(ProcessLimits { cpu_seconds: 60, data_bytes: 1 << 30, file_bytes: 1 << 30, processes: 64, open_files: 1024 }),
        cgroup_procs: None,
        rootfs_writable: false,
        network: kiln::jail::Network::Isolated,
        uid: kiln::jail::JAIL_UID,
        gid: kiln::jail::JAIL_UID,
    };
    let limits = StepLimits {
        wall_time: Duration::from_secs(60),
        cpu_time: Duration::from_secs(60),
        memory_bytes: 1 << 30,
        processes: 64,
        capture_bytes: 1 << 20,
    };
    let runs = 50;
    let started = Instant::now();
    for _ in 0..runs {
        let step = Step {
            helper: &env.kiln,
            spec: spec.clone(),
            control_parent: &env.root,
            stdin: None,
            output: OutputMode::Capture,
            limits: limits.clone(),
        };
        let finished = kiln::jail::run(step, &mut |_, _| Ok(()), &|| None).expect("a jailed /bin/true");
        assert_eq!(finished.status, kiln::jail::ExitKind::Exited(0));
    }
    let jailed = started.elapsed();
    let started = Instant::now();
    for _ in 0..runs {
        let status = Command::new(rootfs.join("bin/busybox")).arg("true").current_dir(&app).status().expect("spawn busybox");
        assert!(status.success());
    }
    let plain = started.elapsed();
    vec![Row {
        measure: format!("{runs} jailed starts of busybox true (exec's fixed cost)"),
        kiln: secs(jailed) * 1000.0,
        baseline: secs(plain) * 1000.0,
        unit: "ms",
        baseline_name: format!("{runs} plain spawns of it"),
        goal: "<= 2x".into(),
    }]
}

/// Cold build of `examples/nodejs-build` by kiln/nodejs (node and the two packages
/// unpacked, esbuild's postinstall, `prebuild` and `build` as native steps in the jail,
/// export) with kiln's download cache warm and no layer cache (`--clear-cache`), vs
/// `npm ci && npm run build` of the same app with the real npm, its cache warm. Needs the
/// network for the first round (a Debian run image, node, esbuild) and npm on `PATH`, so
/// it runs only with `--network`.
pub fn npm_build(env: &Env) -> Vec<Row> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nodejs-build");
    let example = example.to_str().expect("a UTF-8 path");
    let home = env.home("npm");
    env.kiln(&home, &["base", "build", "--distro", "debian:bookworm", "--tag", "run-debian"]);
    let build = ["build", "npm-site", "--path", example, "--buildpack", "kiln/nodejs", "--run-image", "run-debian"];
    env.kiln(&home, &build); // fills the download cache
    let (kiln_time, _) = env.kiln(&home, &[&build[..], &["--clear-cache"]].concat());

    let app = env.root.join("npm-app");
    let status = Command::new("cp").arg("-a").arg(example).arg(&app).status().expect("cp");
    assert!(status.success());
    let cache = env.root.join("npm-cache");
    let script = format!(
        "rm -rf node_modules public && npm ci --cache '{}' --prefer-offline --no-audit --no-fund --dangerously-allow-all-scripts >/dev/null 2>&1 && npm run build >/dev/null 2>&1",
        cache.display()
    );
    let npm = || {
        let started = Instant::now();
        let status = Command::new("sh").arg("-c").arg(&script).current_dir(&app).status().expect("sh: npm ci && npm run build");
        assert!(status.success(), "npm ci && npm run build failed in {}", app.display());
        started.elapsed()
    };
    npm(); // fills npm's cache
    let npm_time = npm();
    vec![Row {
        measure: "cold build of the npm build-script example (download caches warm)".into(),
        kiln: secs(kiln_time),
        baseline: secs(npm_time),
        unit: "s",
        baseline_name: "npm ci && npm run build, no image".into(),
        goal: "<= 3x".into(),
    }]
}

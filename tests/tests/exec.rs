//! Native steps (`exec`, contract 0.2) in kiln's jail, end to end: the fixture buildpack
//! tests/buildpacks/exec-steps runs what the app's `steps.toml` lists, through the real
//! `kiln` binary, on the default build rootfs (the busybox run image, unpacked).
//!
//! The hostile native programs are C sources in tests/tests/jail, compiled static by the
//! test with gcc and run from the app dir: each attempt to get out must fail, each bomb
//! must be stopped with exit 52 naming the limit, and nothing may change on the host.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_tests::{KilnHome, KilnRun, RunningContainer, free_port, require_tool, run, umoci_unpack};

const EXEC_STEPS: &str = env!("FIXTURE_EXEC_STEPS");

/// A test app with a `steps.toml`, built with the fixture on a busybox run image.
struct App {
    home: KilnHome,
    dir: tempfile::TempDir,
}

impl App {
    fn new(steps: &str) -> App {
        let home = KilnHome::new();
        home.busybox_run_image("run-base");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("steps.toml"), steps).unwrap();
        App { home, dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Compile tests/tests/jail/NAME.c into the app dir as `bin/NAME` (static).
    fn compile(&self, name: &str) {
        require_tool("gcc");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jail").join(format!("{name}.c"));
        let bin = self.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let out = bin.join(name);
        run(std::process::Command::new("gcc").args(["-static", "-O1", "-o"]).arg(&out).arg(&source));
    }

    fn build(&self, extra: &[&str]) -> KilnRun {
        let mut args = vec!["build", "app", "--path", self.path().to_str().unwrap(), "--run-image", "run-base", "--buildpack", EXEC_STEPS];
        args.extend_from_slice(extra);
        self.home.run(&args)
    }
}

fn lines_of<'a>(run: &'a KilnRun, prefix: &str) -> Vec<&'a str> {
    run.stderr.lines().filter(|l| l.contains(prefix)).collect()
}

#[test]
fn a_native_step_makes_the_page_the_image_serves() {
    require_tool("umoci");
    require_tool("bwrap");
    let app = App::new(
        r#"
web = ["/bin/sh", "-c", "exec /bin/httpd -f -p $PORT -h /workspace/public"]
[[step]]
program = "/bin/sh"
args = ["-c", "/bin/busybox mkdir -p public && echo \"made in the jail by uid $(/bin/id -u) on $(/bin/busybox hostname)\" > public/index.html && echo layer > $LAYER/made"]
env = { PATH = "/bin" }
"#,
    );
    let built = app.build(&["-v"]).success();
    let executed = lines_of(&built, "exec /bin/sh");
    assert_eq!(executed.len(), 1, "one exec event:\n{built}");
    assert!(executed[0].contains("exit 0"), "{}", executed[0]);

    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&app.home.store(), "app:latest", &bundle_dir.path().join("bundle"));
    let page = std::fs::read_to_string(bundle.rootfs.join("workspace/public/index.html")).unwrap();
    assert_eq!(page.trim(), "made in the jail by uid 1000 on kiln");
    assert_eq!(std::fs::read_to_string(bundle.rootfs.join("layers/fixture_exec-steps/out/made")).unwrap().trim(), "layer");
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let served = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(served.contains("made in the jail by uid 1000"), "unexpected page: {served}");

    // The image records the step (no timings), and the same inputs give the same digest.
    let config = kiln_tests::skopeo_inspect_config(&app.home.store(), "app:latest");
    let label = config["config"]["Labels"]["io.kiln.build.exec"].as_str().expect("the native steps label");
    let steps: serde_json::Value = serde_json::from_str(label).unwrap();
    assert_eq!(steps["steps"][0]["buildpack"], "fixture/exec-steps", "{steps}");
    assert_eq!(steps["steps"][0]["program"], "/bin/sh", "{steps}");
    assert_eq!(steps["steps"][0]["exit-code"], 0, "{steps}");
    assert!(!label.contains("millis") && !label.contains("memory"), "{label}");
    let again = app.build(&[]).success();
    assert_eq!(again.digest(), built.digest(), "a rebuild with a native step is reproducible");
}

#[test]
fn output_is_captured_or_logged_and_exit_codes_and_stdin_come_back() {
    let app = App::new(
        r#"
[[step]]
program = "/bin/sh"
args = ["-c", "echo to-out; echo to-err >&2; exit 3"]
capture = true
must-succeed = false
[[step]]
program = "/bin/sh"
args = ["-c", "read line; echo \"got $line in $PWD with FOO=$FOO HOME=$HOME\""]
env = { FOO = "bar" }
working-dir = "$LAYER"
stdin = "the-input\n"
[[step]]
program = "/bin/sh"
args = ["-c", "kill -TERM $$"]
must-succeed = false
"#,
    );
    let built = app.build(&[]).success();
    assert!(built.stderr.contains(r#"step 0 captured: stdout="to-out\n" stderr="to-err\n" truncated=false"#), "{built}");
    assert!(built.stderr.contains("step 0: exit code 3"), "{built}");
    assert!(
        built.stderr.contains("got the-input in /layers/fixture_exec-steps/out with FOO=bar HOME="),
        "stdin, working dir and the explicit env reach the program, nothing else:\n{built}"
    );
    assert!(built.stderr.contains("step 2: signal 15"), "{built}");
}

#[test]
fn exec_is_refused_in_detect_by_policy_and_outside_the_grants() {
    let detect = App::new("detect-exec = \"/bin/true\"\n");
    detect.build(&[]).failure(21, &["exec of /bin/true refused", "only build can"]);

    let app = App::new("[[step]]\nprogram = \"/bin/true\"\n");
    app.build(&["--deny-exec"]).failure(51, &["exec of /bin/true refused", "forbids native steps"]);
    app.build(&["--policy", "strict"]).failure(51, &["forbids native steps"]);

    let relative = App::new("[[step]]\nprogram = \"true\"\n");
    relative.build(&[]).failure(51, &["must be an absolute path"]);
    let outside = App::new("[[step]]\nprogram = \"/bin/true\"\nworking-dir = \"/etc\"\n");
    outside.build(&[]).failure(51, &["not inside a directory granted"]);
    let missing = App::new("[[step]]\nprogram = \"/usr/bin/no-such-tool\"\n");
    missing.build(&[]).failure(51, &["cannot start /usr/bin/no-such-tool"]);
}

#[test]
fn a_native_program_gets_nothing_of_the_host() {
    let app = App::new("");
    app.compile("escape");
    let secret = app.home.path().join("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let marker = app.home.path().join("escaped-marker");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::fs::write(
        app.path().join("steps.toml"),
        format!(
            "[[step]]\nprogram = \"/workspace/bin/escape\"\nargs = [{:?}, {:?}, \"{port}\"]\nmust-succeed = false\n",
            secret.to_str().unwrap(),
            marker.to_str().unwrap()
        ),
    )
    .unwrap();
    let built = app.build(&[]).success();
    let held = lines_of(&built, "held: ");
    assert!(held.len() >= 25, "every attempt reports:\n{built}");
    assert!(!built.stderr.contains("LEAK"), "an attempt got through:\n{built}");
    assert!(built.stderr.contains("uid=1000 gid=1000 euid=1000 host=kiln"), "{built}");
    assert!(built.stderr.contains("0 leaks"), "{built}");
    assert!(built.stderr.contains("step 0: exit code 0"), "{built}");
    assert!(!marker.exists(), "the jail created a file on the host");
    assert!(listener.accept().is_err(), "the jail reached the host's loopback");
}

/// The pids of host processes named `comm`.
fn processes_named(comm: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm))
        .collect()
}

#[test]
fn a_process_left_behind_dies_with_the_step() {
    let app = App::new("");
    app.compile("orphan");
    let name = format!("kilnorph{}", std::process::id() % 100_000);
    std::fs::write(app.path().join("steps.toml"), format!("[[step]]\nprogram = \"/workspace/bin/orphan\"\nargs = [\"{name}\"]\n")).unwrap();
    let started = Instant::now();
    app.build(&["--limit-time", "60s"]).success();
    assert!(started.elapsed() < Duration::from_secs(50), "the step waited for its orphan");
    assert_eq!(processes_named(&name), Vec::<u32>::new(), "the orphan outlived its step");
}

fn stopped(app: &App, program: &str, flags: &[&str], needles: &[&str]) -> KilnRun {
    std::fs::write(app.path().join("steps.toml"), format!("[[step]]\nprogram = \"{program}\"\n")).unwrap();
    let started = Instant::now();
    let built = app.build(flags).failure(52, needles);
    assert!(started.elapsed() < Duration::from_secs(60), "the limit took too long to trip:\n{built}");
    assert!(built.stderr.contains("fixture/exec-steps"), "the error names the buildpack:\n{built}");
    built
}

#[test]
fn bombs_and_loops_are_stopped_at_the_buildpacks_limits() {
    let app = App::new("");
    for name in ["forkbomb", "membomb", "spin"] {
        app.compile(name);
    }
    stopped(&app, "/workspace/bin/forkbomb", &["--limit-processes", "64"], &["process limit", "--limit-processes"]);
    stopped(&app, "/workspace/bin/membomb", &["--limit-memory", "256MiB"], &["memory limit", "--limit-memory"]);
    stopped(&app, "/workspace/bin/spin", &["--limit-cpu", "2s"], &["CPU time limit", "--limit-cpu"]);
    std::fs::write(app.path().join("steps.toml"), "[[step]]\nprogram = \"/bin/sleep\"\nargs = [\"600\"]\n").unwrap();
    app.build(&["--limit-time", "3s"]).failure(52, &["wall-time limit", "--limit-time"]);
    // The host kept no jail: no process of the bombs is left.
    for name in ["forkbomb", "membomb", "spin"] {
        let left: Vec<u32> = processes_named(name)
            .into_iter()
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.starts_with(app.home.path())))
            .collect();
        assert!(left.is_empty(), "{name} left processes behind: {left:?}");
    }
}

#[test]
fn a_buildpack_built_for_contract_0_1_still_loads_and_runs() {
    require_tool("umoci");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("v01.txt"), "x").unwrap();
    let built = home
        .run(&[
            "build",
            "legacy",
            "--path",
            app.path().to_str().unwrap(),
            "--run-image",
            "run-base",
            "--buildpack",
            env!("FIXTURE_CONTRACT_V01"),
        ])
        .success();
    assert!(built.stderr.contains("hello from contract 0.1"), "{built}");
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(&home.store(), "legacy:latest", &bundle_dir.path().join("bundle"));
    let tool = bundle.rootfs.join("layers/fixture_contract-v01/legacy/bin/hello");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777, 0o755, "set-executable of 0.1 works");
}

#[test]
fn a_build_image_from_the_builder_or_the_flag_is_the_jails_root() {
    // A build image that differs from the run image by one file the step reads.
    let app = App::new(
        r#"
[[step]]
program = "/bin/cat"
args = ["/etc/made-for"]
capture = true
"#,
    );
    let rootfs = app.home.path().join("rootfs-build");
    kiln_tests::busybox_rootfs(&rootfs);
    std::fs::write(rootfs.join("etc/made-for"), "the build image\n").unwrap();
    app.home.run(&["base", "from-dir", rootfs.to_str().unwrap(), "--tag", "build-base"]).success();

    // Without one, the run image is the root: it has no such file.
    let plain = app.build(&[]).failure(51, &["step 0: exit code 1"]);
    assert!(!plain.stderr.contains("the build image"), "{plain}");

    let flagged = app.build(&["--build-image", "build-base"]).success();
    assert!(flagged.stderr.contains(r#"stdout="the build image\n""#), "{flagged}");

    let builder = app.home.path().join("builder.toml");
    std::fs::write(
        &builder,
        format!("[[buildpacks]]\nuri = {EXEC_STEPS:?}\n[[order]]\n[[order.group]]\nid = \"fixture/exec-steps\"\n[build]\nimage = \"build-base\"\n"),
    )
    .unwrap();
    let args = ["build", "app", "--path", app.path().to_str().unwrap(), "--run-image", "run-base", "--builder", builder.to_str().unwrap()];
    let built = app.home.run(&args).success();
    assert!(built.stderr.contains(r#"stdout="the build image\n""#), "{built}");

    app.build(&["--build-image", "nope"]).failure(3, &["--build-image", "nope", "not in the local store"]);
}

//! What the hostile-buildpack tests share: a private kiln home with a busybox run image and
//! a tiny app, a `kiln build` bounded in time, and walks over unpacked images.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kiln_tests::{Bundle, KilnHome, KilnRun, command_line, umoci_unpack};

/// The app every hostile build gets: one file.
pub const APP_TXT: &str = "hello from the app\n";

/// How long any kiln run may take before the test kills it (a hung build is a failure).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A finished (or killed) kiln run and how long it took.
pub struct Outcome {
    /// What kiln printed and how it exited; `code` is `None` when the test killed it.
    pub run: KilnRun,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Whether the test killed it at its timeout.
    pub timed_out: bool,
}

impl Outcome {
    /// Panic unless kiln exited with `code` and stderr holds every needle (and no panic).
    pub fn failure(self, code: i32, needles: &[&str]) -> Self {
        assert!(!self.timed_out, "kiln was still running after {:.1?} and was killed:\n{}", self.elapsed, self.run);
        let run = self.run.failure(code, needles);
        Outcome { run, ..self }
    }

    /// Panic unless kiln exited 0.
    pub fn success(self) -> Self {
        assert!(!self.timed_out, "kiln was still running after {:.1?} and was killed:\n{}", self.elapsed, self.run);
        let run = self.run.success();
        Outcome { run, ..self }
    }

    /// The buildpack's log lines (`[<id>] <line>` on stderr), without the prefix.
    pub fn log_lines(&self, id: &str) -> Vec<String> {
        let prefix = format!("[{id}] ");
        self.run.stderr.lines().filter_map(|l| l.strip_prefix(&prefix)).map(str::to_string).collect()
    }
}

/// A private kiln home with a run image `run-base`, and an app dir holding `app.txt`.
pub struct Hostile {
    /// The kiln home (`KILN_HOME`).
    pub home: KilnHome,
    app: tempfile::TempDir,
}

impl Hostile {
    /// A fresh home, run image and app.
    pub fn new() -> Self {
        let home = KilnHome::new();
        home.busybox_run_image("run-base");
        let app = tempfile::Builder::new().prefix("kiln-hostile-app-").tempdir().expect("create the app dir");
        fs::write(app.path().join("app.txt"), APP_TXT).expect("write app.txt");
        Hostile { home, app }
    }

    /// The user's app source dir (kiln builds a private copy of it).
    pub fn app(&self) -> &Path {
        self.app.path()
    }

    /// `kiln build app --path APP --buildpack B... --run-image run-base EXTRA...`, killed after
    /// [`DEFAULT_TIMEOUT`]. A run that ended by itself must leave no build dir behind.
    pub fn build(&self, buildpacks: &[&str], extra: &[&str]) -> Outcome {
        self.build_within(buildpacks, extra, &[], DEFAULT_TIMEOUT)
    }

    /// [`Hostile::build`] with extra process env for kiln itself and a timeout.
    pub fn build_within(&self, buildpacks: &[&str], extra: &[&str], env: &[(&str, &str)], timeout: Duration) -> Outcome {
        let mut args = vec!["build", "app", "--path", self.app().to_str().expect("UTF-8 temp path")];
        for buildpack in buildpacks {
            args.extend(["--buildpack", buildpack]);
        }
        args.extend(["--run-image", "run-base"]);
        args.extend_from_slice(extra);
        let outcome = self.run_within(&args, env, timeout);
        if !outcome.timed_out {
            self.assert_no_leftover_build_dirs(&outcome);
        }
        outcome
    }

    /// Run `kiln ARGS` with this home; kill it (the one process this started) at `timeout`.
    pub fn run_within(&self, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Outcome {
        let logs = tempfile::tempdir().expect("create a dir for kiln's output");
        let mut cmd: Command = self.home.command();
        cmd.args(args).envs(env.iter().copied()).stdin(Stdio::null());
        cmd.stdout(File::create(logs.path().join("stdout")).expect("create stdout file"));
        cmd.stderr(File::create(logs.path().join("stderr")).expect("create stderr file"));
        let command = command_line(&cmd);
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for kiln") {
                break Some(status);
            }
            if started.elapsed() > timeout {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = started.elapsed();
        let read = |name: &str| String::from_utf8_lossy(&fs::read(logs.path().join(name)).unwrap_or_default()).into_owned();
        let run = KilnRun { command, code: status.and_then(|s| s.code()), stdout: read("stdout"), stderr: read("stderr") };
        println!("{} -> {:?} in {elapsed:.2?}{}", run.command, run.code, if timed_out { " (killed)" } else { "" });
        Outcome { run, elapsed, timed_out }
    }

    /// The build dirs kiln makes under `KILN_HOME/work` must be gone once kiln exits,
    /// whether the build succeeded or a buildpack was stopped.
    fn assert_no_leftover_build_dirs(&self, outcome: &Outcome) {
        let work = self.home.path().join("work");
        let left: Vec<String> = match fs::read_dir(&work) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(_) => Vec::new(),
        };
        assert!(left.is_empty(), "kiln left build dirs {left:?} in {}:\n{}", work.display(), outcome.run);
    }

    /// `umoci unpack` of the image `app:latest` into a fresh temp dir (kept alive by the caller).
    pub fn unpack(&self) -> (tempfile::TempDir, Bundle) {
        let dir = tempfile::tempdir().expect("create a bundle dir");
        let bundle = umoci_unpack(&self.home.store(), "app:latest", &dir.path().join("bundle"));
        (dir, bundle)
    }
}

/// A name no other run uses, for files the attacks try to create.
pub fn unique_marker(what: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos();
    format!("kiln-hostile-{what}-{}-{nanos}", std::process::id())
}

/// Every path under `root`, symlinks not followed (a symlink is listed, never entered).
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

/// The lines of the host's `/etc/passwd` that the busybox run image does not share, so
/// finding one anywhere in kiln's output or an image means the host file leaked.
pub fn host_passwd_lines() -> Vec<String> {
    let text = fs::read_to_string("/etc/passwd").expect("the host has an /etc/passwd");
    let lines: Vec<String> =
        text.lines().filter(|l| !l.trim().is_empty() && !kiln_tests::rootfs::PASSWD.contains(*l)).map(str::to_string).collect();
    assert!(!lines.is_empty(), "the host's /etc/passwd is identical to the run image's; nothing to detect a leak with");
    lines
}

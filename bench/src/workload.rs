//! Inputs for the benchmarks: a kiln home with a busybox run image, generated apps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How big the inputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// ~40 MB app, 256 MB "large" app.
    Quick,
    /// ~200 MB app, 1 GB "large" app.
    Full,
}

/// The release kiln binary next to this one.
pub fn kiln_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let kiln = exe.with_file_name("kiln");
    assert!(kiln.exists(), "{} is missing: run `cargo build --release --workspace` first", kiln.display());
    kiln
}

/// A kiln home with a run image, and the binary.
pub struct Env {
    /// The kiln binary.
    pub kiln: PathBuf,
    /// Scratch root.
    pub root: PathBuf,
}

impl Env {
    /// Make the home and a busybox run image `run-base`.
    pub fn new(root: &Path, kiln: &Path) -> Env {
        let env = Env { kiln: kiln.to_path_buf(), root: root.to_path_buf() };
        let rootfs = root.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("a static busybox at /bin/busybox (apt install busybox-static)");
        std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
        let shared = env.home("shared");
        env.kiln(&shared, &["base", "from-dir", rootfs.to_str().unwrap(), "--tag", "run-base"]);
        // A second run image (one more file) to rebase onto.
        std::fs::write(rootfs.join("etc-release"), "run-base 2\n").unwrap();
        env.kiln(&shared, &["base", "from-dir", rootfs.to_str().unwrap(), "--tag", "run-base:2"]);
        // Compile the default builder's components once; every home starts with them cached,
        // so builds measure building, not the one-time compile (measured by detect_cost).
        let warmup = root.join("app-warmup");
        std::fs::create_dir_all(&warmup).unwrap();
        std::fs::write(warmup.join("Procfile"), "web: sh -c 'exit 0'\n").unwrap();
        env.build(&shared, "warmup", &warmup);
        env
    }

    /// A kiln home dir by name (created on demand; each gets its own run image copy).
    pub fn home(&self, name: &str) -> PathBuf {
        let home = self.root.join(format!("home-{name}"));
        if !home.exists() && name != "shared" {
            copy_dir(&self.root.join("home-shared/store"), &home.join("store"));
            copy_dir(&self.root.join("home-shared/cache/components"), &home.join("cache/components"));
        }
        home
    }

    /// Run kiln with a home; panics on failure; returns wall time and stdout.
    pub fn kiln(&self, home: &Path, args: &[&str]) -> (Duration, String) {
        let started = Instant::now();
        let output = Command::new(&self.kiln).env("KILN_HOME", home).args(args).stderr(Stdio::piped()).output().expect("run kiln");
        let elapsed = started.elapsed();
        assert!(output.status.success(), "kiln {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        (elapsed, String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `kiln build` of `app` into `image`, returning wall time and the JSON events.
    pub fn build(&self, home: &Path, image: &str, app: &Path) -> (Duration, Vec<serde_json::Value>) {
        let (time, stdout) = self.kiln(home, &["build", image, "--path", app.to_str().unwrap(), "--run-image", "run-base", "--json"]);
        let events = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        (time, events)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("create the copy's parent dir");
    }
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status().expect("cp");
    assert!(status.success());
}

/// A small deterministic PRNG (xorshift) so generated apps are the same every run.
struct Rng(u64);

impl Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Write an app of about `total_mb`: many small text-like files (half compressible) and a
/// few large ones (random, incompressible), plus a Procfile.
pub fn make_app(dir: &Path, total_mb: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Procfile"), "web: httpd -f -p ${PORT:-8080} -h /workspace\n").unwrap();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let small_total = total_mb * 1024 * 1024 / 2;
    let mut written = 0;
    let mut index = 0;
    let mut buf = vec![0u8; 4096];
    while written < small_total {
        let sub = dir.join(format!("src/m{:03}", index / 100));
        std::fs::create_dir_all(&sub).unwrap();
        rng.fill(&mut buf[..2048]);
        for b in &mut buf[..2048] {
            *b = b'a' + (*b % 16);
        }
        buf[2048..].fill(b'x');
        std::fs::write(sub.join(format!("f{index}.js")), &buf).unwrap();
        written += buf.len();
        index += 1;
    }
    let large_total = total_mb * 1024 * 1024 - small_total;
    let mut chunk = vec![0u8; 1 << 20];
    for n in 0..4 {
        let mut file = std::fs::File::create(dir.join(format!("asset{n}.bin"))).unwrap();
        for _ in 0..(large_total / 4) >> 20 {
            rng.fill(&mut chunk);
            file.write_all(&chunk).unwrap();
        }
    }
}

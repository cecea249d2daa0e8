//! A build whose image could not start its process fails, naming the process and the
//! missing program: a bare name is looked up on the launch PATH (layers' `bin/`, the run
//! image's PATH), an absolute or relative path in the image (symlinks followed through the
//! run image's layers), and a `sh -c` line's plain first word too. `--no-verify-processes`
//! writes the image anyway.

use std::fs;
use std::os::unix::fs::symlink;

use kiln_tests::{KilnHome, busybox_rootfs};

/// A busybox run image with `/sbin` a symlink to `bin` (like Debian's merged /usr).
fn run_image(home: &KilnHome) {
    let rootfs = home.path().join("rootfs-verify");
    busybox_rootfs(&rootfs);
    symlink("bin", rootfs.join("sbin")).unwrap();
    home.run(&["base", "from-dir", rootfs.to_str().unwrap(), "--tag", "run-verify"]).success();
}

fn build(home: &KilnHome, procfile: &str, extra: &[&str]) -> kiln_tests::KilnRun {
    let app = tempfile::tempdir().unwrap();
    fs::write(app.path().join("Procfile"), procfile).unwrap();
    fs::write(app.path().join("start.sh"), "#!/bin/sh\nexec httpd -f -p \"$PORT\"\n").unwrap();
    let mut args =
        vec!["build", "app", "--path", app.path().to_str().unwrap(), "--run-image", "run-verify", "--buildpack", "kiln/procfile"];
    args.extend_from_slice(extra);
    home.run(&args)
}

#[test]
fn a_process_whose_program_is_missing_fails_the_build() {
    let home = KilnHome::new();
    run_image(&home);

    // Programs that are there: on the run image's PATH (a busybox symlink), through a
    // symlinked dir, in the app by relative path, a shell builtin line.
    for ok in ["web: httpd -f -p $PORT", "web: /sbin/httpd -f", "web: ./start.sh", "web: exec env PORT=1 httpd -f", "web: cd /tmp && ./x"] {
        build(&home, &format!("{ok}\n"), &[]).success();
    }

    build(&home, "web: gunicorn app:app --bind 0.0.0.0:$PORT\n", &[]).failure(
        51,
        &["buildpack kiln/procfile", "process web cannot start", "`gunicorn` is not on the launch PATH", "--no-verify-processes"],
    );
    build(&home, "web: ./missing.sh\n", &[]).failure(51, &["process web cannot start", "./missing.sh", "/workspace/./missing.sh"]);
    build(&home, "worker: /opt/app/bin/worker\nweb: httpd -f\n", &[]).failure(51, &["process worker cannot start", "/opt/app/bin/worker"]);
    // Through the symlinked dir, a name that is not there.
    build(&home, "web: /sbin/nothing-here\n", &[]).failure(51, &["/sbin/nothing-here"]);

    build(&home, "web: gunicorn app:app\n", &["--no-verify-processes"]).success();
}

//! `kiln run` behaves like `docker run` where users rely on it: the process runs in kiln's
//! own jail (no bubblewrap) as the image's user, gets an `/etc/hosts` naming `localhost`,
//! the host name `kiln`, and SIGTERM when kiln is stopped; and a hostile image cannot make
//! kiln write through its `/etc` entries onto the host.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};
use std::time::Duration;

use kiln_tests::{KilnHome, busybox_rootfs, free_port, poll_http};

/// The app's web process: reports what it sees, serves `public/`, and says when SIGTERM
/// reaches it.
const START: &str = r#"trap 'echo "app got SIGTERM"; exit 0' TERM
echo "user $(id -u):$(id -g) host $(/bin/busybox hostname)"
cat /etc/hosts
httpd -f -p "$PORT" -h /workspace/public &
wait
"#;

/// A busybox run image whose `/etc/hosts` and `/etc/resolv.conf` are symlinks to files of
/// the host (absolute paths), and an app built on it.
fn hostile_etc_image(home: &KilnHome, host_file: &std::path::Path) {
    let rootfs = home.path().join("rootfs-hostile");
    busybox_rootfs(&rootfs);
    symlink(host_file, rootfs.join("etc/hosts")).unwrap();
    symlink(host_file, rootfs.join("etc/resolv.conf")).unwrap();
    home.run(&["base", "from-dir", rootfs.to_str().unwrap(), "--tag", "run-hostile"]).success();

    let app = home.path().join("app");
    fs::create_dir_all(app.join("public")).unwrap();
    fs::write(app.join("public/index.html"), "<h1>run like docker</h1>\n").unwrap();
    fs::write(app.join("start.sh"), START).unwrap();
    fs::write(app.join("Procfile"), "web: sh /workspace/start.sh\n").unwrap();
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-hostile", "--buildpack", "kiln/procfile"]).success();
}

#[test]
fn kiln_run_gives_hosts_hostname_and_forwards_sigterm() {
    let home = KilnHome::new();
    let host_file = home.path().join("host-owned.txt");
    fs::write(&host_file, "the host's file\n").unwrap();
    hostile_etc_image(&home, &host_file);

    let port = free_port();
    let mut child = home
        .command()
        .args(["run", "app", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kiln run");
    let answer = poll_http(port, "/", Duration::from_secs(30), || {
        child.try_wait().ok().flatten().map(|status| format!("kiln run exited ({status})"))
    });
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("wait for kiln run");
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let page = answer.unwrap_or_else(|why| panic!("{why}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    assert!(page.body.contains("run like docker"), "{}", page.body);

    assert!(stdout.contains("user 1000:1000 host kiln"), "the image's user and the host name kiln:\n{stdout}\n{stderr}");
    assert!(stdout.contains("127.0.0.1\tlocalhost"), "/etc/hosts names localhost:\n{stdout}");
    assert!(stdout.contains("app got SIGTERM"), "SIGTERM to kiln reaches the app:\n{stdout}\n{stderr}");
    assert_eq!(status.code(), Some(0), "the app exited 0 from its trap, and that is kiln's code:\n{stderr}");
    assert_eq!(fs::read_to_string(&host_file).unwrap(), "the host's file\n", "nothing was written through the image's symlinks");
}

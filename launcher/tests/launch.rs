//! Drives the real `launcher` binary against a small image-like tree: an app dir and a
//! layers dir with metadata.toml, a launch layer with bin/, env files and exec.d.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAUNCHER: &str = env!("CARGO_BIN_EXE_launcher");

const METADATA: &str = r#"
buildpack-default-process-type = "web"

[[buildpacks]]
id = "kiln/greeter"
version = "0.1.0"
api = "0.10"

[[processes]]
type = "web"
command = ["hello-tool"]
args = ["default-arg"]
direct = true
buildpack-id = "kiln/greeter"

[[processes]]
type = "where"
command = ["sh", "-c", "pwd; echo \"${CNB_APP_DIR-unset} $FROM_EXECD\""]
args = []
direct = true
buildpack-id = "kiln/greeter"
working-dir = "sub"

[[processes]]
type = "missing"
command = ["no-such-program-kiln"]
direct = true
buildpack-id = "kiln/greeter"
"#;

struct Image {
    _root: tempfile::TempDir,
    app: PathBuf,
    layers: PathBuf,
    process_dir: PathBuf,
}

fn executable(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn image() -> Image {
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("workspace");
    let layers = root.path().join("layers");
    let process_dir = root.path().join("process");
    fs::create_dir_all(app.join("sub")).unwrap();
    fs::create_dir_all(layers.join("config")).unwrap();
    fs::create_dir_all(&process_dir).unwrap();
    fs::write(layers.join("config/metadata.toml"), METADATA).unwrap();

    let layer = layers.join("kiln_greeter/tools");
    executable(&layer.join("bin/hello-tool"), r#"echo "$GREETING $* [$TARGET]""#);
    fs::create_dir_all(layer.join("env.launch/web")).unwrap();
    fs::write(layer.join("env.launch/GREETING"), "hello").unwrap();
    fs::write(layer.join("env.launch/web/TARGET.default"), "web-only").unwrap();
    executable(&layer.join("exec.d/set"), r#"echo 'FROM_EXECD = "computed"' >&3"#);
    fs::write(layers.join("kiln_greeter/tools.toml"), "[types]\nlaunch = true\n").unwrap();

    for process in ["web", "where", "missing"] {
        symlink(LAUNCHER, process_dir.join(process)).unwrap();
    }
    Image { _root: root, app, layers, process_dir }
}

impl Image {
    fn run(&self, program: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("CNB_APP_DIR", &self.app)
            .env("CNB_LAYERS_DIR", &self.layers)
            .envs(vars.iter().copied());
        command.output().unwrap()
    }

    fn process(&self, process_type: &str) -> PathBuf {
        self.process_dir.join(process_type)
    }
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn failure(output: &Output) -> (i32, String) {
    (output.status.code().unwrap(), String::from_utf8(output.stderr.clone()).unwrap())
}

#[test]
fn process_link_runs_the_process_found_on_the_layer_path() {
    let image = image();
    let out = image.run(&image.process("web"), &[], &[]);
    assert_eq!(stdout(&out), "hello default-arg [web-only]\n");
    let out = image.run(&image.process("web"), &["user", "args"], &[]);
    assert_eq!(stdout(&out), "hello user args [web-only]\n");
}

#[test]
fn launcher_runs_the_default_process() {
    let image = image();
    let out = image.run(Path::new(LAUNCHER), &[], &[]);
    assert_eq!(stdout(&out), "hello default-arg [web-only]\n");
}

#[test]
fn working_dir_exec_d_and_removed_platform_vars() {
    let image = image();
    let out = image.run(&image.process("where"), &[], &[]);
    assert_eq!(stdout(&out), format!("{}\nunset computed\n", image.app.join("sub").display()));
}

#[test]
fn dash_dash_is_direct_and_other_commands_use_the_shell() {
    let image = image();
    let out = image.run(Path::new(LAUNCHER), &["--", "hello-tool", "$NOT_EXPANDED"], &[]);
    assert_eq!(stdout(&out), "hello $NOT_EXPANDED []\n", "no process type: no env.launch/web");
    let out = image.run(Path::new(LAUNCHER), &["echo", "$GREETING", "from", "$(pwd)"], &[]);
    assert_eq!(stdout(&out), format!("hello from {}\n", image.app.display()));
}

#[test]
fn unknown_process_type_exits_82() {
    let image = image();
    let out = image.run(Path::new(LAUNCHER), &[], &[("CNB_PROCESS_TYPE", "cron")]);
    let (code, stderr) = failure(&out);
    assert_eq!(code, 82);
    assert_eq!(stderr, "kiln-launcher: process type cron was not found; available: web, where, missing\n");
}

#[test]
fn missing_program_exits_83() {
    let image = image();
    let (code, stderr) = failure(&image.run(&image.process("missing"), &[], &[]));
    assert_eq!(code, 83);
    assert!(stderr.starts_with("kiln-launcher: cannot execute no-such-program-kiln: "), "{stderr}");
}

#[test]
fn bad_metadata_exits_84() {
    let image = image();
    fs::write(image.layers.join("config/metadata.toml"), "[[processes]\n").unwrap();
    let (code, stderr) = failure(&image.run(&image.process("web"), &[], &[]));
    assert_eq!(code, 84);
    assert!(stderr.starts_with("kiln-launcher: cannot parse launch metadata "), "{stderr}");
    fs::remove_file(image.layers.join("config/metadata.toml")).unwrap();
    let (code, _) = failure(&image.run(&image.process("web"), &[], &[]));
    assert_eq!(code, 84);
}

//! Detection over a builder's order: groups tried in turn, optional buildpacks dropped
//! when they do not pass, the first passing group used; `project.toml` env and excludes.

use std::path::Path;

use kiln_tests::{KilnHome, skopeo_inspect_config};

const FIXTURE: &str = env!("FIXTURE_LAYER_REUSE");

fn builder_toml(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("builder.toml");
    std::fs::write(
        &path,
        format!(
            r#"description = "order test"
[[buildpacks]]
uri = "{FIXTURE}"
[[buildpacks]]
id = "kiln/procfile"

[[order]]
[[order.group]]
id = "fixture/layer-reuse"
[[order.group]]
id = "kiln/procfile"
optional = true

[[order]]
[[order.group]]
id = "kiln/procfile"

[run]
[[run.images]]
image = "run-base"
"#
        ),
    )
    .unwrap();
    path
}

fn group_of(home: &KilnHome, builder: &Path, app: &Path) -> (Vec<String>, kiln_tests::KilnRun) {
    let run = home.run(&["build", "app", "--path", app.to_str().unwrap(), "--builder", builder.to_str().unwrap(), "-v"]).success();
    let config = skopeo_inspect_config(&home.store(), "app:latest");
    let label = config["config"]["Labels"]["io.buildpacks.build.metadata"].as_str().unwrap().to_string();
    let metadata: serde_json::Value = serde_json::from_str(&label).unwrap();
    let ids = metadata["buildpacks"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap().to_string()).collect();
    (ids, run)
}

#[test]
fn the_first_passing_group_wins_and_optional_buildpacks_drop_out() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let dir = tempfile::tempdir().unwrap();
    let builder = builder_toml(dir.path());

    let both = dir.path().join("both");
    std::fs::create_dir(&both).unwrap();
    std::fs::write(both.join("version.txt"), "1").unwrap();
    std::fs::write(both.join("Procfile"), "worker: echo hi").unwrap();
    let (ids, _) = group_of(&home, &builder, &both);
    assert_eq!(ids, ["fixture/layer-reuse", "kiln/procfile"], "group 1 with its optional member");

    let fixture_only = dir.path().join("fixture-only");
    std::fs::create_dir(&fixture_only).unwrap();
    std::fs::write(fixture_only.join("version.txt"), "1").unwrap();
    let (ids, run) = group_of(&home, &builder, &fixture_only);
    assert_eq!(ids, ["fixture/layer-reuse"], "the optional procfile did not pass and was dropped");
    assert!(run.stderr.contains("fail: kiln/procfile: no Procfile"), "--verbose shows why:\n{run}");

    let procfile_only = dir.path().join("procfile-only");
    std::fs::create_dir(&procfile_only).unwrap();
    std::fs::write(procfile_only.join("Procfile"), "web: httpd -f").unwrap();
    let (ids, run) = group_of(&home, &builder, &procfile_only);
    assert_eq!(ids, ["kiln/procfile"], "group 1 fails on its required fixture, group 2 passes");
    assert!(run.stderr.contains("fail: fixture/layer-reuse: no version.txt"), "{run}");
}

#[test]
fn project_toml_sets_env_excludes_files_and_is_checked() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("Procfile"), "web: httpd -f").unwrap();
    std::fs::create_dir(app.path().join("logs")).unwrap();
    std::fs::write(app.path().join("logs/debug.log"), "secret").unwrap();
    std::fs::write(app.path().join("keep.txt"), "keep").unwrap();
    std::fs::write(
        app.path().join("project.toml"),
        "[_]\nschema-version = \"0.2\"\n[io.buildpacks]\nexclude = [\"*.log\"]\n[[io.buildpacks.group]]\nid = \"kiln/procfile\"\n",
    )
    .unwrap();
    home.run(&["build", "app", "--path", app.path().to_str().unwrap(), "--run-image", "run-base"]).success();
    let bundle_dir = tempfile::tempdir().unwrap();
    let bundle = kiln_tests::umoci_unpack(&home.store(), "app:latest", &bundle_dir.path().join("b"));
    assert!(bundle.rootfs.join("workspace/keep.txt").is_file());
    assert!(!bundle.rootfs.join("workspace/logs/debug.log").exists(), "excluded by project.toml");

    std::fs::write(app.path().join("project.toml"), "[io.buildpacks]\nexclde = []\n").unwrap();
    home.run(&["build", "app", "--path", app.path().to_str().unwrap(), "--run-image", "run-base"])
        .failure(3, &["project.toml is invalid", "exclde"]);
}

#[test]
fn a_buildpack_listed_twice_in_a_group_runs_once() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let dir = tempfile::tempdir().unwrap();
    let builder = dir.path().join("builder.toml");
    std::fs::write(
        &builder,
        r#"description = "a repeated buildpack"
[[buildpacks]]
id = "kiln/procfile"

[[order]]
[[order.group]]
id = "kiln/procfile"
[[order.group]]
id = "kiln/procfile"
optional = true

[run]
[[run.images]]
image = "run-base"
"#,
    )
    .unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: httpd -f").unwrap();
    let (ids, run) = group_of(&home, &builder, &app);
    assert_eq!(ids, ["kiln/procfile"], "the repeat is skipped, as the lifecycle does");
    assert_eq!(run.stderr.lines().filter(|l| *l == "[build] kiln/procfile").count(), 1, "it built once:\n{run}");
    assert!(run.stderr.contains("[kiln/procfile] listed again in group 1: skipped"), "-v says so:\n{run}");
}

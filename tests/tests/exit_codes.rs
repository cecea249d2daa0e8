//! Exit codes are chosen in one table (`host/src/cli/exit.rs`): the same failure gives the
//! same code in every command that meets it.

use kiln_tests::{KilnHome, require_tool};

#[test]
fn a_missing_image_exits_3_in_every_command_that_reads_one() {
    require_tool("bwrap");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let commands: [&[&str]; 5] =
        [&["inspect", "nope"], &["sbom", "nope"], &["rmi", "nope"], &["rebase", "nope", "--run-image", "run-base"], &["run", "nope"]];
    for args in commands {
        let run = home.run(args);
        assert_eq!(run.code, Some(3), "a missing image is bad input:\n{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
    }
    home.run(&["sbom", "nope"]).failure(3, &["no image named nope:latest", "kiln images"]);
    home.run(&["inspect", "nope"]).failure(3, &["no image named nope:latest", "kiln images"]);
    let app = home.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: httpd -f\n").unwrap();
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "nope"])
        .failure(3, &["run image nope", "no image named nope:latest"]);
}

#[test]
fn a_store_that_is_not_an_image_layout_exits_60_in_every_command() {
    let home = KilnHome::new();
    std::fs::create_dir_all(home.store()).unwrap();
    std::fs::write(home.store().join("notes.txt"), "not a store").unwrap();
    let commands: [&[&str]; 4] = [&["images"], &["inspect", "app"], &["sbom", "app"], &["rmi", "app"]];
    for args in commands {
        home.run(args).failure(60, &["is not an OCI image layout"]);
    }
}

#[test]
fn bad_flag_values_exit_3_with_the_flag_named() {
    let home = KilnHome::new();
    home.run(&["gc", "--grace", "soon"]).failure(3, &["--grace"]);
    let app = home.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    let path = app.to_str().unwrap();
    home.run(&["build", "app", "--path", path, "--run-image", "run-base", "--env", "=x"]).failure(3, &["--env \"=x\"", "NAME=VALUE"]);
    home.run(&["build", "app", "--path", path, "--run-image", "run-base", "--limit-memory", "lots"])
        .failure(3, &["--limit-memory \"lots\""]);
    home.run(&["build", "app", "--path", path, "--publish"]).failure(3, &["--publish needs a registry image"]);
    home.run(&["build", "app", "--path", path, "--output", "oci:./x"]).failure(3, &["--output takes docker-archive:FILE"]);
}

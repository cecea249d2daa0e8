//! The CLI as a newcomer meets it: every command's help shows an example, progress shows
//! the phases in order, every `--json` line matches docs/events.schema.json, completions.

use std::path::Path;

use kiln_tests::KilnHome;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name).display().to_string()
}

/// The subcommand names listed in a `--help` text's "Commands:" section.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command line is indented by exactly two spaces; wrapped descriptions by more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn every_command_has_help_with_an_example() {
    let home = KilnHome::new();
    let top = home.run(&["--help"]).success();
    assert!(top.stdout.contains("Example"), "kiln --help shows an example:\n{top}");
    let commands = subcommands(&top.stdout);
    assert!(commands.len() >= 4, "{commands:?}");
    for command in commands {
        let help = home.run(&[&command, "--help"]).success();
        let nested = subcommands(&help.stdout);
        if nested.is_empty() {
            assert!(help.stdout.contains("Example"), "kiln {command} --help has no example:\n{help}");
        }
        for sub in nested {
            let help = home.run(&[&command, &sub, "--help"]).success();
            assert!(help.stdout.contains("Example"), "kiln {command} {sub} --help has no example:\n{help}");
        }
    }
}

#[test]
fn plain_progress_shows_the_phases_in_order() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let run = home.run(&["build", "app", "--path", &example("procfile-web"), "--run-image", "run-base"]).success();
    let mut at = 0;
    for phase in ["ANALYZE", "PREPARE", "DETECT", "RESTORE", "BUILD", "EXPORT"] {
        let found = run.stderr[at..].find(&format!("===> {phase}")).unwrap_or_else(|| panic!("{phase} missing or out of order:\n{run}"));
        at += found;
    }
    assert!(run.stderr.contains("[kiln/procfile] process web"), "buildpack logs are shown:\n{run}");
    let quiet = home.run(&["build", "app", "--path", &example("procfile-web"), "--run-image", "run-base", "-q"]).success();
    assert!(quiet.stderr.is_empty(), "-q prints no progress:\n{quiet}");
}

/// On a terminal (a pseudo-terminal from util-linux `script`), a build draws a live status
/// line for the running phase and buildpack, and the plain lines still scroll above it in
/// phase order.
#[test]
fn a_terminal_gets_the_live_display() {
    kiln_tests::require_tool("script");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let command = format!(
        "{} build app --path {} --run-image run-base --buildpack kiln/procfile",
        kiln_tests::kiln_binary().display(),
        example("procfile-web")
    );
    let output = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("KILN_HOME", home.path())
        .env_remove("KILN_CONFIG")
        .env("TERM", "xterm")
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "build in a pty failed:\n{text}");
    // The status line: the phase in bold (ESC[1m) and the buildpack the phase is working on.
    assert!(text.contains("\u{1b}[1mBUILD\u{1b}[0m kiln/procfile"), "no live BUILD status line:\n{text}");
    assert!(text.contains("\u{1b}[2K"), "the status line is never redrawn:\n{text}");
    let mut at = 0;
    for phase in ["===> PREPARE", "===> DETECT", "===> BUILD", "===> EXPORT", "[export] wrote app:latest"] {
        at += text[at..].find(phase).unwrap_or_else(|| panic!("{phase} missing or out of order:\n{text}"));
    }
}

#[test]
fn every_json_line_matches_the_event_schema() {
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.schema.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let ok = home.run(&["build", "app", "--path", &app, "--run-image", "run-base", "--json"]).success();
    let empty = tempfile::tempdir().unwrap();
    let failed = home.run(&["build", "app", "--path", empty.path().to_str().unwrap(), "--run-image", "run-base", "--json"]);
    assert_eq!(failed.code, Some(20), "{failed}");
    let mut kinds = std::collections::BTreeSet::new();
    for line in ok.stdout.lines().chain(failed.stdout.lines()) {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let errors: Vec<String> = validator.iter_errors(&event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line} does not match the schema: {errors:?}");
        kinds.insert(event["event"].as_str().unwrap().to_string());
    }
    for kind in ["phase-started", "buildpack-loaded", "detected", "layer-exported", "image-written", "build-finished", "error"] {
        assert!(kinds.contains(kind), "no {kind} event seen: {kinds:?}");
    }
}

/// `$KILN_HOME/config.toml` supplies the run image and the limits; a flag beats it; a typo in
/// it is refused with the file named.
#[test]
fn config_file_sets_build_defaults_below_the_flags() {
    let home = KilnHome::new();
    home.busybox_run_image("run-base");
    let app = example("procfile-web");
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[build]\nrun-image = \"run-base\"\n\n[limits]\nmemory = \"64KiB\"\n").unwrap();
    // 64 KiB cannot hold a component's linear memory: the config's limit is the one applied.
    let limited = home.run(&["build", "app", "--path", &app]);
    assert_eq!(limited.code, Some(52), "the config's memory limit applies:\n{limited}");
    assert!(limited.stderr.contains("memory"), "{limited}");
    // The flag wins over the file; the run image still comes from the file.
    home.run(&["build", "app", "--path", &app, "--limit-memory", "512MiB"]).success();
    std::fs::write(&config, "[limits]\nmemroy = \"1GiB\"\n").unwrap();
    home.run(&["build", "app", "--path", &app, "--run-image", "run-base"]).failure(3, &["config.toml", "memroy"]);
}

#[test]
fn completions_are_generated_for_each_shell() {
    let home = KilnHome::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = home.run(&["completions", shell]).success();
        assert!(run.stdout.contains("kiln") && run.stdout.contains("build"), "{shell}:\n{run}");
    }
    home.run(&["completions", "tcsh"]).failure(2, &["tcsh"]);
}

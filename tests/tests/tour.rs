//! Network tier: the README's 5-minute tour, run command for command.
//!
//! The commands between `<!-- tour:start -->` and `<!-- tour:end -->` in README.md run in
//! bash (`set -euo pipefail`) with the freshly built `kiln` first on PATH, a private
//! `KILN_HOME`, and the repository root as the working directory. What the tour promises is
//! then checked in its output: the app answered over HTTP, the rebuild reused every layer,
//! the rebase happened, inspect and sbom printed what they should.

use std::path::Path;
use std::process::Command;

use kiln_tests::{KilnHome, kiln_binary, network_tests_enabled, require_tool};

/// The tour's shell block.
fn tour_script(readme: &str) -> String {
    let start = readme.find("<!-- tour:start -->").expect("README has <!-- tour:start -->");
    let end = readme.find("<!-- tour:end -->").expect("README has <!-- tour:end -->");
    let block = &readme[start..end];
    let body_start = block.find("```sh\n").expect("the tour is a ```sh block") + "```sh\n".len();
    let body_end = block[body_start..].find("```").expect("the tour block is closed") + body_start;
    block[body_start..body_end].to_string()
}

#[test]
fn the_readme_tour_runs_as_written() {
    if !network_tests_enabled("the README tour") {
        return;
    }
    require_tool("bwrap");
    require_tool("curl");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let script = tour_script(&readme);
    assert!(script.contains("kiln build") && script.contains("kiln rebase"), "{script}");

    let home = KilnHome::new();
    let bin_dir = kiln_binary().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{script}")])
        .current_dir(&root)
        .env("PATH", path)
        .env("KILN_HOME", home.path())
        .env_remove("KILN_CONFIG")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let transcript = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(output.status.success(), "the tour failed:\n{transcript}");

    // 1 + 2: built and answered.
    assert!(stdout.contains("Hello from kiln nodejs"), "the app did not answer:\n{transcript}");
    // 3: the rebuild reused the node and dependency layers and fetched nothing.
    let builds: Vec<&str> = stderr.split("===> ANALYZE").collect();
    assert!(builds.len() >= 3, "two builds expected:\n{transcript}");
    let rebuild = builds[2];
    assert!(!rebuild.contains("fetched https://"), "the rebuild fetched:\n{rebuild}");
    for layer in ["node", "modules", "app"] {
        let line = rebuild
            .lines()
            .find(|l| {
                l.starts_with("[export] layer ") && (l.contains(&format!("kiln/nodejs:{layer} ")) || l.contains(&format!("layer {layer} ")))
            })
            .unwrap_or_else(|| panic!("no export line for {layer}:\n{rebuild}"));
        assert!(line.ends_with("(reused)"), "{layer} was rewritten on an unchanged rebuild: {line}");
    }
    // 4: a new run image and a rebase onto it that kept the app layers.
    assert!(stderr.contains("libssl3"), "{transcript}");
    assert!(stderr.contains("[rebase] hello onto"), "{transcript}");
    // 5: inspect shows the process and the buildpack, sbom is CycloneDX.
    assert!(stdout.contains("kiln/nodejs"), "inspect does not name the buildpack:\n{transcript}");
    assert!(stdout.contains("web"), "inspect shows no web process:\n{transcript}");
    assert!(stdout.contains("CycloneDX"), "sbom output:\n{transcript}");
}

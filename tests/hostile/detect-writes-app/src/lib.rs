//! Hostile: tries to change the app during detect, where `/workspace` is read-only.
//!
//! Every attempt's outcome is logged; detect then passes. Build (where the app copy is
//! read-write) writes `build-was-here`, which must reach the image but never the user's
//! source directory.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct DetectWritesApp;

fn outcome(what: &str, result: std::io::Result<()>) {
    match result {
        Ok(()) => kiln_sdk::log::info(&format!("ALLOWED {what}")),
        Err(e) => kiln_sdk::log::info(&format!("DENIED {what}: {e}")),
    }
}

impl Buildpack for DetectWritesApp {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        let app = &ctx.app_dir;
        outcome("write detect-was-here", std::fs::write(app.join("detect-was-here"), "detect wrote this"));
        outcome("create_dir detect-dir", std::fs::create_dir(app.join("detect-dir")));
        outcome(
            "append app.txt",
            std::fs::OpenOptions::new().append(true).open(app.join("app.txt")).and_then(|mut f| {
                use std::io::Write;
                f.write_all(b"detect appended this")
            }),
        );
        outcome("rename app.txt", std::fs::rename(app.join("app.txt"), app.join("renamed.txt")));
        outcome("remove app.txt", std::fs::remove_file(app.join("app.txt")));
        outcome("write /platform/env/INJECTED", std::fs::write("/platform/env/INJECTED", "x"));
        // The private /tmp is writable, but hard-linking an app file into it must not give
        // a writable handle on the read-only app.
        outcome("hard_link app.txt into /tmp", std::fs::hard_link(app.join("app.txt"), "/tmp/app-link"));
        outcome("symlink in app", hostile_common::symlink("app.txt", &app.join("detect-link")));
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let seen = ctx.app_file("detect-was-here").exists();
        kiln_sdk::log::info(&format!("build sees detect-was-here: {seen}"));
        let text = std::fs::read_to_string(ctx.app_file("app.txt"))?;
        kiln_sdk::log::info(&format!("build sees app.txt: {text:?}"));
        std::fs::write(ctx.app_file("build-was-here"), "build wrote this")?;
        Ok(BuildResult::new())
    }
}

kiln_sdk::export_buildpack!(DetectWritesApp);

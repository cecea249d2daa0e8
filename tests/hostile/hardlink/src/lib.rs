//! Hostile: hard-links files it should not own into its launch layer `linked`.
//!
//! From the app (read-write during build, a private copy of the user's source) a hard
//! link is allowed, and writing through it changes only the copy. From the read-only
//! platform dir it must be denied, or the buildpack would gain a writable name for a
//! read-only file.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct Hardlink;

fn link(from: &std::path::Path, to: &std::path::Path) -> bool {
    match std::fs::hard_link(from, to) {
        Ok(()) => {
            kiln_sdk::log::info(&format!("LINKED {} => {}", from.display(), to.display()));
            true
        }
        Err(e) => {
            kiln_sdk::log::info(&format!("DENIED link {} => {}: {e}", from.display(), to.display()));
            false
        }
    }
}

impl Buildpack for Hardlink {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let layer = ctx.layer("linked", LayerTypes::LAUNCH)?;
        let dir = layer.path();
        if link(&ctx.app_file("app.txt"), &dir.join("app-hardlink.txt")) {
            // Same inode: this also changes the app copy's app.txt (never the user's source).
            std::fs::write(dir.join("app-hardlink.txt"), "changed through the layer's hard link")?;
            kiln_sdk::log::info(&format!("app.txt now reads {:?}", std::fs::read_to_string(ctx.app_file("app.txt"))?));
        }
        let platform_file = ctx.platform_dir.join("env").join("HOSTILE_MODE");
        if link(&platform_file, &dir.join("platform-hardlink")) {
            match std::fs::write(dir.join("platform-hardlink"), "tampered") {
                Ok(()) => kiln_sdk::log::info("WROTE the read-only platform file through the link"),
                Err(e) => kiln_sdk::log::info(&format!("DENIED write through the platform link: {e}")),
            }
        }
        link(&ctx.app_file("app.txt"), std::path::Path::new("/tmp/app-hardlink"));
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(Hardlink);

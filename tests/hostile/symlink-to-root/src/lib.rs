//! Hostile: plants symlinks that point out of its layer and out of the app, then tries to
//! read through them, and exports them in a launch layer `links`.
//!
//! Contained means: absolute symlinks cannot even be created (WASI refuses them), relative
//! ones that climb out can be created but not followed, and export stores every symlink as
//! a symlink with its target text, never the file it points at.

use std::path::Path;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct SymlinkToRoot;

fn symlink(target: &str, link: &Path) {
    match hostile_common::symlink(target, link) {
        Ok(()) => kiln_sdk::log::info(&format!("LINKED {} -> {target}", link.display())),
        Err(e) => kiln_sdk::log::info(&format!("DENIED link {} -> {target}: {e}", link.display())),
    }
}

fn read_through(path: &Path) {
    match std::fs::read(path) {
        Ok(bytes) => kiln_sdk::log::info(&format!("READ {}: {}", path.display(), String::from_utf8_lossy(&bytes))),
        Err(e) => kiln_sdk::log::info(&format!("DENIED read {}: {e}", path.display())),
    }
    match std::fs::read_dir(path) {
        Ok(entries) => {
            let names: Vec<String> = entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            kiln_sdk::log::info(&format!("LISTED {}: {names:?}", path.display()));
        }
        Err(e) => kiln_sdk::log::info(&format!("DENIED list {}: {e}", path.display())),
    }
}

impl Buildpack for SymlinkToRoot {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let layer = ctx.layer("links", LayerTypes::LAUNCH)?;
        let dir = layer.path().to_path_buf();
        std::fs::write(dir.join("marker.txt"), "a real file")?;
        symlink("/", &dir.join("root"));
        symlink("/etc/passwd", &dir.join("abs-passwd"));
        symlink("../../../../etc", &dir.join("etc"));
        // From the host's layer dir (KILN_HOME/work/build-*/layers/<bp>/links) this is the
        // host's root; in the image it is the image's root.
        symlink("../../../../../../../../../../../..", &dir.join("host-root"));
        symlink("../../../../../../../../../../../../etc/passwd", &dir.join("passwd"));
        symlink("../../../../../../../../../../../../etc/passwd", &ctx.app_file("leak"));
        for name in ["root", "etc/passwd", "host-root/etc/passwd", "passwd", "host-root"] {
            read_through(&dir.join(name));
        }
        read_through(&ctx.app_file("leak"));
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(SymlinkToRoot);

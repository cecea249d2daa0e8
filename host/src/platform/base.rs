//! Run images from Debian packages for `kiln base build`, and the default run image a build
//! makes the first time it is missing.

use super::Progress;
use super::dirs::Dirs;
use super::error::PlatformError;
use crate::base::debian::{DebianBase, DebianBaseReport};
use crate::buildpack::builder::DEFAULT_RUN_IMAGE;
use crate::image::ImageStore;

/// Build a Debian run image into `store` under `tag`, reporting what was resolved, verified
/// and downloaded. Shared by `kiln base build` and the default builder's first use.
pub fn build_debian(base: &DebianBase, store: &ImageStore, tag: &str, progress: &Progress) -> Result<DebianBaseReport, PlatformError> {
    let suite = &base.suite;
    progress(&format!("building debian:{suite} run image from {} requested packages", base.packages.len()));
    let report = base.build(store, tag)?;
    for warning in &report.warnings {
        progress(&format!("warning: {warning}"));
    }
    progress(&format!(
        "archive {} (Debian {}), InRelease signature {}",
        report.mirror,
        report.release_version.as_deref().unwrap_or("?"),
        if report.signature_verified { "verified" } else { "NOT verified" },
    ));
    let list: Vec<String> = report.packages.iter().map(|(n, v)| format!("{n} {v}")).collect();
    progress(&format!("{} packages: {}", list.len(), list.join(", ")));
    if !report.excluded.is_empty() {
        progress(&format!("left out (no maintainer scripts run): {}", report.excluded.join(", ")));
    }
    let timings: Vec<String> = report.timings.iter().map(|(step, d)| format!("{step} {:.2}s", d.as_secs_f64())).collect();
    progress(&format!(
        "{} requests, {} bytes downloaded, {} files from the cache; {}",
        report.requests,
        report.bytes_downloaded,
        report.cache_hits,
        timings.join(", ")
    ));
    Ok(report)
}

/// Build the default run image (Debian bookworm's default packages) into the local store the
/// first time a build needs it; later builds find it there.
pub fn ensure_default_run_image(store: &ImageStore, dirs: &Dirs, progress: &Progress) -> Result<(), PlatformError> {
    if store.resolve(DEFAULT_RUN_IMAGE)?.is_some() {
        return Ok(());
    }
    progress(&format!(
        "the default run image {DEFAULT_RUN_IMAGE} is not in the local store: building it from Debian packages (once; \
         pass --run-image to use another)"
    ));
    let mut base = DebianBase::new("bookworm", dirs.cache.join("debian"), dirs.work.clone());
    base.mirror = std::env::var("KILN_DEBIAN_MIRROR").ok().filter(|m| !m.is_empty());
    build_debian(&base, store, DEFAULT_RUN_IMAGE, progress)?;
    Ok(())
}

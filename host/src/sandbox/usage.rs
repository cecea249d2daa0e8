//! What a buildpack left on disk, checked against `--limit-files` and `--limit-layer-bytes`.
//!
//! WASI offers no write quota, so these limits are checked when the build call returns:
//! the buildpack's layers dir plus what it added to the app dir. The walk never follows a
//! symlink, counts every entry (files, directories, symlinks) and the apparent size of
//! regular files (a sparse file counts at its full length: that is what its layer tar
//! would hold), and stops as soon as a limit is passed, so a million tiny files cost one
//! bounded walk. A buildpack can still fill the disk during its call, within its wall time:
//! give kiln's work dir a quota'd filesystem where that matters.

use std::path::Path;

use super::error::{Limit, SandboxError};
use super::limits::Limits;

/// Entries and bytes under a directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Entries below the root (files, directories, symlinks, others).
    pub files: u64,
    /// Sum of the regular files' apparent sizes.
    pub bytes: u64,
}

impl Usage {
    /// Measure `root`, stopping once `files` or `bytes` passes `stop_at` (the result is
    /// then just past it). A missing root is empty.
    pub fn measure(root: &Path, stop_at: Usage) -> Usage {
        let mut usage = Usage::default();
        let walker = walkdir::WalkDir::new(root).follow_links(false).min_depth(1);
        for entry in walker.into_iter().filter_map(Result::ok) {
            usage.files += 1;
            if entry.file_type().is_file() {
                usage.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
            if usage.files > stop_at.files || usage.bytes > stop_at.bytes {
                break;
            }
        }
        usage
    }
}

/// The cap to measure with for `limits`: one past them is enough to know.
pub fn stop_at(limits: &Limits) -> Usage {
    Usage { files: limits.files, bytes: limits.layer_bytes }
}

/// Check what build left: `layers` (its layers dir) plus app growth (`app_after` over
/// `app_before`).
pub fn check_written(buildpack: &str, layers: Usage, app_before: Usage, app_after: Usage, limits: &Limits) -> Result<(), SandboxError> {
    let files = layers.files + app_after.files.saturating_sub(app_before.files);
    let bytes = layers.bytes + app_after.bytes.saturating_sub(app_before.bytes);
    let exceeded = |limit, detail| SandboxError::LimitExceeded { buildpack: buildpack.into(), phase: "build".into(), limit, detail };
    if files > limits.files {
        return Err(exceeded(Limit::Files, format!("limit {} files, wrote more than that to its layers and the app dir", limits.files)));
    }
    if bytes > limits.layer_bytes {
        return Err(exceeded(
            Limit::LayerBytes,
            format!("limit {} bytes, wrote more than that to its layers and the app dir", limits.layer_bytes),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_without_following_symlinks_and_stops_early() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/a"), vec![0u8; 100]).unwrap();
        let sparse = std::fs::File::create(dir.path().join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        let all = Usage::measure(dir.path(), Usage { files: u64::MAX, bytes: u64::MAX });
        assert_eq!(all, Usage { files: 4, bytes: 100 + (1 << 30) });
        let capped = Usage::measure(dir.path(), Usage { files: 1, bytes: u64::MAX });
        assert_eq!(capped.files, 2, "stops one past the cap");

        let limits = Limits { files: 3, layer_bytes: 1 << 20, ..Limits::default() };
        let before = Usage { files: 10, bytes: 10 };
        let ok = check_written("bp", Usage { files: 3, bytes: 1 }, before, before, &limits);
        assert!(ok.is_ok());
        let err = check_written("bp", Usage { files: 3, bytes: 1 }, before, Usage { files: 11, bytes: 10 }, &limits).unwrap_err();
        assert!(err.to_string().contains("file count limit") && err.to_string().contains("--limit-files"), "{err}");
        let err = check_written("bp", all, before, before, &Limits { files: 100, ..limits }).unwrap_err();
        assert!(err.to_string().contains("--limit-layer-bytes"), "{err}");
    }
}

//! Progress events the lifecycle emits, for the CLI to show (plain lines, a live display, JSON).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// A lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Loading (compiling or fetching from cache) the buildpack components.
    Prepare,
    /// Reading the previous image's and the cache's layer metadata.
    Analyze,
    /// Choosing the group and resolving the build plan.
    Detect,
    /// Restoring cached layers.
    Restore,
    /// Running each buildpack's build.
    Build,
    /// Writing the image.
    Export,
}

impl Phase {
    /// The phase's name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Analyze => "analyze",
            Phase::Detect => "detect",
            Phase::Restore => "restore",
            Phase::Build => "build",
            Phase::Export => "export",
        }
    }
}

/// One thing that happened during a build.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A phase started.
    PhaseStarted {
        /// Which.
        phase: Phase,
    },
    /// A phase finished.
    PhaseFinished {
        /// Which.
        phase: Phase,
        /// How long it took, in milliseconds.
        millis: u128,
    },
    /// A buildpack component was loaded.
    BuildpackLoaded {
        /// Buildpack id.
        id: String,
        /// Version.
        version: String,
        /// Whether it came from the compiled-component cache.
        cached: bool,
        /// Milliseconds to load.
        millis: u128,
    },
    /// The outcome of one buildpack's detect.
    Detected {
        /// Buildpack id.
        id: String,
        /// Whether it passed.
        passed: bool,
        /// Why not, or the error.
        reason: Option<String>,
    },
    /// The group chosen by detection.
    GroupSelected {
        /// Buildpack ids in build order.
        buildpacks: Vec<String>,
    },
    /// One buildpack's build started.
    BuildpackBuilding {
        /// Buildpack id.
        id: String,
    },
    /// One buildpack's build finished.
    BuildpackBuilt {
        /// Buildpack id.
        id: String,
        /// Milliseconds.
        millis: u128,
    },
    /// A buildpack fetched a file (provenance; also listed in the image's SBOM).
    Fetched {
        /// Buildpack id.
        id: String,
        /// The URL it asked for.
        url: String,
        /// The verified digest.
        digest: String,
        /// Size in bytes.
        size: u64,
        /// `network`, `cache` or `mirror`.
        origin: String,
    },
    /// A buildpack ran a native step in the jail (`exec`).
    Executed {
        /// What ran and how it ended.
        #[serde(flatten)]
        record: crate::sandbox::ExecRecord,
    },
    /// A log line from a buildpack.
    Log {
        /// Buildpack id.
        id: String,
        /// `debug`, `info`, `warn` or `error`.
        level: String,
        /// The line.
        line: String,
    },
    /// A layer was written to the image.
    LayerExported {
        /// What the layer holds, e.g. `app` or `kiln/procfile:web`.
        name: String,
        /// Its digest.
        digest: String,
        /// Whether the store already had it.
        reused: bool,
    },
    /// What analysis found.
    Analyzed {
        /// Whether a previous image was found.
        previous_image: bool,
        /// Layers known from the previous build.
        layers: usize,
    },
    /// Cached layers were restored.
    Restored {
        /// How many.
        layers: usize,
    },
    /// The cache was written.
    CacheWritten {
        /// Cached layers.
        layers: usize,
        /// The cache dir.
        dir: String,
    },
    /// The whole build finished, distribution included (emitted by the platform).
    BuildFinished {
        /// Wall time of the whole build, in milliseconds.
        millis: u128,
        /// Peak resident memory of the kiln process, in KiB (`VmHWM`), if known.
        peak_rss_kib: Option<u64>,
    },
    /// The image was written.
    ImageWritten {
        /// Where.
        reference: String,
        /// Manifest digest.
        digest: String,
    },
}

/// Receives events; must be cheap and never fail.
pub type Reporter = Arc<dyn Fn(&Event) + Send + Sync>;

/// A reporter that drops everything.
pub fn silent() -> Reporter {
    Arc::new(|_| {})
}

/// Milliseconds of a duration (for events).
pub fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// Peak resident memory of this process in KiB (`VmHWM` from /proc/self/status).
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

//! Errors of the sandbox: bad components, exceeded limits, traps and guest errors, kept apart.

use std::fmt;
use std::path::PathBuf;

/// A limit the host enforces on each buildpack call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Linear memory (and tables) the guest may allocate.
    Memory,
    /// CPU time the guest's thread may use.
    Cpu,
    /// Wall-clock time of the call.
    WallTime,
    /// Bytes of log output (log import plus stdout/stderr).
    Log,
    /// The guest's call stack.
    Stack,
    /// Number of files (and directories, symlinks) in the buildpack's layers plus the
    /// files it added to the app dir.
    Files,
    /// Bytes in the buildpack's layers plus what it added to the app dir.
    LayerBytes,
    /// Number of `fetch` calls.
    FetchCount,
    /// Bytes fetched, summed over the call's fetches.
    FetchBytes,
    /// Processes at once in a native step's jail.
    Processes,
}

impl Limit {
    /// The CLI flag that raises this limit.
    pub fn flag(self) -> &'static str {
        match self {
            Limit::Memory => "--limit-memory",
            Limit::Cpu => "--limit-cpu",
            Limit::WallTime => "--limit-time",
            Limit::Log => "--limit-log",
            Limit::Stack => "(fixed)",
            Limit::Files => "--limit-files",
            Limit::LayerBytes => "--limit-layer-bytes",
            Limit::FetchCount => "--limit-fetch-count",
            Limit::FetchBytes => "--limit-fetch-bytes",
            Limit::Processes => "--limit-processes",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Memory => "memory limit",
            Limit::Cpu => "CPU time limit",
            Limit::WallTime => "wall-time limit",
            Limit::Log => "log output limit",
            Limit::Stack => "stack limit",
            Limit::Files => "file count limit",
            Limit::LayerBytes => "layer size limit",
            Limit::FetchCount => "fetch count limit",
            Limit::FetchBytes => "fetch size limit",
            Limit::Processes => "process limit",
        })
    }
}

/// What can go wrong loading or calling a buildpack component.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The file is not a WebAssembly component at all.
    #[error("{origin} is not a WebAssembly component: {detail}")]
    NotAComponent {
        /// Where the bytes came from.
        origin: String,
        /// What was found instead.
        detail: String,
    },
    /// The component targets another version of kiln's contract.
    #[error(
        "{origin} was built for contract kiln:buildpack@{found}, but this kiln supports kiln:buildpack@{supported}; rebuild the buildpack against a kiln-sdk for one of those"
    )]
    IncompatibleContract {
        /// Where the component came from.
        origin: String,
        /// The contract version it exports or imports.
        found: String,
        /// The versions this host supports.
        supported: String,
    },
    /// The component does not export the buildpack interface.
    #[error("{origin} is a component but not a kiln buildpack: it exports no kiln:buildpack/buildpack interface (exports: {exports})")]
    NotABuildpack {
        /// Where the component came from.
        origin: String,
        /// The names it does export.
        exports: String,
    },
    /// The component imports something the sandbox does not offer.
    #[error("{origin} imports {import}, which kiln does not offer to buildpacks")]
    UnsupportedImport {
        /// Where the component came from.
        origin: String,
        /// The import's name.
        import: String,
    },
    /// wasmtime rejected the component.
    #[error("cannot compile {origin}: {source:#}")]
    Compile {
        /// Where the component came from.
        origin: String,
        /// The compiler's error.
        source: anyhow::Error,
    },
    /// The component cache could not be read or written.
    #[error("component cache {path}: {source}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A directory could not be granted to the guest.
    #[error("cannot grant {host_path} to the sandbox as {guest_path}: {source:#}")]
    Grant {
        /// The host directory.
        host_path: PathBuf,
        /// Where the guest would see it.
        guest_path: String,
        /// The cause.
        source: anyhow::Error,
    },
    /// A call exceeded one of its limits and was stopped.
    #[error("buildpack {buildpack} exceeded its {limit} during {phase} ({detail}); raise it with {flag} if this is expected", flag = limit.flag())]
    LimitExceeded {
        /// The buildpack id.
        buildpack: String,
        /// The phase (detect, build, ...).
        phase: String,
        /// Which limit.
        limit: Limit,
        /// The limit's value and what was attempted.
        detail: String,
    },
    /// The guest trapped (crashed) for a reason other than a limit.
    #[error("buildpack {buildpack} crashed during {phase}: {message}")]
    Trapped {
        /// The buildpack id.
        buildpack: String,
        /// The phase.
        phase: String,
        /// The trap and its backtrace.
        message: String,
    },
    /// The guest returned an error.
    #[error("buildpack {buildpack} failed during {phase}: {message}")]
    GuestError {
        /// The buildpack id.
        buildpack: String,
        /// The phase.
        phase: String,
        /// The buildpack's own message.
        message: String,
    },
}

//! Why a fetch failed. Every message names the URL, and what to do about it.

use std::path::PathBuf;

use crate::sandbox::Limit;

/// A failed fetch; shown to the buildpack as its `err` string.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The build runs with `--policy strict`.
    #[error("fetch of {url} refused: this build denies every fetch (--policy strict / --deny-fetch)")]
    Strict {
        /// The URL.
        url: String,
    },
    /// No allow rule matches the URL (or a redirect target).
    #[error(
        "fetch of {url} refused: {what} is not allowed by the fetch policy (allowed: {allowed}); allow it with --allow-host {suggestion} or in kiln's config file"
    )]
    NotAllowed {
        /// The URL asked for.
        url: String,
        /// The URL that was refused (the same, or a redirect target).
        what: String,
        /// The rules in force.
        allowed: String,
        /// The `--allow-host` value that would allow it.
        suggestion: String,
    },
    /// The URL is not one kiln fetches.
    #[error("fetch of {url} refused: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The digest the buildpack gave is malformed.
    #[error("fetch of {url}: bad digest: {reason}")]
    BadDigest {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The bytes do not match the digest; nothing was placed or cached.
    #[error("fetch of {url}: digest mismatch: expected {expected}, got {actual} ({size} bytes); nothing was kept")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// What the buildpack expected.
        expected: String,
        /// What the bytes hash to.
        actual: String,
        /// How many bytes were downloaded.
        size: u64,
    },
    /// The download would exceed the call's fetch byte budget.
    #[error(
        "fetch of {url}: too large: it would exceed the limit of {limit} bytes fetched per buildpack call; raise it with --limit-fetch-bytes"
    )]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The call already made as many fetches as it may.
    #[error("fetch of {url}: too many fetches: the limit is {limit} per buildpack call; raise it with --limit-fetch-count")]
    TooMany {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The call's wall-time budget ran out during the download.
    #[error("fetch of {url}: the buildpack's wall-time limit ran out during the download; raise it with --limit-time")]
    OutOfTime {
        /// The URL.
        url: String,
    },
    /// The server answered with an error status, or too many redirects.
    #[error("fetch of {url}: {from} answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The URL that answered.
        from: String,
        /// The status line.
        status: String,
    },
    /// The network failed.
    #[error("fetch of {url}: cannot download {from}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// The URL downloaded (the same or a mirror).
        from: String,
        /// The error chain.
        reason: String,
    },
    /// A mirror could not serve it.
    #[error("fetch of {url}: mirror {from}: {reason}")]
    Mirror {
        /// The URL.
        url: String,
        /// The mirror file or rule.
        from: String,
        /// Why.
        reason: String,
    },
    /// The destination is not a place this call may write.
    #[error("fetch of {url}: destination {destination}: {reason}")]
    Destination {
        /// The URL.
        url: String,
        /// The guest path.
        destination: String,
        /// Why.
        reason: String,
    },
    /// The download cache could not be read or written.
    #[error("fetch of {url}: download cache {path}: {source}")]
    Cache {
        /// The URL.
        url: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl FetchError {
    /// The limit this error means was exceeded, with its value and the URL, if any: such an
    /// error also stops the build.
    pub fn limit(&self) -> Option<(Limit, String)> {
        match self {
            FetchError::TooLarge { url, limit } => Some((Limit::FetchBytes, format!("limit {limit} bytes, fetching {url}"))),
            FetchError::TooMany { url, limit } => Some((Limit::FetchCount, format!("limit {limit} fetches, fetching {url}"))),
            FetchError::OutOfTime { url } => Some((Limit::WallTime, format!("the time ran out fetching {url}"))),
            _ => None,
        }
    }
}

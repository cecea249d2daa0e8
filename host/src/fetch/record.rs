//! Provenance: every fetch a build made, for the build's events and the image's SBOM.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

/// Where the bytes of a fetch came from. Only shown in events, never put in the image:
/// the image must not differ between a build that downloaded and one that used the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchOrigin {
    /// Downloaded from the URL.
    Network,
    /// Served from the download cache.
    Cache,
    /// Served from a mirror (URL or directory).
    Mirror,
}

impl FetchOrigin {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FetchOrigin::Network => "network",
            FetchOrigin::Cache => "cache",
            FetchOrigin::Mirror => "mirror",
        }
    }
}

/// One successful fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FetchRecord {
    /// The buildpack that asked.
    pub buildpack: String,
    /// The URL it asked for.
    pub url: String,
    /// The verified digest, canonical (`sha256:<hex>` or `sha512-<base64>`).
    pub digest: String,
    /// CycloneDX algorithm name of the digest (`SHA-256`, `SHA-512`).
    pub algorithm: String,
    /// The digest as hex.
    pub hex: String,
    /// Size in bytes.
    pub size: u64,
    /// Where the bytes came from.
    pub origin: FetchOrigin,
    /// The host path the file was placed at (inside the call's writable grants), which
    /// tells the lifecycle which layer the fetch went into. Never shown or put in the image.
    #[serde(skip)]
    pub destination: Option<PathBuf>,
}

/// Collects the records of one build; shared by every buildpack call.
#[derive(Debug, Default)]
pub struct Recorder {
    records: Mutex<Vec<FetchRecord>>,
}

impl Recorder {
    /// Add a record.
    pub fn push(&self, record: FetchRecord) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }

    /// Everything recorded so far, in order.
    pub fn records(&self) -> Vec<FetchRecord> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

//! The [`Fetcher`]: policy, mirrors, cache and recorder together, shared by a build's calls.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use reqwest::blocking::Client;

use super::cache::DownloadCache;
use super::digest::ExpectedDigest;
use super::download::{self, DownloadError};
use super::error::FetchError;
use super::mirror::{Mirror, Source};
use super::policy::Refusal;
use super::record::{FetchOrigin, FetchRecord, Recorder};
use super::settings::FetchSettings;

/// Called after every successful fetch (the lifecycle reports it as an event).
pub type FetchObserver = Arc<dyn Fn(&FetchRecord) + Send + Sync>;

/// What one buildpack call may still fetch; lives in the call's store.
#[derive(Debug, Clone)]
pub struct FetchBudget {
    /// Most fetches of the call.
    pub max_count: usize,
    /// Most bytes of the call, summed over its fetches (cache hits included, so a build
    /// behaves the same with a warm or a cold cache).
    pub max_bytes: u64,
    /// Fetches so far.
    pub count: usize,
    /// Bytes so far.
    pub bytes: u64,
    /// When the call's wall time runs out.
    pub deadline: Option<Instant>,
}

/// One fetch a buildpack asked for; `destination` is already resolved to a host path
/// inside the call's writable grants.
#[derive(Debug, Clone, Copy)]
pub struct FetchCall<'a> {
    /// The buildpack id.
    pub buildpack: &'a str,
    /// The URL.
    pub url: &'a str,
    /// The expected digest, as the buildpack wrote it.
    pub digest: &'a str,
    /// Where to place the verified file (host path); `None` only fills the cache.
    pub destination: Option<&'a Path>,
}

/// Fetches for one build: checks, downloads, verifies, caches, places and records.
pub struct Fetcher {
    settings: FetchSettings,
    cache: DownloadCache,
    client: OnceLock<Result<Client, String>>,
    recorder: Recorder,
    observer: Option<FetchObserver>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher with these settings.
    pub fn new(settings: FetchSettings) -> Self {
        let cache = DownloadCache::new(&settings.cache_root);
        Fetcher { settings, cache, client: OnceLock::new(), recorder: Recorder::default(), observer: None }
    }

    /// Call `observer` after every successful fetch.
    pub fn with_observer(mut self, observer: FetchObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &FetchSettings {
        &self.settings
    }

    /// The download cache.
    pub fn cache(&self) -> &DownloadCache {
        &self.cache
    }

    /// Every successful fetch so far.
    pub fn records(&self) -> Vec<FetchRecord> {
        self.recorder.records()
    }

    /// Check, get (cache, mirror or network), verify and place one file.
    pub fn fetch(&self, call: FetchCall<'_>, budget: &mut FetchBudget) -> Result<FetchRecord, FetchError> {
        let url = call.url.to_string();
        let parsed = self.settings.policy.check(call.url).map_err(|refusal| self.refused(&url, &url, refusal))?;
        let digest = ExpectedDigest::parse(call.digest).map_err(|reason| FetchError::BadDigest { url: url.clone(), reason })?;
        if budget.count >= budget.max_count {
            return Err(FetchError::TooMany { url, limit: budget.max_count });
        }
        budget.count += 1;
        let remaining = budget.max_bytes.saturating_sub(budget.bytes);
        let cache_err = |path: &Path, source| FetchError::Cache { url: url.clone(), path: path.to_path_buf(), source };
        let (path, size, origin) = match self.cache.lookup(&digest).map_err(|e| cache_err(self.cache.root(), e))? {
            Some((path, size)) => {
                if size > remaining {
                    return Err(FetchError::TooLarge { url: url.clone(), limit: budget.max_bytes });
                }
                self.cache.note_url(&digest, &url).map_err(|e| cache_err(&path, e))?;
                (path, size, FetchOrigin::Cache)
            }
            None => self.download(&url, &parsed, &digest, remaining, budget.deadline, budget.max_bytes)?,
        };
        budget.bytes += size;
        if let Some(destination) = call.destination {
            place(&path, destination).map_err(|reason| FetchError::Destination {
                url: url.clone(),
                destination: destination.display().to_string(),
                reason,
            })?;
        }
        let record = FetchRecord {
            buildpack: call.buildpack.to_string(),
            url,
            digest: digest.canonical(),
            algorithm: digest.algorithm.cyclonedx().to_string(),
            hex: digest.hex(),
            size,
            origin,
            destination: call.destination.map(Path::to_path_buf),
        };
        tracing::info!(buildpack = call.buildpack, url = %record.url, digest = %record.digest, size, origin = origin.name(), "fetched");
        self.recorder.push(record.clone());
        if let Some(observer) = &self.observer {
            observer(&record);
        }
        Ok(record)
    }

    /// Download (from a mirror or the URL) into the cache, verified.
    fn download(
        &self,
        url: &str,
        parsed: &reqwest::Url,
        digest: &ExpectedDigest,
        max: u64,
        deadline: Option<Instant>,
        limit: u64,
    ) -> Result<(std::path::PathBuf, u64, FetchOrigin), FetchError> {
        let source = Mirror::resolve(&self.settings.mirrors, url).map_err(|reason| FetchError::Mirror {
            url: url.into(),
            from: "(rule)".into(),
            reason,
        })?;
        let mut temp = self.cache.temp_file().map_err(|source| FetchError::Cache {
            url: url.into(),
            path: self.cache.root().to_path_buf(),
            source,
        })?;
        let mut hasher = digest.hasher();
        let mut out = std::io::BufWriter::new(temp.as_file_mut());
        let (result, from, origin) = match &source {
            Source::File(path) => (download::file(path, &mut out, &mut hasher, max), path.display().to_string(), FetchOrigin::Mirror),
            Source::Url { url: target, mirrored } => {
                let client = self.client().map_err(|reason| FetchError::Network { url: url.into(), from: target.clone(), reason })?;
                let (target_url, policy, origin) = if *mirrored {
                    let mirror = reqwest::Url::parse(target).map_err(|e| FetchError::Mirror {
                        url: url.into(),
                        from: target.clone(),
                        reason: e.to_string(),
                    })?;
                    (mirror, None, FetchOrigin::Mirror)
                } else {
                    (parsed.clone(), Some(&self.settings.policy), FetchOrigin::Network)
                };
                (download::http(client, &target_url, policy, &mut out, &mut hasher, max, deadline), target.clone(), origin)
            }
        };
        let flushed = out.flush();
        drop(out);
        let size = result.map_err(|e| match e {
            DownloadError::TooLarge => FetchError::TooLarge { url: url.into(), limit },
            DownloadError::OutOfTime => FetchError::OutOfTime { url: url.into() },
            DownloadError::Refused { target, refusal } => self.refused(url, &target, refusal),
            DownloadError::Status { from, status } => FetchError::Status { url: url.into(), from, status },
            DownloadError::Network { from, reason } => FetchError::Network { url: url.into(), from, reason },
            DownloadError::Io(e) if origin == FetchOrigin::Mirror => {
                FetchError::Mirror { url: url.into(), from: from.clone(), reason: e.to_string() }
            }
            DownloadError::Io(source) => FetchError::Cache { url: url.into(), path: temp.path().to_path_buf(), source },
        })?;
        flushed.map_err(|source| FetchError::Cache { url: url.into(), path: temp.path().to_path_buf(), source })?;
        let actual = hasher.finish();
        if &actual != digest {
            return Err(FetchError::DigestMismatch { url: url.into(), expected: digest.canonical(), actual: actual.canonical(), size });
        }
        let path = self.cache.insert(temp, digest, url).map_err(|source| FetchError::Cache {
            url: url.into(),
            path: self.cache.path(digest),
            source,
        })?;
        Ok((path, size, origin))
    }

    fn client(&self) -> Result<&Client, String> {
        self.client.get_or_init(download::client).as_ref().map_err(Clone::clone)
    }

    fn refused(&self, url: &str, what: &str, refusal: Refusal) -> FetchError {
        match refusal {
            Refusal::Strict => FetchError::Strict { url: url.into() },
            Refusal::BadUrl(reason) => FetchError::BadUrl { url: url.into(), reason: format!("{what}: {reason}") },
            Refusal::NotAllowed { suggestion } => {
                FetchError::NotAllowed { url: url.into(), what: what.into(), allowed: self.settings.policy.describe(), suggestion }
            }
        }
    }
}

/// Copy the verified cache file to `destination` through a temp file in the same dir
/// and a rename: the guest never sees a partial file, and a symlink at `destination` is
/// replaced, not followed. A copy, never a hard link: the guest may write the file, and
/// the cache must stay what it verified.
fn place(cached: &Path, destination: &Path) -> Result<(), String> {
    let parent = destination.parent().ok_or("it has no parent directory")?;
    let temp =
        tempfile::Builder::new().prefix(".kiln-fetch-").tempfile_in(parent).map_err(|e| format!("cannot write in its directory: {e}"))?;
    std::fs::copy(cached, temp.path()).map_err(|e| format!("cannot copy the download there: {e}"))?;
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())?;
    temp.persist(destination).map_err(|e| format!("cannot put the file there: {}", e.error))?;
    Ok(())
}

//! Talking to a Debian archive: plain GETs for the `InRelease` file and SHA256-verified,
//! content-addressed downloads for everything else.
//!
//! Verified files live in `<cache>/sha256/<hex>` (kiln's cache: `<kiln cache>/debian`), a
//! [`DownloadCache`] like the one of the `fetch` host import, so both keep files the same way.
//! A file already there is re-hashed instead of downloaded, so a second build with the
//! same package set makes only the one request for `InRelease`. Downloads are streamed to a
//! temporary file inside the cache, hashed on the way, and renamed into place only when hash
//! and size match: an interrupted or forged download never enters the cache.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error_text::error_chain;
use crate::fetch::cache::DownloadCache;
use crate::fetch::digest::ExpectedDigest;

/// Counters of what an [`Archive`] did.
#[derive(Debug, Default)]
pub struct ArchiveStats {
    /// HTTP requests made.
    pub requests: AtomicU64,
    /// Bytes received.
    pub bytes_downloaded: AtomicU64,
    /// Verified files taken from the cache.
    pub cache_hits: AtomicU64,
}

/// A Debian archive at a base URL, with a local content-addressed cache.
pub struct Archive {
    base: String,
    cache: DownloadCache,
    client: reqwest::blocking::Client,
    /// What this archive did so far.
    pub stats: ArchiveStats,
}

impl Archive {
    /// An archive rooted at `base` (e.g. `http://deb.debian.org/debian`) caching verified
    /// files below `cache`.
    pub fn new(base: &str, cache: PathBuf) -> Result<Archive, String> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Archive { base: base.trim_end_matches('/').to_owned(), cache: DownloadCache::at(cache), client, stats: ArchiveStats::default() })
    }

    /// The archive's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base/path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// GETs `path` into memory; `Ok(None)` when the archive answers 404.
    pub fn get(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let url = self.url(path);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let response = self.client.get(&url).send().map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let body = response.bytes().map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
        self.stats.bytes_downloaded.fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(Some(body.to_vec()))
    }

    /// The digest a hex SHA256 from an index stands for.
    fn digest(sha256: &str) -> Result<ExpectedDigest, String> {
        ExpectedDigest::parse(&format!("sha256:{sha256}")).map_err(|e| format!("the archive's index lists a bad SHA256: {e}"))
    }

    /// Where the cache keeps the file with this SHA256.
    pub fn cache_path(&self, sha256: &str) -> Result<PathBuf, String> {
        Ok(self.cache.path(&Self::digest(sha256)?))
    }

    /// The file at `path` whose SHA256 and size must be `sha256` and `size`: from the cache
    /// when a verified copy is there, else downloaded, verified and cached. Returns the
    /// cached file's path.
    pub fn fetch_verified(&self, path: &str, sha256: &str, size: u64) -> Result<PathBuf, String> {
        let digest = Self::digest(sha256)?;
        // `lookup` re-hashes the file and removes one that does not match.
        match self.cache.lookup(&digest) {
            Ok(Some((cached, n))) if n == size => {
                self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cached);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(digest = %digest, "cannot read the cached file; downloading it again: {e}"),
        }
        let url = self.url(path);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = self.client.get(&url).send().map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let mut tmp =
            self.cache.temp_file().map_err(|e| format!("cannot create a temporary file in {}: {e}", self.cache.root().display()))?;
        let mut hasher = digest.hasher();
        let mut received = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = response.read(&mut buf).map_err(|e| format!("GET {url}: {e}"))?;
            if n == 0 {
                break;
            }
            received += n as u64;
            if received > size {
                return Err(format!("GET {url}: more than the {size} bytes the index lists"));
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
        }
        self.stats.bytes_downloaded.fetch_add(received, Ordering::Relaxed);
        let actual = hasher.finish();
        if actual != digest || received != size {
            return Err(format!(
                "{url} does not match the signed index: SHA256 {} ({received} bytes), expected {sha256} ({size} bytes)",
                actual.hex()
            ));
        }
        self.cache.insert(tmp, &digest, &url).map_err(|e| format!("cannot store {url} in {}: {e}", self.cache.root().display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn cached_files_are_verified_and_never_requested() {
        let tmp = tempfile::tempdir().unwrap();
        // Port 9 on loopback: nothing listens, so any request fails loudly.
        let archive = Archive::new("http://127.0.0.1:9/debian/", tmp.path().to_path_buf()).unwrap();
        assert_eq!(archive.url("/dists/x"), "http://127.0.0.1:9/debian/dists/x");
        let data = b"hello deb";
        let mut hasher = crate::fetch::digest::Hasher::new(crate::fetch::digest::Algorithm::Sha256);
        hasher.update(data);
        let (hex, size) = (hasher.finish().hex(), data.len() as u64);
        let cached = archive.cache_path(&hex).unwrap();
        assert_eq!(cached, tmp.path().join("sha256").join(&hex), "the layout kiln's Debian cache always had");
        fs::create_dir_all(tmp.path().join("sha256")).unwrap();
        fs::write(&cached, data).unwrap();
        let path = archive.fetch_verified("pool/x.deb", &hex, size).unwrap();
        assert_eq!(fs::read(path).unwrap(), data);
        assert_eq!(archive.stats.requests.load(Ordering::Relaxed), 0);
        assert_eq!(archive.stats.cache_hits.load(Ordering::Relaxed), 1);

        // A corrupt cache entry is dropped and fetched again (which fails here: no server).
        fs::write(&cached, b"tampered!").unwrap();
        let err = archive.fetch_verified("pool/x.deb", &hex, size).unwrap_err();
        assert!(err.contains("GET http://127.0.0.1:9/debian/pool/x.deb"), "{err}");
        assert!(!cached.exists());
    }
}

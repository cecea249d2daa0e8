//! Talking to a Debian archive: plain GETs for the `InRelease` file and SHA256-verified,
//! content-addressed downloads for everything else.
//!
//! Verified files live in `<cache>/sha256/<hex>` (kiln's cache: `<kiln cache>/debian`).
//! A file already there is re-hashed instead of downloaded, so a second build with the
//! same package set makes only the one request for `InRelease`. Downloads are streamed to a
//! temporary file beside the cache entry, hashed on the way, and renamed into place only
//! when hash and size match: an interrupted or forged download never enters the cache.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::error_text::error_chain;

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
    cache: PathBuf,
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
        Ok(Archive {
            base: base.trim_end_matches('/').to_owned(),
            cache,
            client,
            stats: ArchiveStats::default(),
        })
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

    /// Where the cache keeps the file with this SHA256.
    pub fn cache_path(&self, sha256: &str) -> PathBuf {
        self.cache.join("sha256").join(sha256)
    }

    /// The file at `path` whose SHA256 and size must be `sha256` and `size`: from the cache
    /// when a verified copy is there, else downloaded, verified and cached. Returns the
    /// cached file's path.
    pub fn fetch_verified(&self, path: &str, sha256: &str, size: u64) -> Result<PathBuf, String> {
        let cached = self.cache_path(sha256);
        if let Ok(file) = File::open(&cached) {
            match hash_reader(file) {
                Ok((hex, n)) if hex == sha256 && n == size => {
                    self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(cached);
                }
                _ => {
                    tracing::warn!(path = %cached.display(), "cached file does not match its digest; downloading it again");
                    let _ = fs::remove_file(&cached);
                }
            }
        }
        let dir = cached.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let url = self.url(path);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = self.client.get(&url).send().map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
        let mut hasher = Sha256::new();
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
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 || received != size {
            return Err(format!(
                "{url} does not match the signed index: SHA256 {actual} ({received} bytes), expected {sha256} ({size} bytes)"
            ));
        }
        tmp.persist(&cached).map_err(|e| format!("cannot store {}: {e}", cached.display()))?;
        Ok(cached)
    }
}

/// SHA256 (hex) and length of everything `reader` yields.
pub fn hash_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let n = io::copy(&mut reader, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_files_are_verified_and_never_requested() {
        let tmp = tempfile::tempdir().unwrap();
        // Port 9 on loopback: nothing listens, so any request fails loudly.
        let archive = Archive::new("http://127.0.0.1:9/debian/", tmp.path().to_path_buf()).unwrap();
        assert_eq!(archive.url("/dists/x"), "http://127.0.0.1:9/debian/dists/x");
        let data = b"hello deb";
        let (hex, size) = hash_reader(&data[..]).unwrap();
        fs::create_dir_all(tmp.path().join("sha256")).unwrap();
        fs::write(archive.cache_path(&hex), data).unwrap();
        let path = archive.fetch_verified("pool/x.deb", &hex, size).unwrap();
        assert_eq!(fs::read(path).unwrap(), data);
        assert_eq!(archive.stats.requests.load(Ordering::Relaxed), 0);
        assert_eq!(archive.stats.cache_hits.load(Ordering::Relaxed), 1);

        // A corrupt cache entry is dropped and fetched again (which fails here: no server).
        fs::write(archive.cache_path(&hex), b"tampered!").unwrap();
        let err = archive.fetch_verified("pool/x.deb", &hex, size).unwrap_err();
        assert!(err.contains("GET http://127.0.0.1:9/debian/pool/x.deb"), "{err}");
        assert!(!archive.cache_path(&hex).exists());
    }
}

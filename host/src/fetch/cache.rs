//! The download cache: verified files by digest, shared by every build and buildpack.
//!
//! Layout under kiln's cache root: `downloads/<algorithm>/<hex>` is a file whose bytes hash
//! to that digest, `downloads/<algorithm>/<hex>.urls` the URLs it was fetched as (one a
//! line, used to prepare mirrors), `downloads/tmp/` downloads in progress. A file enters the
//! cache only after its digest was verified, by an atomic rename, so a crash never leaves a
//! partial or wrong file under a digest name; a hit is hashed again before use.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::digest::{Algorithm, ExpectedDigest};

/// One cached download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// Its digest.
    pub digest: ExpectedDigest,
    /// Its size in bytes.
    pub size: u64,
    /// The URLs it was fetched as.
    pub urls: Vec<String>,
    /// The file.
    pub path: PathBuf,
}

/// The download cache.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    root: PathBuf,
}

impl DownloadCache {
    /// The cache under `<cache_root>/downloads`.
    pub fn new(cache_root: &Path) -> Self {
        DownloadCache { root: cache_root.join("downloads") }
    }

    /// A cache directly in `root` (`<root>/<algorithm>/<hex>`): the Debian archive's
    /// `<kiln cache>/debian`.
    pub fn at(root: PathBuf) -> Self {
        DownloadCache { root }
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a file with `digest` lives.
    pub fn path(&self, digest: &ExpectedDigest) -> PathBuf {
        self.root.join(digest.algorithm.name()).join(digest.hex())
    }

    /// The cached file for `digest`, verified; a file that no longer matches is removed.
    pub fn lookup(&self, digest: &ExpectedDigest) -> io::Result<Option<(PathBuf, u64)>> {
        let path = self.path(digest);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.is_file() && digest.matches_file(&path)? {
            return Ok(Some((path, meta.len())));
        }
        tracing::warn!(path = %path.display(), "removing a download cache entry that does not match its digest");
        std::fs::remove_file(&path)?;
        Ok(None)
    }

    /// A temp file to download into (inside the cache, so the final rename is atomic).
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir)?;
        tempfile::Builder::new().prefix("download-").tempfile_in(dir)
    }

    /// Move a verified download into the cache under `digest`, and remember `url`.
    pub fn insert(&self, file: NamedTempFile, digest: &ExpectedDigest, url: &str) -> io::Result<PathBuf> {
        let path = self.path(digest);
        std::fs::create_dir_all(path.parent().expect("a cache path has a parent"))?;
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        self.note_url(digest, url)?;
        Ok(path)
    }

    /// Add `url` to the digest's URL list (atomically replaced).
    pub fn note_url(&self, digest: &ExpectedDigest, url: &str) -> io::Result<()> {
        let list = self.urls_path(digest);
        let mut urls = read_urls(&list);
        if urls.iter().any(|u| u == url) {
            return Ok(());
        }
        urls.push(url.to_string());
        let dir = list.parent().expect("a cache path has a parent");
        let mut tmp = tempfile::Builder::new().prefix(".urls-").tempfile_in(dir)?;
        tmp.write_all((urls.join("\n") + "\n").as_bytes())?;
        tmp.persist(&list).map_err(|e| e.error)?;
        Ok(())
    }

    fn urls_path(&self, digest: &ExpectedDigest) -> PathBuf {
        self.root.join(digest.algorithm.name()).join(format!("{}.urls", digest.hex()))
    }

    /// Every cached file, sorted by digest.
    pub fn list(&self) -> io::Result<Vec<CacheEntry>> {
        let mut out = Vec::new();
        for algorithm in [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512] {
            let dir = self.root.join(algorithm.name());
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(bytes) = hex::decode(&name) else { continue };
                let meta = entry.metadata()?;
                if !meta.is_file() {
                    continue;
                }
                let digest = ExpectedDigest { algorithm, bytes };
                out.push(CacheEntry { urls: read_urls(&self.urls_path(&digest)), digest, size: meta.len(), path: entry.path() });
            }
        }
        out.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(out)
    }
}

fn read_urls(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|t| t.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::digest::Hasher;

    #[test]
    fn insert_lookup_list_and_drop_corrupt_entries() {
        let root = tempfile::tempdir().unwrap();
        let cache = DownloadCache::new(root.path());
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"abc");
        let digest = h.finish();
        assert!(cache.lookup(&digest).unwrap().is_none());
        let mut tmp = cache.temp_file().unwrap();
        tmp.write_all(b"abc").unwrap();
        let path = cache.insert(tmp, &digest, "https://x.example/abc").unwrap();
        assert_eq!(path, root.path().join("downloads/sha256").join(digest.hex()));
        assert_eq!(cache.lookup(&digest).unwrap(), Some((path.clone(), 3)));
        cache.note_url(&digest, "https://y.example/abc").unwrap();
        cache.note_url(&digest, "https://x.example/abc").unwrap();
        let list = cache.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].urls, ["https://x.example/abc", "https://y.example/abc"]);
        std::fs::write(&path, b"tampered").unwrap();
        assert!(cache.lookup(&digest).unwrap().is_none(), "a corrupt entry is a miss");
        assert!(!path.exists(), "and is removed");
    }
}

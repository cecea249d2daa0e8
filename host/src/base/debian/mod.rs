//! `kiln base build --distro debian:<suite>`: a run image from Debian packages.
//!
//! [`DebianBase::build`] runs these steps, one module each:
//!
//! 1. [`sources`]: the archive URL: `--mirror`, else the first `deb` source of the machine's
//!    apt configuration serving `<suite>` `main`.
//! 2. [`release`]: `dists/<suite>/InRelease`, its OpenPGP signature checked against the
//!    source's `Signed-By` keyring (else Debian's archive keyring); `Release` (unsigned) only
//!    when verification is turned off.
//! 3. [`archive`]: `main/binary-<arch>/Packages.xz` (or `.gz`), SHA256-verified against the
//!    signed Release text; [`packages`] parses it.
//! 4. [`resolve`]: the requested packages plus their `Pre-Depends`/`Depends` closure, minus
//!    [`resolve::DEFAULT_EXCLUDES`]. The resolved set is cached under `<cache>/resolved/`, keyed
//!    by the signed index's SHA256 and the request, so a warm build neither downloads nor parses
//!    the 50 MB index; a new index (any package update) resolves afresh.
//! 5. [`archive`] again: each `.deb`, SHA256-verified against the index, cached
//!    content-addressed under `<kiln cache>/debian/sha256/<hex>`; [`deb`] unpacks its data.
//! 6. [`rootfs`]: users, the CA bundle, `/bin/sh`, os-release: what maintainer scripts
//!    would have made.
//! 7. [`create_base_image`]: one reproducible layer, CNB base labels, user 1000:1000.
//!
//! The image depends only on the chosen packages (names, versions, .deb digests): the same set
//! gives the same digest on any machine and from any mirror; a new version of any package in
//! the archive (a point release, a security update in the suite) gives a new image, which is
//! the run image to rebase onto.

pub mod archive;
pub mod deb;
pub mod packages;
pub mod release;
pub mod resolve;
pub mod rootfs;
pub mod sources;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::image::labels::{BASE_DESCRIPTION_LABEL, BASE_HOMEPAGE_LABEL, BASE_METADATA_LABEL};
use crate::image::{BaseImageOptions, Descriptor, ImageError, ImageStore, create_base_image};
use archive::Archive;
use packages::{Package, PackageIndex};
use release::Release;

/// The packages of a default Debian run image: a C/C++ runtime, zlib, CA certificates, time
/// zones, and a static busybox for `/bin/sh`.
pub const DEFAULT_PACKAGES: &[&str] = &["libc6", "libgcc-s1", "libstdc++6", "zlib1g", "ca-certificates", "tzdata", "busybox-static"];

/// Errors of building a Debian run image; each says what could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebianError {
    /// No apt source serves the suite, and no `--mirror` was given.
    #[error("no apt source in {etc_apt} serves {suite} main; pass --mirror URL (e.g. http://deb.debian.org/debian)")]
    NoSource {
        /// The suite asked for.
        suite: String,
        /// Where the sources were read from.
        etc_apt: PathBuf,
    },
    /// A download failed or did not match its checksum.
    #[error("cannot fetch from the Debian archive: {0}")]
    Fetch(String),
    /// The suite's `InRelease` signature did not verify.
    #[error(
        "the signature of {url} does not verify: {reason}; check the keyring (--keyring) or pass --no-verify-signature to trust the transport alone"
    )]
    Signature {
        /// The InRelease URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A Release or Packages file could not be understood.
    #[error("invalid {what}: {reason}")]
    InvalidIndex {
        /// Which file.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The requested package set could not be resolved.
    #[error("cannot resolve the package set: {0}")]
    Resolve(String),
    /// A `.deb` could not be unpacked.
    #[error("cannot unpack {package}: {reason}")]
    Unpack {
        /// The package.
        package: String,
        /// Why.
        reason: String,
    },
    /// The root filesystem could not be finished or a work dir made.
    #[error("cannot prepare the root filesystem: {0}")]
    Rootfs(String),
    /// The image could not be written.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// Inputs of a Debian run image build. Start from [`DebianBase::new`] and set fields.
#[derive(Debug, Clone)]
pub struct DebianBase {
    /// The suite (codename), e.g. `bookworm`.
    pub suite: String,
    /// Packages to install (with their dependencies). Default [`DEFAULT_PACKAGES`].
    pub packages: Vec<String>,
    /// Packages left out of the dependency closure unless requested. Default
    /// [`resolve::DEFAULT_EXCLUDES`].
    pub exclude: BTreeSet<String>,
    /// The archive URL; `None` reads the apt sources in `etc_apt`.
    pub mirror: Option<String>,
    /// Where apt's configuration is (`/etc/apt`).
    pub etc_apt: PathBuf,
    /// Keyrings for the InRelease signature; empty: the source's `Signed-By`, else
    /// [`release::DEFAULT_KEYRING`].
    pub keyrings: Vec<PathBuf>,
    /// Check the InRelease signature (default true).
    pub verify_signature: bool,
    /// The download cache (`<kiln cache>/debian`).
    pub cache_dir: PathBuf,
    /// Where the root filesystem is assembled (a temporary dir inside, removed after).
    pub work_dir: PathBuf,
    /// `io.buildpacks.base.id`; default `kiln/debian-<suite>`.
    pub id: Option<String>,
}

/// What a build did, for the CLI and tests.
#[derive(Debug, Clone)]
pub struct DebianBaseReport {
    /// The image's manifest descriptor.
    pub descriptor: Descriptor,
    /// The archive used.
    pub mirror: String,
    /// Whether the InRelease signature was verified.
    pub signature_verified: bool,
    /// The Release `Version` (e.g. `12.15`).
    pub release_version: Option<String>,
    /// Packages unpacked: name and version, sorted by name.
    pub packages: Vec<(String, String)>,
    /// Excluded packages that something required.
    pub excluded: Vec<String>,
    /// Resolution warnings.
    pub warnings: Vec<String>,
    /// HTTP requests made.
    pub requests: u64,
    /// Bytes downloaded.
    pub bytes_downloaded: u64,
    /// Files (index, .debs) taken from the cache.
    pub cache_hits: u64,
    /// Time per step: `index`, `download`, `unpack`, `image`.
    pub timings: Vec<(&'static str, Duration)>,
}

/// A resolved package set, as kept in the resolution cache
/// (`<cache>/resolved/<sha256 of the key>.json`).
#[derive(Serialize, serde::Deserialize)]
struct ResolvedSet {
    packages: Vec<Package>,
    excluded: Vec<String>,
    warnings: Vec<String>,
}

/// What a resolution depends on: the signed index's digest and the request.
#[derive(Serialize)]
struct ResolutionKey<'a> {
    index_sha256: &'a str,
    requested: &'a [String],
    exclude: &'a BTreeSet<String>,
}

/// The JSON of the `io.buildpacks.base.metadata` label.
#[derive(Serialize)]
struct BaseMetadata<'a> {
    distro: DistroMetadata<'a>,
    packages: Vec<PackageMetadata<'a>>,
    excluded: &'a [String],
}

#[derive(Serialize)]
struct DistroMetadata<'a> {
    name: &'a str,
    version: &'a str,
    codename: &'a str,
}

#[derive(Serialize)]
struct PackageMetadata<'a> {
    name: &'a str,
    version: &'a str,
    architecture: &'a str,
    sha256: &'a str,
}

/// The Debian architecture name of the machine kiln runs on.
pub fn debian_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        other => other,
    }
}

impl DebianBase {
    /// A build of the default package set from `suite`, reading apt sources from `/etc/apt`.
    pub fn new(suite: &str, cache_dir: PathBuf, work_dir: PathBuf) -> DebianBase {
        DebianBase {
            suite: suite.to_owned(),
            packages: DEFAULT_PACKAGES.iter().map(|s| s.to_string()).collect(),
            exclude: resolve::DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
            mirror: None,
            etc_apt: PathBuf::from("/etc/apt"),
            keyrings: Vec::new(),
            verify_signature: true,
            cache_dir,
            work_dir,
            id: None,
        }
    }

    /// Builds the image, writes it into `store` as `tag` and reports what it did.
    pub fn build(&self, store: &ImageStore, tag: &str) -> Result<DebianBaseReport, DebianError> {
        let _span = tracing::info_span!("debian_base", suite = %self.suite, tag).entered();
        let mut timings = Vec::new();
        let started = Instant::now();

        let (mirror, keyrings) = self.locate()?;
        let archive = Archive::new(&mirror, self.cache_dir.clone()).map_err(DebianError::Fetch)?;
        let (release, signature_verified) = self.fetch_release(&archive, &keyrings)?;
        let resolution = self.resolve(&archive, &release)?;
        for warning in &resolution.warnings {
            tracing::warn!("{warning}");
        }
        let chosen: Vec<&Package> = resolution.packages.iter().collect();
        timings.push(("index", started.elapsed()));

        let started = Instant::now();
        let debs: Vec<(&Package, PathBuf)> = chosen
            .iter()
            .map(|p| {
                tracing::debug!(package = %p.name, version = %p.version, "fetching");
                let path = archive.fetch_verified(&p.filename, &p.sha256, p.size).map_err(DebianError::Fetch)?;
                Ok((*p, path))
            })
            .collect::<Result<_, DebianError>>()?;
        timings.push(("download", started.elapsed()));

        let started = Instant::now();
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| DebianError::Rootfs(format!("cannot create {}: {e}", self.work_dir.display())))?;
        let work = tempfile::Builder::new()
            .prefix("debian-base-")
            .tempdir_in(&self.work_dir)
            .map_err(|e| DebianError::Rootfs(format!("cannot create a dir in {}: {e}", self.work_dir.display())))?;
        let rootfs = work.path().join("rootfs");
        for (package, deb) in &debs {
            deb::unpack_deb(deb, &rootfs).map_err(|reason| DebianError::Unpack { package: package.name.clone(), reason })?;
        }
        let codename = release.codename.clone().unwrap_or_else(|| self.suite.clone());
        let version_id = release.major_version().unwrap_or("").to_owned();
        let distro = rootfs::Distro { id: "debian", version_id: &version_id, codename: &codename };
        rootfs::finish_rootfs(&rootfs, &chosen, &distro).map_err(DebianError::Rootfs)?;
        timings.push(("unpack", started.elapsed()));

        let started = Instant::now();
        let options = self.image_options(&resolution, &distro)?;
        let descriptor = create_base_image(store, &rootfs, tag, &options)?;
        timings.push(("image", started.elapsed()));

        Ok(DebianBaseReport {
            descriptor,
            mirror,
            signature_verified,
            release_version: release.version.clone(),
            packages: resolution.packages.iter().map(|p| (p.name.clone(), p.version.clone())).collect(),
            excluded: resolution.excluded.clone(),
            warnings: resolution.warnings.clone(),
            requests: archive.stats.requests.load(Ordering::Relaxed),
            bytes_downloaded: archive.stats.bytes_downloaded.load(Ordering::Relaxed),
            cache_hits: archive.stats.cache_hits.load(Ordering::Relaxed),
            timings,
        })
    }

    /// The archive URL and the keyrings that sign it.
    fn locate(&self) -> Result<(String, Vec<PathBuf>), DebianError> {
        let default_keyring = || vec![PathBuf::from(release::DEFAULT_KEYRING)];
        if let Some(mirror) = &self.mirror {
            let keyrings = if self.keyrings.is_empty() { default_keyring() } else { self.keyrings.clone() };
            return Ok((mirror.trim_end_matches('/').to_owned(), keyrings));
        }
        let sources = sources::read_apt_sources(&self.etc_apt);
        let source = sources::find_source(&sources, &self.suite, "main")
            .ok_or_else(|| DebianError::NoSource { suite: self.suite.clone(), etc_apt: self.etc_apt.clone() })?;
        let keyrings = if !self.keyrings.is_empty() {
            self.keyrings.clone()
        } else if let Some(signed_by) = &source.signed_by {
            vec![signed_by.clone()]
        } else {
            default_keyring()
        };
        Ok((source.uri.clone(), keyrings))
    }

    fn fetch_release(&self, archive: &Archive, keyrings: &[PathBuf]) -> Result<(Release, bool), DebianError> {
        let dists = format!("dists/{}", self.suite);
        let inrelease = archive.get(&format!("{dists}/InRelease")).map_err(DebianError::Fetch)?;
        let (text, verified) = match (inrelease, self.verify_signature) {
            (Some(bytes), true) => {
                let text = String::from_utf8_lossy(&bytes);
                let signed = release::verify_inrelease(&text, keyrings)
                    .map_err(|reason| DebianError::Signature { url: archive.url(&format!("{dists}/InRelease")), reason })?;
                (signed, true)
            }
            (Some(bytes), false) => (release::unverified_inrelease_text(&String::from_utf8_lossy(&bytes)), false),
            (None, true) => {
                return Err(DebianError::Signature {
                    url: archive.url(&format!("{dists}/InRelease")),
                    reason: "the archive has no InRelease file (a detached Release.gpg is not supported)".to_owned(),
                });
            }
            (None, false) => {
                let bytes = archive
                    .get(&format!("{dists}/Release"))
                    .map_err(DebianError::Fetch)?
                    .ok_or_else(|| DebianError::Fetch(format!("{} has neither InRelease nor Release", archive.url(&dists))))?;
                (String::from_utf8_lossy(&bytes).into_owned(), false)
            }
        };
        if !verified {
            tracing::warn!("the Release file's signature is not checked (--no-verify-signature): trusting the transport");
        }
        let release = Release::parse(&text).map_err(|reason| DebianError::InvalidIndex { what: format!("{dists}/Release"), reason })?;
        if let Some(codename) = &release.codename
            && codename != &self.suite
            && release.suite.as_deref() != Some(self.suite.as_str())
        {
            return Err(DebianError::InvalidIndex {
                what: format!("{dists}/Release"),
                reason: format!("it is for {codename}, not {}", self.suite),
            });
        }
        Ok((release, verified))
    }

    /// The package set: from the resolution cache when the same request was resolved against
    /// the same (signed) `Packages` file before, else by fetching and parsing the index.
    fn resolve(&self, archive: &Archive, release: &Release) -> Result<ResolvedSet, DebianError> {
        let (name, file) = self.index_file(release)?;
        let key = ResolutionKey { index_sha256: &file.sha256, requested: &self.packages, exclude: &self.exclude };
        let key = serde_json::to_vec(&key).map(|json| hex::encode(Sha256::digest(json))).unwrap_or_default();
        let cached = self.cache_dir.join("resolved").join(format!("{key}.json"));
        if let Some(set) = std::fs::read(&cached).ok().and_then(|b| serde_json::from_slice::<ResolvedSet>(&b).ok()) {
            tracing::debug!(path = %cached.display(), "package set from the resolution cache");
            return Ok(set);
        }
        let index = self.fetch_index(archive, &name, file)?;
        let resolution = resolve::resolve(&index, &self.packages, &self.exclude).map_err(DebianError::Resolve)?;
        let set = ResolvedSet {
            packages: resolution.packages.iter().map(|p| (*p).clone()).collect(),
            excluded: resolution.excluded,
            warnings: resolution.warnings,
        };
        // The cache is an optimization: failing to write it is not an error.
        if let (Some(dir), Ok(json)) = (cached.parent(), serde_json::to_vec_pretty(&set)) {
            let written = std::fs::create_dir_all(dir).and_then(|()| {
                let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
                std::io::Write::write_all(&mut tmp, &json)?;
                tmp.persist(&cached).map(drop).map_err(|e| e.error)
            });
            if let Err(e) = written {
                tracing::warn!(path = %cached.display(), "cannot write the resolution cache: {e}");
            }
        }
        Ok(set)
    }

    /// The best `Packages` file the Release lists for this machine's architecture.
    fn index_file<'r>(&self, release: &'r Release) -> Result<(String, &'r release::ReleaseFile), DebianError> {
        let base = format!("main/binary-{}/Packages", debian_architecture());
        [".xz", ".gz", ""]
            .iter()
            .find_map(|ext| {
                let name = format!("{base}{ext}");
                release.sha256.get(&name).map(|f| (name, f))
            })
            .ok_or_else(|| DebianError::InvalidIndex {
                what: format!("dists/{}/Release", self.suite),
                reason: format!("it lists no {base}(.xz|.gz)"),
            })
    }

    fn fetch_index(&self, archive: &Archive, name: &str, file: &release::ReleaseFile) -> Result<PackageIndex, DebianError> {
        let what = format!("dists/{}/{name}", self.suite);
        let path = archive.fetch_verified(&format!("dists/{}/{name}", self.suite), &file.sha256, file.size).map_err(DebianError::Fetch)?;
        let text = decompress(&path, name).map_err(|reason| DebianError::InvalidIndex { what: what.clone(), reason })?;
        PackageIndex::parse(&text).map_err(|reason| DebianError::InvalidIndex { what, reason })
    }

    fn image_options(&self, resolution: &ResolvedSet, distro: &rootfs::Distro<'_>) -> Result<BaseImageOptions, DebianError> {
        let metadata = BaseMetadata {
            distro: DistroMetadata { name: distro.id, version: distro.version_id, codename: distro.codename },
            packages: resolution
                .packages
                .iter()
                .map(|p| PackageMetadata { name: &p.name, version: &p.version, architecture: &p.architecture, sha256: &p.sha256 })
                .collect(),
            excluded: &resolution.excluded,
        };
        let metadata = serde_json::to_string(&metadata)
            .map_err(|source| ImageError::InvalidJson { what: format!("label {BASE_METADATA_LABEL}"), source })?;
        let mut options = BaseImageOptions {
            user: rootfs::CNB_USER.to_owned(),
            id: Some(self.id.clone().unwrap_or_else(|| format!("kiln/debian-{}", self.suite))),
            distro_name: Some(distro.id.to_owned()),
            distro_version: Some(distro.version_id.to_owned()).filter(|v| !v.is_empty()),
            env: vec!["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_owned()],
            ..BaseImageOptions::default()
        };
        options.labels.insert(BASE_METADATA_LABEL.to_owned(), metadata);
        options.labels.insert(BASE_HOMEPAGE_LABEL.to_owned(), "https://www.debian.org/".to_owned());
        options.labels.insert(
            BASE_DESCRIPTION_LABEL.to_owned(),
            format!("Debian {} ({}) packages, unpacked by kiln: {}", distro.version_id, distro.codename, self.packages.join(", ")),
        );
        Ok(options)
    }
}

/// The text of a downloaded `Packages` file, decompressed by its name's extension.
fn decompress(path: &Path, name: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let file = std::io::BufReader::new(file);
    let mut reader: Box<dyn Read> = if name.ends_with(".xz") {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(file))
    } else if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| format!("cannot decompress {}: {e}", path.display()))?;
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

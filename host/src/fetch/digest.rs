//! Expected digests: `sha256:<hex>` (OCI style) or a Subresource Integrity string
//! (`sha512-<base64>`, `sha256-<base64>`, as npm's `integrity` field has them).

use std::fmt;
use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// A hash algorithm kiln verifies downloads with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384 (SRI only).
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The lower-case name used in paths and `sha256:` digests.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The CycloneDX `hashes[].alg` name.
    pub fn cyclonedx(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha384 => "SHA-384",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    fn len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
        }
    }
}

/// A digest a download must match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpectedDigest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The raw hash bytes.
    pub bytes: Vec<u8>,
}

impl ExpectedDigest {
    /// Parse `sha256:<64 hex>` or an SRI string `sha256-`/`sha384-`/`sha512-<base64>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(hex_part) = text.strip_prefix("sha256:") {
            let bytes = hex::decode(hex_part).map_err(|_| format!("{text:?}: sha256: must be followed by 64 hex digits"))?;
            return Self::new(Algorithm::Sha256, bytes, text);
        }
        if let Some((alg, b64)) = text.split_once('-') {
            let algorithm = match alg {
                "sha256" => Algorithm::Sha256,
                "sha384" => Algorithm::Sha384,
                "sha512" => Algorithm::Sha512,
                _ => return Err(format!("{text:?}: unknown integrity algorithm {alg:?}; use sha256, sha384 or sha512")),
            };
            // SRI allows `?options` after the hash; none are meaningful here.
            let b64 = b64.split('?').next().unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("{text:?}: the integrity hash is not base64 ({e})"))?;
            return Self::new(algorithm, bytes, text);
        }
        Err(format!("{text:?} is not a digest; use sha256:<64 hex digits> or an integrity string like sha512-<base64>"))
    }

    fn new(algorithm: Algorithm, bytes: Vec<u8>, text: &str) -> Result<Self, String> {
        if bytes.len() != algorithm.len() {
            return Err(format!("{text:?}: a {} hash is {} bytes, this one is {}", algorithm.name(), algorithm.len(), bytes.len()));
        }
        Ok(ExpectedDigest { algorithm, bytes })
    }

    /// The hash as lower-case hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    /// The canonical text: `sha256:<hex>` for SHA-256, SRI (`sha512-<base64>`) otherwise.
    pub fn canonical(&self) -> String {
        match self.algorithm {
            Algorithm::Sha256 => format!("sha256:{}", self.hex()),
            other => format!("{}-{}", other.name(), base64::engine::general_purpose::STANDARD.encode(&self.bytes)),
        }
    }

    /// A hasher for this digest's algorithm.
    pub fn hasher(&self) -> Hasher {
        Hasher::new(self.algorithm)
    }

    /// Hash the file at `path` and compare.
    pub fn matches_file(&self, path: &Path) -> std::io::Result<bool> {
        let mut hasher = self.hasher();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher.finish() == *self)
    }
}

impl fmt::Display for ExpectedDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// A streaming hash of one of the [`Algorithm`]s.
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// SHA-384.
    Sha384(Sha384),
    /// SHA-512.
    Sha512(Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> ExpectedDigest {
        let (algorithm, bytes) = match self {
            Hasher::Sha256(h) => (Algorithm::Sha256, h.finalize().to_vec()),
            Hasher::Sha384(h) => (Algorithm::Sha384, h.finalize().to_vec()),
            Hasher::Sha512(h) => (Algorithm::Sha512, h.finalize().to_vec()),
        };
        ExpectedDigest { algorithm, bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oci_and_sri_digests_and_rejects_the_rest() {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"hello");
        let d = h.finish();
        assert_eq!(d.canonical(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(ExpectedDigest::parse(&d.canonical()).unwrap(), d);

        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"hello");
        let d512 = h.finish();
        let sri = d512.canonical();
        assert!(
            sri.starts_with("sha512-m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw=="),
            "{sri}"
        );
        assert_eq!(ExpectedDigest::parse(&sri).unwrap(), d512);
        assert_eq!(ExpectedDigest::parse(&format!("{sri}?foo")).unwrap(), d512);
        let sri256 = format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(&d.bytes));
        assert_eq!(ExpectedDigest::parse(&sri256).unwrap(), d);

        for bad in ["", "md5-abc", "sha256:xyz", "sha256:abcd", "sha512-!!!", "deadbeef", "sha1-AAAA"] {
            assert!(ExpectedDigest::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}

//! A suite's `Release` file: which index files exist and their SHA256.
//!
//! `InRelease` is the `Release` text in an OpenPGP cleartext signature. [`verify_inrelease`]
//! checks that signature against the archive keyrings (the source's `Signed-By`, else
//! `/usr/share/keyrings/debian-archive-keyring.gpg`) and returns only the signed text, so
//! nothing outside the signature is ever parsed. Every file fetched later (the `Packages`
//! index, then each `.deb` through it) is SHA256-verified against this text: the signature
//! is the one root of trust, as with apt.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};

/// One file listed in a `Release` file's `SHA256` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Lowercase hex SHA256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The parts of a `Release` file kiln uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    /// `Codename`, e.g. `bookworm`.
    pub codename: Option<String>,
    /// `Suite`, e.g. `oldstable`.
    pub suite: Option<String>,
    /// `Version`, e.g. `12.15`.
    pub version: Option<String>,
    /// `Date`.
    pub date: Option<String>,
    /// The `SHA256` field: path below `dists/<suite>/` -> hash and size.
    pub sha256: BTreeMap<String, ReleaseFile>,
}

impl Release {
    /// Parses the text of a `Release` file (or the signed text of an `InRelease`).
    pub fn parse(text: &str) -> Result<Release, String> {
        let mut release = Release::default();
        let mut in_sha256 = false;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(entry) = line.strip_prefix(' ') {
                if in_sha256 {
                    let mut parts = entry.split_whitespace();
                    let (Some(hash), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                        return Err(format!("malformed SHA256 line {line:?}"));
                    };
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!("malformed SHA256 hash in {line:?}"));
                    }
                    let size = size.parse().map_err(|_| format!("malformed size in {line:?}"))?;
                    release.sha256.insert(path.to_owned(), ReleaseFile { sha256: hash.to_ascii_lowercase(), size });
                }
                continue;
            }
            in_sha256 = false;
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let slot = match key {
                "SHA256" => {
                    in_sha256 = true;
                    continue;
                }
                "Codename" => &mut release.codename,
                "Suite" => &mut release.suite,
                "Version" => &mut release.version,
                "Date" => &mut release.date,
                _ => continue,
            };
            *slot = Some(value.to_owned());
        }
        if release.sha256.is_empty() {
            return Err("it has no SHA256 field".to_owned());
        }
        Ok(release)
    }

    /// The major version (`12` of `12.15`), the `VERSION_ID` of the distribution.
    pub fn major_version(&self) -> Option<&str> {
        self.version.as_deref().map(|v| v.split('.').next().unwrap_or(v))
    }
}

/// The keyring apt's Debian sources use when a source names none.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// Checks the cleartext signature of an `InRelease` file against the keys in `keyrings`
/// (binary or armored OpenPGP keyring files) and returns the signed text with `\n` line
/// endings. Fails when no signature verifies with any primary key or subkey.
pub fn verify_inrelease(inrelease: &str, keyrings: &[PathBuf]) -> Result<String, String> {
    let (message, _) =
        CleartextSignedMessage::from_string(inrelease).map_err(|e| format!("it is not an OpenPGP cleartext-signed message: {e}"))?;
    let mut keys = Vec::new();
    for path in keyrings {
        keys.extend(read_keyring(path)?);
    }
    if keys.is_empty() {
        return Err("the keyrings hold no public key".to_owned());
    }
    let verified = keys
        .iter()
        .any(|key| message.verify(&key.primary_key).is_ok() || key.public_subkeys.iter().any(|sub| message.verify(&sub.key).is_ok()));
    if !verified {
        let names: Vec<String> = keyrings.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("no signature verifies with a key of {}", names.join(", ")));
    }
    Ok(message.signed_text().replace("\r\n", "\n"))
}

fn read_keyring(path: &Path) -> Result<Vec<SignedPublicKey>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read keyring {}: {e}", path.display()))?;
    let (keys, _) =
        SignedPublicKey::from_reader_many(BufReader::new(file)).map_err(|e| format!("cannot parse keyring {}: {e}", path.display()))?;
    // A keyring may hold keys this OpenPGP implementation cannot parse (old algorithms);
    // they are skipped, the others still count.
    Ok(keys.filter_map(Result::ok).collect())
}

/// The text of an `InRelease` file without checking its signature: the part between the
/// cleartext header and the signature, dash-unescaped. Used only when the user turned
/// verification off.
pub fn unverified_inrelease_text(inrelease: &str) -> String {
    let mut out = String::new();
    let mut lines = inrelease.lines();
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break; // end of the armor headers (`Hash: SHA256`)
        }
    }
    for line in lines {
        if line.starts_with("-----BEGIN PGP SIGNATURE-----") {
            break;
        }
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: &str = "\
Origin: Debian
Suite: oldstable
Version: 12.15
Codename: bookworm
Date: Sat, 11 Jul 2026 10:16:37 UTC
MD5Sum:
 f230d61720e789abf5df55d6026230c6 50060337 main/binary-amd64/Packages
SHA256:
 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages
 9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz
";

    #[test]
    fn parses_release_fields_and_sha256() {
        let r = Release::parse(RELEASE).unwrap();
        assert_eq!(r.codename.as_deref(), Some("bookworm"));
        assert_eq!(r.suite.as_deref(), Some("oldstable"));
        assert_eq!(r.major_version(), Some("12"));
        assert_eq!(r.sha256.len(), 2);
        assert_eq!(
            r.sha256["main/binary-amd64/Packages.xz"],
            ReleaseFile { sha256: "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5".into(), size: 8790396 }
        );
        assert!(Release::parse("Origin: Debian\n").unwrap_err().contains("SHA256"));
        assert!(Release::parse("SHA256:\n xyz 1 a\n").is_err());
    }

    #[test]
    fn unverified_text_strips_the_armor() {
        let signed = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n{RELEASE}- -dash\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n"
        );
        let text = unverified_inrelease_text(&signed);
        assert!(text.starts_with("Origin: Debian\n"));
        assert!(text.ends_with("-dash\n"));
        assert_eq!(Release::parse(&text).unwrap().sha256.len(), 2);
    }

    #[test]
    fn a_bad_signature_is_refused() {
        let keyring = Path::new(DEFAULT_KEYRING);
        if !keyring.exists() {
            assert!(std::env::var_os("CI").is_none(), "{DEFAULT_KEYRING} (debian-archive-keyring) is required in CI");
            eprintln!("skipping: {DEFAULT_KEYRING} is not installed");
            return;
        }
        let forged = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nCodename: bookworm\n-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEETLUBkCB7R1ij9zp5btDnuCZD4TEFAmpSGCcACgkQbtDnuCZD\n=AAAA\n-----END PGP SIGNATURE-----\n";
        assert!(verify_inrelease(forged, &[keyring.to_path_buf()]).is_err());
    }
}

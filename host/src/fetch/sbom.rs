//! The image's SBOM: a CycloneDX 1.5 JSON document listing every fetched artifact.
//!
//! Each fetch becomes a component of type `file`: its name (the URL's last path
//! segment), its digest as a hash, its URL as a `distribution` external reference, and
//! the buildpack that fetched it and its size as properties. The document has no
//! timestamp, and lists components sorted, so the same fetches give the same bytes (and
//! the image stays reproducible). Where the bytes came from (network, cache, mirror) is
//! deliberately left out for the same reason; it is in the build's events.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::record::FetchRecord;

/// Where the SBOM is in the image.
pub const SBOM_IMAGE_PATH: &str = "/layers/sbom/launch/sbom.cdx.json";
/// The image label holding the SBOM layer's diffID.
pub const SBOM_LABEL: &str = "io.kiln.sbom";
/// Property names kiln puts on components.
pub const PROPERTY_BUILDPACK: &str = "io.kiln.buildpack";
/// The size property.
pub const PROPERTY_SIZE: &str = "io.kiln.size";

/// The CycloneDX document for `records`, or `None` when nothing was fetched.
pub fn document(records: &[FetchRecord]) -> Option<Vec<u8>> {
    if records.is_empty() {
        return None;
    }
    let mut records: Vec<&FetchRecord> = records.iter().collect();
    records.sort_by(|a, b| (&a.buildpack, &a.url, &a.digest).cmp(&(&b.buildpack, &b.url, &b.digest)));
    records.dedup_by(|a, b| a.buildpack == b.buildpack && a.url == b.url && a.digest == b.digest);
    let components: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "type": "file",
                "bom-ref": format!("{}:{}:{}", r.buildpack, r.digest, r.url),
                "name": file_name(&r.url),
                "hashes": [{"alg": r.algorithm, "content": r.hex}],
                "externalReferences": [{"type": "distribution", "url": r.url}],
                "properties": [
                    {"name": PROPERTY_BUILDPACK, "value": r.buildpack},
                    {"name": PROPERTY_SIZE, "value": r.size.to_string()},
                ],
            })
        })
        .collect();
    let serial = serial_number(&components);
    let doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "kiln", "version": env!("CARGO_PKG_VERSION")}]},
        },
        "components": components,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("a JSON value serializes");
    bytes.push(b'\n');
    Some(bytes)
}

/// The last non-empty path segment of a URL, or the URL.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map(|(_, rest)| rest).unwrap_or(path);
    match path.split_once('/') {
        Some((_, rest)) => rest.rsplit('/').find(|s| !s.is_empty()).unwrap_or(url).to_string(),
        None => url.to_string(),
    }
}

/// A UUID URN derived from the content, so equal SBOMs have equal serial numbers.
fn serial_number(components: &[Value]) -> String {
    let hash = Sha256::digest(serde_json::to_vec(components).expect("a JSON value serializes"));
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x50; // version 5 layout (name-based)
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::record::FetchOrigin;

    fn record(bp: &str, url: &str, origin: FetchOrigin) -> FetchRecord {
        FetchRecord {
            buildpack: bp.into(),
            url: url.into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            algorithm: "SHA-256".into(),
            hex: "ab".repeat(32),
            size: 42,
            origin,
        }
    }

    #[test]
    fn lists_each_fetch_once_sorted_and_reproducibly() {
        assert!(document(&[]).is_none());
        let a = record("b/two", "https://x.example/dl/tool-1.0.tgz?sig=1", FetchOrigin::Network);
        let b = record("a/one", "https://y.example/pkg.deb", FetchOrigin::Cache);
        let first = document(&[a.clone(), b.clone(), a.clone()]).unwrap();
        let again = document(&[record("a/one", "https://y.example/pkg.deb", FetchOrigin::Network), a]).unwrap();
        assert_eq!(first, again, "origin and order do not change the document");
        let doc: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        let components = doc["components"].as_array().unwrap();
        assert_eq!(components.len(), 2);
        assert_eq!(components[0]["name"], "pkg.deb");
        assert_eq!(components[1]["name"], "tool-1.0.tgz");
        assert_eq!(components[1]["hashes"][0]["alg"], "SHA-256");
        assert_eq!(components[1]["externalReferences"][0]["url"], "https://x.example/dl/tool-1.0.tgz?sig=1");
        assert_eq!(components[1]["properties"][0]["value"], "b/two");
        assert!(doc["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
    }
}

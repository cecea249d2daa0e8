//! The image's SBOM: a CycloneDX 1.5 JSON document listing every fetched artifact and the
//! components buildpacks describe in their own CycloneDX files.
//!
//! Each fetch becomes a component of type `file`: its name (the URL's last path
//! segment), its digest as a hash, its URL as a `distribution` external reference, and
//! the buildpack that fetched it and its size as properties. A buildpack's own file
//! (`<layers>/<layer>.sbom.cdx.json`, [buildpack spec, Bill of Materials](https://github.com/buildpacks/spec/blob/main/buildpack.md#bill-of-materials))
//! contributes its `components`, checked by [`buildpack_components`] as hostile input.
//! Every component names the layers it belongs to (`io.kiln.layer` =
//! `<buildpack id>/<layer name>`, repeated), so the next build can carry a kept layer's
//! components over ([`parse_document`]) even though nothing was fetched again.
//!
//! The document has no timestamp, its components are deduplicated (by buildpack and
//! content; a fetch's content is its URL and digest) and sorted (by buildpack and name), so the same components
//! give the same bytes (and the image stays reproducible). Where the bytes came from
//! (network, cache, mirror) is deliberately left out for the same reason; it is in the
//! build's events.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
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
/// The layer a component belongs to, `<buildpack id>/<layer name>`; repeated for several.
pub const PROPERTY_LAYER: &str = "io.kiln.layer";
/// Set to [`SOURCE_BUILDPACK`] on components that came from a buildpack's own SBOM file.
pub const PROPERTY_SOURCE: &str = "io.kiln.source";
/// The value of [`PROPERTY_SOURCE`] for a buildpack's own components.
pub const SOURCE_BUILDPACK: &str = "buildpack-sbom";
/// Largest buildpack SBOM file kiln reads.
pub const MAX_BUILDPACK_SBOM_BYTES: u64 = 8 << 20;
/// Most components one buildpack SBOM file may list.
pub const MAX_BUILDPACK_SBOM_COMPONENTS: usize = 20_000;
/// Largest previous SBOM document kiln reads back.
pub const MAX_DOCUMENT_BYTES: u64 = 256 << 20;

/// One component of the document and the layers it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct SbomComponent {
    /// The buildpack it came from.
    pub buildpack: String,
    /// Names of that buildpack's layers it belongs to (empty: none known).
    pub layers: BTreeSet<String>,
    /// The CycloneDX component, without `io.kiln.layer` properties.
    pub value: Value,
}

/// The component for one fetch (no layer properties).
pub fn fetch_component(record: &FetchRecord) -> Value {
    json!({
        "type": "file",
        "bom-ref": format!("{}:{}:{}", record.buildpack, record.digest, record.url),
        "name": file_name(&record.url),
        "hashes": [{"alg": record.algorithm, "content": record.hex}],
        "externalReferences": [{"type": "distribution", "url": record.url}],
        "properties": [
            {"name": PROPERTY_BUILDPACK, "value": record.buildpack},
            {"name": PROPERTY_SIZE, "value": record.size.to_string()},
        ],
    })
}

/// Whether a component came from a buildpack's own SBOM file (not from a fetch).
pub fn is_from_buildpack_file(value: &Value) -> bool {
    properties(value).any(|(name, v)| name == PROPERTY_SOURCE && v == SOURCE_BUILDPACK)
}

/// The identity of a component for deduplication: its canonical JSON (keys sorted).
pub fn component_key(value: &Value) -> String {
    serde_json::to_string(&canonical(value)).expect("a JSON value serializes")
}

/// Merge components that are the same (same buildpack and content) into one listing the
/// union of their layers, sorted by buildpack, name and content.
pub fn merge(components: impl IntoIterator<Item = SbomComponent>) -> Vec<SbomComponent> {
    let mut merged: BTreeMap<(String, String, String), SbomComponent> = BTreeMap::new();
    for component in components {
        let name = component.value.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        let key = (component.buildpack.clone(), name, component_key(&component.value));
        match merged.get_mut(&key) {
            Some(existing) => existing.layers.extend(component.layers),
            None => {
                let value = canonical(&component.value);
                merged.insert(key, SbomComponent { value, ..component });
            }
        }
    }
    merged.into_values().collect()
}

/// The CycloneDX document for `components` (merged and sorted here), or `None` when there
/// are none.
pub fn document(components: &[SbomComponent]) -> Option<Vec<u8>> {
    if components.is_empty() {
        return None;
    }
    let mut seen_refs = BTreeSet::new();
    let components: Vec<Value> = merge(components.iter().cloned())
        .into_iter()
        .map(|c| {
            let mut value = c.value;
            if let Some(props) = value.get_mut("properties").and_then(Value::as_array_mut) {
                props.extend(c.layers.iter().map(|l| json!({"name": PROPERTY_LAYER, "value": format!("{}/{l}", c.buildpack)})));
            } else if !c.layers.is_empty()
                && let Some(object) = value.as_object_mut()
            {
                let props = c.layers.iter().map(|l| json!({"name": PROPERTY_LAYER, "value": format!("{}/{l}", c.buildpack)}));
                object.insert("properties".into(), Value::Array(props.collect()));
            }
            unique_bom_refs(&mut value, &mut seen_refs);
            value
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

/// Read back a document kiln wrote (a previous image's SBOM): its components, each with
/// the buildpack and layers its properties name. Components without a buildpack property
/// are not kiln's and are left out.
pub fn parse_document(bytes: &[u8]) -> Result<Vec<SbomComponent>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if doc.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err("not a CycloneDX document (no \"bomFormat\": \"CycloneDX\")".into());
    }
    let Some(list) = doc.get("components").and_then(Value::as_array) else { return Ok(Vec::new()) };
    let mut components = Vec::new();
    for value in list {
        let Some(buildpack) = properties(value).find(|(name, _)| *name == PROPERTY_BUILDPACK).map(|(_, v)| v.to_string()) else {
            continue;
        };
        let prefix = format!("{buildpack}/");
        let layers: BTreeSet<String> = properties(value)
            .filter(|(name, _)| *name == PROPERTY_LAYER)
            .filter_map(|(_, v)| v.strip_prefix(&prefix))
            .map(str::to_string)
            .collect();
        let mut value = value.clone();
        if let Some(props) = value.get_mut("properties").and_then(Value::as_array_mut) {
            props.retain(|p| p.get("name").and_then(Value::as_str) != Some(PROPERTY_LAYER));
        }
        components.push(SbomComponent { buildpack, layers, value });
    }
    Ok(components)
}

/// The components of a buildpack's own CycloneDX file, checked as hostile input: it must
/// be a CycloneDX JSON object whose `components` (if any) are objects, at most
/// [`MAX_BUILDPACK_SBOM_COMPONENTS`]. Each component loses any `io.kiln.*` property the
/// buildpack set, gains [`PROPERTY_BUILDPACK`] and [`PROPERTY_SOURCE`], and its
/// `bom-ref`s (nested ones too) are prefixed with `<buildpack>/<scope>:` so that they
/// cannot collide with another buildpack's. The file's other sections (`dependencies`,
/// `metadata`, ...) are not carried into the image's document.
pub fn buildpack_components(bytes: &[u8], buildpack: &str, scope: &str) -> Result<Vec<Value>, String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("it is not valid JSON: {e}"))?;
    let Some(object) = doc.as_object() else { return Err("it is not a JSON object".into()) };
    if object.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err("it has no \"bomFormat\": \"CycloneDX\"".into());
    }
    let list = match object.get("components") {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("its \"components\" is not an array".into()),
    };
    if list.len() > MAX_BUILDPACK_SBOM_COMPONENTS {
        return Err(format!("it lists {} components; the limit is {MAX_BUILDPACK_SBOM_COMPONENTS}", list.len()));
    }
    let ref_prefix = format!("{buildpack}/{scope}:");
    list.iter()
        .enumerate()
        .map(|(i, component)| {
            let Some(object) = component.as_object() else { return Err(format!("component {i} is not a JSON object")) };
            let mut object = object.clone();
            let mut props: Vec<Value> = match object.remove("properties") {
                None => Vec::new(),
                Some(Value::Array(props)) => props
                    .into_iter()
                    .filter(|p| !p.get("name").and_then(Value::as_str).is_some_and(|n| n.starts_with("io.kiln.")))
                    .collect(),
                Some(_) => return Err(format!("component {i}: \"properties\" is not an array")),
            };
            props.push(json!({"name": PROPERTY_BUILDPACK, "value": buildpack}));
            props.push(json!({"name": PROPERTY_SOURCE, "value": SOURCE_BUILDPACK}));
            object.insert("properties".into(), Value::Array(props));
            let mut value = Value::Object(object);
            prefix_bom_refs(&mut value, &ref_prefix);
            Ok(value)
        })
        .collect()
}

/// `(name, value)` of each string property of a component.
fn properties(value: &Value) -> impl Iterator<Item = (&str, &str)> {
    value
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("value")?.as_str()?)))
}

/// The value with every object's keys in sorted order, whatever map serde_json uses.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let sorted: BTreeMap<&String, Value> = object.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Prefix the `bom-ref` of a component and of its nested components.
fn prefix_bom_refs(value: &mut Value, prefix: &str) {
    if let Some(Value::String(r)) = value.get_mut("bom-ref") {
        *r = format!("{prefix}{r}");
    }
    if let Some(nested) = value.get_mut("components").and_then(Value::as_array_mut) {
        nested.iter_mut().for_each(|c| prefix_bom_refs(c, prefix));
    }
}

/// Drop a `bom-ref` (here or nested) that an earlier component already used: CycloneDX
/// requires them unique in a document.
fn unique_bom_refs(value: &mut Value, seen: &mut BTreeSet<String>) {
    if let Some(object) = value.as_object_mut() {
        if let Some(Value::String(r)) = object.get("bom-ref")
            && !seen.insert(r.clone())
        {
            object.remove("bom-ref");
        }
        if let Some(nested) = object.get_mut("components").and_then(Value::as_array_mut) {
            nested.iter_mut().for_each(|c| unique_bom_refs(c, seen));
        }
    }
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
            destination: None,
        }
    }

    fn fetched(r: &FetchRecord, layers: &[&str]) -> SbomComponent {
        SbomComponent { buildpack: r.buildpack.clone(), layers: layers.iter().map(|l| l.to_string()).collect(), value: fetch_component(r) }
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn lists_each_fetch_once_sorted_and_reproducibly() {
        assert!(document(&[]).is_none());
        let a = record("b/two", "https://x.example/dl/tool-1.0.tgz?sig=1", FetchOrigin::Network);
        let b = record("a/one", "https://y.example/pkg.deb", FetchOrigin::Cache);
        let first = document(&[fetched(&a, &[]), fetched(&b, &[]), fetched(&a, &[])]).unwrap();
        let b_again = record("a/one", "https://y.example/pkg.deb", FetchOrigin::Network);
        let again = document(&[fetched(&b_again, &[]), fetched(&a, &[])]).unwrap();
        assert_eq!(first, again, "origin and order do not change the document");
        let doc = parse(&first);
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

    #[test]
    fn layers_are_merged_listed_and_read_back() {
        let a = record("org/java", "https://x.example/jdk.tgz", FetchOrigin::Network);
        let doc = document(&[fetched(&a, &["jre"]), fetched(&a, &["jdk"]), fetched(&a, &["jre"])]).unwrap();
        let value = parse(&doc);
        let props = value["components"][0]["properties"].as_array().unwrap();
        let layers: Vec<&str> = props.iter().filter(|p| p["name"] == PROPERTY_LAYER).map(|p| p["value"].as_str().unwrap()).collect();
        assert_eq!(layers, ["org/java/jdk", "org/java/jre"], "one component, both layers, sorted");

        let back = parse_document(&doc).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].buildpack, "org/java");
        assert_eq!(back[0].layers, BTreeSet::from(["jdk".to_string(), "jre".to_string()]));
        assert_eq!(component_key(&back[0].value), component_key(&fetch_component(&a)), "read back = written");
        assert_eq!(document(&back).unwrap(), doc, "a document read back and written again is the same bytes");

        // A kept layer's component alone: the same component with one layer.
        let only_jre = SbomComponent { layers: BTreeSet::from(["jre".to_string()]), ..back[0].clone() };
        let again = document(&[only_jre]).unwrap();
        assert!(String::from_utf8(again).unwrap().contains("org/java/jre"));
    }

    #[test]
    fn reading_back_refuses_non_cyclonedx_and_skips_foreign_components() {
        assert!(parse_document(b"not json").is_err());
        assert!(parse_document(br#"{"bomFormat": "SPDX"}"#).is_err());
        let foreign = br#"{"bomFormat": "CycloneDX", "components": [{"name": "x"}, {"name": "y", "properties": [{"name": "io.kiln.buildpack", "value": "a"}, {"name": "io.kiln.layer", "value": "other/l"}]}]}"#;
        let back = parse_document(foreign).unwrap();
        assert_eq!(back.len(), 1);
        assert!(back[0].layers.is_empty(), "a layer of another buildpack is not this buildpack's");
    }

    #[test]
    fn buildpack_files_are_checked_and_cannot_spoof_kiln() {
        let file = br#"{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
            {"type": "library", "name": "left-pad", "version": "1.3.0", "bom-ref": "pkg:npm/left-pad@1.3.0",
             "properties": [{"name": "io.kiln.buildpack", "value": "someone/else"}, {"name": "io.kiln.layer", "value": "x/y"}, {"name": "mine", "value": "1"}],
             "components": [{"name": "inner", "bom-ref": "inner"}]}
        ], "dependencies": [{"ref": "pkg:npm/left-pad@1.3.0"}]}"#;
        let components = buildpack_components(file, "org/node", "modules").unwrap();
        assert_eq!(components.len(), 1);
        let c = &components[0];
        assert_eq!(c["bom-ref"], "org/node/modules:pkg:npm/left-pad@1.3.0");
        assert_eq!(c["components"][0]["bom-ref"], "org/node/modules:inner");
        let props: Vec<(&str, &str)> = properties(c).collect();
        assert_eq!(props, [("mine", "1"), (PROPERTY_BUILDPACK, "org/node"), (PROPERTY_SOURCE, SOURCE_BUILDPACK)]);
        assert!(is_from_buildpack_file(c));
        assert!(!is_from_buildpack_file(&fetch_component(&record("a", "https://x/y", FetchOrigin::Cache))));

        for (bad, why) in [
            (&b"{"[..], "valid JSON"),
            (b"[]", "JSON object"),
            (br#"{"bomFormat": "SPDX"}"#, "bomFormat"),
            (br#"{"bomFormat": "CycloneDX", "components": {}}"#, "not an array"),
            (br#"{"bomFormat": "CycloneDX", "components": [1]}"#, "component 0"),
            (br#"{"bomFormat": "CycloneDX", "components": [{"properties": 3}]}"#, "properties"),
        ] {
            let error = buildpack_components(bad, "a", "l").unwrap_err();
            assert!(error.contains(why), "{error} should mention {why}");
        }
        let many = format!(r#"{{"bomFormat": "CycloneDX", "components": [{}]}}"#, vec!["{}"; MAX_BUILDPACK_SBOM_COMPONENTS + 1].join(","));
        assert!(buildpack_components(many.as_bytes(), "a", "l").unwrap_err().contains("limit"));
    }

    #[test]
    fn duplicate_bom_refs_are_dropped_from_later_components() {
        let one = json!({"name": "a", "bom-ref": "same", "properties": []});
        let two = json!({"name": "b", "bom-ref": "same", "properties": []});
        let doc = document(&[
            SbomComponent { buildpack: "x".into(), layers: BTreeSet::new(), value: one },
            SbomComponent { buildpack: "x".into(), layers: BTreeSet::new(), value: two },
        ])
        .unwrap();
        let doc = parse(&doc);
        assert_eq!(doc["components"][0]["bom-ref"], "same");
        assert!(doc["components"][1].get("bom-ref").is_none());
    }
}

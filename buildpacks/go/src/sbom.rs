//! The vendored modules in the image's SBOM.
//!
//! The toolchain wheel is recorded by kiln's `fetch` (URL, digest, size). Vendored modules
//! are never fetched, they are part of the app's source, so kiln/go describes them in the
//! `bin` layer's CycloneDX file (`<layers>/bin.sbom.cdx.json`, the buildpack spec's
//! per-layer SBOM), which kiln merges into the image SBOM: one `library` component per
//! module of `vendor/modules.txt` with its version and a `pkg:golang/...` purl, and no
//! hash (the module zip's `h1:` hash in go.sum is Go's own dirhash format, which CycloneDX
//! has no algorithm for, and kiln never saw the zip).

use serde_json::{Value, json};

use crate::gomod::VendoredModule;

/// The property naming where a component was read from.
pub const SOURCE_PROPERTY: &str = "kiln-go:source";

/// The CycloneDX document listing `modules`.
pub fn document(modules: &[VendoredModule]) -> Value {
    let components: Vec<Value> = modules
        .iter()
        .map(|m| {
            let mut component = json!({
                "type": "library",
                "bom-ref": format!("go-module:{}@{}", m.path, m.version),
                "name": m.path,
                "properties": [{"name": SOURCE_PROPERTY, "value": "vendor/modules.txt"}],
            });
            if !m.version.is_empty() {
                component["version"] = json!(m.version);
                component["purl"] = json!(format!("pkg:golang/{}@{}", m.path, m.version));
            }
            if let Some(replacement) = &m.replacement {
                component["properties"]
                    .as_array_mut()
                    .expect("an array")
                    .push(json!({"name": "kiln-go:replaced-by", "value": replacement}));
            }
            component
        })
        .collect();
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_vendored_module_is_a_library_with_a_purl() {
        let modules = [
            VendoredModule { path: "github.com/google/uuid".into(), version: "v1.3.0".into(), replacement: None },
            VendoredModule { path: "example.com/local".into(), version: String::new(), replacement: Some("./local".into()) },
        ];
        let doc = document(&modules);
        assert_eq!(doc["bomFormat"], "CycloneDX");
        let components = doc["components"].as_array().unwrap();
        assert_eq!(components[0]["name"], "github.com/google/uuid");
        assert_eq!(components[0]["version"], "v1.3.0");
        assert_eq!(components[0]["purl"], "pkg:golang/github.com/google/uuid@v1.3.0");
        assert!(components[1].get("purl").is_none());
        assert_eq!(components[1]["properties"][1]["value"], "./local");
    }
}

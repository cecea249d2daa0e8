//! `buildpack.toml` (buildpack API 0.10/0.11) as strict serde types.
//!
//! A kiln component returns its `buildpack.toml` from the `descriptor` export; this is
//! where it is parsed. Unknown keys are errors where the spec's tables are closed.

use serde::{Deserialize, Serialize};

use kiln_cnb::BuildpackId;

/// Buildpack API versions this lifecycle implements, oldest first.
pub const SUPPORTED_BUILDPACK_APIS: &[&str] = &["0.10", "0.11"];

/// A parsed `buildpack.toml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BuildpackDescriptor {
    /// The buildpack API version, e.g. `0.11`.
    pub api: String,
    /// Identity and description.
    pub buildpack: BuildpackInfo,
    /// Targets the buildpack supports; empty means any Linux target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetDescriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<toml::Table>,
}

/// The `[buildpack]` table.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildpackInfo {
    /// The id.
    pub id: BuildpackId,
    /// The version, `X.Y.Z`.
    pub version: String,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Homepage URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Search keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Whether the platform env is withheld from the buildpack.
    #[serde(default)]
    pub clear_env: bool,
    /// Licenses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<License>,
    /// SBOM formats the buildpack writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbom_formats: Vec<String>,
}

/// A `[[buildpack.licenses]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct License {
    /// SPDX identifier.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// License URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// A `[[targets]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetDescriptor {
    /// OCI os.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// OCI architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Architecture variant (`variant` in the spec, `arch-variant` in the lifecycle).
    #[serde(default, alias = "arch-variant", skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Distributions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distros: Vec<DistroDescriptor>,
}

/// A `[[targets.distros]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DistroDescriptor {
    /// Distribution name (`/etc/os-release` ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Distribution version (`VERSION_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl BuildpackDescriptor {
    /// Parse and validate `buildpack.toml` text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let descriptor: BuildpackDescriptor =
            toml::from_str(text).map_err(|e| format!("the buildpack.toml of {origin} is invalid: {e}"))?;
        if !SUPPORTED_BUILDPACK_APIS.contains(&descriptor.api.as_str()) {
            return Err(format!(
                "{origin} declares buildpack API {}, but kiln supports {}",
                descriptor.api,
                SUPPORTED_BUILDPACK_APIS.join(", ")
            ));
        }
        if !is_version(&descriptor.buildpack.version) {
            return Err(format!("{origin}: buildpack version {:?} must look like X.Y.Z (no leading zeros)", descriptor.buildpack.version));
        }
        Ok(descriptor)
    }

    /// Whether the buildpack supports this os/arch (no targets = any Linux).
    pub fn supports(&self, os: &str, arch: &str) -> bool {
        if self.targets.is_empty() {
            return os == "linux";
        }
        self.targets.iter().any(|t| t.os.as_deref().is_none_or(|o| o == os) && t.arch.as_deref().is_none_or(|a| a == arch))
    }
}

fn is_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROCFILE: &str = r#"
api = "0.11"
[buildpack]
id = "kiln/procfile"
version = "0.1.0"
name = "Procfile"
clear-env = false
[[targets]]
os = "linux"
arch = "amd64"
[[targets.distros]]
name = "debian"
version = "12"
[metadata]
anything = { goes = true }
"#;

    #[test]
    fn parses_and_round_trips() {
        let d = BuildpackDescriptor::parse(PROCFILE, "test").unwrap();
        assert_eq!(d.buildpack.id.as_str(), "kiln/procfile");
        assert_eq!(d.targets[0].distros[0].version.as_deref(), Some("12"));
        let again = BuildpackDescriptor::parse(&toml::to_string(&d).unwrap(), "test").unwrap();
        assert_eq!(d, again);
        assert!(d.supports("linux", "amd64"));
        assert!(!d.supports("linux", "arm64"));
    }

    #[test]
    fn rejects_bad_descriptors_with_the_reason() {
        let unknown = PROCFILE.replace("name = \"Procfile\"", "nmae = \"Procfile\"");
        assert!(BuildpackDescriptor::parse(&unknown, "x").unwrap_err().contains("nmae"));
        let api = PROCFILE.replace("0.11", "0.2");
        assert!(BuildpackDescriptor::parse(&api, "x").unwrap_err().contains("buildpack API 0.2"));
        let version = PROCFILE.replace("0.1.0", "01.0");
        assert!(BuildpackDescriptor::parse(&version, "x").unwrap_err().contains("X.Y.Z"));
        let id = PROCFILE.replace("kiln/procfile", "app");
        assert!(BuildpackDescriptor::parse(&id, "x").unwrap_err().contains("reserved"));
    }
}

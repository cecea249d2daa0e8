//! The parts of an app's `package.json` the buildpack reads: the node range, the start
//! script, the entry file and whether there are dependencies to install.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_sdk::Error;
use serde::Deserialize;

/// An app's `package.json` (unknown fields ignored, as npm does).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageJson {
    /// The package name.
    #[serde(default)]
    pub name: Option<String>,
    /// `main`: the entry module.
    #[serde(default)]
    pub main: Option<String>,
    /// `scripts`, e.g. `start`.
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
    /// `engines`, e.g. `node = ">=20"`.
    #[serde(default)]
    pub engines: BTreeMap<String, String>,
    /// `dependencies`.
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    /// `optionalDependencies`.
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, String>,
    /// `devDependencies`.
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, String>,
}

impl PackageJson {
    /// Read and parse `<app>/package.json`.
    pub fn read(app: &Path) -> Result<Self, Error> {
        let path = app.join("package.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::from(e).context("kiln/nodejs: reading package.json"))?;
        Self::parse(&text)
    }

    /// Parse package.json text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text)
            .map_err(|e| Error::new(format!("kiln/nodejs: package.json is not valid: {e}; fix it (npm would refuse it too)")))
    }

    /// `engines.node`, if set and not blank.
    pub fn node_range(&self) -> Option<&str> {
        self.engines.get("node").map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// Whether installing needs a lockfile: any production (or, with `include_dev`, dev)
    /// dependency.
    pub fn has_dependencies(&self, include_dev: bool) -> bool {
        !self.dependencies.is_empty() || !self.optional_dependencies.is_empty() || (include_dev && !self.dev_dependencies.is_empty())
    }

    /// `scripts.start`, if set and not blank.
    pub fn start_script(&self) -> Option<&str> {
        self.scripts.get("start").map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_buildpack_needs_and_ignores_the_rest() {
        let pkg = PackageJson::parse(
            r#"{"name": "app", "main": "lib/app.js", "scripts": {"start": " node . "},
                "engines": {"node": ">=20", "npm": ">=10"}, "dependencies": {"express": "^5"},
                "devDependencies": {"mocha": "^10"}, "private": true, "workspaces": []}"#,
        )
        .unwrap();
        assert_eq!(pkg.node_range(), Some(">=20"));
        assert_eq!(pkg.start_script(), Some("node ."));
        assert_eq!(pkg.main.as_deref(), Some("lib/app.js"));
        assert!(pkg.has_dependencies(false));
        let empty = PackageJson::parse(r#"{"devDependencies": {"mocha": "^10"}, "engines": {"node": " "}}"#).unwrap();
        assert!(!empty.has_dependencies(false));
        assert!(empty.has_dependencies(true));
        assert_eq!(empty.node_range(), None);
        assert_eq!(empty.start_script(), None);
    }

    #[test]
    fn invalid_json_names_the_file() {
        let err = PackageJson::parse("{ nope").unwrap_err().to_string();
        assert!(err.contains("package.json is not valid"), "{err}");
    }
}

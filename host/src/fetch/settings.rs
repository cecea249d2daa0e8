//! Fetch settings: kiln's config file ([`crate::config`]), then per-build flags.
//!
//! The config file's `[fetch]` table:
//!
//! ```toml
//! [fetch]
//! policy = "default"          # or "strict": deny every fetch
//! machine-registries = true   # allow the registries npm, pip and apt use on this machine
//! allow = ["https://nodejs.org/dist/", "static.rust-lang.org"]
//!
//! [fetch.registries]          # who serves the public registries here (corporate mirrors);
//! npm = "https://npm.corp.example/"     # default: the machine's npm registry, apt's Debian
//! debian = "http://apt.corp.example/debian/"
//! pypi-files = "https://pypi-files.corp.example/"
//!
//! [fetch.mirrors]             # URL prefix = base URL or local directory
//! "https://registry.npmjs.org/" = "/srv/mirror/npm"
//! ```
//!
//! Flags of `kiln build` come on top: `--policy strict` (or `--deny-fetch`),
//! `--allow-host HOST_OR_PREFIX`, `--mirror PREFIX=URL_OR_DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::mirror::Mirror;
use super::policy::{AllowRule, Policy};
use super::system;

/// Everything a [`super::Fetcher`] needs.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Which URLs may be fetched.
    pub policy: Policy,
    /// Mirror rules.
    pub mirrors: Vec<Mirror>,
    /// kiln's cache root; downloads go in `downloads/` under it.
    pub cache_root: PathBuf,
}

impl FetchSettings {
    /// Strict: nothing may be fetched.
    pub fn strict(cache_root: &Path) -> Self {
        FetchSettings { policy: Policy::strict(), mirrors: Vec::new(), cache_root: cache_root.to_path_buf() }
    }
}

/// The `[fetch]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FetchConfig {
    /// `default` or `strict`.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Whether the machine's package registries are allowed.
    #[serde(default = "yes")]
    pub machine_registries: bool,
    /// More allow rules.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Mirrors: prefix -> URL or directory.
    #[serde(default)]
    pub mirrors: BTreeMap<String, String>,
    /// Where the public registries live here (`[fetch.registries]`).
    #[serde(default)]
    pub registries: RegistryBases,
}

/// `[fetch.registries]`: the base URL that serves what buildpacks ask of each public
/// registry (a corporate mirror). Unset: what the machine's npm and apt are configured with
/// (when `machine-registries` is on), else the public registry itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryBases {
    /// Serves `https://registry.npmjs.org/`.
    pub npm: Option<String>,
    /// Serves `http://deb.debian.org/debian/`.
    pub debian: Option<String>,
    /// Serves `https://files.pythonhosted.org/` (PyPI's files).
    pub pypi_files: Option<String>,
}

/// The canonical prefixes buildpacks use, as `(name in [fetch.registries], prefix)`.
pub const PUBLIC_REGISTRIES: [(&str, &str); 3] =
    [("npm", system::NPM_DEFAULT), ("debian", system::DEBIAN_DEFAULT), ("pypi-files", "https://files.pythonhosted.org/")];

impl RegistryBases {
    /// The mirrors these bases make, each `(public prefix, base)`, with `machine` (the
    /// machine's own configuration) filling what is unset.
    pub fn mirrors(&self, machine: &[(String, String)]) -> Vec<(String, String)> {
        let configured = [&self.npm, &self.debian, &self.pypi_files];
        let mut out = Vec::new();
        for ((_, prefix), base) in PUBLIC_REGISTRIES.iter().zip(configured) {
            let base = base.clone().or_else(|| machine.iter().find(|(p, _)| p == prefix).map(|(_, b)| b.clone()));
            if let Some(base) = base.filter(|b| b.trim_end_matches('/') != prefix.trim_end_matches('/')) {
                let base = if base.ends_with('/') { base } else { format!("{base}/") };
                out.push((prefix.to_string(), base));
            }
        }
        out
    }
}

fn default_policy() -> String {
    "default".into()
}

fn yes() -> bool {
    true
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            policy: default_policy(),
            machine_registries: true,
            allow: Vec::new(),
            mirrors: BTreeMap::new(),
            registries: RegistryBases::default(),
        }
    }
}

/// The per-build choices that override the config file.
#[derive(Debug, Clone, Default)]
pub struct FetchOverrides {
    /// `--policy strict` / `--deny-fetch`.
    pub strict: bool,
    /// `--allow-host` values.
    pub allow: Vec<String>,
    /// `--mirror` values.
    pub mirrors: Vec<String>,
}

/// Combine the config file, the machine's registries and the flags.
pub fn resolve(config: &FetchConfig, overrides: &FetchOverrides, cache_root: &Path) -> Result<FetchSettings, String> {
    let strict = match config.policy.as_str() {
        "default" => overrides.strict,
        "strict" => true,
        other => return Err(format!("kiln config: [fetch] policy = {other:?}; use \"default\" or \"strict\"")),
    };
    // Registry bases first: on an equal prefix, a later mirror (the config's, then a flag's) wins.
    let machine = if config.machine_registries { system::SystemConfig::from_machine().registry_mirrors() } else { Vec::new() };
    let mut mirrors = Vec::new();
    for (prefix, base) in config.registries.mirrors(&machine) {
        mirrors.push(Mirror::new(&prefix, &base).map_err(|e| format!("kiln config [fetch.registries]: {e}"))?);
    }
    for (prefix, target) in &config.mirrors {
        mirrors.push(Mirror::new(prefix, target).map_err(|e| format!("kiln config [fetch.mirrors]: {e}"))?);
    }
    for text in &overrides.mirrors {
        mirrors.push(Mirror::parse(text).map_err(|e| format!("--mirror: {e}"))?);
    }
    if strict {
        return Ok(FetchSettings { policy: Policy::strict(), mirrors, cache_root: cache_root.to_path_buf() });
    }
    let mut rules = if config.machine_registries { system::machine_default_rules() } else { Vec::new() };
    // A public registry served by a configured base is allowed: the platform chose that base.
    for (prefix, _) in config.registries.mirrors(&machine) {
        rules.push(AllowRule::parse(&prefix).map_err(|e| format!("kiln config [fetch.registries]: {e}"))?);
    }
    for text in &config.allow {
        rules.push(AllowRule::parse(text).map_err(|e| format!("kiln config [fetch] allow: {e}"))?);
    }
    for text in &overrides.allow {
        rules.push(AllowRule::parse(text).map_err(|e| format!("--allow-host: {e}"))?);
    }
    Ok(FetchSettings { policy: Policy::allow(rules), mirrors, cache_root: cache_root.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_and_flags_combine() {
        let config: crate::config::KilnConfig = toml::from_str(
            "[fetch]\nmachine-registries = false\nallow = [\"a.example\"]\n[fetch.mirrors]\n\"https://a.example/\" = \"/srv/a\"\n",
        )
        .unwrap();
        let overrides = FetchOverrides {
            allow: vec!["127.0.0.1:9".into()],
            mirrors: vec!["https://b.example/=https://m.example/".into()],
            strict: false,
        };
        let settings = resolve(&config.fetch, &overrides, Path::new("/c")).unwrap();
        assert_eq!(settings.policy.describe(), "a.example, 127.0.0.1:9");
        assert_eq!(settings.mirrors.len(), 2);
        let strict = resolve(&config.fetch, &FetchOverrides { strict: true, ..overrides }, Path::new("/c")).unwrap();
        assert!(strict.policy.strict);
        assert!(toml::from_str::<crate::config::KilnConfig>("[fetch]\nallow-all = true\n").is_err(), "unknown keys are refused");
        let bad = FetchConfig { policy: "open".into(), ..FetchConfig::default() };
        let bases: crate::config::KilnConfig = toml::from_str("[fetch.registries]\nnpm = \"https://npm.corp.example\"\n").unwrap();
        let machine = vec![
            ("https://registry.npmjs.org/".to_string(), "https://machine-npm.example/".to_string()),
            ("http://deb.debian.org/debian/".to_string(), "http://apt.corp.example/debian".to_string()),
        ];
        assert_eq!(
            bases.fetch.registries.mirrors(&machine),
            [
                ("https://registry.npmjs.org/".to_string(), "https://npm.corp.example/".to_string()),
                ("http://deb.debian.org/debian/".to_string(), "http://apt.corp.example/debian/".to_string()),
            ],
            "the config's base beats the machine's; the machine fills the rest"
        );
        assert!(toml::from_str::<crate::config::KilnConfig>("[fetch.registries]\ncrates = \"x\"\n").is_err());
        assert!(resolve(&bad, &FetchOverrides::default(), Path::new("/c")).unwrap_err().contains("\"open\""));
    }
}

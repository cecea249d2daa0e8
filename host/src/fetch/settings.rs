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
}

fn default_policy() -> String {
    "default".into()
}

fn yes() -> bool {
    true
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig { policy: default_policy(), machine_registries: true, allow: Vec::new(), mirrors: BTreeMap::new() }
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
    let mut mirrors = Vec::new();
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
        let overrides = FetchOverrides { allow: vec!["127.0.0.1:9".into()], mirrors: vec!["https://b.example/=https://m.example/".into()], strict: false };
        let settings = resolve(&config.fetch, &overrides, Path::new("/c")).unwrap();
        assert_eq!(settings.policy.describe(), "a.example, 127.0.0.1:9");
        assert_eq!(settings.mirrors.len(), 2);
        let strict = resolve(&config.fetch, &FetchOverrides { strict: true, ..overrides }, Path::new("/c")).unwrap();
        assert!(strict.policy.strict);
        assert!(toml::from_str::<crate::config::KilnConfig>("[fetch]\nallow-all = true\n").is_err(), "unknown keys are refused");
        let bad = FetchConfig { policy: "open".into(), ..FetchConfig::default() };
        assert!(resolve(&bad, &FetchOverrides::default(), Path::new("/c")).unwrap_err().contains("\"open\""));
    }
}

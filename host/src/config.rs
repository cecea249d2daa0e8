//! kiln's config file: the defaults every command starts from, below the flags.
//!
//! The file is `$KILN_CONFIG`, else `$KILN_HOME/config.toml`, else
//! `~/.config/kiln/config.toml`; a missing file means the built-in defaults. Every table and
//! key is checked, so a typo is an error naming the file:
//!
//! ```toml
//! [build]
//! builder = "builders/team.toml"     # relative paths are relative to this file
//! run-image = "registry.example/run:bookworm"
//!
//! [limits]                           # per buildpack call, as the --limit-* flags
//! memory = "512MiB"
//! cpu = "5m"
//! time = "10m"
//! log = "1MiB"
//! fetch-count = 2000
//! fetch-bytes = "1GiB"
//! files = 200000
//! layer-bytes = "4GiB"
//!
//! [registry]
//! auth-file = "/run/secrets/registry-auth.json"  # below $REGISTRY_AUTH_FILE
//! insecure = ["registry.internal:5000"]          # plain HTTP, like --insecure-registry
//!
//! [fetch]                            # see crate::fetch::settings
//! policy = "default"
//! allow = ["https://nodejs.org/dist/"]
//! ```
//!
//! Precedence: a flag, then this file, then the built-in default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::fetch::settings::FetchConfig;

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KilnConfig {
    /// `[build]`: default builder and run image.
    #[serde(default)]
    pub build: BuildDefaults,
    /// `[limits]`: sandbox limits per buildpack call.
    #[serde(default)]
    pub limits: LimitDefaults,
    /// `[registry]`: credentials file and plain-HTTP registries.
    #[serde(default)]
    pub registry: RegistryDefaults,
    /// `[fetch]`: the fetch policy and mirrors.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// `[exec]`: native steps.
    #[serde(default)]
    pub exec: ExecDefaults,
}

/// The `[exec]` table: who may run native steps, on what.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExecDefaults {
    /// No buildpack may run native steps (like `--deny-exec`).
    #[serde(default)]
    pub deny_all: bool,
    /// Buildpack ids that may not run native steps.
    #[serde(default)]
    pub deny: Vec<String>,
    /// The jail's root filesystem (like `--build-rootfs`), relative to this file.
    pub build_rootfs: Option<PathBuf>,
    /// The image native steps run on (like `--build-image`).
    pub build_image: Option<String>,
}

/// The `[build]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildDefaults {
    /// A builder.toml used when `--builder` is not given.
    pub builder: Option<PathBuf>,
    /// A run image used when `--run-image` is not given (before the builder's).
    pub run_image: Option<String>,
}

/// The `[limits]` table, and the `--limit-*` flags (`platform::LimitFlags`): the same
/// fields and syntax (defaults in `sandbox::Limits`: 1GiB memory, 10m CPU, 15m wall, 4MiB
/// log, 10000 fetches, 4GiB fetched, 1000000 files, 10GiB layers, 1024 processes).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitDefaults {
    /// `--limit-memory`.
    pub memory: Option<String>,
    /// `--limit-cpu`.
    pub cpu: Option<String>,
    /// `--limit-time`.
    pub time: Option<String>,
    /// `--limit-log`.
    pub log: Option<String>,
    /// `--limit-fetch-count`.
    pub fetch_count: Option<usize>,
    /// `--limit-fetch-bytes`.
    pub fetch_bytes: Option<String>,
    /// `--limit-files`.
    pub files: Option<u64>,
    /// `--limit-layer-bytes`.
    pub layer_bytes: Option<String>,
    /// `--limit-processes`.
    pub processes: Option<u64>,
}

/// The `[registry]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistryDefaults {
    /// The container auth file, used when `$REGISTRY_AUTH_FILE` is not set.
    pub auth_file: Option<PathBuf>,
    /// Registries reached over plain HTTP, added to `--insecure-registry`.
    #[serde(default)]
    pub insecure: Vec<String>,
}

impl KilnConfig {
    /// Where the config file is looked for.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("KILN_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        if let Some(home) = std::env::var_os("KILN_HOME").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(home).join("config.toml"));
        }
        directories::ProjectDirs::from("", "", "kiln").map(|p| p.config_dir().join("config.toml"))
    }

    /// The config at [`KilnConfig::default_path`] (the defaults when there is none).
    pub fn load() -> Result<Self, String> {
        match Self::default_path() {
            Some(path) => Self::read(&path),
            None => Ok(Self::default()),
        }
    }

    /// Read `path`; a missing file is the default config. Relative paths in it are made
    /// relative to the file's directory.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read kiln config {}: {e}", path.display())),
        };
        let mut config: KilnConfig = toml::from_str(&text).map_err(|e| format!("kiln config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for file in [&mut config.build.builder, &mut config.registry.auth_file, &mut config.exec.build_rootfs].into_iter().flatten() {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_read_and_relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "[build]\nbuilder = \"b/builder.toml\"\nrun-image = \"run:1\"\n[limits]\nmemory = \"64MiB\"\nfiles = 10\n\
             [registry]\nauth-file = \"/abs/auth.json\"\ninsecure = [\"r.internal:5000\"]\n[fetch]\npolicy = \"strict\"\n",
        )
        .unwrap();
        let config = KilnConfig::read(&path).unwrap();
        assert_eq!(config.build.builder.as_deref(), Some(dir.path().join("b/builder.toml").as_path()));
        assert_eq!(config.build.run_image.as_deref(), Some("run:1"));
        assert_eq!(config.limits.memory.as_deref(), Some("64MiB"));
        assert_eq!(config.limits.files, Some(10));
        assert_eq!(config.registry.auth_file.as_deref(), Some(Path::new("/abs/auth.json")));
        assert_eq!(config.registry.insecure, vec!["r.internal:5000".to_string()]);
        assert_eq!(config.fetch.policy, "strict");
    }

    #[test]
    fn typos_are_errors_naming_the_file_and_a_missing_file_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[limits]\nmemroy = \"1GiB\"\n").unwrap();
        let error = KilnConfig::read(&path).unwrap_err();
        assert!(error.contains("config.toml") && error.contains("memroy"), "{error}");
        std::fs::write(&path, "[bulid]\n").unwrap();
        assert!(KilnConfig::read(&path).unwrap_err().contains("bulid"));
        let missing = KilnConfig::read(&dir.path().join("none.toml")).unwrap();
        assert!(missing.build.builder.is_none() && missing.limits.memory.is_none());
    }
}

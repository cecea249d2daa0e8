//! The default allow-list: the package registries the machine's own tools are set up for.
//!
//! | tool | read from | default when unset |
//! |---|---|---|
//! | npm | `$NPM_CONFIG_REGISTRY`, `registry=` in `~/.npmrc`, `/etc/npmrc`, `/usr/local/etc/npmrc` (what `npm config get registry` reports) | `https://registry.npmjs.org/` |
//! | pip | `$PIP_INDEX_URL`, `$PIP_EXTRA_INDEX_URL`, `index-url`/`extra-index-url` in `/etc/pip.conf`, `/etc/xdg/pip/pip.conf`, `~/.pip/pip.conf`, `~/.config/pip/pip.conf` (what `pip config list` reports) | `https://pypi.org/`, `https://files.pythonhosted.org/` |
//! | apt | `deb` lines of `/etc/apt/sources.list`, `/etc/apt/sources.list.d/*.list`, `URIs:` of `Types: deb` stanzas of `*.sources` (not `deb-src`, not `Enabled: no`; [`read_apt_sources`], the base builder's parser) | none |
//!
//! Files are read, never the tools run: that is fast and works where the tools are not
//! installed. A value that is not an http(s) URL is skipped.

use std::path::PathBuf;

use super::policy::AllowRule;
use crate::base::debian::sources::read_apt_sources;

/// npm's public registry.
pub const NPM_DEFAULT: &str = "https://registry.npmjs.org/";
/// Debian's archive as buildpacks name it.
pub const DEBIAN_DEFAULT: &str = "http://deb.debian.org/debian/";
/// PyPI's index and file host.
pub const PYPI_DEFAULT: [&str; 2] = ["https://pypi.org/", "https://files.pythonhosted.org/"];

/// Where to look: the root of the filesystem, the home dir and the environment.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    /// `/` normally; a temp dir in tests.
    pub root: PathBuf,
    /// The user's home dir.
    pub home: Option<PathBuf>,
    /// Environment variables that configure registries.
    pub env: Vec<(String, String)>,
}

impl SystemConfig {
    /// The real machine.
    pub fn from_machine() -> Self {
        let env = ["NPM_CONFIG_REGISTRY", "npm_config_registry", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"]
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        SystemConfig { root: PathBuf::from("/"), home: std::env::var_os("HOME").map(PathBuf::from), env }
    }

    fn env(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn read(&self, absolute: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(absolute.trim_start_matches('/'))).ok()
    }

    fn read_home(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.home.as_ref()?.join(relative)).ok()
    }

    /// The npm registry.
    pub fn npm_registry(&self) -> String {
        if let Some(value) = self.env("NPM_CONFIG_REGISTRY").or(self.env("npm_config_registry")) {
            return value.to_string();
        }
        // npm's precedence: user config over global over builtin.
        let files = [self.read_home(".npmrc"), self.read("/etc/npmrc"), self.read("/usr/local/etc/npmrc")];
        for text in files.into_iter().flatten() {
            for line in text.lines() {
                if let Some((key, value)) = line.split_once('=')
                    && key.trim() == "registry"
                {
                    return value.trim().to_string();
                }
            }
        }
        NPM_DEFAULT.to_string()
    }

    /// The pip indexes (`index-url` and every `extra-index-url`).
    pub fn pip_indexes(&self) -> Vec<String> {
        let mut index: Option<String> = None;
        let mut extra: Vec<String> = Vec::new();
        // pip's order: global files, then user files; later files override earlier ones.
        let files = [
            self.read("/etc/xdg/pip/pip.conf"),
            self.read("/etc/pip.conf"),
            self.read_home(".pip/pip.conf"),
            self.read_home(".config/pip/pip.conf"),
        ];
        for text in files.into_iter().flatten() {
            for line in text.lines() {
                let Some((key, value)) = line.split_once('=') else { continue };
                match key.trim() {
                    "index-url" | "index_url" => index = Some(value.trim().to_string()),
                    "extra-index-url" | "extra_index_url" => extra.extend(value.split_whitespace().map(str::to_string)),
                    _ => {}
                }
            }
        }
        if let Some(value) = self.env("PIP_INDEX_URL") {
            index = Some(value.to_string());
        }
        if let Some(value) = self.env("PIP_EXTRA_INDEX_URL") {
            extra.extend(value.split_whitespace().map(str::to_string));
        }
        let mut out = match index {
            Some(index) => vec![index],
            None => PYPI_DEFAULT.iter().map(|s| s.to_string()).collect(),
        };
        out.extend(extra);
        out
    }

    /// The Debian archive URIs of the apt sources: the enabled `deb` sources, read by the
    /// one parser the base builder uses too ([`read_apt_sources`]), so a `deb-src` line or
    /// an `Enabled: no` stanza never becomes a fetch host.
    pub fn apt_uris(&self) -> Vec<String> {
        read_apt_sources(&self.root.join("etc/apt")).into_iter().map(|source| source.uri).collect()
    }

    /// Mirrors that make the public registries come from where this machine's tools get
    /// them: `(public prefix, machine base)` for npm (its configured registry) and Debian
    /// (the first apt source whose path ends in `/debian`), when they differ from the public
    /// ones.
    pub fn registry_mirrors(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let npm = self.npm_registry();
        if npm.trim_end_matches('/') != NPM_DEFAULT.trim_end_matches('/') {
            out.push((NPM_DEFAULT.to_string(), npm));
        }
        let debian = self.apt_uris().into_iter().find(|u| u.trim_end_matches('/').ends_with("/debian"));
        if let Some(uri) = debian.filter(|u| !u.contains("://deb.debian.org/")) {
            out.push((DEBIAN_DEFAULT.to_string(), uri));
        }
        out
    }

    /// The allow rules for all of them: each URL as a prefix (ending in `/`), deduplicated.
    pub fn default_rules(&self) -> Vec<AllowRule> {
        let mut rules: Vec<AllowRule> = Vec::new();
        let mut all = vec![self.npm_registry()];
        all.extend(self.pip_indexes());
        if all.iter().any(|u| u.starts_with("https://pypi.org")) && !all.iter().any(|u| u.contains("files.pythonhosted.org")) {
            all.push(PYPI_DEFAULT[1].to_string());
        }
        all.extend(self.apt_uris());
        for url in all {
            let url = if url.ends_with('/') { url } else { format!("{url}/") };
            if let Ok(rule @ AllowRule::Prefix(_)) = AllowRule::parse(&url)
                && !rules.contains(&rule)
            {
                rules.push(rule);
            }
        }
        rules
    }
}

/// The default rules of this machine.
pub fn machine_default_rules() -> Vec<AllowRule> {
    SystemConfig::from_machine().default_rules()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn write(root: &Path, path: &str, text: &str) {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    #[test]
    fn defaults_when_nothing_is_configured() {
        let root = tempfile::tempdir().unwrap();
        let sys = SystemConfig { root: root.path().into(), home: None, env: vec![] };
        let rules: Vec<String> = sys.default_rules().iter().map(ToString::to_string).collect();
        assert_eq!(rules, ["https://registry.npmjs.org/", "https://pypi.org/", "https://files.pythonhosted.org/"]);
    }

    #[test]
    fn reads_npmrc_pip_conf_and_apt_sources() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        write(&home, ".npmrc", "; comment\nregistry = https://npm.corp.example/repo\n");
        write(
            root.path(),
            "etc/pip.conf",
            "[global]\nindex-url = https://pip.corp.example/simple\nextra-index-url = https://extra.example/simple https://two.example/\n",
        );
        write(root.path(), "etc/apt/sources.list", "# x\ndeb [arch=amd64 signed-by=/k.gpg] http://deb.debian.org/debian bookworm main\n");
        write(
            root.path(),
            "etc/apt/sources.list.d/debian.sources",
            "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n",
        );
        write(root.path(), "etc/apt/sources.list.d/ignored.txt", "deb http://ignored.example/ x y\n");
        let sys = SystemConfig { root: root.path().into(), home: Some(home), env: vec![] };
        let rules: Vec<String> = sys.default_rules().iter().map(ToString::to_string).collect();
        assert_eq!(
            rules,
            [
                "https://npm.corp.example/repo/",
                "https://pip.corp.example/simple/",
                "https://extra.example/simple/",
                "https://two.example/",
                "http://deb.debian.org/debian/",
                "http://deb.debian.org/debian-security/",
            ]
        );
        // npm's corporate registry serves what buildpacks ask of the public one; apt's Debian
        // source is the public archive, so no Debian mirror.
        assert_eq!(sys.registry_mirrors(), [("https://registry.npmjs.org/".to_string(), "https://npm.corp.example/repo".to_string())]);
        write(root.path(), "etc/apt/sources.list", "deb http://apt.corp.example/debian bookworm main\n");
        assert_eq!(sys.registry_mirrors()[1], ("http://deb.debian.org/debian/".to_string(), "http://apt.corp.example/debian".to_string()));
        let sys = SystemConfig { env: vec![("NPM_CONFIG_REGISTRY".into(), "https://env.example/".into())], ..sys };
        assert_eq!(sys.npm_registry(), "https://env.example/");
    }

    #[test]
    fn deb_src_and_disabled_sources_never_become_fetch_hosts() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "etc/apt/sources.list",
            "deb-src http://src.example/debian bookworm main\ndeb http://on.example/debian bookworm main\n",
        );
        write(
            root.path(),
            "etc/apt/sources.list.d/more.sources",
            "Types: deb-src\nURIs: http://src822.example/debian\nSuites: bookworm\nComponents: main\n\n\
             Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n",
        );
        let sys = SystemConfig { root: root.path().into(), home: None, env: vec![] };
        assert_eq!(sys.apt_uris(), ["http://on.example/debian"]);
        let rules: Vec<String> = sys.default_rules().iter().map(ToString::to_string).collect();
        for host in ["src.example", "src822.example", "off.example"] {
            assert!(!rules.iter().any(|r| r.contains(host)), "{host} became a fetch host: {rules:?}");
        }
        assert_eq!(sys.registry_mirrors(), [("http://deb.debian.org/debian/".to_string(), "http://on.example/debian".to_string())]);
    }
}

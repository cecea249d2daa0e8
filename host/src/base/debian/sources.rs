//! Where the Debian archive is: the machine's apt sources.
//!
//! Reads the one-line format (`/etc/apt/sources.list`, `sources.list.d/*.list`:
//! `deb [signed-by=/k.gpg arch=amd64] http://deb.debian.org/debian bookworm main`) and the
//! deb822 format (`sources.list.d/*.sources` stanzas with `Types`, `URIs`, `Suites`,
//! `Components`, `Signed-By`, `Enabled`), and picks the first `deb` source that serves the
//! wanted suite and component, as apt itself would list it. `--mirror` overrides all of this.
//!
//! The one apt sources parser of kiln: the fetch allow-list (`fetch::system`) admits the
//! hosts of [`read_apt_sources`] too, so what apt would not use (`deb-src`, a stanza the
//! admin disabled) is neither a base image source nor a fetch host.

use std::fs;
use std::path::{Path, PathBuf};

/// One `deb` source: an archive URI with the suites and components it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// The archive root, e.g. `http://deb.debian.org/debian` (no trailing `/`).
    pub uri: String,
    /// Suites (codenames or names), e.g. `bookworm`, `bookworm-updates`.
    pub suites: Vec<String>,
    /// Components, e.g. `main`.
    pub components: Vec<String>,
    /// The keyring named by `signed-by` / `Signed-By`, when it is a file path.
    pub signed_by: Option<PathBuf>,
}

impl AptSource {
    /// Whether this source serves `suite` with `component`.
    pub fn serves(&self, suite: &str, component: &str) -> bool {
        self.suites.iter().any(|s| s == suite) && self.components.iter().any(|c| c == component)
    }
}

/// Parses the one-line format; lines other than `deb` (`deb-src`, comments) are skipped.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue; // deb-src
        }
        let rest = rest.trim_start();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(inner) => match inner.split_once(']') {
                Some((options, rest)) => (options, rest),
                None => continue,
            },
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let signed_by =
            options.split_whitespace().filter_map(|o| o.strip_prefix("signed-by=")).map(PathBuf::from).find(|p| p.is_absolute());
        sources.push(AptSource {
            uri: uri.trim_end_matches('/').to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
            signed_by,
        });
    }
    sources
}

/// Parses the deb822 format. Stanzas without `deb` in `Types` or with `Enabled: no` are
/// skipped; an inline (armored) `Signed-By` key is not a path and is left out.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut sources = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in stanza.lines() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let get = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let words = |key: &str| -> Vec<String> { get(key).map(|v| v.split_whitespace().map(str::to_owned).collect()).unwrap_or_default() };
        if !words("types").iter().any(|t| t == "deb") || get("enabled").is_some_and(is_false) {
            continue;
        }
        let signed_by = get("signed-by").filter(|v| !v.contains('\n') && v.starts_with('/')).map(PathBuf::from);
        for uri in words("uris") {
            sources.push(AptSource {
                uri: uri.trim_end_matches('/').to_owned(),
                suites: words("suites"),
                components: words("components"),
                signed_by: signed_by.clone(),
            });
        }
    }
    sources
}

/// Whether a deb822 boolean says no, as apt's `StringToBool` reads it.
fn is_false(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "no" | "false" | "without" | "off" | "disable" | "0")
}

/// Reads every apt source below `etc_apt` (normally `/etc/apt`), in apt's order:
/// `sources.list`, then `sources.list.d/` files sorted by name (`*.list` and `*.sources`;
/// other files, e.g. `*.disabled`, are ignored). Unreadable files are skipped.
pub fn read_apt_sources(etc_apt: &Path) -> Vec<AptSource> {
    let mut sources = fs::read_to_string(etc_apt.join("sources.list")).map(|t| parse_one_line(&t)).unwrap_or_default();
    let mut parts: Vec<PathBuf> = fs::read_dir(etc_apt.join("sources.list.d")).into_iter().flatten().flatten().map(|e| e.path()).collect();
    parts.sort();
    for path in parts {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_one_line(&text)),
            Some("sources") => sources.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    sources
}

/// The first source serving `suite` with `component`.
pub fn find_source<'a>(sources: &'a [AptSource], suite: &str, component: &str) -> Option<&'a AptSource> {
    sources.iter().find(|s| s.serves(suite, component))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources() {
        let text = "\
# comment
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian/ bookworm main contrib # trailing
deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main
";
        let sources = parse_one_line(text);
        assert_eq!(sources.len(), 2);
        assert_eq!(
            sources[0],
            AptSource {
                uri: "http://mirror.example/debian".into(),
                suites: vec!["bookworm".into()],
                components: vec!["main".into(), "contrib".into()],
                signed_by: Some("/usr/share/keyrings/debian-archive-keyring.gpg".into()),
            }
        );
        assert!(sources[0].serves("bookworm", "main"));
        assert!(!sources[1].serves("bookworm", "main"));
        assert_eq!(find_source(&sources, "bookworm", "main").unwrap().uri, "http://mirror.example/debian");
    }

    #[test]
    fn deb822_sources() {
        let text = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://off2.example/debian
Suites: bookworm
Components: main
Enabled: False

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----
";
        let sources = parse_deb822(text);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].uri, "http://deb.debian.org/debian");
        assert_eq!(sources[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(sources[0].signed_by.as_deref(), Some(Path::new("/usr/share/keyrings/debian-archive-keyring.gpg")));
        assert_eq!(sources[1].signed_by, None);
        assert_eq!(find_source(&sources, "bookworm", "main").unwrap().uri, "http://deb.debian.org/debian");
        assert!(find_source(&sources, "bookworm", "contrib").is_none());
    }

    #[test]
    fn reads_a_directory_in_apt_order() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("sources.list.d");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("b.sources"), "Types: deb\nURIs: http://b.example/debian\nSuites: bookworm\nComponents: main\n").unwrap();
        fs::write(d.join("a.list"), "deb http://a.example/debian bookworm main\n").unwrap();
        fs::write(d.join("c.list.disabled"), "deb http://c.example/debian bookworm main\n").unwrap();
        let sources = read_apt_sources(tmp.path());
        let uris: Vec<_> = sources.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(uris, ["http://a.example/debian", "http://b.example/debian"]);
        fs::write(tmp.path().join("sources.list"), "deb http://first.example/debian bookworm main\n").unwrap();
        assert_eq!(read_apt_sources(tmp.path())[0].uri, "http://first.example/debian");
    }
}

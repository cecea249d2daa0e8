//! Mirrors: serve URLs under a prefix from another base URL or from a local directory.
//!
//! `--mirror https://registry.npmjs.org/=/srv/npm` makes
//! `https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz` come from
//! `/srv/npm/left-pad/-/left-pad-1.3.0.tgz`; with `=https://npm.corp/` from
//! `https://npm.corp/left-pad/-/left-pad-1.3.0.tgz`. A prepared directory (see
//! `kiln fetch-cache mirror`) lets builds run with no network at all. The fetch policy is
//! checked against the URL the buildpack asked for; mirrors are the platform's own
//! configuration and are trusted, and the digest is verified whatever the source.

use std::fmt;
use std::path::PathBuf;

/// Where a mirror serves from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorTarget {
    /// Another base URL.
    Url(String),
    /// A local directory.
    Dir(PathBuf),
}

/// One mirror rule: URLs starting with `prefix` are served from `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The URL prefix it replaces.
    pub prefix: String,
    /// Where the rest of the URL is looked up.
    pub target: MirrorTarget,
}

/// Where one fetch is served from after mirrors are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The URL itself (or a mirror URL when `mirrored`).
    Url {
        /// The URL to download.
        url: String,
        /// Whether a mirror rewrote it.
        mirrored: bool,
    },
    /// A file of a mirror directory.
    File(PathBuf),
}

impl Mirror {
    /// Parse `PREFIX=URL_OR_DIR`: a target with `://` is a URL, anything else a directory.
    pub fn parse(text: &str) -> Result<Self, String> {
        // The prefix is a URL and contains no `=` before its path in practice; split on the
        // first `=` that follows `://`.
        let scheme_end = text.find("://").map(|i| i + 3).unwrap_or(0);
        let Some(eq) = text[scheme_end..].find('=').map(|i| i + scheme_end) else {
            return Err(format!("{text:?}: expected PREFIX=URL_OR_DIR"));
        };
        Self::new(&text[..eq], &text[eq + 1..])
    }

    /// A mirror from its two parts.
    pub fn new(prefix: &str, target: &str) -> Result<Self, String> {
        if !(prefix.starts_with("http://") || prefix.starts_with("https://")) {
            return Err(format!("mirror prefix {prefix:?} must be an http(s) URL prefix"));
        }
        if target.is_empty() {
            return Err(format!("mirror for {prefix:?} has an empty target"));
        }
        let target = if target.contains("://") { MirrorTarget::Url(target.to_string()) } else { MirrorTarget::Dir(PathBuf::from(target)) };
        Ok(Mirror { prefix: prefix.to_string(), target })
    }

    /// Apply the longest matching mirror of `mirrors` to `url`.
    pub fn resolve(mirrors: &[Mirror], url: &str) -> Result<Source, String> {
        let Some(mirror) = mirrors.iter().filter(|m| url.starts_with(&m.prefix)).max_by_key(|m| m.prefix.len()) else {
            return Ok(Source::Url { url: url.to_string(), mirrored: false });
        };
        let rest = &url[mirror.prefix.len()..];
        match &mirror.target {
            MirrorTarget::Url(base) => {
                let joined = match (base.ends_with('/'), rest.starts_with('/')) {
                    (true, true) => format!("{base}{}", &rest[1..]),
                    (false, false) if !rest.is_empty() => format!("{base}/{rest}"),
                    _ => format!("{base}{rest}"),
                };
                Ok(Source::Url { url: joined, mirrored: true })
            }
            MirrorTarget::Dir(dir) => {
                let path = rest.split(['?', '#']).next().unwrap_or_default();
                let mut file = dir.clone();
                for part in path.split('/').filter(|p| !p.is_empty()) {
                    if part == "." || part == ".." || part.contains('\\') || part.contains('\0') {
                        return Err(format!("{url} cannot be looked up in mirror {}: {part:?} in its path", dir.display()));
                    }
                    file.push(part);
                }
                Ok(Source::File(file))
            }
        }
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            MirrorTarget::Url(url) => write!(f, "{}={url}", self.prefix),
            MirrorTarget::Dir(dir) => write!(f, "{}={}", self.prefix, dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_rewrite_to_urls_and_dirs_and_refuse_traversal() {
        let mirrors = vec![
            Mirror::parse("https://registry.npmjs.org/=/srv/npm").unwrap(),
            Mirror::parse("https://files.example/a=https://mirror.example/b").unwrap(),
            Mirror::parse("https://files.example/a/deeper/=/srv/deep").unwrap(),
        ];
        assert_eq!(
            Mirror::resolve(&mirrors, "https://registry.npmjs.org/x/-/x-1.tgz?y=1").unwrap(),
            Source::File("/srv/npm/x/-/x-1.tgz".into())
        );
        assert_eq!(
            Mirror::resolve(&mirrors, "https://files.example/a/f.tar").unwrap(),
            Source::Url { url: "https://mirror.example/b/f.tar".into(), mirrored: true }
        );
        assert_eq!(Mirror::resolve(&mirrors, "https://files.example/a/deeper/f").unwrap(), Source::File("/srv/deep/f".into()));
        assert_eq!(
            Mirror::resolve(&mirrors, "https://other.example/f").unwrap(),
            Source::Url { url: "https://other.example/f".into(), mirrored: false }
        );
        assert!(Mirror::resolve(&mirrors, "https://registry.npmjs.org/../../etc/passwd").is_err());
        assert!(Mirror::parse("nothing").is_err());
        assert!(Mirror::parse("/srv=/x").is_err());
    }
}

//! The fetch policy: which URLs a buildpack may download.
//!
//! Deny by default: a URL is fetched only if an allow rule matches it. A rule is a URL
//! prefix (`https://registry.npmjs.org/`, matched at a path boundary) or a host
//! (`example.com`, `127.0.0.1:8080`: any http(s) URL on that host and port). The default
//! rules are the package registries the machine's own tools use ([`super::system`]); kiln's
//! config file and `--allow-host` add rules; `--policy strict` (`--deny-fetch`) denies
//! every fetch. Only `http` and `https` URLs are ever fetched, and never with credentials
//! in the URL.

use std::fmt;

use reqwest::Url;

/// One allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// A URL prefix, matched at a path boundary.
    Prefix(String),
    /// A host, optionally with a port, for any http(s) URL.
    Host {
        /// The host name or IP literal, lower-case.
        host: String,
        /// The port, if the rule names one.
        port: Option<u16>,
    },
}

impl AllowRule {
    /// Parse a rule: a URL prefix if it has a scheme, else `HOST[:PORT]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.contains("://") {
            let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL prefix: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("{text:?}: only http and https URLs can be allowed"));
            }
            return Ok(AllowRule::Prefix(url.to_string()));
        }
        let url = Url::parse(&format!("http://{text}/")).map_err(|_| format!("{text:?} is not a host or host:port"))?;
        match url.host_str() {
            Some(host) if url.path() == "/" && url.username().is_empty() => {
                Ok(AllowRule::Host { host: host.to_ascii_lowercase(), port: url.port() })
            }
            _ => Err(format!("{text:?} is not a host or host:port")),
        }
    }

    /// Whether `url` is allowed by this rule.
    pub fn matches(&self, url: &Url) -> bool {
        match self {
            AllowRule::Prefix(prefix) => {
                let text = url.as_str();
                text.starts_with(prefix.as_str())
                    && (prefix.ends_with('/') || matches!(text.as_bytes().get(prefix.len()), None | Some(b'/' | b'?' | b'#')))
            }
            AllowRule::Host { host, port } => {
                url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host)) && port.is_none_or(|p| url.port_or_known_default() == Some(p))
            }
        }
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowRule::Prefix(p) => f.write_str(p),
            AllowRule::Host { host, port: Some(port) } => write!(f, "{host}:{port}"),
            AllowRule::Host { host, port: None } => f.write_str(host),
        }
    }
}

/// Which URLs may be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `--policy strict`: no fetch at all.
    pub strict: bool,
    /// The allow rules, in the order they were added.
    pub rules: Vec<AllowRule>,
}

/// Why a URL may not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The build runs with `--policy strict`.
    Strict,
    /// The URL is not http(s), or carries credentials.
    BadUrl(String),
    /// No rule allows it; `suggestion` is the `--allow-host` value that would.
    NotAllowed {
        /// What to pass to `--allow-host`.
        suggestion: String,
    },
}

impl Policy {
    /// A policy that allows exactly `rules`.
    pub fn allow(rules: Vec<AllowRule>) -> Self {
        Policy { strict: false, rules }
    }

    /// A policy that denies everything.
    pub fn strict() -> Self {
        Policy { strict: true, rules: Vec::new() }
    }

    /// Parse `url` and check it.
    pub fn check(&self, url: &str) -> Result<Url, Refusal> {
        let parsed = Url::parse(url).map_err(|e| Refusal::BadUrl(format!("not a URL: {e}")))?;
        self.check_url(&parsed)?;
        Ok(parsed)
    }

    /// Check an already parsed URL (e.g. a redirect target).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if self.strict {
            return Err(Refusal::Strict);
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refusal::BadUrl(format!("the scheme {:?} is not fetched; only http and https", url.scheme())));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::BadUrl("credentials in the URL are not allowed".into()));
        }
        if self.rules.iter().any(|r| r.matches(url)) {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        let suggestion = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Err(Refusal::NotAllowed { suggestion })
    }

    /// The rules as text, for messages.
    pub fn describe(&self) -> String {
        if self.strict {
            return "none (--policy strict)".into();
        }
        if self.rules.is_empty() {
            return "none".into();
        }
        self.rules.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> Policy {
        Policy::allow(rules.iter().map(|r| AllowRule::parse(r).unwrap()).collect())
    }

    #[test]
    fn prefixes_match_at_path_boundaries_and_hosts_match_exactly() {
        let p = policy(&["https://pypi.org", "https://registry.npmjs.org/", "127.0.0.1:8080", "deb.debian.org"]);
        for ok in [
            "https://pypi.org/simple/x",
            "https://pypi.org",
            "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
            "http://127.0.0.1:8080/file",
            "http://deb.debian.org/debian/pool/x.deb",
            "https://DEB.debian.org/debian/",
        ] {
            assert!(p.check(ok).is_ok(), "{ok} must be allowed");
        }
        for (bad, suggestion) in [
            ("https://pypi.org.evil.example/x", "pypi.org.evil.example"),
            ("https://registry.npmjs.org.evil/x", "registry.npmjs.org.evil"),
            ("http://127.0.0.1:8081/file", "127.0.0.1:8081"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ] {
            assert_eq!(p.check(bad), Err(Refusal::NotAllowed { suggestion: suggestion.into() }), "{bad}");
        }
        assert!(matches!(p.check("file:///etc/passwd"), Err(Refusal::BadUrl(_))));
        assert!(matches!(p.check("https://user:pw@pypi.org/x"), Err(Refusal::BadUrl(_))));
        assert!(matches!(p.check("not a url"), Err(Refusal::BadUrl(_))));
        assert_eq!(Policy::strict().check("https://pypi.org/x"), Err(Refusal::Strict));
    }

    #[test]
    fn rules_parse_or_explain() {
        assert_eq!(AllowRule::parse("Example.COM").unwrap(), AllowRule::Host { host: "example.com".into(), port: None });
        assert_eq!(AllowRule::parse("h:81").unwrap(), AllowRule::Host { host: "h".into(), port: Some(81) });
        assert!(AllowRule::parse("ftp://x/").is_err());
        assert!(AllowRule::parse("a/b").is_err());
        assert!(AllowRule::parse("").is_err());
    }
}

//! npm version ranges (`engines.node`, `BP_NODE_VERSION`) read with the `semver` crate.
//!
//! npm's grammar ([node-semver ranges](https://github.com/npm/node-semver#ranges)) differs
//! from Cargo's, which the `semver` crate parses: `||` joins alternatives, comparators are
//! separated by spaces, `1.2.3 - 2.3` is a hyphen range, a bare full version is exact
//! (`20.1.0` means `=20.1.0`) and a bare partial one is an X-range (`20.1` means `20.1.x`).
//! [`NodeRange::parse`] rewrites each alternative into Cargo syntax with exactly npm's
//! meaning and keeps the alternatives; a version satisfies the range if it satisfies one.

use semver::{Version, VersionReq};

/// A parsed npm range: satisfied when any alternative is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRange {
    text: String,
    alternatives: Vec<VersionReq>,
}

impl NodeRange {
    /// Parse an npm range; `""`, `*`, `x`, `latest` and `node` mean any version.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let mut alternatives = Vec::new();
        for alternative in trimmed.split("||") {
            let cargo = to_cargo_syntax(alternative.trim()).map_err(|why| format!("{trimmed:?} is not an npm version range: {why}"))?;
            let req = VersionReq::parse(&cargo).map_err(|e| format!("{trimmed:?} is not an npm version range ({cargo:?}: {e})"))?;
            alternatives.push(req);
        }
        Ok(NodeRange { text: trimmed.to_string(), alternatives })
    }

    /// Whether `version` satisfies the range.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|req| req.matches(version))
    }

    /// The range as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// One npm alternative (no `||`) in Cargo's comma-separated syntax.
fn to_cargo_syntax(alternative: &str) -> Result<String, String> {
    if matches!(alternative, "" | "*" | "x" | "X" | "latest" | "node" | "current") {
        return Ok("*".to_string());
    }
    let tokens = join_operators(alternative);
    if let [low, dash, high] = tokens.as_slice()
        && dash == "-"
    {
        // Hyphen range: `1.2 - 2.3` is `>=1.2.0 <2.4.0` (a partial upper bound is an X-range).
        let low = bare_version(low)?;
        let high = bare_version(high)?;
        let upper = if high.split('.').count() == 3 { format!("<={high}") } else { format!("<{}", bump_partial(&high)?) };
        return Ok(format!(">={low}, {upper}"));
    }
    if tokens.iter().any(|t| t == "-") {
        return Err("a hyphen range needs a version on each side of ` - `".into());
    }
    let comparators: Result<Vec<String>, String> = tokens.iter().map(|t| comparator(t)).collect();
    Ok(comparators?.join(", "))
}

/// Split on spaces, gluing a lone operator (`>= 20`) to the version after it.
fn join_operators(alternative: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut pending = String::new();
    for word in alternative.split_whitespace() {
        if matches!(word, ">" | ">=" | "<" | "<=" | "=" | "~" | "^" | "~>") {
            pending.push_str(word);
            continue;
        }
        tokens.push(format!("{pending}{word}"));
        pending.clear();
    }
    if !pending.is_empty() {
        tokens.push(pending);
    }
    tokens
}

/// One comparator: operators kept, bare versions made exact or X-ranges as npm reads them.
fn comparator(token: &str) -> Result<String, String> {
    let split = token.find(|c: char| c.is_ascii_digit() || matches!(c, 'x' | 'X' | '*' | 'v')).unwrap_or(token.len());
    let (op, version) = token.split_at(split);
    let op = if op == "~>" { "~" } else { op };
    let version = bare_version(version)?;
    if op.is_empty() {
        let parts = version.split('.').count();
        let wildcard = version.split('.').any(|p| p == "*");
        return Ok(if parts == 3 && !wildcard {
            format!("={version}")
        } else if wildcard {
            version
        } else {
            format!("{version}.*")
        });
    }
    if !matches!(op, ">" | ">=" | "<" | "<=" | "=" | "~" | "^") {
        return Err(format!("unknown operator {op:?}"));
    }
    Ok(format!("{op}{version}"))
}

/// A version without `v`, with `x`/`X` wildcards written as `*` and trailing wildcards kept.
fn bare_version(text: &str) -> Result<String, String> {
    let text = text.trim_start_matches(['v', '=']);
    if text.is_empty() {
        return Err("an operator without a version".into());
    }
    let parts: Vec<&str> = text.split('.').map(|p| if matches!(p, "x" | "X") { "*" } else { p }).collect();
    Ok(parts.join("."))
}

/// The exclusive upper bound of a partial version: `2` -> `3.0.0`, `2.3` -> `2.4.0`.
fn bump_partial(partial: &str) -> Result<String, String> {
    let numbers: Result<Vec<u64>, _> = partial.split('.').filter(|p| *p != "*").map(str::parse::<u64>).collect();
    match numbers.map_err(|_| format!("{partial:?} is not a version"))?.as_slice() {
        [major] => Ok(format!("{}.0.0", major + 1)),
        [major, minor] => Ok(format!("{major}.{}.0", minor + 1)),
        _ => Err(format!("{partial:?} is not a version")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(range: &str, version: &str) -> bool {
        NodeRange::parse(range).unwrap().matches(&Version::parse(version).unwrap())
    }

    #[test]
    fn npm_ranges_mean_what_npm_says() {
        assert!(ok(">=20", "26.10.0"));
        assert!(!ok(">=20", "18.20.8"));
        assert!(ok(">= 20.1 < 21", "20.20.2"));
        assert!(!ok(">= 20.1 < 21", "22.0.0"));
        assert!(ok("20.x", "20.20.2") && !ok("20.x", "22.1.0"));
        assert!(ok("22", "22.23.3") && !ok("22", "24.0.0"));
        assert!(ok("20.20", "20.20.2") && !ok("20.20", "20.21.0"));
        // A bare full version is exact, not a caret range.
        assert!(ok("24.20.0", "24.20.0") && !ok("24.20.0", "24.21.0"));
        assert!(ok("v24.20.0", "24.20.0"));
        assert!(ok("^22.1.0", "22.23.3") && !ok("^22.1.0", "24.0.0"));
        assert!(ok("~24.20", "24.20.5") && !ok("~24.20", "24.21.0"));
        assert!(ok("18 || 22", "22.23.3") && !ok("18 || 22", "20.20.2"));
        assert!(ok("20 - 22", "22.23.3") && !ok("20 - 22", "24.0.0"));
        assert!(ok("20.1.0 - 22.0.0", "22.0.0") && !ok("20.1.0 - 22.0.0", "22.0.1"));
        assert!(ok(">20", "22.0.0") && !ok(">20", "20.99.0"));
        assert!(ok("", "24.21.0") && ok("*", "20.20.2") && ok("latest", "26.10.0"));
        assert!(ok("24.x.x", "24.1.0"));
    }

    #[test]
    fn nonsense_is_refused_with_the_range_named() {
        for bad in ["lts/iron", ">=", "20 -", "banana"] {
            let err = NodeRange::parse(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }
}

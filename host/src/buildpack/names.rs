//! Validated names from the buildpack spec: buildpack ids and process types.
//!
//! A bad name cannot exist past the parser: every constructor checks the spec's rules,
//! so code holding a [`BuildpackId`] can use it in paths and labels without re-checking.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A buildpack id: letters, digits, `.`, `/`, `-`; not `app`, `config`, `generated`, `sbom`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BuildpackId(String);

impl BuildpackId {
    /// Parse and validate an id.
    pub fn parse(id: &str) -> Result<Self, String> {
        if id.is_empty() || id.len() > 255 {
            return Err(format!("buildpack id {id:?} must be 1 to 255 characters"));
        }
        // No '_': the escaped form ('/' -> '_') names the layers dir, and must be unique.
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-')) {
            return Err(format!("buildpack id {id:?} may only contain letters, digits, '.', '/' and '-'"));
        }
        if matches!(id, "app" | "config" | "generated" | "sbom") {
            return Err(format!("buildpack id {id:?} is reserved"));
        }
        if id.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(format!("buildpack id {id:?} has an empty, '.' or '..' path segment"));
        }
        Ok(BuildpackId(id.to_string()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a single path component: `/` replaced by `_` (the lifecycle's escaping).
    pub fn escaped(&self) -> String {
        self.0.replace('/', "_")
    }
}

impl fmt::Display for BuildpackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BuildpackId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BuildpackId::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A process type: letters, digits, `.`, `_`, `-` (and not `.` or `..`), at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProcessType(String);

impl ProcessType {
    /// Parse and validate a process type.
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || name.len() > 64 || !valid_chars || name == "." || name == ".." {
            return Err(format!(
                "process type {name:?} must be 1 to 64 letters, digits, '.', '_' or '-' (and not '.' or '..')"
            ));
        }
        Ok(ProcessType(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ProcessType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProcessType::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildpack_ids_follow_the_spec() {
        assert_eq!(BuildpackId::parse("kiln/procfile").unwrap().escaped(), "kiln_procfile");
        for bad in ["", "app", "config", "a b", "../x", "a//b", "x/..", "é", "a_b"] {
            assert!(BuildpackId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn process_types_follow_the_spec() {
        assert!(ProcessType::parse("web").is_ok());
        assert!(ProcessType::parse("worker-2.x_y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x;rm -rf", &"x".repeat(65)] {
            assert!(ProcessType::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}

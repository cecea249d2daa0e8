//! Validated names from the buildpack spec: buildpack ids, process types and layer names.
//!
//! A bad name cannot exist past the parser: every constructor (and `Deserialize`) checks the
//! spec's rules plus the ones that keep a name usable as one path component, so code holding
//! a [`BuildpackId`] can use it in paths and labels without re-checking.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};

/// A name that breaks the spec's rules; the message says which rule and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A buildpack id that is not valid.
    #[error("buildpack id {id:?} {rule}")]
    BuildpackId {
        /// The id as given (at most 80 characters of it).
        id: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A process type that is not valid.
    #[error("process type {name:?} must be 1 to 64 letters, digits, '.', '_' or '-' (and not '.', '..' or an OCI whiteout name '.wh.*')")]
    ProcessType {
        /// The type as given (at most 80 characters of it).
        name: String,
    },
    /// A layer name that is not valid.
    #[error("layer name {name:?} {rule}")]
    LayerName {
        /// The name as given (at most 80 characters of it).
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

/// At most 80 characters of `name`, for messages.
fn shown(name: &str) -> String {
    name.chars().take(80).collect()
}

/// A buildpack id: letters, digits, `.`, `/`, `-`; not `app`, `config`, `generated`, `sbom`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BuildpackId(String);

impl BuildpackId {
    /// Parse and validate an id.
    pub fn parse(id: &str) -> Result<Self, NameError> {
        let bad = |rule| Err(NameError::BuildpackId { id: shown(id), rule });
        if id.is_empty() || id.len() > 255 {
            return bad("must be 1 to 255 characters");
        }
        // No '_': the escaped form ('/' -> '_') names the layers dir, and must be unique.
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-')) {
            return bad("may only contain letters, digits, '.', '/' and '-'");
        }
        if matches!(id, "app" | "config" | "generated" | "sbom") {
            return bad("is reserved");
        }
        if id.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return bad("has an empty, '.' or '..' path segment");
        }
        if id.split('/').any(|part| part.starts_with(".wh.")) {
            return bad("has a path segment that is an OCI whiteout name ('.wh.*')");
        }
        Ok(BuildpackId(id.to_string()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a single path component: `/` replaced by `_` (the lifecycle's `EscapeID`).
    /// It names the buildpack's layers dir (`/layers/<escaped id>`) and its directory in
    /// `/cnb/buildpacks`. Ids hold no `_`, so the escaped form is unique.
    pub fn escaped(&self) -> String {
        self.0.replace('/', "_")
    }
}

/// A process type: letters, digits, `.`, `_`, `-` (and not `.` or `..`), at most 64 characters.
/// It names `/cnb/process/<type>`, `env.launch/<type>` and `exec.d/<type>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ProcessType(String);

impl ProcessType {
    /// Parse and validate a process type.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if name.is_empty() || name.len() > 64 || !valid_chars || name == "." || name == ".." || name.starts_with(".wh.") {
            return Err(NameError::ProcessType { name: shown(name) });
        }
        Ok(ProcessType(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A layer name: one path component, not `build`, `launch`, `store` (the spec's reserved
/// names), nor `config` or `sbom` (the lifecycle's own dirs), and no name that collides with
/// the lifecycle's files beside it (`<layer>.toml`, `<layer>.sbom.<ext>`, `<layer>.ignore`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LayerName(String);

impl LayerName {
    /// Parse and validate a name a buildpack gave.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let bad = |rule| Err(NameError::LayerName { name: shown(name), rule });
        if name.is_empty() || name.len() > 255 {
            return bad("must be 1 to 255 bytes");
        }
        if name.contains(['/', '\\', '\0']) || name.chars().any(char::is_control) {
            return bad("must not contain '/', '\\', NUL or control characters");
        }
        if name.starts_with('.') {
            return bad("must not start with '.'");
        }
        if matches!(name, "build" | "launch" | "store" | "config" | "sbom") {
            return bad("is reserved by the spec");
        }
        if name.ends_with(".toml") || name.ends_with(".ignore") || name.contains(".sbom.") {
            return bad("would collide with the lifecycle's own files");
        }
        Ok(LayerName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Display`, `Deref<Target = str>`, `AsRef<str>`, `PartialEq<str>` and a validating
/// `Deserialize` for each name type.
macro_rules! name_impls {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

name_impls!(BuildpackId, ProcessType, LayerName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildpack_ids_follow_the_spec() {
        assert_eq!(BuildpackId::parse("kiln/procfile").unwrap().escaped(), "kiln_procfile");
        assert!(BuildpackId::parse("paketo-buildpacks/node-engine.v2").is_ok());
        for bad in ["", "app", "config", "generated", "sbom", "a b", "../x", "a//b", "x/..", "..", "é", "a_b", ".wh.x", "a/.wh.b"] {
            assert!(BuildpackId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        let error = BuildpackId::parse("a_b").unwrap_err().to_string();
        assert_eq!(error, "buildpack id \"a_b\" may only contain letters, digits, '.', '/' and '-'");
    }

    #[test]
    fn process_types_follow_the_spec() {
        assert!(ProcessType::parse("web").is_ok());
        assert!(ProcessType::parse("worker-2.x_y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "x;rm -rf", &"x".repeat(65), ".wh.web", ".wh..wh..opq"] {
            assert!(ProcessType::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn layer_names_are_single_safe_components() {
        assert!(LayerName::parse("node_modules").is_ok());
        let long = "x".repeat(300);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/abs",
            "a/b",
            "a\0b",
            "build",
            "launch",
            "store",
            "config",
            "sbom",
            "x.toml",
            "x.ignore",
            "x.sbom.cdx.json",
            ".hidden",
            &long,
            "a\nb",
        ] {
            assert!(LayerName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_round_trip_through_toml_and_are_checked_when_read() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct Names {
            id: BuildpackId,
            process: ProcessType,
            layer: LayerName,
        }
        let text = "id = \"kiln/node\"\nprocess = \"web\"\nlayer = \"modules\"\n";
        let names: Names = toml::from_str(text).unwrap();
        assert_eq!(names.id, "kiln/node");
        assert_eq!(toml::to_string(&names).unwrap(), text);
        let error = toml::from_str::<Names>("id = \"app\"\nprocess = \"web\"\nlayer = \"l\"\n").unwrap_err();
        assert!(error.message().contains("buildpack id \"app\" is reserved"), "{error}");
        assert!(toml::from_str::<Names>("id = \"a\"\nprocess = \"..\"\nlayer = \"l\"\n").is_err());
        assert!(toml::from_str::<Names>("id = \"a\"\nprocess = \"web\"\nlayer = \"build\"\n").is_err());
    }
}

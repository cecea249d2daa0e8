//! `project.toml`, the project descriptor ([schema 0.2](https://github.com/buildpacks/spec/blob/main/extensions/project-descriptor.md)):
//! which app files to include or exclude, build env, and the buildpack group.
//!
//! Read from the app dir by `kiln build`. The `[io.buildpacks]` table is closed (unknown
//! keys are errors naming the file); other tables (`[_]`, `[metadata]`, other tools') are
//! left alone. The legacy 0.1 `[build]` table is read too.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// The parts of project.toml kiln uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectDescriptor {
    /// Only these files are part of the app (gitignore-style globs), if set.
    pub include: Vec<String>,
    /// These files are not part of the app, if set.
    pub exclude: Vec<String>,
    /// Build env: name, value.
    pub env: Vec<(String, String)>,
    /// The buildpack group: ids of bundled buildpacks or paths/URIs.
    pub group: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    io: Option<Io>,
    #[serde(default)]
    build: Option<Section>,
}

#[derive(Deserialize)]
struct Io {
    #[serde(default)]
    buildpacks: Option<Section>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    builder: Option<String>,
    #[serde(default)]
    group: Vec<GroupEntry>,
    #[serde(default)]
    buildpacks: Vec<GroupEntry>,
    #[serde(default)]
    build: Option<BuildSection>,
    #[serde(default)]
    env: Vec<EnvEntry>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BuildSection {
    #[serde(default)]
    env: Vec<EnvEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvEntry {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

impl ProjectDescriptor {
    /// Read `dir/project.toml` if present.
    pub fn read(dir: &Path) -> Result<Option<Self>, String> {
        let path = dir.join("project.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Self::parse(&text).map(Some).map_err(|e| format!("{} is invalid: {e}", path.display()))
    }

    /// Parse project.toml text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let section = file.io.and_then(|io| io.buildpacks).or(file.build).unwrap_or_default();
        if !section.include.is_empty() && !section.exclude.is_empty() {
            return Err("include and exclude cannot both be set".into());
        }
        let mut env = section.env;
        env.extend(section.build.map(|b| b.env).unwrap_or_default());
        let _ = section.builder;
        let mut group = Vec::new();
        for entry in section.group.into_iter().chain(section.buildpacks) {
            match (entry.uri, entry.id) {
                (Some(uri), _) => group.push(uri),
                (None, Some(id)) => group.push(match entry.version {
                    Some(v) => format!("{id}@{v}"),
                    None => id,
                }),
                (None, None) => return Err("a group entry needs an id or a uri".into()),
            }
        }
        for e in &env {
            if e.name.is_empty() || e.name.contains(['=', '/', '\0']) {
                return Err(format!("build env name {:?} is not a valid variable name", e.name));
            }
        }
        Ok(ProjectDescriptor {
            include: section.include,
            exclude: section.exclude,
            env: env.into_iter().map(|e| (e.name, e.value)).collect(),
            group,
        })
    }

    /// A filter deciding which app paths (relative, `/`-separated) are part of the app.
    pub fn file_filter(&self) -> Result<FileFilter, String> {
        let build = |patterns: &[String]| -> Result<Option<GlobSet>, String> {
            if patterns.is_empty() {
                return Ok(None);
            }
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                // gitignore-style: a pattern without '/' matches at any depth; a leading '/' anchors it.
                let anchored = pattern.trim_start_matches('/');
                let base = if pattern.starts_with('/') || anchored.contains('/') {
                    anchored.trim_end_matches('/').to_string()
                } else {
                    format!("**/{}", anchored.trim_end_matches('/'))
                };
                for glob in [base.clone(), format!("{base}/**")] {
                    set.add(Glob::new(&glob).map_err(|e| format!("pattern {pattern:?}: {e}"))?);
                }
            }
            set.build().map(Some).map_err(|e| e.to_string())
        };
        Ok(FileFilter { include: build(&self.include)?, exclude: build(&self.exclude)? })
    }
}

/// Which app files are copied into the build.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
}

impl FileFilter {
    /// Everything.
    pub fn all() -> Self {
        FileFilter::default()
    }

    /// Whether every walked directory is copied (false with `include`: only kept files' parents).
    pub fn copies_every_dir(&self) -> bool {
        self.include.is_none()
    }

    /// Whether `relative` (a path under the app dir) is part of the app. Directories are
    /// always walked when `include` is set, so included files deep inside are found.
    pub fn keeps(&self, relative: &Path, is_dir: bool) -> bool {
        if self.exclude.as_ref().is_some_and(|exclude| exclude.is_match(relative)) {
            return false;
        }
        match &self.include {
            Some(include) => is_dir || include.is_match(relative),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_schema_0_2() {
        let project = ProjectDescriptor::parse(
            r#"
[_]
schema-version = "0.2"
id = "my-app"
[io.buildpacks]
exclude = ["*.log", "/secrets"]
[[io.buildpacks.group]]
id = "kiln/procfile"
[[io.buildpacks.build.env]]
name = "GREETING"
value = "hi"
[metadata]
anything = 1
"#,
        )
        .unwrap();
        assert_eq!(project.exclude, vec!["*.log", "/secrets"]);
        assert_eq!(project.group, vec!["kiln/procfile"]);
        assert_eq!(project.env, vec![("GREETING".to_string(), "hi".to_string())]);
        let filter = project.file_filter().unwrap();
        assert!(!filter.keeps(Path::new("a/b/debug.log"), false));
        assert!(!filter.keeps(Path::new("secrets/key"), false));
        assert!(filter.keeps(Path::new("src/secrets"), false), "a leading / anchors the pattern");
        assert!(filter.keeps(Path::new("Procfile"), false));
    }

    #[test]
    fn reads_the_legacy_build_table_and_include() {
        let project = ProjectDescriptor::parse("[build]\ninclude = [\"public/\"]\n[[build.env]]\nname = \"A\"\nvalue = \"1\"\n").unwrap();
        let filter = project.file_filter().unwrap();
        assert!(filter.keeps(Path::new("public/index.html"), false));
        assert!(!filter.keeps(Path::new("README.md"), false));
        assert_eq!(project.env.len(), 1);
    }

    #[test]
    fn malformed_files_give_the_reason() {
        assert!(ProjectDescriptor::parse("[io.buildpacks]\nexclde = []").unwrap_err().contains("exclde"));
        assert!(ProjectDescriptor::parse("[io.buildpacks]\ninclude = [\"a\"]\nexclude = [\"b\"]").unwrap_err().contains("both"));
        assert!(ProjectDescriptor::parse("not = [toml").is_err());
        assert!(ProjectDescriptor::parse("[[io.buildpacks.build.env]]\nname = \"A=B\"\nvalue = \"\"").is_err());
    }
}

//! Builders: buildpacks + an order of groups + a run image, the default for `kiln build`.
//!
//! Read from a `builder.toml` in pack's format (`--builder FILE`), or the default builder
//! embedded in kiln ([`Builder::default_builder`]). Keys kiln does not use (`[lifecycle]`,
//! `[build]`, `[[targets]]`, `[system]`) are accepted and ignored; the tables it does use
//! are closed, so a typo is an error naming the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::order::{Group, GroupEntry, Order};
use kiln_cnb::BuildpackId;

/// The default builder's run image: Debian bookworm's default package set, built by
/// `kiln base build` (or by `kiln build` on first use) and kept in the local store.
pub const DEFAULT_RUN_IMAGE: &str = "kiln/run:debian-bookworm";

/// A builder.
#[derive(Debug, Clone, PartialEq)]
pub struct Builder {
    /// What it is for.
    pub description: String,
    /// Where each buildpack comes from: a bundled id or a component file.
    pub buildpacks: Vec<String>,
    /// The order of groups.
    pub order: Order,
    /// The default run image reference, if any.
    pub run_image: Option<String>,
    /// The image native steps run on (`[build] image`); `None`: the run image.
    pub build_image: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    description: String,
    #[serde(default)]
    buildpacks: Vec<BuildpackEntry>,
    #[serde(default)]
    order: Vec<OrderEntry>,
    #[serde(default)]
    run: Option<Run>,
    #[serde(default)]
    build: Option<BuildImage>,
    #[serde(default)]
    stack: Option<Stack>,
    #[serde(flatten)]
    _ignored: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildpackEntry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderEntry {
    group: Vec<GroupItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupItem {
    id: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    optional: bool,
}

/// `[build]`: the image native steps run on (pack's build image).
#[derive(Deserialize)]
struct BuildImage {
    #[serde(default)]
    image: Option<String>,
    #[serde(flatten)]
    _ignored: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Run {
    #[serde(default)]
    images: Vec<RunImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunImage {
    image: String,
    #[serde(default)]
    mirrors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Stack {
    #[serde(default)]
    run_image: Option<String>,
    #[serde(default)]
    build_image: Option<String>,
    #[serde(flatten)]
    _ignored: toml::Table,
}

impl Builder {
    /// The builder embedded in kiln. Order: Node.js, Python, Go, then a static site, each
    /// with an optional Procfile (whose processes override the language's `web`), then a
    /// Procfile alone.
    pub fn default_builder() -> Builder {
        let entry = |id: &str, optional: bool| GroupEntry { id: BuildpackId::parse(id).expect("bundled ids are valid"), optional };
        Builder {
            description: "kiln's default builder: Node.js, Python, Java, Go, static sites and Procfile apps on Debian bookworm".into(),
            buildpacks: super::source::bundled_buildpacks().iter().map(|(id, _)| id.to_string()).collect(),
            // Each language group takes the app's Procfile too when there is one (its
            // processes are added, a `web` in it replaces the language's default).
            order: Order {
                groups: ["kiln/nodejs", "kiln/python", "kiln/java", "kiln/go", "kiln/static"]
                    .into_iter()
                    .map(|language| Group { entries: vec![entry(language, false), entry("kiln/procfile", true)] })
                    .chain([Group { entries: vec![entry("kiln/procfile", false)] }])
                    .collect(),
            },
            run_image: Some(DEFAULT_RUN_IMAGE.to_string()),
            // Native steps run on the run image itself: what they build links against
            // exactly what the image has. Toolchains come as layers.
            build_image: None,
        }
    }

    /// Read a builder.toml; relative buildpack URIs are relative to its directory.
    pub fn read(path: &Path) -> Result<Builder, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read builder {}: {e}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base).map_err(|e| format!("builder {} is invalid: {e}", path.display()))
    }

    /// Parse builder.toml text.
    pub fn parse(text: &str, base: &Path) -> Result<Builder, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut buildpacks = Vec::new();
        for entry in file.buildpacks {
            match (entry.uri, entry.id) {
                (Some(uri), _) => {
                    let uri = uri.strip_prefix("file://").unwrap_or(&uri).to_string();
                    let path = PathBuf::from(&uri);
                    let resolved = if path.is_relative() && (uri.ends_with(".wasm") || base.join(&path).exists()) {
                        base.join(path).display().to_string()
                    } else {
                        uri
                    };
                    buildpacks.push(resolved);
                }
                (None, Some(id)) => buildpacks.push(match entry.version {
                    Some(v) => format!("{id}@{v}"),
                    None => id,
                }),
                (None, None) => return Err("a [[buildpacks]] entry needs an id or a uri".into()),
            }
        }
        let mut groups = Vec::new();
        for (index, order) in file.order.into_iter().enumerate() {
            if order.group.is_empty() {
                return Err(format!("order group {} is empty", index + 1));
            }
            let mut entries = Vec::new();
            for item in order.group {
                let _ = item.version;
                let id = BuildpackId::parse(&item.id).map_err(|e| format!("order group {}: {e}", index + 1))?;
                entries.push(GroupEntry { id, optional: item.optional });
            }
            groups.push(Group { entries });
        }
        if groups.is_empty() {
            return Err("it has no [[order]]".into());
        }
        let run_image = file
            .run
            .and_then(|r| {
                r.images.into_iter().next().map(|i| {
                    let _ = i.mirrors;
                    i.image
                })
            })
            .or(file.stack.as_ref().and_then(|s| s.run_image.clone()));
        let build_image = file.build.and_then(|b| b.image).or(file.stack.as_ref().and_then(|s| s.build_image.clone()));
        Ok(Builder { description: file.description, buildpacks, order: Order { groups }, run_image, build_image })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_packs_format() {
        let builder = Builder::parse(
            r#"
description = "test"
[[buildpacks]]
uri = "bp/node.wasm"
[[buildpacks]]
id = "kiln/procfile"
[[order]]
[[order.group]]
id = "kiln/node"
[[order.group]]
id = "kiln/procfile"
optional = true
[[order]]
[[order.group]]
id = "kiln/procfile"
[run]
[[run.images]]
image = "run-base"
[lifecycle]
version = "0.20.0"
"#,
            Path::new("/b"),
        )
        .unwrap();
        assert_eq!(builder.buildpacks, vec!["/b/bp/node.wasm", "kiln/procfile"]);
        assert_eq!(builder.order.groups.len(), 2);
        assert!(builder.order.groups[0].entries[1].optional);
        assert_eq!(builder.run_image.as_deref(), Some("run-base"));
    }

    #[test]
    fn rejects_typos_and_empty_orders() {
        assert!(Builder::parse("[[order]]\n[[order.group]]\nid = \"a\"\noptinal = true", Path::new("/")).unwrap_err().contains("optinal"));
        assert!(Builder::parse("description = \"x\"", Path::new("/")).unwrap_err().contains("no [[order]]"));
    }
}

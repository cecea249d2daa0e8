//! Layers: their types and where they live in the build and in the image
//! ([buildpack spec, Layer Types](https://github.com/buildpacks/spec/blob/main/buildpack.md#layer-types)).
//!
//! A buildpack's layers are in `/layers/<escaped buildpack id>/<layer>` during its build, in
//! later buildpacks' builds (for `build` layers) and in the app image (for `launch` layers):
//! the same absolute path everywhere, so values written into env files stay valid.

use serde::{Deserialize, Serialize};

use crate::names::{BuildpackId, LayerName};

/// Where the layers dir is, in the build sandbox and in the image (the platform's default
/// `CNB_LAYERS_DIR`).
pub const LAYERS_DIR: &str = "/layers";

/// Where the app is, in the build sandbox and in the image (the platform's default `CNB_APP_DIR`).
pub const APP_DIR: &str = "/workspace";

/// `/layers/<escaped id>`: a buildpack's layers dir.
pub fn buildpack_layers_path(id: &BuildpackId) -> String {
    format!("{LAYERS_DIR}/{}", id.escaped())
}

/// `/layers/<escaped id>/<layer>`: where a layer is in the build and in the image.
pub fn layer_path(id: &BuildpackId, layer: &LayerName) -> String {
    format!("{LAYERS_DIR}/{}/{layer}", id.escaped())
}

/// The `[types]` table of `<layers>/<layer>.toml`: what the lifecycle does with a layer.
/// Unset types are false; every combination is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerTypes {
    /// Exported into the app image.
    #[serde(default)]
    pub launch: bool,
    /// Visible to later buildpacks of this build (and its env applied to them).
    #[serde(default)]
    pub build: bool,
    /// Kept for the next build.
    #[serde(default)]
    pub cache: bool,
}

impl LayerTypes {
    /// `launch` and nothing else: the only layer whose contents a later build takes from the
    /// previous app image rather than the cache (the restore table's `F,F,T` row), when the
    /// buildpack keeps it without writing its directory.
    pub fn is_launch_only(&self) -> bool {
        self.launch && !self.build && !self.cache
    }

    /// No type at all: a scratch layer the lifecycle renames to `<layer>.ignore` after the
    /// buildpack's build.
    pub fn is_ignored(&self) -> bool {
        !self.launch && !self.build && !self.cache
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_paths_use_the_escaped_id() {
        let id = BuildpackId::parse("kiln/node").unwrap();
        let layer = LayerName::parse("modules").unwrap();
        assert_eq!(buildpack_layers_path(&id), "/layers/kiln_node");
        assert_eq!(layer_path(&id, &layer), "/layers/kiln_node/modules");
    }

    #[test]
    fn types_round_trip_through_the_types_table() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct LayerToml {
            types: LayerTypes,
        }
        let text = "[types]\nlaunch = true\nbuild = false\ncache = true\n";
        let parsed: LayerToml = toml::from_str(text).unwrap();
        assert_eq!(parsed.types, LayerTypes { launch: true, build: false, cache: true });
        assert_eq!(toml::to_string(&parsed).unwrap(), text);
        let partial: LayerToml = toml::from_str("[types]\nlaunch = true\n").unwrap();
        assert_eq!(partial.types, LayerTypes { launch: true, ..LayerTypes::default() }, "unset types are false");
        assert!(toml::from_str::<LayerToml>("[types]\nlaunched = true\n").is_err(), "a misspelt type is an error");
    }

    #[test]
    fn launch_only_means_launch_and_nothing_else() {
        let t = |launch, build, cache| LayerTypes { launch, build, cache };
        assert!(t(true, false, false).is_launch_only());
        for not in [t(true, true, false), t(true, false, true), t(true, true, true), t(false, false, false)] {
            assert!(!not.is_launch_only(), "{not:?}");
        }
        assert!(t(false, false, false).is_ignored());
        assert!(!t(false, false, true).is_ignored());
    }
}

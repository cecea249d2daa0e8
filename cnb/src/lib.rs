//! kiln-cnb: the Cloud Native Buildpacks spec data that kiln's host and its launcher share,
//! as strict serde types and validated newtypes in one place (as libcnb-data does), so that
//! a rule is written once and both sides of an image agree on it.
//!
//! - [`names`]: [`BuildpackId`] (and its escaping for directory names), [`ProcessType`],
//!   [`LayerName`]: a bad name cannot exist past the parser.
//! - [`layer`]: [`LayerTypes`] (and what "launch-only" means), where a layer is in the build
//!   and the image (`/layers/<escaped id>/<layer>`).
//! - [`launch`]: [`LaunchMetadata`], `<layers>/config/metadata.toml`, written by the exporter
//!   and read by the launcher.
//! - [`env`]: the env-file rules (`env`, `env.build`, `env.launch` dirs; `.override`,
//!   `.default`, `.append`, `.prepend`, `.delim` suffixes), layer path dirs and the image's
//!   `PATH` rule.
//!
//! Dependencies stay light (serde, toml, thiserror): the launcher is a static musl binary
//! placed in every image.

pub mod env;
pub mod launch;
pub mod layer;
pub mod names;

pub use launch::{GroupBuildpack, LaunchMetadata, LaunchMetadataError, LaunchProcess};
pub use layer::LayerTypes;
pub use names::{BuildpackId, LayerName, NameError, ProcessType};

//! Buildpack descriptors and sources.
//!
//! It owns `buildpack.toml` as strict serde types ([`descriptor`]), the order of groups a
//! build tries ([`order`]), and where a buildpack's component comes from: the ones bundled
//! into the kiln binary or a `.wasm` file ([`source`]). The validated names a buildpack
//! declares ([`BuildpackId`], [`ProcessType`]) live in the `kiln-cnb` crate, shared with the
//! launcher.

pub mod builder;
pub mod descriptor;
pub mod order;
pub mod project;
pub mod source;

pub use descriptor::BuildpackDescriptor;
/// The validated names a buildpack declares, shared with the launcher (crate `kiln-cnb`).
pub use kiln_cnb::{BuildpackId, ProcessType};
pub use order::{Group, GroupEntry, Order};
pub use source::{BuildpackSource, bundled_buildpacks};

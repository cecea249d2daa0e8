//! Buildpack descriptors and sources.
//!
//! It owns `buildpack.toml` as strict serde types ([`descriptor`]), the validated names a
//! buildpack declares ([`names`]), the order of groups a build tries ([`order`]), and where a
//! buildpack's component comes from: the ones bundled into the kiln binary or a `.wasm`
//! file ([`source`]).

pub mod builder;
pub mod descriptor;
pub mod names;
pub mod order;
pub mod project;
pub mod source;

pub use descriptor::BuildpackDescriptor;
pub use names::{BuildpackId, ProcessType};
pub use order::{Group, GroupEntry, Order};
pub use source::{BuildpackSource, bundled_buildpacks};

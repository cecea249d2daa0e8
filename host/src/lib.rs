//! kiln: a daemonless Cloud Native Buildpacks platform and lifecycle.
pub mod sandbox;
pub mod image;

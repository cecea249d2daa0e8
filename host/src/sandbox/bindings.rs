//! Host-side bindings generated from the contract: `wit/buildpack.wit` (0.2.0, current) and
//! `wit/v0.1/buildpack.wit` (0.1.0, frozen).
//!
//! Both worlds are linked, so a component built against either contract loads. The 0.1.0
//! bindings reuse the 0.2.0 `types` (the two `types` interfaces are identical, and the
//! component model checks records structurally), so the lifecycle has one set of types;
//! only 0.1.0's `host` interface gets its own trait, which forwards to the 0.2.0 one
//! (see `host_imports`).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "kiln:buildpack/buildpack-component",
    imports: {
        "kiln:buildpack/host.log": trappable,
        "kiln:buildpack/host.set-executable": trappable,
        "kiln:buildpack/host.fetch": trappable,
        "kiln:buildpack/host.exec": trappable,
    },
});

/// The frozen 0.1.0 contract: the same exports and types, a `host` without `exec`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "kiln:buildpack/buildpack-component",
        imports: {
            "kiln:buildpack/host.log": trappable,
            "kiln:buildpack/host.set-executable": trappable,
            "kiln:buildpack/host.fetch": trappable,
        },
        with: {
            "kiln:buildpack/types@0.1.0": crate::sandbox::bindings::kiln::buildpack::types,
        },
    });
}

pub use self::kiln::buildpack::host::LogLevel;
pub use self::kiln::buildpack::types;

/// The contract version this host implements (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Every contract version this host can load, oldest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0", "0.2.0"];
/// The WIT package name of the contract.
pub const CONTRACT_PACKAGE: &str = "kiln:buildpack";

/// Which contract a loaded component speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// `kiln:buildpack@0.1.x`: no `exec`.
    V0_1,
    /// `kiln:buildpack@0.2.x`.
    V0_2,
}

impl Contract {
    /// The contract of a `major.minor[.patch]` version, if this host supports it.
    pub fn from_version(version: &str) -> Option<Contract> {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("1")) => Some(Contract::V0_1),
            (Some("0"), Some("2")) => Some(Contract::V0_2),
            _ => None,
        }
    }

    /// The version as written in the WIT package.
    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }
}

//! Host-side bindings generated from `wit/buildpack.wit`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "kiln:buildpack/buildpack-component",
    imports: {
        "kiln:buildpack/host.log": trappable,
        "kiln:buildpack/host.set-executable": trappable,
        "kiln:buildpack/host.fetch": trappable,
    },
});

pub use self::kiln::buildpack::types;
pub use self::kiln::buildpack::host::LogLevel;

/// The contract version this host implements (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The WIT package name of the contract.
pub const CONTRACT_PACKAGE: &str = "kiln:buildpack";

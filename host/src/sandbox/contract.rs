//! The contract check: does a component speak the `kiln:buildpack` version this host implements?
//!
//! Run on every load, before instantiation, so that a component built for another
//! contract version, or a component that is no buildpack at all, gets an error naming
//! both versions instead of a linker message.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::{CONTRACT_PACKAGE, Contract, SUPPORTED_CONTRACTS};
use super::error::SandboxError;

/// Reject bytes that are not a component at all (a core module, or not wasm), cheaply.
pub fn check_is_component(bytes: &[u8], origin: &str) -> Result<(), SandboxError> {
    const MAGIC: &[u8] = b"\0asm";
    let detail = if bytes.len() < 8 || &bytes[..4] != MAGIC {
        "the file does not start with the WebAssembly magic bytes".to_string()
    } else if bytes[4..8] == [1, 0, 0, 0] {
        "it is a core WebAssembly module; build the buildpack for the wasm32-wasip2 target, which produces a component".to_string()
    } else if bytes[6..8] == [1, 0] {
        return Ok(());
    } else {
        format!("unknown WebAssembly encoding version {:?}", &bytes[4..8])
    };
    Err(SandboxError::NotAComponent { origin: origin.into(), detail })
}

/// The version in an interface name like `kiln:buildpack/buildpack@0.1.0`, if it is ours.
fn contract_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(CONTRACT_PACKAGE)?.strip_prefix('/')?;
    Some(rest.split_once('@').map(|(_, v)| v).unwrap_or(""))
}

/// Check the component's kiln imports and exports against the contracts this host links:
/// every kiln name must carry one supported version (0.x contracts break on minor), the
/// same one throughout. Returns the contract it speaks.
pub fn check_contract(engine: &Engine, component: &Component, origin: &str) -> Result<Contract, SandboxError> {
    let ty = component.component_type();
    let incompatible = |found: &str| SandboxError::IncompatibleContract {
        origin: origin.into(),
        found: found.into(),
        supported: SUPPORTED_CONTRACTS.join(", kiln:buildpack@"),
    };
    let mut spoken: Option<Contract> = None;
    let mut speak = |version: &str| -> Result<(), SandboxError> {
        let contract = Contract::from_version(version).ok_or_else(|| incompatible(version))?;
        match spoken {
            Some(earlier) if earlier != contract => Err(incompatible(&format!("{} mixed with {version}", earlier.version()))),
            _ => {
                spoken = Some(contract);
                Ok(())
            }
        }
    };
    let mut exports = Vec::new();
    let mut exports_buildpack = false;
    for (name, _) in ty.exports(engine) {
        exports.push(name.to_string());
        if let Some(version) = contract_version(name) {
            speak(version)?;
            exports_buildpack |= name.starts_with(&format!("{CONTRACT_PACKAGE}/buildpack"));
        }
    }
    for (name, _) in ty.imports(engine) {
        if let Some(version) = contract_version(name) {
            speak(version)?;
        } else if !name.starts_with("wasi:") {
            return Err(SandboxError::UnsupportedImport { origin: origin.into(), import: name.into() });
        }
    }
    match spoken {
        Some(contract) if exports_buildpack => Ok(contract),
        _ => {
            let exports = if exports.is_empty() { "none".to_string() } else { exports.join(", ") };
            Err(SandboxError::NotABuildpack { origin: origin.into(), exports })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_core_modules_and_garbage() {
        let core = b"\0asm\x01\0\0\0";
        let err = check_is_component(core, "x.wasm").unwrap_err().to_string();
        assert!(err.contains("core WebAssembly module"), "{err}");
        let err = check_is_component(b"#!/bin/sh\necho", "x.wasm").unwrap_err().to_string();
        assert!(err.contains("magic bytes"), "{err}");
        assert!(check_is_component(b"\0asm\x0d\0\x01\0", "x.wasm").is_ok());
    }

    #[test]
    fn versions_compare_on_major_minor() {
        assert_eq!(contract_version("kiln:buildpack/buildpack@0.2.0"), Some("0.2.0"));
        assert_eq!(contract_version("wasi:cli/stdout@0.2.0"), None);
        assert_eq!(Contract::from_version("0.1.7"), Some(Contract::V0_1));
        assert_eq!(Contract::from_version("0.2.0"), Some(Contract::V0_2));
        assert_eq!(Contract::from_version("0.3.0"), None);
        assert_eq!(Contract::from_version("1.2.0"), None);
    }
}

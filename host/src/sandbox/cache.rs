//! The on-disk cache of precompiled components.
//!
//! Compiling a component with cranelift takes ~100 ms; loading a precompiled one takes
//! well under a millisecond. A cache entry is keyed by the sha256 of the component bytes
//! and of the engine's compatibility hash (which covers wasmtime's version and every
//! setting that changes generated code), so a different engine never loads a stale
//! artifact. Each `.cwasm` is stored with the sha256 of its own bytes, checked before
//! loading: deserializing trusts the bytes, so only files kiln itself wrote are loaded.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::SandboxError;

/// Where a component came from this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (and stored for next time).
    Compiled,
    /// Loaded from the cache.
    Loaded,
}

/// Feeds `Hash` output into sha256, so the engine hash is stable and collision-resistant.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The cache key of `wasm` for `engine`.
pub fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    hasher.0.update(Sha256::digest(wasm));
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    hex::encode(hasher.0.finalize())
}

/// Load `wasm` from the cache in `dir`, or compile and store it.
pub fn load_or_compile(engine: &Engine, dir: &Path, wasm: &[u8], origin: &str) -> Result<(Component, CacheOutcome), SandboxError> {
    let key = cache_key(engine, wasm);
    let artifact = dir.join(format!("{key}.cwasm"));
    let checksum = dir.join(format!("{key}.sha256"));
    if let Some(component) = load_verified(engine, &artifact, &checksum) {
        return Ok((component, CacheOutcome::Loaded));
    }
    let compiled =
        engine.precompile_component(wasm).map_err(|source| SandboxError::Compile { origin: origin.into(), source: source.into() })?;
    store(dir, &artifact, &checksum, &compiled)?;
    let component = deserialize(engine, &compiled).map_err(|source| SandboxError::Compile { origin: origin.into(), source })?;
    Ok((component, CacheOutcome::Compiled))
}

/// A cached artifact whose bytes match their recorded sha256; anything else is a miss.
fn load_verified(engine: &Engine, artifact: &Path, checksum: &Path) -> Option<Component> {
    let expected = std::fs::read_to_string(checksum).ok()?;
    let bytes = std::fs::read(artifact).ok()?;
    if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
        tracing::warn!(path = %artifact.display(), "precompiled component does not match its checksum; recompiling");
        return None;
    }
    match deserialize(engine, &bytes) {
        Ok(component) => Some(component),
        Err(error) => {
            tracing::warn!(path = %artifact.display(), %error, "cannot load precompiled component; recompiling");
            None
        }
    }
}

#[allow(unsafe_code)] // Reason: wasmtime's deserialize is unsafe because it trusts its input; see below.
fn deserialize(engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
    // SAFETY: the bytes are either what `precompile_component` just produced in this
    // process, or a cache file whose sha256 matches the checksum kiln wrote beside it
    // when it stored that same output. wasmtime additionally checks the engine version
    // and configuration embedded in the artifact.
    Ok(unsafe { Component::deserialize(engine, bytes) }?)
}

/// Write the artifact and its checksum atomically (temp file + rename), checksum last.
fn store(dir: &Path, artifact: &Path, checksum: &Path, compiled: &[u8]) -> Result<(), SandboxError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SandboxError::Cache { path, source }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    write_atomic(dir, artifact, compiled).map_err(err(artifact))?;
    let sum = hex::encode(Sha256::digest(compiled));
    write_atomic(dir, checksum, sum.as_bytes()).map_err(err(checksum))?;
    Ok(())
}

fn write_atomic(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// The default cache dir for compiled components under a kiln cache root.
pub fn components_dir(cache_root: &Path) -> PathBuf {
    cache_root.join("components")
}

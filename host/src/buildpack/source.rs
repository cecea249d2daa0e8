//! Where a buildpack component comes from: bundled into kiln, or a `.wasm` file.

use std::path::{Path, PathBuf};

/// The buildpacks compiled into the kiln binary: `(id, component bytes)`.
pub fn bundled_buildpacks() -> &'static [(&'static str, &'static [u8])] {
    &[
        ("kiln/nodejs", include_bytes!(env!("KILN_BUNDLED_NODEJS"))),
        ("kiln/go", include_bytes!(env!("KILN_BUNDLED_GO"))),
        ("kiln/python", include_bytes!(env!("KILN_BUNDLED_PYTHON"))),
        ("kiln/java", include_bytes!(env!("KILN_BUNDLED_JAVA"))),
        ("kiln/static", include_bytes!(env!("KILN_BUNDLED_STATIC"))),
        ("kiln/procfile", include_bytes!(env!("KILN_BUNDLED_PROCFILE"))),
    ]
}

/// A buildpack component's bytes and a name for them in messages.
#[derive(Debug, Clone)]
pub struct BuildpackSource {
    /// The component bytes.
    pub wasm: Vec<u8>,
    /// Where they came from: `bundled:<id>` or the file path.
    pub origin: String,
}

impl BuildpackSource {
    /// Resolve a `--buildpack` argument: an existing path to a `.wasm` file, or the id of a
    /// bundled buildpack.
    pub fn resolve(arg: &str) -> Result<Self, String> {
        let path = Path::new(arg);
        if path.exists() || arg.ends_with(".wasm") {
            return Self::from_file(path);
        }
        let id = arg.split('@').next().unwrap_or(arg);
        match bundled_buildpacks().iter().find(|(bundled, _)| *bundled == id) {
            Some((id, wasm)) => Ok(BuildpackSource { wasm: wasm.to_vec(), origin: format!("bundled:{id}") }),
            None => Err(format!(
                "buildpack {arg:?} is neither a file nor a bundled buildpack; bundled: {}",
                bundled_buildpacks().iter().map(|(id, _)| *id).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Read a component file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let path: PathBuf = path.to_path_buf();
        let wasm = std::fs::read(&path).map_err(|e| format!("cannot read buildpack {}: {e}", path.display()))?;
        Ok(BuildpackSource { wasm, origin: path.display().to_string() })
    }
}

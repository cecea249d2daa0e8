//! The typed contexts a buildpack receives, and layer creation.

use std::path::{Path, PathBuf};

use crate::bindings::kiln::buildpack::types as wit;
use crate::{EnvVar, Error, LayerTypes, PlanEntry, Target};

/// What detect sees: the app (read-only), the platform dir and env, the target.
#[derive(Debug, Clone)]
pub struct DetectContext {
    /// The application directory (read-only).
    pub app_dir: PathBuf,
    /// The platform directory.
    pub platform_dir: PathBuf,
    /// The platform env (`--env`, project.toml).
    pub platform_env: Vec<EnvVar>,
    /// The build target.
    pub target: Target,
}

impl DetectContext {
    pub(crate) fn from_wit(c: wit::DetectContext) -> Self {
        DetectContext { app_dir: c.app_dir.into(), platform_dir: c.platform_dir.into(), platform_env: c.platform_env, target: c.target }
    }

    /// The path of a file relative to the app dir.
    pub fn app_file(&self, relative: &str) -> PathBuf {
        self.app_dir.join(relative)
    }

    /// A platform env var by name.
    pub fn env(&self, name: &str) -> Option<&str> {
        find_env(&self.platform_env, name)
    }
}

/// A previous build's layer, as kiln remembers it.
#[derive(Debug, Clone)]
pub struct PreviousLayer {
    /// The layer's metadata TOML document.
    pub metadata: String,
    /// Whether its contents were restored into the layers dir.
    pub contents_restored: bool,
}

/// What build sees: the app (read-write), its own layers dir, the plan, the platform env.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The application directory (read-write).
    pub app_dir: PathBuf,
    /// This buildpack's layers directory.
    pub layers_dir: PathBuf,
    /// The platform directory.
    pub platform_dir: PathBuf,
    /// The platform env.
    pub platform_env: Vec<EnvVar>,
    /// The resolved build plan entries for this buildpack.
    pub plan: Vec<PlanEntry>,
    /// Layers from the previous build, by name.
    pub previous_layers: Vec<(String, PreviousLayer)>,
    /// The build target.
    pub target: Target,
}

impl BuildContext {
    pub(crate) fn from_wit(c: wit::BuildContext) -> Self {
        BuildContext {
            app_dir: c.app_dir.into(),
            layers_dir: c.layers_dir.into(),
            platform_dir: c.platform_dir.into(),
            platform_env: c.platform_env,
            plan: c.plan,
            previous_layers: c
                .previous_layers
                .into_iter()
                .map(|l| (l.name, PreviousLayer { metadata: l.metadata, contents_restored: l.contents_restored }))
                .collect(),
            target: c.target,
        }
    }

    /// The path of a file relative to the app dir.
    pub fn app_file(&self, relative: &str) -> PathBuf {
        self.app_dir.join(relative)
    }

    /// A platform env var by name.
    pub fn env(&self, name: &str) -> Option<&str> {
        find_env(&self.platform_env, name)
    }

    /// The previous build's layer of this name, if kiln remembers one.
    pub fn previous_layer(&self, name: &str) -> Option<&PreviousLayer> {
        self.previous_layers.iter().find(|(n, _)| n == name).map(|(_, l)| l)
    }

    /// Create (or empty and re-create) the layer directory `name` with these types.
    pub fn layer(&self, name: &str, types: LayerTypes) -> Result<Layer, Error> {
        let path = self.layers_dir.join(name);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::from(e).context(format!("clearing layer {name}")))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| Error::from(e).context(format!("creating layer {name}")))?;
        Ok(Layer { name: name.to_string(), path, types, metadata: String::new() })
    }

    /// Keep a previous layer as it is (its contents were restored), with new types.
    pub fn reuse_layer(&self, name: &str, types: LayerTypes) -> Layer {
        let metadata = self.previous_layer(name).map(|l| l.metadata.clone()).unwrap_or_default();
        Layer { name: name.to_string(), path: self.layers_dir.join(name), types, metadata }
    }
}

/// A layer the buildpack is building.
#[derive(Debug, Clone)]
pub struct Layer {
    name: String,
    path: PathBuf,
    types: LayerTypes,
    metadata: String,
}

impl Layer {
    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layer's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Set the metadata remembered for the next build (a TOML document).
    pub fn with_metadata(mut self, toml: impl Into<String>) -> Self {
        self.metadata = toml.into();
        self
    }

    /// Write an env file `env/<NAME>.<suffix>` (suffix e.g. `override`, `prepend`, `default`).
    pub fn env(&self, file_name: &str, value: &str) -> Result<(), Error> {
        let dir = self.path.join("env");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(file_name), value)?;
        Ok(())
    }

    pub(crate) fn into_wit(self) -> wit::Layer {
        wit::Layer { name: self.name, types: self.types, metadata: self.metadata }
    }
}

fn find_env<'a>(env: &'a [EnvVar], name: &str) -> Option<&'a str> {
    env.iter().rev().find(|v| v.name == name).map(|v| v.value.as_str())
}

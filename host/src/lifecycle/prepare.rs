//! Prepare: load each buildpack component (compiled or from the component cache) and
//! read its `buildpack.toml` through the `descriptor` export.

use std::sync::Arc;
use std::time::Instant;

use super::LifecycleError;
use super::events::{Event, Reporter, millis};
use crate::buildpack::{BuildpackDescriptor, BuildpackId, BuildpackSource};
use crate::sandbox::{Limits, LoadedBuildpack, Sandbox};

/// A buildpack ready to run.
#[derive(Clone)]
pub struct ReadyBuildpack {
    /// Its descriptor.
    pub descriptor: BuildpackDescriptor,
    /// Its compiled component.
    pub component: LoadedBuildpack,
}

impl ReadyBuildpack {
    /// The buildpack's id.
    pub fn id(&self) -> &BuildpackId {
        &self.descriptor.buildpack.id
    }
}

/// Load every source; ids must be unique.
pub fn prepare(
    sandbox: &Sandbox,
    sources: &[BuildpackSource],
    limits: &Limits,
    reporter: &Reporter,
) -> Result<Vec<ReadyBuildpack>, LifecycleError> {
    let mut ready: Vec<ReadyBuildpack> = Vec::new();
    for source in sources {
        let started = Instant::now();
        let component = LoadedBuildpack::load(sandbox, &source.wasm, &source.origin)?;
        let text = component.descriptor(limits, Arc::new(|_, _| {}))?;
        let descriptor = BuildpackDescriptor::parse(&text, &source.origin)
            .map_err(|message| LifecycleError::InvalidBuildpack { origin: source.origin.clone(), message })?;
        if ready.iter().any(|r| r.id().escaped() == descriptor.buildpack.id.escaped()) {
            return Err(LifecycleError::InvalidBuildpack {
                origin: source.origin.clone(),
                message: format!("buildpack id {} is given twice", descriptor.buildpack.id),
            });
        }
        reporter(&Event::BuildpackLoaded {
            id: descriptor.buildpack.id.to_string(),
            version: descriptor.buildpack.version.clone(),
            cached: component.cache == crate::sandbox::cache::CacheOutcome::Loaded,
            millis: millis(started.elapsed()),
        });
        ready.push(ReadyBuildpack { descriptor, component });
    }
    Ok(ready)
}

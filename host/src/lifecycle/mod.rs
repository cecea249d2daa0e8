//! The lifecycle: analyze, prepare, detect, restore, build and export, one module a phase.
//!
//! [`run_build`] drives the phases for one `kiln build`; each phase is a struct of
//! explicit inputs with one verb method ([`analyze::Analyzer::analyze`],
//! [`detect::Detector::detect`], [`build::Builder::build`], [`export::Exporter::export`]),
//! as the CNB lifecycle's `phase/*.go` are. Phases report progress as [`events::Event`]s
//! and never print. What to build with (builder, buildpacks, run image, registries) is
//! resolved before, by [`crate::platform`].

pub mod analyze;
pub mod app_layers;
pub mod build;
pub mod cache;
pub mod config_share;
pub mod detect;
pub mod ecosystem;
pub mod events;
pub mod export;
pub mod launch_metadata;
pub mod layer_writer;
pub mod native;
pub mod native_steps;
pub mod plan;
pub mod prepare;
pub mod rebase;
pub mod restore;
pub mod sbom;
pub mod verify_processes;
pub mod workspace;

mod error;
pub mod request;

pub use error::LifecycleError;
pub use request::{BuildReport, BuildRequest, run_build};

use crate::sandbox::bindings::LogLevel;
use crate::sandbox::bindings::types as wit;
use crate::sandbox::{Grants, LogSink};
use events::{Event, Reporter};

/// The os/arch/distro an image is built for (from the run image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// OCI os.
    pub os: String,
    /// OCI architecture.
    pub arch: String,
    /// Distribution name.
    pub distro_name: Option<String>,
    /// Distribution version.
    pub distro_version: Option<String>,
}

impl Target {
    fn to_wit(&self) -> wit::Target {
        wit::Target {
            os: self.os.clone(),
            arch: self.arch.clone(),
            distro_name: self.distro_name.clone(),
            distro_version: self.distro_version.clone(),
        }
    }
}

/// Grant the CNB variables every buildpack call sees, plus the platform env.
fn cnb_env(mut grants: Grants, target: &Target, platform_env: &[(String, String)]) -> Grants {
    // `CNB_` is reserved for the lifecycle: a user or layer value of that name is dropped.
    for (name, value) in platform_env.iter().filter(|(name, _)| !name.starts_with("CNB_")) {
        grants = grants.env(name, value);
    }
    grants = grants
        .env("CNB_PLATFORM_DIR", workspace::PLATFORM_GUEST_PATH)
        .env("CNB_APP_DIR", workspace::APP_GUEST_PATH)
        .env("CNB_TARGET_OS", &target.os)
        .env("CNB_TARGET_ARCH", &target.arch);
    if let Some(name) = &target.distro_name {
        grants = grants.env("CNB_TARGET_DISTRO_NAME", name);
    }
    if let Some(version) = &target.distro_version {
        grants = grants.env("CNB_TARGET_DISTRO_VERSION", version);
    }
    grants
}

fn wit_env(env: &[(String, String)]) -> Vec<wit::EnvVar> {
    env.iter().map(|(name, value)| wit::EnvVar { name: name.clone(), value: value.clone() }).collect()
}

/// A log sink that turns a buildpack's log lines into [`Event::Log`].
fn log_sink(reporter: Reporter, id: &str) -> LogSink {
    let id = id.to_string();
    std::sync::Arc::new(move |level: LogLevel, line: &str| {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        reporter(&Event::Log { id: id.clone(), level: level.into(), line: line.into() });
    })
}

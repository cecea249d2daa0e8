//! The platform: everything between the command line and the lifecycle, as a CNB platform
//! (pack, kpack) is to the CNB lifecycle.
//!
//! It owns the decisions a build, run or rebase makes before and after the lifecycle's
//! phases, so the CLI only parses flags into an options struct and prints:
//!
//! - [`dirs`]: where kiln keeps its store, caches and temporary dirs (`$KILN_HOME`).
//! - [`build`]: [`BuildOptions`] to a [`crate::lifecycle::BuildRequest`]: kiln's config file,
//!   project.toml, the builder, the buildpacks (paths, bundled ids, registry buildpackages),
//!   the run image (the default one made on first use, a registry one pulled), limits, env
//!   and fetch settings; then the lifecycle, then [`distribution`].
//! - [`distribution`]: `--publish` (push) and `--output docker-archive:FILE` of a build.
//! - [`registry`]: one registry client per command, made on first use, with the user's
//!   credentials and insecure registries (flags plus kiln's config).
//! - [`buildpackage`]: buildpacks as OCI images: package, push, pull and verify.
//! - [`base`]: Debian run images, and the default run image on first use.
//! - [`rebase`]: find the app and new run image (local or registry), rebase, write or push.
//! - [`run`](mod@run): `kiln run`: unpack an image and start its process in kiln's jail.
//!
//! Errors are [`PlatformError`]s; the CLI picks exit codes for them in one table
//! (`cli/exit.rs`). Progress lines go to a [`Progress`] callback, lifecycle events to a
//! [`crate::lifecycle::events::Reporter`]; nothing here prints.

pub mod base;
pub mod build;
pub mod buildpackage;
pub mod dirs;
pub mod distribution;
mod error;
pub mod rebase;
pub mod registry;
pub mod run;

pub use build::{BuildOptions, Built, LimitFlags, build};
pub use dirs::Dirs;
pub use error::PlatformError;
pub use registry::Registries;

/// Receives the platform's progress lines (what was pulled, pushed, built); must be cheap.
pub type Progress = crate::image::registry::Progress;

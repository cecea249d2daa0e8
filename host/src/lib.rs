//! kiln: a daemonless Cloud Native Buildpacks platform and lifecycle that runs every
//! buildpack as a sandboxed WebAssembly component and writes standard OCI images.
//!
//! - [`sandbox`]: wasmtime, the component cache, grants, limits, host imports.
//! - [`jail`]: namespaces, mounts, seccomp and limits for native steps (`exec`).
//! - [`platform`]: between the CLI and the lifecycle: builders, buildpacks, run images,
//!   registries, publishing, `kiln run`, rebase, kiln's dirs.
//! - [`lifecycle`]: analyze, prepare, detect, restore, build, export — one module a phase.
//! - [`buildpack`]: `buildpack.toml`, ids, orders, where components come from.
//! - [`layers`]: layer names, types, metadata, checks on what buildpacks wrote.
//! - [`base`]: run images made from Debian packages (`kiln base build`).
//! - [`image`]: the OCI model, the local store, reproducible layer tars, CNB labels.
//! - [`fetch`]: the `fetch` host import: policy, download cache, mirrors, provenance, SBOM.
//! - [`config`]: kiln's config file (defaults for builds, limits, registries, fetch).
//! - [`error_text`]: an error and its sources on one line, for messages.
//! - [`cli`]: the `kiln` command line (parsing, output, and the one exit-code table).

pub mod base;
pub mod buildpack;
pub mod cli;
pub mod config;
pub mod error_text;
pub mod fetch;
pub mod image;
pub mod jail;
pub mod layers;
pub mod lifecycle;
pub mod platform;
pub mod sandbox;

/// The launcher binary placed in every image at `/cnb/lifecycle/launcher`.
pub const LAUNCHER: &[u8] = include_bytes!(env!("KILN_LAUNCHER"));

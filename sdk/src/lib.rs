//! kiln-sdk: write a kiln buildpack in Rust.
//!
//! A kiln buildpack is a WebAssembly component built for `wasm32-wasip2` that implements
//! the `kiln:buildpack` WIT contract (see `wit/buildpack.wit`). This crate owns the guest
//! side of that contract: the generated bindings, a [`Buildpack`] trait with typed
//! contexts, helpers to create layers, and [`export_buildpack!`] which turns a type into
//! the component's exports. The crate's `buildpack.toml` (next to its `Cargo.toml`) is
//! embedded as the buildpack's descriptor. [`fetch`] downloads; [`archive`] unpacks what
//! was downloaded, inside the sandbox; [`exec::Command`] runs a native program (a compiler,
//! a package manager) in kiln's jail, with no more rights than the buildpack's own call.
//!
//! ```ignore
//! use kiln_sdk::{Buildpack, BuildContext, BuildResult, DetectContext, DetectResult, Error};
//! struct Hello;
//! impl Buildpack for Hello {
//!     fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
//!         Ok(if ctx.app_file("hello.txt").exists() { DetectResult::pass() } else { DetectResult::fail("no hello.txt") })
//!     }
//!     fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
//!         let layer = ctx.layer("greeting", LayerTypes::LAUNCH)?;
//!         std::fs::write(layer.path().join("hi"), "hi")?;
//!         Ok(BuildResult::new().layer(layer))
//!     }
//! }
//! kiln_sdk::export_buildpack!(Hello);
//! ```

pub mod archive;
mod context;
mod error;
pub mod exec;
mod results;

/// The bindings generated from `wit/buildpack.wit` (used by [`export_buildpack!`]).
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "kiln:buildpack/buildpack-component",
        pub_export_macro: true,
        default_bindings_module: "kiln_sdk::bindings",
        export_macro_name: "export",
        generate_all,
    });
}

pub use bindings::kiln::buildpack::types::{EnvVar, LayerTypes, PlanEntry, Target};
pub use context::{BuildContext, DetectContext, Layer};
pub use error::Error;
pub use results::{BuildResult, DetectResult, Plan, Process};

/// The log import: lines go to the user's build output, within the host's log budget.
pub mod log {
    use crate::bindings::kiln::buildpack::host::{LogLevel, log};
    /// Log a detail shown with `--verbose`.
    pub fn debug(message: &str) {
        log(LogLevel::Debug, message)
    }
    /// Log normal progress.
    pub fn info(message: &str) {
        log(LogLevel::Info, message)
    }
    /// Log a warning.
    pub fn warn(message: &str) {
        log(LogLevel::Warn, message)
    }
    /// Log an error.
    pub fn error(message: &str) {
        log(LogLevel::Error, message)
    }
}

/// File helpers that need the host (WASI has no permission bits).
pub mod fs {
    use std::path::Path;

    use crate::Error;

    /// Mark a file as executable (0755) so it can run in the image.
    pub fn set_executable(path: &Path) -> Result<(), Error> {
        let text = path.to_str().ok_or_else(|| Error::new(format!("{} is not UTF-8", path.display())))?;
        crate::bindings::kiln::buildpack::host::set_executable(text, true).map_err(Error::new)
    }

    /// Write `contents` to `path` as an executable file.
    pub fn write_executable(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), Error> {
        std::fs::write(path, contents)?;
        set_executable(path)
    }
}

/// What a successful [`fetch`] placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The verified file (the destination asked for).
    pub path: std::path::PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// Download `url` to `destination`, verified against `digest`: the buildpack's only way to
/// the network.
///
/// `digest` is `sha256:<64 hex digits>` or an integrity string like npm's `sha512-<base64>`.
/// `destination` is a file path inside a directory this call may write (a layer, `/tmp`);
/// its parent must exist. The host checks the URL against the platform's fetch policy,
/// serves it from its download cache or a mirror when it can, verifies the digest before
/// the file appears, and records the fetch in the image's SBOM. The error names the URL
/// and the reason (not allowed, digest mismatch, too large, ...).
///
/// ```ignore
/// let layer = ctx.layer("node", LayerTypes::LAUNCH)?;
/// let tarball = layer.path().join("node.tar.gz");
/// kiln_sdk::fetch("https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "sha512-...", &tarball)?;
/// ```
pub fn fetch(url: &str, digest: &str, destination: &std::path::Path) -> Result<Fetched, Error> {
    use bindings::kiln::buildpack::host::{FetchRequest, fetch as host_fetch};
    let destination = destination.to_str().ok_or_else(|| Error::new(format!("{} is not UTF-8", destination.display())))?;
    let request = FetchRequest { url: url.into(), digest: digest.into(), destination: destination.into() };
    let result = host_fetch(&request).map_err(Error::new)?;
    Ok(Fetched { path: result.path.into(), size: result.size })
}

/// What a buildpack author implements.
pub trait Buildpack {
    /// Decide whether the buildpack applies to the app; `Err` is a buildpack error.
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error>;
    /// Contribute layers and processes; `Err` fails the build.
    fn build(ctx: &BuildContext) -> Result<BuildResult, Error>;
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use bindings::kiln::buildpack::types as wit;

    pub fn detect<B: Buildpack>(ctx: wit::DetectContext) -> Result<wit::DetectResult, String> {
        B::detect(&DetectContext::from_wit(ctx)).map(DetectResult::into_wit).map_err(|e| e.to_string())
    }

    pub fn build<B: Buildpack>(ctx: wit::BuildContext) -> Result<wit::BuildResult, String> {
        B::build(&BuildContext::from_wit(ctx)).map(BuildResult::into_wit).map_err(|e| e.to_string())
    }
}

/// Export a [`Buildpack`] implementation as the component's `kiln:buildpack` exports.
///
/// The calling crate must have a `buildpack.toml` next to its `Cargo.toml`.
#[macro_export]
macro_rules! export_buildpack {
    ($ty:ty) => {
        struct __KilnBuildpackExport;
        impl $crate::bindings::exports::kiln::buildpack::buildpack::Guest for __KilnBuildpackExport {
            fn descriptor() -> ::std::string::String {
                ::std::string::String::from(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/buildpack.toml")))
            }
            fn detect(
                context: $crate::bindings::kiln::buildpack::types::DetectContext,
            ) -> ::std::result::Result<$crate::bindings::kiln::buildpack::types::DetectResult, ::std::string::String> {
                $crate::__private::detect::<$ty>(context)
            }
            fn build(
                context: $crate::bindings::kiln::buildpack::types::BuildContext,
            ) -> ::std::result::Result<$crate::bindings::kiln::buildpack::types::BuildResult, ::std::string::String> {
                $crate::__private::build::<$ty>(context)
            }
        }
        $crate::bindings::export!(__KilnBuildpackExport with_types_in $crate::bindings);
    };
}

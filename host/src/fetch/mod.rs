//! Fetch: the one way a buildpack reaches the network, as the `fetch` host import.
//!
//! A fetch is checked against the [`policy`] (deny by default; the machine's package
//! registries ([`system`]) plus kiln's config and `--allow-host`), served from the
//! content-addressed download [`cache`] when it has the [`digest`], else from a
//! [`mirror`] or the network ([`download`], size-capped and deadline-bound), verified
//! against the digest before anything is cached or placed where the guest can see it, and
//! recorded ([`record`]) for the build's events and the image's CycloneDX SBOM ([`sbom`]).
//! [`settings`] reads the config file and combines it with the build's flags; the
//! [`Fetcher`] ties it together for one build.

pub mod cache;
pub mod digest;
pub mod download;
pub mod error;
mod fetcher;
pub mod mirror;
pub mod policy;
pub mod record;
pub mod sbom;
pub mod settings;
pub mod system;

pub use error::FetchError;
pub use fetcher::{FetchBudget, FetchCall, FetchObserver, Fetcher};
pub use record::{FetchOrigin, FetchRecord};
pub use settings::FetchSettings;

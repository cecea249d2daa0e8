//! Run images made from a distribution's own packages, like distroless does.
//!
//! - [`debian`]: `kiln base build --distro debian:bookworm`: resolves a package set against
//!   a Debian archive's signed `InRelease` and `Packages` index, downloads each `.deb`
//!   (SHA256-verified, cached content-addressed), unpacks only the data (no maintainer
//!   scripts) into a root filesystem, adds what those scripts would have made (users,
//!   the CA bundle, `/bin/sh`), and writes one reproducible layer with
//!   [`create_base_image`](crate::image::create_base_image).

pub mod debian;

pub use debian::{DebianBase, DebianBaseReport, DebianError};

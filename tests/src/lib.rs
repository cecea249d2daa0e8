//! Real-tool helpers for kiln's end-to-end and interoperability tests.
//!
//! Nothing here is a mock: every helper drives a real program installed on the machine
//! (skopeo, umoci, bubblewrap, a static busybox, Debian's `docker-registry`). A missing tool
//! makes the test that needs it fail with the Debian package to install
//! ([`require_tool`]); it is never skipped. Every failure panics with the command line,
//! exit status and output of the program involved, so a red test explains itself.
//!
//! - [`tools`]: [`require_tool`], [`run`].
//! - [`rootfs`]: [`busybox_rootfs`], a minimal root filesystem to use as a run image.
//! - [`oci`]: [`skopeo_inspect`], [`skopeo_inspect_config`], [`manifest_digest_via_skopeo`],
//!   [`umoci_unpack`] into a [`Bundle`], and [`umoci_image_from_dir`] to make test images.
//! - [`container`]: [`RunningContainer`] runs a bundle's process in a bwrap namespace as a
//!   given uid and polls it over HTTP ([`RunningContainer::wait_for_http`]).
//! - [`net`]: [`free_port`], [`http_get`], [`poll_http`].
//! - [`kiln`]: [`KilnHome`] runs the real `kiln` binary in a private `KILN_HOME`.
//! - [`registry`]: [`Registry`], a `docker-registry` on 127.0.0.1 for the life of a test.

pub mod container;
pub mod kiln;
pub mod net;
pub mod oci;
pub mod registry;
pub mod rootfs;
pub mod tier;
pub mod tools;

pub use container::RunningContainer;
pub use kiln::{KilnHome, KilnRun, kiln_binary};
pub use net::{HttpResponse, free_port, http_get, poll_http};
pub use oci::{
    Bundle, manifest_digest_via_skopeo, oci_ref, sha256_digest, skopeo_inspect, skopeo_inspect_config, skopeo_inspect_raw,
    umoci_image_from_dir, umoci_unpack,
};
pub use registry::{LoggedRequest, Registry};
pub use rootfs::busybox_rootfs;
pub use tier::network_tests_enabled;
pub use tools::{command_line, require_tool, run, run_stdout};

#[cfg(test)]
mod selftest;

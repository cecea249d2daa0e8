//! Unpack downloaded archives inside the buildpack's sandbox: tar (plain, gzip, xz), zip
//! (wheels) and Debian `.deb` packages.
//!
//! This module owns the guest side of archive extraction. A buildpack fetches an archive
//! with [`crate::fetch`] and unpacks it here, inside its own sandbox, so a hostile archive
//! can at worst damage the destination directory. Every function streams the archive (it is
//! never held in memory) and applies the same rules to every entry:
//!
//! - **Names**: empty and `.` components are dropped, then the first
//!   [`ExtractOptions::strip_components`], then `..` pops the component before it. An entry
//!   is *skipped* (extraction goes on, the entry and the reason are recorded in
//!   [`Extracted::skipped`]) when its name is not UTF-8, has a NUL byte, is absolute, or
//!   climbs above the destination with `..`. Directory entries with nothing left after
//!   stripping (`./`, `package/`) are ignored silently; other entries with nothing left are
//!   skipped.
//! - **Never through a symlink**: every parent directory of an entry must be a real
//!   directory (missing ones are created); an entry below an existing symlink is skipped.
//!   A file, link or directory entry whose own path is an existing symlink or file replaces
//!   it (the link, never its target); an existing directory is never replaced, the entry is
//!   skipped instead.
//! - **Files** are streamed; a file whose mode has any `x` bit is made executable with
//!   [`crate::fs::set_executable`] (WASI has no permission bits). Other mode bits, owners
//!   and times are not kept.
//! - **Symlinks** are created only when their target is relative and, resolved from the
//!   link's directory, stays inside the destination: `..` may only come first
//!   (`../lib/x`, not `a/../b`, since `a` may itself be a link), and an existing symlink
//!   on the way must obey the same rule. Absolute targets are skipped.
//! - **Hard links** become a copy of the already extracted target file (a regular file
//!   inside the destination); otherwise they are skipped. Devices and FIFOs are skipped.
//! - **Limits**: more than [`ExtractOptions::max_entries`] entries, or more than
//!   [`ExtractOptions::max_bytes`] bytes of file content written (decompression bombs; sizes
//!   declared in headers are never trusted), stop extraction with an error naming the
//!   archive and the limit; the partly written file is removed. What was extracted before
//!   stays. A tar stream is also cut a little past `max_bytes` of decompressed data, so a
//!   bomb inside a skipped entry cannot burn CPU; a zip entry that inflates beyond its
//!   declared size is an error.
//!
//! Corrupt archives, unsupported compression and I/O failures are errors naming the archive.
//!
//! ```ignore
//! use kiln_sdk::archive::{self, ExtractOptions};
//! let tarball = std::path::Path::new("/tmp/left-pad.tgz");
//! kiln_sdk::fetch("https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "sha512-...", tarball)?;
//! let done = archive::extract_tar_gz(tarball, &layer.path().join("node_modules/left-pad"), &ExtractOptions::strip(1))?;
//! for skipped in &done.skipped {
//!     kiln_sdk::log::warn(&format!("not extracted: {skipped}"));
//! }
//! ```

mod deb;
mod entry_path;
mod output;
mod tar;
#[cfg(test)]
mod tests;
mod zip;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::Error;
use output::Output;

/// How to extract an archive. [`Default`]: strip nothing, at most 2 GiB of file content
/// and 200,000 entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Leading path components to drop from every entry (npm tarballs: 1 for "package/").
    pub strip_components: usize,
    /// Stop with an error once more than this many bytes would be written (decompression bombs).
    pub max_bytes: u64,
    /// Stop with an error after this many entries.
    pub max_entries: u64,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions { strip_components: 0, max_bytes: 2 << 30, max_entries: 200_000 }
    }
}

impl ExtractOptions {
    /// The defaults, dropping the first `n` components of every entry name.
    pub fn strip(n: usize) -> Self {
        ExtractOptions { strip_components: n, ..Self::default() }
    }
}

/// What an extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Regular files written (hard links copied included).
    pub files: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Entries not extracted, each `name: reason` (at most 100, then one line counting the
    /// rest).
    pub skipped: Vec<String>,
}

/// Extract an uncompressed tar archive into `dest` (created if missing).
pub fn extract_tar(archive: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
    let mut out = Output::new(archive, dest, options)?;
    tar::extract(open(archive)?, &mut out)?;
    Ok(out.finish())
}

/// Extract a gzip-compressed tar archive (`.tar.gz`, `.tgz`, npm tarballs) into `dest`.
pub fn extract_tar_gz(archive: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
    let mut out = Output::new(archive, dest, options)?;
    tar::extract(flate2::read::MultiGzDecoder::new(open(archive)?), &mut out)?;
    Ok(out.finish())
}

/// Extract an xz-compressed tar archive (`.tar.xz`, e.g. Node.js releases) into `dest`.
pub fn extract_tar_xz(archive: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
    let mut out = Output::new(archive, dest, options)?;
    tar::extract(tar::xz_decoder(open(archive)?), &mut out)?;
    Ok(out.finish())
}

/// Extract a zip archive (Python wheels, `.zip` files; stored or deflated entries) into `dest`.
pub fn extract_zip(archive: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
    let mut out = Output::new(archive, dest, options)?;
    zip::extract(open(archive)?, &mut out)?;
    Ok(out.finish())
}

/// Extract the files of a Debian package into `dest`: the `data.tar`, `data.tar.gz`,
/// `data.tar.xz` or `data.tar.zst` member of the `.deb` (an `ar` archive). The control
/// member and its maintainer scripts are ignored.
pub fn extract_deb(archive: &Path, dest: &Path, options: &ExtractOptions) -> Result<Extracted, Error> {
    let mut out = Output::new(archive, dest, options)?;
    deb::extract(open(archive)?, &mut out)?;
    Ok(out.finish())
}

fn open(archive: &Path) -> Result<BufReader<File>, Error> {
    let file = File::open(archive).map_err(|e| Error::new(format!("cannot open the archive {}: {e}", archive.display())))?;
    Ok(BufReader::with_capacity(64 * 1024, file))
}

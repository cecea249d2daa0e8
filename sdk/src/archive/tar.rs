//! Tar streams (plain, gzip, xz, and a `.deb`'s data member): each entry handed to
//! [`Output`] by type.

use std::io::{self, BufRead, Read};

use ::tar::EntryType;

use super::output::Output;
use crate::Error;

/// The largest LZMA2 dictionary an xz stream may ask for (`xz -9` needs 64 MiB); a header
/// asking for more is refused before anything is allocated.
const XZ_MEMORY_LIMIT_KIB: u32 = 256 * 1024;

/// An xz decoder over `reader` (concatenated streams allowed, like `xz -d`).
pub(crate) fn xz_decoder<R: Read>(reader: R) -> impl Read {
    lzma_rust2::XzReader::new_mem_limit(reader, true, XZ_MEMORY_LIMIT_KIB)
}

/// Extract every entry of the tar stream `reader` into `out`.
pub(crate) fn extract<R: Read>(reader: R, out: &mut Output) -> Result<(), Error> {
    let options = out.options();
    // Skipped entries are read past, not written: cap the decompressed stream too, so a
    // bomb hidden in a skipped entry cannot burn CPU for ever. A tar adds at most ~1.5 KiB
    // of headers and padding a member, plus long names.
    let stream_limit = options.max_bytes.saturating_add(options.max_entries.saturating_mul(1536)).saturating_add(16 << 20);
    let mut archive = ::tar::Archive::new(Capped { inner: reader, read: 0, limit: stream_limit, max_bytes: options.max_bytes });
    let entries = archive.entries().map_err(|e| out.error(chain(&e)))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| out.error(chain(&e)))?;
        out.count_entry()?;
        let name = entry.path_bytes().into_owned();
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644);
        let link = entry.link_name_bytes().map(|target| target.into_owned()).unwrap_or_default();
        match header.entry_type() {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse if name.ends_with(b"/") => out.directory(&name)?,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => out.file(&name, mode, &mut entry)?,
            EntryType::Directory => out.directory(&name)?,
            EntryType::Symlink => out.symlink(&name, &link)?,
            EntryType::Link => out.hard_link(&name, &link, mode)?,
            // A pax global header (e.g. `git archive`'s comment) carries no file.
            EntryType::XGlobalHeader => {}
            EntryType::Char => out.skip_kind(&name, "character device"),
            EntryType::Block => out.skip_kind(&name, "block device"),
            EntryType::Fifo => out.skip_kind(&name, "FIFO"),
            _ => out.skip_kind(&name, "unknown tar type"),
        }
    }
    Ok(())
}

/// A reader that fails once more than `limit` bytes were read from it.
struct Capped<R> {
    inner: R,
    read: u64,
    limit: u64,
    max_bytes: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            return Err(io::Error::other(format!(
                "more than {} bytes of tar data after decompression (ExtractOptions::max_bytes is {}); \
                 the archive may be a decompression bomb",
                self.limit, self.max_bytes
            )));
        }
        Ok(n)
    }
}

/// An I/O error and its sources as one line (the tar crate wraps the cause).
pub(crate) fn chain(error: &io::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A buffered reader (the decoders read in small pieces).
pub(crate) fn buffered<R: Read>(reader: R) -> impl BufRead {
    io::BufReader::with_capacity(64 * 1024, reader)
}

//! Debian binary packages: an `ar` archive whose `data.tar[.gz|.xz|.zst]` member holds
//! the files. The control member (and its maintainer scripts) is never extracted.

use std::io::BufReader;

use super::output::Output;
use super::tar::{buffered, chain, extract as extract_tar, xz_decoder};
use crate::Error;

/// Extract the data member of the `.deb` `file` into `out`.
pub(crate) fn extract(file: BufReader<std::fs::File>, out: &mut Output) -> Result<(), Error> {
    let mut ar = ::ar::Archive::new(file);
    let mut first = true;
    while let Some(member) = ar.next_entry() {
        let member = member.map_err(|e| out.error(format_args!("not a Debian package (ar archive): {}", chain(&e))))?;
        // GNU ar ends names with '/'.
        let id = member.header().identifier();
        let id = id.strip_suffix(b"/").unwrap_or(id).to_vec();
        if std::mem::take(&mut first) && id != b"debian-binary" {
            return Err(out.error("not a Debian package: its first member is not debian-binary"));
        }
        match id.as_slice() {
            b"data.tar" => return extract_tar(member, out),
            b"data.tar.gz" => return extract_tar(flate2::read::MultiGzDecoder::new(buffered(member)), out),
            b"data.tar.xz" => return extract_tar(xz_decoder(buffered(member)), out),
            b"data.tar.zst" => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(buffered(member))
                    .map_err(|e| out.error(format_args!("data.tar.zst is not a zstd stream: {e}")))?;
                return extract_tar(decoder, out);
            }
            other if other.starts_with(b"data.tar") => {
                let name = String::from_utf8_lossy(other).into_owned();
                return Err(out.error(format_args!("{name}: unsupported compression (gz, xz and zst are supported)")));
            }
            _ => {}
        }
    }
    Err(out.error("not a Debian package: it has no data.tar member"))
}

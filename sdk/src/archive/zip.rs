//! Zip archives (Python wheels, `.zip` files): stored and deflated entries, unix modes
//! and symlinks as Info-ZIP records them.

use std::io::{BufReader, Read};

use super::output::{MAX_LINK_TARGET, Output};
use crate::Error;

/// The file-type bits of a unix mode, and the types a zip entry may carry.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;
const S_IFLNK: u32 = 0o120000;

/// Extract every entry of the zip archive `file` into `out`.
pub(crate) fn extract(file: BufReader<std::fs::File>, out: &mut Output) -> Result<(), Error> {
    let mut zip = ::zip::ZipArchive::new(file).map_err(|e| out.error(format_args!("not a readable zip archive: {e}")))?;
    if zip.len() as u64 > out.options().max_entries {
        return Err(out.too_many_entries());
    }
    for index in 0..zip.len() {
        out.count_entry()?;
        let mut entry = zip.by_index(index).map_err(|e| out.error(format_args!("entry {index}: {e}")))?;
        let name = match entry.name() {
            Ok(name) => name.into_owned().into_bytes(),
            Err(_) => entry.name_raw().to_vec(),
        };
        let mode = entry.unix_mode().unwrap_or(0);
        match mode & S_IFMT {
            S_IFLNK => {
                let mut target = Vec::new();
                (&mut entry)
                    .take(MAX_LINK_TARGET + 1)
                    .read_to_end(&mut target)
                    .map_err(|e| out.error(format_args!("cannot read the link entry {}: {e}", String::from_utf8_lossy(&name))))?;
                if target.len() as u64 > MAX_LINK_TARGET {
                    out.skip(&String::from_utf8_lossy(&name), "the link target is too long");
                    continue;
                }
                out.symlink(&name, &target)?;
            }
            _ if entry.is_dir() => out.directory(&name)?,
            0 | S_IFREG => out.file(&name, mode, &mut entry)?,
            S_IFDIR => out.directory(&name)?,
            _ => out.skip_kind(&name, "special file"),
        }
    }
    Ok(())
}

//! Safe extraction of layer tars (used to restore cached layers).
//!
//! Every entry is checked on the way in: `..` components are refused, absolute names are
//! confined to the destination (a leading `/` is stripped, as lifecycle-written layers use
//! absolute names like `/layers/...`), no parent of an entry may be a symlink (so a symlink
//! entry can never redirect a later entry out of the destination), and hard links must point
//! at a regular file already extracted inside the destination. Symlink entries are created
//! as symlinks with their target text verbatim and are never followed.
//!
//! Not applied: OCI whiteouts (`.wh.*` are written as ordinary files), ownership (the
//! extracting user owns everything), mtimes. Device, FIFO and socket entries are skipped with
//! a warning. Directory modes get the owner's `rwx` added so extraction can write into them.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use super::{ImageError, Result};

/// What [`extract_layer`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    /// Entries written (directories, files, symlinks, hard links).
    pub written: u64,
    /// Entries skipped (devices, FIFOs, the root itself, global PAX headers).
    pub skipped: u64,
}

/// Extracts the layer tar at `archive` (plain or gzip, detected by magic bytes) into `dest`,
/// creating `dest` if needed. Refuses (with [`ImageError::UnsafeTarEntry`]) any entry that
/// would write outside `dest`; see the module docs for the rules.
pub fn extract_layer(archive: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<ExtractStats> {
    let archive = archive.as_ref();
    let dest = dest.as_ref();
    let io_err = |source: io::Error| ImageError::CannotExtract { archive: archive.to_path_buf(), dest: dest.to_path_buf(), source };
    let file = File::open(archive).map_err(|source| ImageError::CannotReadSource { path: archive.to_path_buf(), source })?;
    let mut buffered = BufReader::new(file);
    let magic = buffered.fill_buf().map_err(io_err)?;
    let reader: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(buffered))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(io_err(io::Error::other("zstd-compressed layers are not supported")));
    } else {
        Box::new(buffered)
    };

    extract_tar(reader, archive, dest)
}

/// Extracts an uncompressed tar stream into `dest` with the same checks as [`extract_layer`]
/// (see the module docs), creating `dest` if needed. `archive` only names the stream in
/// errors, e.g. `pkg.deb!data.tar.xz`. Several archives may be extracted into one `dest` in
/// turn: a later entry replaces an earlier file or symlink at its path; a file or symlink
/// never replaces a directory (refused).
pub fn extract_tar(reader: impl Read, archive: &Path, dest: &Path) -> Result<ExtractStats> {
    let io_err = |source: io::Error| ImageError::CannotExtract { archive: archive.to_path_buf(), dest: dest.to_path_buf(), source };
    fs::create_dir_all(dest).map_err(io_err)?;
    let root = dest.canonicalize().map_err(io_err)?;
    let mut extractor = Extractor { root, stats: ExtractStats::default() };
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        extractor.entry(entry).map_err(|err| match err {
            Failure::Refused(entry, reason) => ImageError::UnsafeTarEntry { archive: archive.to_path_buf(), entry, reason },
            Failure::Io(source) => io_err(source),
        })?;
    }
    Ok(extractor.stats)
}

enum Failure {
    /// Entry name and reason.
    Refused(String, String),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::Io(err)
    }
}

struct Extractor {
    root: PathBuf,
    stats: ExtractStats,
}

/// Splits a tar name into plain components: leading `/` and `.` components are dropped,
/// `..` is refused.
fn sanitize(name: &[u8]) -> std::result::Result<Vec<&[u8]>, String> {
    let mut parts = Vec::new();
    for part in name.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err("its path contains `..`".to_owned()),
            _ => parts.push(part),
        }
    }
    Ok(parts)
}

impl Extractor {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> std::result::Result<(), Failure> {
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let refuse = |reason: &str| Failure::Refused(name.clone(), reason.to_owned());
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            self.stats.skipped += 1;
            return Ok(());
        }
        let parts = sanitize(&name_bytes).map_err(|r| refuse(&r))?;
        let Some((last, parents)) = parts.split_last() else {
            // The root directory itself ("./" or "/").
            self.stats.skipped += 1;
            return Ok(());
        };
        let parent = self.make_parents(parents).map_err(|r| match r {
            Failure::Refused(_, reason) => refuse(&reason),
            other => other,
        })?;
        let target = parent.join(OsStr::from_bytes(last));
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;

        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&target)?;
                        fs::create_dir(&target)?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&target)?,
                    Err(e) => return Err(e.into()),
                }
                fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o700))?;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_non_dir(&target).map_err(|r| refuse(&r))??;
                let mut out = fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
                io::copy(&mut entry, &mut out)?;
                out.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            EntryType::Symlink => {
                let link = entry.link_name_bytes().ok_or_else(|| refuse("symlink entry has no target"))?.into_owned();
                if link.is_empty() {
                    return Err(refuse("symlink entry has an empty target"));
                }
                remove_non_dir(&target).map_err(|r| refuse(&r))??;
                std::os::unix::fs::symlink(OsStr::from_bytes(&link), &target)?;
            }
            EntryType::Link => {
                let link = entry.link_name_bytes().ok_or_else(|| refuse("hard link entry has no target"))?.into_owned();
                let source = self.existing_file(&link).map_err(|r| refuse(&r))?;
                remove_non_dir(&target).map_err(|r| refuse(&r))??;
                fs::hard_link(&source, &target)?;
            }
            other => {
                tracing::warn!(entry = %name, kind = ?other, "skipping tar entry that is not a file, directory or link");
                self.stats.skipped += 1;
                return Ok(());
            }
        }
        self.stats.written += 1;
        Ok(())
    }

    /// Creates (or checks) each parent directory below the root; none may be a symlink.
    fn make_parents(&self, parents: &[&[u8]]) -> std::result::Result<PathBuf, Failure> {
        let mut dir = self.root.clone();
        for part in parents {
            dir.push(OsStr::from_bytes(part));
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(Failure::Refused(
                        String::new(),
                        format!("its parent {} is a symlink, which is never followed", dir.display()),
                    ));
                }
                Ok(_) => {
                    return Err(Failure::Refused(String::new(), format!("its parent {} is not a directory", dir.display())));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dir)?;
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(dir)
    }

    /// Resolves a hard link target: a regular file already extracted below the root, reached
    /// without passing through a symlink.
    fn existing_file(&self, link: &[u8]) -> std::result::Result<PathBuf, String> {
        let parts = sanitize(link).map_err(|r| format!("hard link target: {r}"))?;
        if parts.is_empty() {
            return Err("hard link target is empty".to_owned());
        }
        let mut path = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            path.push(OsStr::from_bytes(part));
            let meta =
                fs::symlink_metadata(&path).map_err(|_| format!("hard link target {} does not exist in the layer", path.display()))?;
            let last = i + 1 == parts.len();
            if meta.file_type().is_symlink() {
                return Err("hard link target goes through a symlink".to_owned());
            }
            if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
                return Err("hard link target is not a regular file".to_owned());
            }
        }
        Ok(path)
    }
}

/// Removes a file or symlink at `target` so a new entry can take its place. Refuses to replace
/// a directory. Outer error: refusal reason; inner: I/O.
fn remove_non_dir(target: &Path) -> std::result::Result<io::Result<()>, String> {
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => Err("it would replace a directory".to_owned()),
        Ok(_) => Ok(fs::remove_file(target)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ok(())),
        Err(e) => Ok(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tar::Header;

    /// A header whose name bytes are set raw, bypassing tar-rs's own path checks.
    fn raw_header(name: &[u8], kind: EntryType, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(size);
        h
    }

    /// (raw name, type, content, raw link target)
    type RawEntry<'a> = (&'a [u8], EntryType, &'a [u8], Option<&'a [u8]>);

    fn write_tar(path: &Path, entries: &[RawEntry<'_>]) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = raw_header(name, *kind, data.len() as u64);
            if let Some(link) = link {
                h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        fs::write(path, b.into_inner().unwrap()).unwrap();
    }

    fn refused(result: Result<ExtractStats>) -> String {
        match result {
            Err(ImageError::UnsafeTarEntry { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn refuses_dotdot_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("evil.tar");
        let dest = tmp.path().join("dest");
        write_tar(&tar, &[(b"../evil", EntryType::Regular, b"x", None)]);
        assert!(refused(extract_layer(&tar, &dest)).contains(".."));
        assert!(!tmp.path().join("evil").exists());
        write_tar(&tar, &[(b"a/../../evil", EntryType::Regular, b"x", None)]);
        refused(extract_layer(&tar, &dest));
        assert!(!tmp.path().join("evil").exists());
    }

    #[test]
    fn absolute_entries_are_confined() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("abs.tar");
        let dest = tmp.path().join("dest");
        write_tar(&tar, &[(b"/layers/bp/l/file", EntryType::Regular, b"hi", None)]);
        let stats = extract_layer(&tar, &dest).unwrap();
        assert_eq!(stats.written, 1);
        assert_eq!(fs::read(dest.join("layers/bp/l/file")).unwrap(), b"hi");
    }

    #[test]
    fn symlinks_are_created_but_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let tar = tmp.path().join("link.tar");
        let dest = tmp.path().join("dest");
        let target = outside.as_os_str().as_bytes();
        write_tar(&tar, &[(b"link", EntryType::Symlink, b"", Some(target)), (b"link/pwned", EntryType::Regular, b"x", None)]);
        let reason = refused(extract_layer(&tar, &dest));
        assert!(reason.contains("symlink"), "{reason}");
        assert!(!outside.join("pwned").exists());
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), outside);

        // A relative `..` target is kept as text; a file written "through" it is refused too.
        let dest2 = tmp.path().join("dest2");
        write_tar(&tar, &[(b"up", EntryType::Symlink, b"", Some(b"../outside")), (b"up/pwned", EntryType::Regular, b"x", None)]);
        refused(extract_layer(&tar, &dest2));
        assert_eq!(fs::read_link(dest2.join("up")).unwrap(), Path::new("../outside"));
        assert!(!outside.join("pwned").exists());

        // A file entry replacing a symlink replaces the link, not what it points to.
        let dest3 = tmp.path().join("dest3");
        fs::write(outside.join("victim"), b"safe").unwrap();
        let victim = outside.join("victim");
        write_tar(
            &tar,
            &[(b"v", EntryType::Symlink, b"", Some(victim.as_os_str().as_bytes())), (b"v", EntryType::Regular, b"overwritten", None)],
        );
        extract_layer(&tar, &dest3).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"safe");
        assert_eq!(fs::read(dest3.join("v")).unwrap(), b"overwritten");
    }

    #[test]
    fn hard_links_must_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("hl.tar");
        let dest = tmp.path().join("dest");
        write_tar(&tar, &[(b"h", EntryType::Link, b"", Some(b"../../etc/passwd"))]);
        refused(extract_layer(&tar, &dest));
        write_tar(&tar, &[(b"h", EntryType::Link, b"", Some(b"/etc/passwd"))]);
        refused(extract_layer(&tar, &dest));
        write_tar(&tar, &[(b"a", EntryType::Regular, b"data", None), (b"b", EntryType::Link, b"", Some(b"a"))]);
        let dest2 = tmp.path().join("dest2");
        extract_layer(&tar, &dest2).unwrap();
        assert_eq!(fs::read(dest2.join("b")).unwrap(), b"data");
    }

    #[test]
    fn extracts_gzip_and_skips_devices() {
        let tmp = tempfile::tempdir().unwrap();
        let plain = tmp.path().join("p.tar");
        write_tar(
            &plain,
            &[
                (b"./", EntryType::Directory, b"", None),
                (b"dir/", EntryType::Directory, b"", None),
                (b"dir/f", EntryType::Regular, b"content", None),
                (b"dev", EntryType::Char, b"", None),
            ],
        );
        let gz = tmp.path().join("p.tar.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(&fs::read(&plain).unwrap()).unwrap();
        enc.finish().unwrap();
        let dest = tmp.path().join("dest");
        let stats = extract_layer(&gz, &dest).unwrap();
        assert_eq!(stats, ExtractStats { written: 2, skipped: 2 });
        assert_eq!(fs::read(dest.join("dir/f")).unwrap(), b"content");
        assert!(!dest.join("dev").exists());
    }
}

//! The destination side of an extraction: creates what entries describe under the
//! destination directory, under the rules of the module doc, and counts the limits.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::entry_path::{EntryPath, entry_path, link_destination, shorten_bytes};
use super::{ExtractOptions, Extracted};
use crate::Error;

/// Skip reasons kept in [`Extracted::skipped`]; the rest are only counted.
const MAX_SKIPPED: usize = 100;
/// Symlinks followed when checking where a new link leads.
const MAX_LINK_DEPTH: usize = 16;
/// Longest symlink target read from a zip entry.
pub(crate) const MAX_LINK_TARGET: u64 = 4096;

/// One extraction's destination, limits and tally.
pub(crate) struct Output<'a> {
    archive: &'a Path,
    dest: PathBuf,
    options: &'a ExtractOptions,
    entries: u64,
    done: Extracted,
    more_skipped: u64,
}

/// What exists at a path, never following a symlink.
enum Existing {
    Nothing,
    Directory,
    Symlink,
    Other,
}

impl<'a> Output<'a> {
    /// Create `dest` (and its parents) and start counting.
    pub(crate) fn new(archive: &'a Path, dest: &Path, options: &'a ExtractOptions) -> Result<Self, Error> {
        let dest = std::path::absolute(dest).map_err(|e| Error::new(format!("destination {}: {e}", dest.display())))?;
        fs::create_dir_all(&dest)
            .map_err(|e| Error::new(format!("cannot create the destination {} for {}: {e}", dest.display(), archive.display())))?;
        Ok(Output { archive, dest, options, entries: 0, done: Extracted::default(), more_skipped: 0 })
    }

    /// The tally, with a last line counting skipped entries beyond [`MAX_SKIPPED`].
    pub(crate) fn finish(mut self) -> Extracted {
        if self.more_skipped > 0 {
            self.done.skipped.push(format!("... and {} more entries skipped", self.more_skipped));
        }
        self.done
    }

    /// The options in force.
    pub(crate) fn options(&self) -> &ExtractOptions {
        self.options
    }

    /// An error about the archive as a whole.
    pub(crate) fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::new(format!("cannot extract {}: {what}", self.archive.display()))
    }

    /// Count one more entry; an error past [`ExtractOptions::max_entries`].
    pub(crate) fn count_entry(&mut self) -> Result<(), Error> {
        self.entries += 1;
        if self.entries > self.options.max_entries {
            return Err(self.too_many_entries());
        }
        Ok(())
    }

    /// The error for an archive with more than `max_entries` entries.
    pub(crate) fn too_many_entries(&self) -> Error {
        self.error(format_args!(
            "it has more than {} entries (ExtractOptions::max_entries); raise the limit if the archive is trusted",
            self.options.max_entries
        ))
    }

    /// Record an entry that is not extracted.
    pub(crate) fn skip(&mut self, name: &str, reason: impl std::fmt::Display) {
        if self.done.skipped.len() < MAX_SKIPPED {
            self.done.skipped.push(format!("{name}: {reason}"));
        } else {
            self.more_skipped += 1;
        }
    }

    /// Skip an entry of a kind this module does not create (device, FIFO, ...).
    pub(crate) fn skip_kind(&mut self, raw_name: &[u8], kind: &str) {
        self.skip(&shorten_bytes(raw_name), format_args!("{kind} entries are not extracted"));
    }

    /// A regular file: `contents` streamed to the entry's path, executable when `mode` has
    /// an `x` bit.
    pub(crate) fn file(&mut self, raw_name: &[u8], mode: u32, contents: &mut dyn Read) -> Result<(), Error> {
        let Some((name, path)) = self.place(raw_name, false)? else { return Ok(()) };
        match existing(&path)? {
            Existing::Directory => {
                self.skip(&name.display(), "a directory is in the way");
                return Ok(());
            }
            Existing::Symlink | Existing::Other => remove(&path)?,
            Existing::Nothing => {}
        }
        self.write_file(&name, &path, mode, contents)
    }

    /// A directory.
    pub(crate) fn directory(&mut self, raw_name: &[u8]) -> Result<(), Error> {
        let Some((_, path)) = self.place(raw_name, true)? else { return Ok(()) };
        match existing(&path)? {
            Existing::Directory => return Ok(()),
            Existing::Symlink | Existing::Other => remove(&path)?,
            Existing::Nothing => {}
        }
        fs::create_dir(&path).map_err(|e| self.error(format_args!("cannot create {}: {e}", path.display())))
    }

    /// A symlink to `target`, created only when it leads inside the destination.
    pub(crate) fn symlink(&mut self, raw_name: &[u8], target: &[u8]) -> Result<(), Error> {
        let Some((name, path)) = self.place(raw_name, false)? else { return Ok(()) };
        let Ok(target) = std::str::from_utf8(target) else {
            self.skip(&name.display(), "the link target is not UTF-8");
            return Ok(());
        };
        let leads_inside = link_destination(&name, target).and_then(|to| self.check_on_disk(to, 0));
        if let Err(reason) = leads_inside {
            self.skip(&name.display(), format_args!("symlink not created: {reason}"));
            return Ok(());
        }
        match existing(&path)? {
            Existing::Directory => {
                self.skip(&name.display(), "a directory is in the way");
                return Ok(());
            }
            Existing::Symlink | Existing::Other => remove(&path)?,
            Existing::Nothing => {}
        }
        make_symlink(target, &path).map_err(|e| self.error(format_args!("cannot create the symlink {}: {e}", path.display())))
    }

    /// A hard link to the earlier entry `target`: a copy of that file, if it is a regular
    /// file inside the destination.
    pub(crate) fn hard_link(&mut self, raw_name: &[u8], target: &[u8], mode: u32) -> Result<(), Error> {
        let Some((name, path)) = self.place(raw_name, false)? else { return Ok(()) };
        let source = match entry_path(target, self.options.strip_components) {
            Ok(Some(source)) if source != name => source,
            Ok(_) => {
                self.skip(&name.display(), "hard link to itself or to nothing");
                return Ok(());
            }
            Err(reason) => {
                self.skip(&name.display(), format_args!("hard link target {}: {reason}", shorten_bytes(target)));
                return Ok(());
            }
        };
        if !self.is_regular_file(&source)? {
            self.skip(&name.display(), format_args!("hard link target {} is not an extracted regular file", source.display()));
            return Ok(());
        }
        match existing(&path)? {
            Existing::Directory => {
                self.skip(&name.display(), "a directory is in the way");
                return Ok(());
            }
            Existing::Symlink | Existing::Other => remove(&path)?,
            Existing::Nothing => {}
        }
        let source_path = self.dest.join(source.relative());
        let mut file = File::open(&source_path).map_err(|e| self.error(format_args!("cannot read {}: {e}", source_path.display())))?;
        self.write_file(&name, &path, mode, &mut file)
    }

    /// The safe name and host path of an entry, its parent directories made real
    /// directories; `None` when the entry was skipped or names the destination itself.
    fn place(&mut self, raw_name: &[u8], is_dir: bool) -> Result<Option<(EntryPath, PathBuf)>, Error> {
        let name = match entry_path(raw_name, self.options.strip_components) {
            Ok(Some(name)) => name,
            Ok(None) => {
                if !is_dir {
                    self.skip(&shorten_bytes(raw_name), "no name left after stripping leading components");
                }
                return Ok(None);
            }
            Err(reason) => {
                self.skip(&shorten_bytes(raw_name), reason);
                return Ok(None);
            }
        };
        let mut path = self.dest.clone();
        let parents = &name.components()[..name.components().len() - 1];
        for (i, part) in parents.iter().enumerate() {
            path.push(part);
            match existing(&path)? {
                Existing::Directory => {}
                Existing::Nothing => {
                    fs::create_dir(&path).map_err(|e| self.error(format_args!("cannot create {}: {e}", path.display())))?
                }
                Existing::Symlink => {
                    let at = parents[..=i].join("/");
                    self.skip(&name.display(), format_args!("{at} is a symlink; nothing is written through a symlink"));
                    return Ok(None);
                }
                Existing::Other => {
                    let at = parents[..=i].join("/");
                    self.skip(&name.display(), format_args!("{at} is not a directory"));
                    return Ok(None);
                }
            }
        }
        path.push(name.components().last().expect("an entry path has a component"));
        Ok(Some((name, path)))
    }

    /// Check a link destination (components below `dest`) against what exists: an existing
    /// symlink on the way must itself obey [`link_destination`] and lead inside.
    fn check_on_disk(&self, to: Vec<String>, depth: usize) -> Result<(), String> {
        let mut path = self.dest.clone();
        for (i, part) in to.iter().enumerate() {
            path.push(part);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if depth >= MAX_LINK_DEPTH {
                        return Err("too many levels of symlinks".into());
                    }
                    let target = fs::read_link(&path).map_err(|e| format!("cannot read the symlink {}: {e}", path.display()))?;
                    let target = target.to_str().ok_or("an existing symlink on the way has a non-UTF-8 target")?;
                    let here = entry_path(to[..=i].join("/").as_bytes(), 0)?.ok_or("empty path")?;
                    let mut next = link_destination(&here, target)
                        .map_err(|reason| format!("it goes through the symlink {}: {reason}", here.display()))?;
                    next.extend(to[i + 1..].iter().cloned());
                    return self.check_on_disk(next, depth + 1);
                }
                Ok(meta) if meta.is_dir() => {}
                // A file or nothing: nothing below it exists yet, and what later entries
                // create there is checked when they are created.
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Whether `name` is a regular file reached through real directories only.
    fn is_regular_file(&self, name: &EntryPath) -> Result<bool, Error> {
        let mut path = self.dest.clone();
        let count = name.components().len();
        for (i, part) in name.components().iter().enumerate() {
            path.push(part);
            let ok = match existing(&path)? {
                Existing::Directory => i + 1 < count,
                Existing::Other => i + 1 == count && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()),
                Existing::Symlink | Existing::Nothing => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Stream `contents` into a new file at `path` within the byte limit.
    fn write_file(&mut self, name: &EntryPath, path: &Path, mode: u32, contents: &mut dyn Read) -> Result<(), Error> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| self.error(format_args!("cannot create {}: {e}", path.display())))?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match contents.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = fs::remove_file(path);
                    return Err(self.error(format_args!("cannot read the entry {}: {e}", name.display())));
                }
            };
            if self.done.bytes + n as u64 > self.options.max_bytes {
                drop(file);
                let _ = fs::remove_file(path);
                return Err(self.error(format_args!(
                    "more than {} bytes would be written (ExtractOptions::max_bytes), at the entry {}; \
                     the archive may be a decompression bomb, or raise the limit if it is trusted",
                    self.options.max_bytes,
                    name.display()
                )));
            }
            file.write_all(&buffer[..n]).map_err(|e| self.error(format_args!("cannot write {}: {e}", path.display())))?;
            self.done.bytes += n as u64;
        }
        drop(file);
        self.done.files += 1;
        if mode & 0o111 != 0 {
            crate::fs::set_executable(path).map_err(|e| self.error(format_args!("cannot make {} executable: {e}", name.display())))?;
        }
        Ok(())
    }
}

/// What is at `path`, without following a symlink.
fn existing(path: &Path) -> Result<Existing, Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Ok(Existing::Symlink),
        Ok(meta) if meta.is_dir() => Ok(Existing::Directory),
        Ok(_) => Ok(Existing::Other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Existing::Nothing),
        Err(e) => Err(Error::new(format!("cannot inspect {}: {e}", path.display()))),
    }
}

/// Remove the file or symlink at `path` (a symlink itself, never its target).
fn remove(path: &Path) -> Result<(), Error> {
    fs::remove_file(path).map_err(|e| Error::new(format!("cannot replace {}: {e}", path.display())))
}

/// Create the symlink `link` -> `target`.
#[cfg(target_os = "wasi")]
#[allow(unsafe_code, reason = "wasi-libc's symlink is the only stable way to create a symlink on WASI")]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    use std::ffi::CString;
    // std::os::wasi::fs::symlink_path is unstable; wasi-libc's symlink is linked into
    // every wasm32-wasip2 std binary.
    let target = CString::new(target)?;
    let link = CString::new(link.to_str().ok_or_else(|| io::Error::other("the link path is not UTF-8"))?)?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
    let rc = unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Create the symlink `link` -> `target`.
#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

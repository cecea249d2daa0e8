//! Helpers for the hostile buildpacks.

use std::ffi::CString;
use std::io;
use std::path::Path;

/// Create the symlink `link` -> `target` (`std::os::wasi::fs::symlink_path` is unstable,
/// so this goes through wasi-libc's `symlink`).
pub fn symlink(target: &str, link: &Path) -> io::Result<()> {
    let target = CString::new(target)?;
    let link = CString::new(link.to_str().ok_or_else(|| io::Error::other("non-UTF-8 path"))?)?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
    let rc = unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

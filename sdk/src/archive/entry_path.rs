//! Pure path rules for archive entries: what an entry name and a symlink target may be.
//!
//! No filesystem access here (so these rules are unit-tested on the host): the caller
//! checks what already exists on disk.

use std::path::PathBuf;

/// An entry name made safe: its components below the destination, each a plain name
/// (no `.`, `..`, `/`, NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryPath(Vec<String>);

impl EntryPath {
    /// The components, outermost first.
    pub(crate) fn components(&self) -> &[String] {
        &self.0
    }

    /// The path relative to the destination.
    pub(crate) fn relative(&self) -> PathBuf {
        self.0.iter().collect()
    }

    /// `a/b/c` as text (for messages).
    pub(crate) fn display(&self) -> String {
        self.0.join("/")
    }
}

/// Normalize an entry name from an archive.
///
/// Empty and `.` components are dropped, then the first `strip` components, then `..`
/// pops the component before it. Returns `Ok(None)` when nothing is left (the archive's
/// root, or an entry removed by `strip`), and `Err(reason)` for a name that must not be
/// extracted: not UTF-8, a NUL byte, an absolute path, or a `..` that climbs above the
/// destination.
pub(crate) fn entry_path(raw: &[u8], strip: usize) -> Result<Option<EntryPath>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "the name is not UTF-8".to_string())?;
    if text.contains('\0') {
        return Err("the name has a NUL byte".into());
    }
    if text.starts_with('/') {
        return Err("absolute path".into());
    }
    let mut out: Vec<String> = Vec::new();
    let parts = text.split('/').filter(|part| !part.is_empty() && *part != ".").skip(strip);
    for part in parts {
        if part == ".." {
            if out.pop().is_none() {
                return Err("'..' climbs out of the destination".into());
            }
        } else {
            out.push(part.to_string());
        }
    }
    Ok(if out.is_empty() { None } else { Some(EntryPath(out)) })
}

/// Where the symlink at `link` (below the destination) pointing at `target` leads, as
/// components below the destination; `Err(reason)` when it may not be created.
///
/// Allowed: a relative target whose `..` components all come first (`../../lib/x`) and do
/// not climb above the destination from the link's directory. Refused: an empty target, a
/// NUL byte, an absolute target, and a `..` after a name (`a/../b`): `a` may be a symlink,
/// so only the link's own parent directories (real directories the extractor created)
/// may be climbed.
pub(crate) fn link_destination(link: &EntryPath, target: &str) -> Result<Vec<String>, String> {
    if target.is_empty() {
        return Err("empty link target".into());
    }
    if target.contains('\0') {
        return Err("the link target has a NUL byte".into());
    }
    if target.starts_with('/') {
        return Err(format!("absolute link target {}", shorten(target)));
    }
    let mut out: Vec<String> = link.components()[..link.components().len() - 1].to_vec();
    let mut named = false;
    for part in target.split('/').filter(|part| !part.is_empty() && *part != ".") {
        if part == ".." {
            if named {
                return Err(format!("link target {} has '..' after a name", shorten(target)));
            }
            if out.pop().is_none() {
                return Err(format!("link target {} points outside the destination", shorten(target)));
            }
        } else {
            named = true;
            out.push(part.to_string());
        }
    }
    Ok(out)
}

/// Text from an archive cut to a length fit for a message, control characters escaped.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    let mut out: String = text.chars().take(MAX).flat_map(char::escape_debug).collect();
    if text.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

/// [`shorten`] for raw bytes (entry names may not be UTF-8).
pub(crate) fn shorten_bytes(raw: &[u8]) -> String {
    shorten(&String::from_utf8_lossy(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str, strip: usize) -> Result<Option<String>, String> {
        entry_path(raw.as_bytes(), strip).map(|p| p.map(|p| p.display()))
    }

    #[test]
    fn plain_names_are_kept_and_dots_dropped() {
        assert_eq!(path("a/b/c.txt", 0), Ok(Some("a/b/c.txt".into())));
        assert_eq!(path("./usr/bin/tool", 0), Ok(Some("usr/bin/tool".into())));
        assert_eq!(path("a//./b/", 0), Ok(Some("a/b".into())));
        assert_eq!(path("./", 0), Ok(None));
        assert_eq!(path("", 0), Ok(None));
    }

    #[test]
    fn strip_drops_leading_components_after_dots() {
        assert_eq!(path("package/lib/index.js", 1), Ok(Some("lib/index.js".into())));
        assert_eq!(path("./package/lib/index.js", 1), Ok(Some("lib/index.js".into())));
        assert_eq!(path("package/", 1), Ok(None));
        assert_eq!(path("package", 2), Ok(None));
        assert_eq!(path("package/../../x", 1), Err("'..' climbs out of the destination".into()));
    }

    #[test]
    fn escapes_are_refused() {
        assert!(path("../../escape", 0).unwrap_err().contains("climbs out"));
        assert!(path("a/../../escape", 0).unwrap_err().contains("climbs out"));
        assert!(path("/abs/path", 0).unwrap_err().contains("absolute"));
        assert!(path("a\0b", 0).unwrap_err().contains("NUL"));
        assert!(entry_path(b"caf\xe9", 0).unwrap_err().contains("UTF-8"));
        assert_eq!(path("a/../b", 0), Ok(Some("b".into())));
        assert_eq!(path("a/b/..", 0), Ok(Some("a".into())));
        assert_eq!(path("a/..", 0), Ok(None));
    }

    fn link(at: &str, target: &str) -> Result<String, String> {
        let at = entry_path(at.as_bytes(), 0).unwrap().unwrap();
        link_destination(&at, target).map(|parts| parts.join("/"))
    }

    #[test]
    fn link_targets_resolve_from_the_links_directory() {
        assert_eq!(link("bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"), Ok("lib/node_modules/npm/bin/npm-cli.js".into()));
        assert_eq!(link("lib/libz.so", "libz.so.1"), Ok("lib/libz.so.1".into()));
        assert_eq!(link("a/b/c", "./../../x"), Ok("x".into()));
        assert_eq!(link("self", "."), Ok("".into()));
        assert_eq!(link("a/up", ".."), Ok("".into()));
    }

    #[test]
    fn link_targets_that_leave_are_refused() {
        assert!(link("link", "/").unwrap_err().contains("absolute"));
        assert!(link("link", "/etc/passwd").unwrap_err().contains("absolute"));
        assert!(link("link", "../../..").unwrap_err().contains("outside"));
        assert!(link("a/b/link", "../../../x").unwrap_err().contains("outside"));
        assert!(link("link", "..").unwrap_err().contains("outside"));
        assert!(link("link", "a/../b").unwrap_err().contains("after a name"));
        assert!(link("d/link", "x/../../..").unwrap_err().contains("after a name"));
        assert!(link("link", "").unwrap_err().contains("empty"));
        assert!(link("link", "a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn messages_are_short_and_escaped() {
        assert_eq!(shorten("a\nb\x1b[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(shorten(&"x".repeat(500)).len(), 163);
    }
}

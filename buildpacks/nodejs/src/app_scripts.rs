//! The app's own scripts, run in the app directory through [`crate::scripts`]:
//!
//! - the install lifecycle `npm ci` runs for the root package after installing (npm's
//!   `lib/commands/ci.js`): `preinstall`, `install`, `postinstall`, `prepublish`,
//!   `preprepare`, `prepare`, `postprepare`, with `npm_command=ci`. An app with a
//!   `binding.gyp` and no `install`/`preinstall` would get `node-gyp rebuild`, which kiln
//!   cannot run: an error.
//! - `build`, as `npm run build` runs it: `prebuild`, `build`, `postbuild`, each with its
//!   own `npm_lifecycle_event`, `npm_command=run-script`.
//!
//! With `BP_NODE_IGNORE_SCRIPTS=true`, as npm's `ignore-scripts`: no install lifecycle
//! script runs, and `build` still runs (it is asked for explicitly) without its `pre` and
//! `post` scripts. A script that exits non-zero fails the build naming it.

use kiln_sdk::Error;

use crate::scripts::{Runner, Script, failed, script_of};

/// The root package's scripts `npm ci` runs after installing, in order.
pub const INSTALL_EVENTS: [&str; 7] = ["preinstall", "install", "postinstall", "prepublish", "preprepare", "prepare", "postprepare"];

/// How the app is named in messages: `the app (name@version)`.
fn what(manifest: &serde_json::Value) -> String {
    let field = |k: &str| manifest.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    match (field("name"), field("version")) {
        ("", _) => "the app (package.json)".to_string(),
        (name, "") => format!("the app ({name})"),
        (name, version) => format!("the app ({name}@{version})"),
    }
}

/// Run the app's install lifecycle scripts; returns how many ran.
pub fn install(runner: &Runner, manifest: &serde_json::Value) -> Result<usize, Error> {
    let app = runner.app_dir();
    let has = |event: &str| script_of(manifest, event).is_some();
    let gypfile_off = manifest.get("gypfile") == Some(&serde_json::Value::Bool(false));
    if app.join("binding.gyp").is_file() && !gypfile_off && !has("install") && !has("preinstall") {
        return Err(Error::new(
            "kiln/nodejs: the app has a binding.gyp and no install script, so npm would build it with `node-gyp rebuild`; kiln/nodejs cannot build native addons (no node-gyp, compiler or node headers in the build). Build the addon elsewhere and ship it, set \"gypfile\": false in package.json, or set BP_NODE_IGNORE_SCRIPTS=true",
        ));
    }
    let mut ran = 0;
    for event in INSTALL_EVENTS {
        if let Some(command) = script_of(manifest, event) {
            run(runner, manifest, event, command, "ci", "fix the script, or set BP_NODE_IGNORE_SCRIPTS=true to skip install scripts")?;
            ran += 1;
        }
    }
    Ok(ran)
}

/// Run `prebuild`, `build`, `postbuild` (only `build` when `ignore_scripts`); returns
/// whether there was a build script.
pub fn build(runner: &Runner, manifest: &serde_json::Value, ignore_scripts: bool) -> Result<bool, Error> {
    let Some(build) = script_of(manifest, "build") else { return Ok(false) };
    let fix = "fix the script (it runs as `npm run build` would, offline, in the app dir), or remove scripts.build";
    if !ignore_scripts && let Some(command) = script_of(manifest, "prebuild") {
        run(runner, manifest, "prebuild", command, "run-script", fix)?;
    }
    run(runner, manifest, "build", build, "run-script", fix)?;
    if !ignore_scripts && let Some(command) = script_of(manifest, "postbuild") {
        run(runner, manifest, "postbuild", command, "run-script", fix)?;
    }
    Ok(true)
}

fn run(runner: &Runner, manifest: &serde_json::Value, event: &str, command: &str, npm_command: &str, fix: &str) -> Result<(), Error> {
    let what = what(manifest);
    let script = Script { event, command, dir: runner.app_dir(), manifest, npm_command, extra_env: Vec::new() };
    let status = runner.run(&script, &what)?;
    if status.success() { Ok(()) } else { Err(failed(&script, &what, status, fix)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_is_named_by_its_package_json() {
        assert_eq!(what(&serde_json::json!({"name": "web", "version": "1.0.0"})), "the app (web@1.0.0)");
        assert_eq!(what(&serde_json::json!({"name": "web"})), "the app (web)");
        assert_eq!(what(&serde_json::json!({})), "the app (package.json)");
    }
}

//! Running one package.json script the way npm's `@npmcli/run-script` does, in kiln's jail:
//! `/bin/sh -c "<script>"` with the package's directory as the working directory and the
//! environment npm gives scripts, built here from nothing (the jail inherits no variable):
//!
//! - `PATH`: `<dir>/node_modules/.bin` for the package's directory and each of its
//!   ancestors up to `/` (npm's `set-path.js`), then the node layer's `bin`, then
//!   `/usr/local/bin:/usr/bin:/bin` (npm would append its own `PATH`; the jail has none);
//! - `npm_lifecycle_event`, `npm_lifecycle_script`, `npm_package_json`, and the
//!   package.json fields npm exports (`name`, `version`, `config`, `engines`, `bin`,
//!   flattened as `npm_package_config_port`, `npm_package_bin_x`: npm's `package-envs.js`);
//! - what npm itself puts in its environment and scripts rely on: `npm_command`,
//!   `npm_config_user_agent` (packages tell npm from yarn and pnpm by it; here
//!   `npm/? node/vX linux x64 kiln-nodejs`), `npm_node_execpath` and `NODE` (node's path),
//!   `npm_config_local_prefix` (the app), `npm_config_cache` (`/tmp/.npm`),
//!   `INIT_CWD` (the app), `HOME=/tmp`, `NODE_ENV` (the platform's, else `production`);
//! - for dependencies, what arborist adds: `npm_package_resolved`, `npm_package_integrity`,
//!   `npm_package_optional`, `npm_package_dev`, `npm_package_peer`,
//!   `npm_package_dev_optional`;
//! - the platform's env (`kiln build --env K=V`) first, so a build script can read its
//!   settings; the variables above win over it.
//!
//! There is no npm, no node-gyp and no network in the jail.

use std::path::{Path, PathBuf};

use kiln_sdk::exec::{Command, ExitStatus};
use kiln_sdk::{BuildContext, Error};

/// What every script of this build shares: where node is, the app, the platform's env.
pub struct Runner {
    node_bin: PathBuf,
    node_version: String,
    app_dir: PathBuf,
    node_env: String,
    platform_env: Vec<(String, String)>,
}

/// One script to run.
pub struct Script<'a> {
    /// The lifecycle event: `postinstall`, `build`, ...
    pub event: &'a str,
    /// The shell command from `scripts.<event>`.
    pub command: &'a str,
    /// The package's directory (the working directory).
    pub dir: &'a Path,
    /// The package's package.json.
    pub manifest: &'a serde_json::Value,
    /// `ci` for install scripts, `run-script` for the build (npm's `npm_command`).
    pub npm_command: &'a str,
    /// More variables (arborist's `npm_package_resolved` and friends).
    pub extra_env: Vec<(String, String)>,
}

impl Runner {
    /// A runner using the node installed in `node_layer` (release `node_version`).
    pub fn new(ctx: &BuildContext, node_layer: &Path, node_version: &str) -> Self {
        let platform_env: Vec<(String, String)> = ctx.platform_env.iter().map(|v| (v.name.clone(), v.value.clone())).collect();
        let node_env = ctx.env("NODE_ENV").map(str::trim).filter(|v| !v.is_empty()).unwrap_or("production").to_string();
        Runner {
            node_bin: node_layer.join("bin"),
            node_version: node_version.to_string(),
            app_dir: ctx.app_dir.clone(),
            node_env,
            platform_env,
        }
    }

    /// The app directory.
    pub fn app_dir(&self) -> &Path {
        &self.app_dir
    }

    /// The node release scripts run with.
    pub fn node_version(&self) -> &str {
        &self.node_version
    }

    /// The environment `script` runs with.
    pub fn env(&self, script: &Script<'_>) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.platform_env.clone();
        let mut set = |name: &str, value: String| {
            env.retain(|(k, _)| k != name);
            env.push((name.to_string(), value));
        };
        set("PATH", search_path(script.dir, &self.node_bin));
        set("HOME", "/tmp".into());
        set("NODE_ENV", self.node_env.clone());
        set("INIT_CWD", self.app_dir.display().to_string());
        let node = self.node_bin.join("node").display().to_string();
        set("NODE", node.clone());
        set("npm_node_execpath", node);
        set("npm_command", script.npm_command.into());
        set("npm_config_user_agent", format!("npm/? node/v{} linux x64 kiln-nodejs", self.node_version));
        set("npm_config_local_prefix", self.app_dir.display().to_string());
        set("npm_config_cache", "/tmp/.npm".into());
        set("npm_lifecycle_event", script.event.into());
        set("npm_lifecycle_script", script.command.into());
        set("npm_package_json", script.dir.join("package.json").display().to_string());
        for (name, value) in &script.extra_env {
            set(name, value.clone());
        }
        for (name, value) in package_envs(script.manifest) {
            set(&name, value);
        }
        env
    }

    /// Run `script` with its output in the build log. `Err` only when it could not be
    /// started (the policy denies native steps, no jail here).
    pub fn run(&self, script: &Script<'_>, what: &str) -> Result<ExitStatus, Error> {
        kiln_sdk::log::info(&format!("> {what} {}: {}", script.event, script.command.trim()));
        Command::new("/bin/sh").args(["-c", script.command]).envs(self.env(script)).current_dir(script.dir).status().map_err(|e| {
            let fix = if script.npm_command == "ci" {
                "allow native steps for kiln/nodejs, or set BP_NODE_IGNORE_SCRIPTS=true to install without running install scripts"
            } else {
                "allow native steps for kiln/nodejs, or remove scripts.build and ship what it makes"
            };
            e.context(format!(
                "kiln/nodejs: cannot run the {} script of {what} (scripts run as native steps in the jail); {fix}",
                script.event
            ))
        })
    }
}

/// The error for a script that did not exit 0.
pub fn failed(script: &Script<'_>, what: &str, status: ExitStatus, fix: &str) -> Error {
    Error::new(format!(
        "kiln/nodejs: the {} script of {what} failed ({status}): `{}` in {}; its output is above; {fix}",
        script.event,
        script.command.trim(),
        script.dir.display()
    ))
}

/// `<d>/node_modules/.bin` for `dir` and each ancestor, then node's `bin`, then the system.
fn search_path(dir: &Path, node_bin: &Path) -> String {
    let mut parts: Vec<String> = dir.ancestors().map(|d| d.join("node_modules/.bin").display().to_string()).collect();
    parts.push(node_bin.display().to_string());
    parts.push("/usr/local/bin:/usr/bin:/bin".into());
    parts.join(":")
}

/// `npm_package_*` from package.json's `name`, `version`, `config`, `engines`, `bin`:
/// objects flattened with `_`, arrays as `_0`, `_1`, null and false as empty.
fn package_envs(manifest: &serde_json::Value) -> Vec<(String, String)> {
    fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Null | serde_json::Value::Bool(false) => out.push((prefix.into(), String::new())),
            serde_json::Value::Bool(true) => out.push((prefix.into(), "true".into())),
            serde_json::Value::Number(n) => out.push((prefix.into(), n.to_string())),
            serde_json::Value::String(s) => out.push((prefix.into(), s.clone())),
            serde_json::Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| flatten(&format!("{prefix}_{i}"), v, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| flatten(&format!("{prefix}_{k}"), v, out)),
        }
    }
    let mut out = Vec::new();
    for field in ["name", "version", "config", "engines", "bin"] {
        if let Some(value) = manifest.get(field) {
            flatten(&format!("npm_package_{field}"), value, &mut out);
        }
    }
    // A variable name cannot hold `=` or NUL; the jail would refuse the whole call.
    out.retain(|(k, v)| !k.contains(['=', '\0']) && !v.contains('\0'));
    out
}

/// A package's package.json, or an empty object when it has none or it does not parse
/// (npm reads it the same forgiving way for install scripts).
pub fn read_manifest(dir: &Path) -> serde_json::Value {
    std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}))
}

/// `scripts.<event>` of a manifest, if it is a non-blank string.
pub fn script_of<'a>(manifest: &'a serde_json::Value, event: &str) -> Option<&'a str> {
    manifest.get("scripts")?.get(event)?.as_str().filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_has_every_ancestors_bin_dir_then_node_then_the_system() {
        let path = search_path(Path::new("/layers/x/modules/node_modules/esbuild"), Path::new("/layers/x/node/bin"));
        assert_eq!(
            path,
            "/layers/x/modules/node_modules/esbuild/node_modules/.bin:/layers/x/modules/node_modules/node_modules/.bin:\
             /layers/x/modules/node_modules/.bin:/layers/x/node_modules/.bin:/layers/node_modules/.bin:/node_modules/.bin:\
             /layers/x/node/bin:/usr/local/bin:/usr/bin:/bin"
        );
    }

    #[test]
    fn package_fields_flatten_as_npm_does() {
        let manifest = serde_json::json!({
            "name": "@s/app", "version": "1.2.3", "config": {"port": 8080, "debug": false, "list": ["a", "b"]},
            "engines": {"node": ">=20"}, "bin": {"app": "cli.js"}, "description": "not exported"
        });
        let env = package_envs(&manifest);
        let get = |k: &str| env.iter().find(|(name, _)| name == k).map(|(_, v)| v.as_str());
        assert_eq!(get("npm_package_name"), Some("@s/app"));
        assert_eq!(get("npm_package_version"), Some("1.2.3"));
        assert_eq!(get("npm_package_config_port"), Some("8080"));
        assert_eq!(get("npm_package_config_debug"), Some(""));
        assert_eq!(get("npm_package_config_list_1"), Some("b"));
        assert_eq!(get("npm_package_engines_node"), Some(">=20"));
        assert_eq!(get("npm_package_bin_app"), Some("cli.js"));
        assert_eq!(get("npm_package_description"), None);
    }

    #[test]
    fn scripts_are_read_forgivingly() {
        let manifest = serde_json::json!({"scripts": {"build": "esbuild x", "test": " ", "bad": 3}});
        assert_eq!(script_of(&manifest, "build"), Some("esbuild x"));
        assert_eq!(script_of(&manifest, "test"), None);
        assert_eq!(script_of(&manifest, "bad"), None);
        assert_eq!(script_of(&manifest, "start"), None);
        assert_eq!(read_manifest(Path::new("/nonexistent")), serde_json::json!({}));
    }
}

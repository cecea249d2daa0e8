//! The `web` process: what `npm start` would run, without npm (the image has only node).
//!
//! With `scripts.start`, its text runs with `/bin/sh -c` (launch `PATH` has node and the
//! packages' executables, as npm puts `node_modules/.bin` on it); without, `node` runs
//! package.json's `main` if that file exists, else `server.js` (npm's own default for
//! `npm start`), else `index.js`.

use std::path::Path;

use kiln_sdk::Process;

use crate::package_json::PackageJson;

/// The default `web` process and a description of where it came from, or `None` when the
/// app has nothing to start.
pub fn web(pkg: &PackageJson, app: &Path) -> Option<(Process, String)> {
    if let Some(script) = pkg.start_script() {
        let process = Process::shell("web", script).default_process(true);
        return Some((process, format!("scripts.start: {script}")));
    }
    let entry = entry_file(pkg, app)?;
    let process = Process::new("web", vec!["node".into(), entry.clone()]).default_process(true);
    Some((process, format!("node {entry}")))
}

/// `main` (as node resolves it), else `server.js`, else `index.js`, if it exists.
fn entry_file(pkg: &PackageJson, app: &Path) -> Option<String> {
    let main = pkg.main.as_deref().map(|m| m.trim_start_matches("./").trim_end_matches('/')).filter(|m| !m.is_empty());
    let main_candidates = main.into_iter().flat_map(|m| [m.to_string(), format!("{m}.js"), format!("{m}/index.js")]);
    main_candidates
        .chain(["server.js".to_string(), "index.js".to_string()])
        .find(|candidate| !candidate.split('/').any(|p| p == "..") && app.join(candidate).is_file())
}

/// Whether a start script needs npm or npx, which the image does not have.
pub fn needs_npm(script: &str) -> bool {
    script.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(')).any(|w| w == "npm" || w == "npx")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(files: &[&str]) -> tempdir::Dir {
        tempdir::Dir::new(files)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(files: &[&str]) -> Dir {
                static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let dir = std::env::temp_dir().join(format!("kiln-nodejs-process-{}-{n}", std::process::id()));
                for f in files {
                    let path = dir.join(f);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, "").unwrap();
                }
                std::fs::create_dir_all(&dir).unwrap();
                Dir(dir)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn pkg(json: &str) -> PackageJson {
        PackageJson::parse(json).unwrap()
    }

    #[test]
    fn start_script_wins_and_runs_in_a_shell() {
        let dir = app(&["server.js"]);
        let (process, why) = web(&pkg(r#"{"scripts": {"start": "node app.js --port $PORT"}}"#), &dir.0).unwrap();
        assert_eq!(process.command, ["/bin/sh", "-c", "node app.js --port $PORT"]);
        assert!(process.default);
        assert_eq!(why, "scripts.start: node app.js --port $PORT");
    }

    #[test]
    fn without_a_script_main_then_server_js_then_index_js() {
        let dir = app(&["server.js", "lib/app.js", "index.js"]);
        assert_eq!(web(&pkg(r#"{"main": "lib/app.js"}"#), &dir.0).unwrap().0.command, ["node", "lib/app.js"]);
        assert_eq!(web(&pkg(r#"{"main": "gone.js"}"#), &dir.0).unwrap().0.command, ["node", "server.js"]);
        let dir = app(&["lib/app.js", "index.js"]);
        assert_eq!(web(&pkg(r#"{"main": "./lib/app"}"#), &dir.0).unwrap().0.command, ["node", "lib/app.js"]);
        assert_eq!(web(&pkg("{}"), &dir.0).unwrap().0.command, ["node", "index.js"]);
        let dir = app(&["lib/index.js"]);
        assert_eq!(web(&pkg(r#"{"main": "lib"}"#), &dir.0).unwrap().0.command, ["node", "lib/index.js"]);
        assert!(web(&pkg(r#"{"main": "../outside.js"}"#), &app(&[]).0).is_none());
    }

    #[test]
    fn npm_in_a_script_is_noticed() {
        assert!(needs_npm("npm run serve"));
        assert!(needs_npm("node migrate.js && npx serve"));
        assert!(!needs_npm("node server.js --npm-compat"));
    }
}

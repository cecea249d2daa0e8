//! The launch environment: the inherited env, layer path dirs and layer env files.
//!
//! Follows the buildpack spec ("Environment") as the lifecycle implements it
//! (`env/env.go`, `env/launch.go`, `doEnv` in `launch/launcher.go`), with the rules shared
//! with the host in [`kiln_cnb::env`]:
//!
//! 1. Start from the launcher's env without the platform's own variables
//!    ([`EXCLUDED_VARS`]), and with `/cnb/process` and `/cnb/lifecycle` taken out of `PATH`
//!    ([`kiln_cnb::env::launch_path`]).
//! 2. For each buildpack in group order: for each of its layers (by name) prepend the
//!    [`LAUNCH_PATH_DIRS`] (`<layer>/bin` to `PATH`, `<layer>/lib` to `LD_LIBRARY_PATH`); then
//!    for each of its layers apply its [`launch_env_dirs`]: `env/`, `env.launch/`,
//!    `env.launch/<type>/`.
//!
//! Env files follow [`EnvFileName`] and [`EnvAction`] (the suffix table is in
//! [`kiln_cnb::env`]). Files are applied in name order; directories are skipped; symlinks
//! are followed (the launcher runs inside the image, whose files are the app's own). Entries
//! that cannot be used are skipped with a warning.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use kiln_cnb::ProcessType;
use kiln_cnb::env::{EnvAction, EnvFileName, LAUNCH_PATH_DIRS, launch_env_dirs, launch_path, prepend_path_bytes};

use crate::layers::{BuildpackLayers, list_dir};
use crate::warn;

/// Variables the platform uses to drive the launcher, removed from the app's env
/// (the lifecycle's `LaunchEnvExcludelist`).
pub const EXCLUDED_VARS: [&str; 5] = ["CNB_LAYERS_DIR", "CNB_APP_DIR", "CNB_PROCESS_TYPE", "CNB_PLATFORM_API", "CNB_DEPRECATION_MODE"];

/// The largest env file read; anything bigger could not be passed to `exec` anyway.
const MAX_ENV_FILE: u64 = 1 << 20;

/// An environment being built: variable name to value, both raw bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    /// An env holding exactly `vars`.
    pub fn new(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        Self { vars: vars.into_iter().collect() }
    }

    /// The base launch env: `vars` (the launcher's own env) without [`EXCLUDED_VARS`] and
    /// with the launcher's dirs removed from `PATH` ([`launch_path`]).
    pub fn launch_base(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        let mut env = Self::new(vars.into_iter().filter(|(k, _)| !EXCLUDED_VARS.iter().any(|x| k == x)));
        if let Some(path) = env.vars.get_mut(OsStr::new("PATH")) {
            *path = OsString::from_vec(launch_path(path.as_bytes()));
        }
        env
    }

    /// The value of `name`; empty when unset.
    pub fn get(&self, name: &str) -> &OsStr {
        self.get_os(OsStr::new(name))
    }

    fn get_os(&self, name: &OsStr) -> &OsStr {
        self.vars.get(name).map(OsString::as_os_str).unwrap_or_default()
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: impl Into<OsString>, value: impl Into<OsString>) {
        self.vars.insert(name.into(), value.into());
    }

    /// All variables, sorted by name.
    pub fn vars(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// Applies every buildpack's launch layers, in order, for a process of `process_type`
    /// (`None`: a command from the command line, which has no process-specific env).
    pub fn apply_layers(&mut self, buildpacks: &[BuildpackLayers], process_type: Option<&ProcessType>) {
        let env_dirs = launch_env_dirs(process_type);
        for bp in buildpacks {
            for layer in &bp.layers {
                self.add_root_dir(layer);
            }
            for layer in &bp.layers {
                for dir in &env_dirs {
                    self.apply_env_dir(&layer.join(dir));
                }
            }
        }
    }

    /// Prepends the [`LAUNCH_PATH_DIRS`] of `layer` (`<layer>/bin` to `PATH`, `<layer>/lib` to
    /// `LD_LIBRARY_PATH`) when they exist.
    pub fn add_root_dir(&mut self, layer: &Path) {
        for (dir, vars) in LAUNCH_PATH_DIRS {
            let child = layer.join(dir);
            match fs::metadata(&child) {
                Ok(_) => {
                    for var in *vars {
                        let value = prepend_path_bytes(child.as_os_str().as_bytes(), self.get(var).as_bytes());
                        self.set(*var, OsString::from_vec(value));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => warn(format_args!("skipping {}: {e}", child.display())),
            }
        }
    }

    /// Applies the env files of `dir` (if it exists) by the rules in the module docs.
    pub fn apply_env_dir(&mut self, dir: &Path) {
        let Some(entries) = list_dir(dir) else { return };
        for (file_name, file_type) in entries {
            if file_type.is_dir() {
                continue;
            }
            let path = dir.join(&file_name);
            let file = match EnvFileName::parse(file_name.as_bytes()) {
                Ok(Some(file)) if file.action != EnvAction::Delim => file,
                Ok(_) => continue, // `.delim` files and unknown suffixes set nothing
                Err(e) => {
                    warn(format_args!("skipping {}: {e}", path.display()));
                    continue;
                }
            };
            let name = OsStr::from_bytes(file.var);
            let Some(value) = read_value(&path) else {
                continue;
            };
            let delim = delim(dir, name);
            if let Some(new) = file.action.apply_bytes(self.get_os(name).as_bytes(), value.as_bytes(), &delim) {
                self.set(name, OsString::from_vec(new));
            }
        }
    }
}

/// The delimiter for `name` in `dir`: the contents of `<name>.delim`, empty when absent.
fn delim(dir: &Path, name: &OsStr) -> Vec<u8> {
    let mut file_name = name.to_owned();
    file_name.push(".delim");
    let path = dir.join(file_name);
    if fs::symlink_metadata(&path).is_err() {
        return Vec::new();
    }
    read_value(&path).map(OsString::into_vec).unwrap_or_default()
}

/// The verbatim contents of the env file at `path`, following symlinks. `None` (silently)
/// for a directory; `None` with a warning for anything else that is not a small regular
/// file of usable bytes.
fn read_value(path: &Path) -> Option<OsString> {
    let result = fs::metadata(path).and_then(|meta| {
        if meta.is_dir() {
            return Ok(None);
        }
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        let mut bytes = Vec::new();
        File::open(path)?.take(MAX_ENV_FILE + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_ENV_FILE {
            return Err(io::Error::other(format!("larger than {MAX_ENV_FILE} bytes")));
        }
        if bytes.contains(&0) {
            return Err(io::Error::other("contains a NUL byte"));
        }
        Ok(Some(OsString::from_vec(bytes)))
    });
    result.unwrap_or_else(|e| {
        warn(format_args!("skipping env file {}: {e}", path.display()));
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
    }

    /// Writes `files` (path relative to `dir`, contents) and returns `dir`.
    fn tree(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        for (path, contents) in files {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
        dir.to_path_buf()
    }

    fn applied(start: &[(&str, &str)], files: &[(&str, &str)]) -> Env {
        let root = tempfile::tempdir().unwrap();
        let dir = tree(root.path(), files);
        let mut env = env(start);
        env.apply_env_dir(&dir);
        env
    }

    #[test]
    fn no_suffix_overrides() {
        let env = applied(&[("FOO", "old")], &[("FOO", "new")]);
        assert_eq!(env.get("FOO"), "new");
    }

    #[test]
    fn override_suffix_overrides() {
        let env = applied(&[("FOO", "old")], &[("FOO.override", "new"), ("BAR.override", "set")]);
        assert_eq!(env.get("FOO"), "new");
        assert_eq!(env.get("BAR"), "set");
    }

    #[test]
    fn default_sets_only_when_unset_or_empty() {
        let env =
            applied(&[("SET", "kept"), ("EMPTY", "")], &[("SET.default", "x"), ("EMPTY.default", "filled"), ("UNSET.default", "new")]);
        assert_eq!(env.get("SET"), "kept");
        assert_eq!(env.get("EMPTY"), "filled");
        assert_eq!(env.get("UNSET"), "new");
    }

    #[test]
    fn append_uses_no_delimiter_by_default() {
        let env = applied(&[("FOO", "a")], &[("FOO.append", "b"), ("NEW.append", "only")]);
        assert_eq!(env.get("FOO"), "ab");
        assert_eq!(env.get("NEW"), "only");
    }

    #[test]
    fn prepend_uses_no_delimiter_by_default() {
        let env = applied(&[("FOO", "a")], &[("FOO.prepend", "b"), ("NEW.prepend", "only")]);
        assert_eq!(env.get("FOO"), "ba");
        assert_eq!(env.get("NEW"), "only");
    }

    #[test]
    fn delim_file_sets_the_delimiter_and_nothing_else() {
        let env = applied(
            &[("PATH", "/usr/bin"), ("OPTS", "-a")],
            &[
                ("PATH.prepend", "/opt/bin"),
                ("PATH.delim", ":"),
                ("OPTS.append", "-b"),
                ("OPTS.delim", " "),
                ("ONLY.delim", ","),
                ("EMPTY.append", "x"),
                ("EMPTY.delim", ","),
            ],
        );
        assert_eq!(env.get("PATH"), "/opt/bin:/usr/bin");
        assert_eq!(env.get("OPTS"), "-a -b");
        assert!(!env.vars().any(|(k, _)| k == "ONLY"), "a .delim file sets nothing");
        assert_eq!(env.get("EMPTY"), "x", "no delimiter before an empty value");
    }

    #[test]
    fn unknown_suffix_is_ignored() {
        let env = applied(&[("FOO", "a")], &[("FOO.replace", "x"), ("FOO.bar.append", "y"), ("FOO.", "z")]);
        assert_eq!(env.vars().count(), 1);
        assert_eq!(env.get("FOO"), "a");
    }

    #[test]
    fn contents_are_verbatim() {
        let env = applied(&[], &[("FOO", "  with spaces\n"), ("BLANK", "")]);
        assert_eq!(env.get("FOO"), "  with spaces\n");
        assert!(env.vars().any(|(k, v)| k == "BLANK" && v.is_empty()));
    }

    #[test]
    fn directories_and_bad_entries_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let dir = tree(root.path(), &[("sub/FOO", "no"), ("GOOD", "yes"), ("A=B", "no")]);
        std::os::unix::fs::symlink(dir.join("sub"), dir.join("DIRLINK")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/kiln", dir.join("DANGLING")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("DEVICE")).unwrap();
        std::os::unix::fs::symlink(dir.join("GOOD"), dir.join("LINKED")).unwrap();
        fs::write(dir.join("NUL"), b"a\0b").unwrap();
        let mut env = Env::default();
        env.apply_env_dir(&dir);
        let names: Vec<_> = env.vars().map(|(k, _)| k.to_owned()).collect();
        assert_eq!(names, ["GOOD", "LINKED"]);
        assert_eq!(env.get("LINKED"), "yes", "symlinks to files are followed");
    }

    #[test]
    fn missing_dir_changes_nothing() {
        let mut env = env(&[("FOO", "a")]);
        env.apply_env_dir(Path::new("/nonexistent/kiln/env"));
        assert_eq!(env, self::env(&[("FOO", "a")]));
    }

    #[test]
    fn non_utf8_names_and_values_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let name = OsStr::from_bytes(b"V\xff");
        fs::write(root.path().join(name), b"\xfe").unwrap();
        let mut env = Env::default();
        env.apply_env_dir(root.path());
        assert_eq!(env.get_os(name).as_bytes(), b"\xfe");
    }

    #[test]
    fn base_env_drops_platform_vars_and_launcher_path_dirs() {
        let base = Env::launch_base(
            [
                ("PATH", "/cnb/process:/usr/bin:/cnb/lifecycle:/bin"),
                ("CNB_APP_DIR", "/workspace"),
                ("CNB_LAYERS_DIR", "/layers"),
                ("CNB_PROCESS_TYPE", "web"),
                ("CNB_PLATFORM_API", "0.13"),
                ("CNB_DEPRECATION_MODE", "quiet"),
                ("HOME", "/home/cnb"),
            ]
            .map(|(k, v)| (k.into(), v.into())),
        );
        assert_eq!(base, env(&[("PATH", "/usr/bin:/bin"), ("HOME", "/home/cnb")]));
    }

    /// Two buildpacks, each with one layer setting every kind of variable.
    fn two_buildpacks(root: &Path, process_type: Option<&ProcessType>) -> Env {
        for (bp, layer) in [("first", "a"), ("second", "b")] {
            let l = format!("{bp}/{layer}");
            tree(
                root,
                &[
                    (&format!("{l}/bin/tool"), ""),
                    (&format!("{l}/env.launch/OVERRIDE"), bp),
                    (&format!("{l}/env.launch/DEFAULT.default"), bp),
                    (&format!("{l}/env.launch/LIST.append"), bp),
                    (&format!("{l}/env.launch/LIST.delim"), ","),
                    (&format!("{l}/env.launch/PLIST.prepend"), bp),
                    (&format!("{l}/env.launch/PLIST.delim"), ","),
                ],
            );
        }
        let layers = vec![
            BuildpackLayers { id: "first".into(), layers: vec![root.join("first/a")] },
            BuildpackLayers { id: "second".into(), layers: vec![root.join("second/b")] },
        ];
        let mut env = env(&[("PATH", "/usr/bin")]);
        env.apply_layers(&layers, process_type);
        env
    }

    #[test]
    fn later_buildpacks_win_overrides_and_come_first_in_prepends() {
        let root = tempfile::tempdir().unwrap();
        let env = two_buildpacks(root.path(), None);
        assert_eq!(env.get("OVERRIDE"), "second");
        assert_eq!(env.get("DEFAULT"), "first");
        assert_eq!(env.get("LIST"), "first,second");
        assert_eq!(env.get("PLIST"), "second,first");
        let path = format!("{}:{}:/usr/bin", root.path().join("second/b/bin").display(), root.path().join("first/a/bin").display());
        assert_eq!(env.get("PATH"), path.as_str());
    }

    #[test]
    fn layer_root_dirs_prepend_bin_and_lib() {
        let root = tempfile::tempdir().unwrap();
        tree(root.path(), &[("bin/x", ""), ("lib/libx.so", "")]);
        let mut env = env(&[("PATH", "/usr/bin")]);
        env.add_root_dir(root.path());
        let bin = format!("{}:/usr/bin", root.path().join("bin").display());
        assert_eq!(env.get("PATH"), bin.as_str());
        assert_eq!(env.get("LD_LIBRARY_PATH"), root.path().join("lib").as_os_str(), "no separator when empty");
    }

    #[test]
    fn env_then_env_launch_then_process_dir_within_a_layer() {
        let root = tempfile::tempdir().unwrap();
        tree(
            root.path(),
            &[
                ("bp/l/env/A", "env"),
                ("bp/l/env/B", "env"),
                ("bp/l/env/C", "env"),
                ("bp/l/env.launch/B", "launch"),
                ("bp/l/env.launch/C", "launch"),
                ("bp/l/env.launch/web/C", "web"),
                ("bp/l/env.build/A", "build only"),
            ],
        );
        let layers = [BuildpackLayers { id: "bp".into(), layers: vec![root.path().join("bp/l")] }];
        let mut web = Env::default();
        web.apply_layers(&layers, Some(&ProcessType::parse("web").unwrap()));
        assert_eq!(web, env(&[("A", "env"), ("B", "launch"), ("C", "web")]));
        let mut command = Env::default();
        command.apply_layers(&layers, None);
        assert_eq!(command.get("C"), "launch");
        assert!(ProcessType::parse("..").is_err(), "a type that is not one path component cannot reach a process dir");
    }
}

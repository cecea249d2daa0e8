//! The environment a buildpack's build sees from earlier buildpacks' `build = true` layers
//! ([buildpack spec, Environment](https://github.com/buildpacks/spec/blob/main/buildpack.md#environment)).
//!
//! Mirrors the lifecycle's `env/env.go` (`AddRootDir`, `AddEnvDir`, `WithOverrides`): after
//! each buildpack, every one of its `build = true` layers in alphabetical order adds
//!
//! 1. its path dirs: `<layer>/bin` prepended to `PATH`, `<layer>/lib` to `LD_LIBRARY_PATH`
//!    and `LIBRARY_PATH`, `<layer>/include` to `CPATH`, `<layer>/pkgconfig` to
//!    `PKG_CONFIG_PATH`, `:`-separated, each only if that directory exists;
//! 2. the files of `<layer>/env/`, then those of `<layer>/env.build/`, in file-name order.
//!    A file `NAME` or `NAME.override` sets `NAME`; `NAME.default` sets it only when it is
//!    empty; `NAME.append` and `NAME.prepend` join the contents to the current value with
//!    the delimiter in `NAME.delim` of the same directory (none if absent, and none when the
//!    current value is empty). Contents are used verbatim (a trailing newline is kept).
//!    Other suffixes are ignored, as are subdirectories.
//!
//! These rules (dirs, suffixes, path dirs) are the ones the launcher applies at launch, and
//! both take them from [`kiln_cnb::env`]; this module adds what only the host does: reading
//! files a buildpack wrote without trusting them, and the platform env.
//!
//! The env accumulates across buildpacks, so a later buildpack's path dirs come first, its
//! overrides win and its defaults lose. The platform's user-provided env (`<platform>/env`)
//! is laid over it for each buildpack, as the lifecycle does: path variables get the user's
//! value prepended, others are replaced by it; a `clear-env = true` buildpack uses
//! [`BuildEnv::layer_vars`] instead.
//!
//! The host reads files a buildpack wrote, so it trusts none of them: symlinks (files, the
//! env dirs, path dirs) are never followed but skipped with a warning, special files are
//! skipped, and a file that is too large, not UTF-8, holds a NUL byte or does not name a
//! valid variable is an [`EnvError`] naming it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use kiln_cnb::env::{BUILD_ENV_DIRS, BUILD_PATH_DIRS, EnvAction, EnvFileName, EnvNameError, PATH_VARS, prepend_path};

/// Largest env file (or delimiter file) accepted from a buildpack, in bytes.
pub const MAX_ENV_FILE: u64 = 64 * 1024;

/// An env file that cannot be used, or an env dir that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A layer directory, env dir or path dir could not be inspected or listed.
    #[error("cannot read {}: {source}", path.display())]
    CannotReadDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An env file could not be opened or read.
    #[error("cannot read env file {}: {source}", path.display())]
    CannotReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An env file is larger than [`MAX_ENV_FILE`].
    #[error(
        "env file {} is larger than {limit} bytes; keep env values small and put large data in a layer file",
        path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// An env file's name does not give a usable variable name.
    #[error(
        "env file {} does not name a valid environment variable ({reason}); name it NAME, NAME.override, NAME.default, NAME.append, NAME.prepend or NAME.delim",
        path.display()
    )]
    BadName {
        /// The file.
        path: PathBuf,
        /// What is wrong with the name.
        reason: EnvNameError,
    },
    /// An env file's contents are not UTF-8.
    #[error("env file {} is not UTF-8 text; write the value as UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// An env file's contents hold a NUL byte, which no environment value can carry.
    #[error("env file {} contains a NUL byte, which no environment variable can hold; remove it", path.display())]
    NulInValue {
        /// The file.
        path: PathBuf,
    },
    /// The image path given for a layer cannot appear in a `:`-separated path list.
    #[error("layer path {path:?} must be absolute and contain no ':' or NUL; rename the layer")]
    BadImagePath {
        /// The path.
        path: String,
    },
}

/// One usable env file of a directory.
struct EnvFile {
    name: String,
    action: EnvAction,
    value: String,
}

/// The build-time environment: what earlier buildpacks' build layers set, plus the
/// platform's user-provided env laid over it.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    /// Accumulated from layers only.
    layers: BTreeMap<String, String>,
    /// The platform's user-provided env, in the order given.
    platform: Vec<(String, String)>,
    /// `layers` with `platform` applied, kept current.
    merged: BTreeMap<String, String>,
    /// Files and directories skipped, one sentence each.
    warnings: Vec<String>,
}

impl BuildEnv {
    /// An env with no layers yet. `platform_env` is the user-provided env (`<platform>/env`
    /// files, `--env`), laid over the layer env by [`vars`](Self::vars).
    pub fn new(platform_env: &[(String, String)]) -> Self {
        let mut env = BuildEnv { platform: platform_env.to_vec(), ..BuildEnv::default() };
        env.merge();
        env
    }

    /// Add one `build = true` layer: its path dirs, then `env/`, then `env.build/`.
    ///
    /// `layer_image_path` is where the layer is seen by later buildpacks and in the
    /// image (e.g. `/layers/kiln_node/node`); it is the path written into the values.
    /// `layer_host_dir` is where the host reads it. Call once per layer, buildpacks in
    /// group order and each buildpack's layers in name order.
    ///
    /// On error the env may hold part of the layer's changes; the build should stop.
    pub fn add_build_layer(&mut self, layer_image_path: &str, layer_host_dir: &Path) -> Result<(), EnvError> {
        let image_path = layer_image_path.trim_end_matches('/');
        if !image_path.starts_with('/') || image_path.contains([':', '\0']) {
            return Err(EnvError::BadImagePath { path: layer_image_path.to_string() });
        }
        for (sub, vars) in BUILD_PATH_DIRS {
            let host = layer_host_dir.join(sub);
            if self.real_dir(&host)? {
                let value = format!("{image_path}/{sub}");
                for var in *vars {
                    let current = self.layers.get(*var).map(String::as_str).unwrap_or("");
                    let joined = prepend_path(&value, current);
                    self.layers.insert(var.to_string(), joined);
                }
            }
        }
        for dir in BUILD_ENV_DIRS {
            self.apply_env_dir(&layer_host_dir.join(dir))?;
        }
        self.merge();
        Ok(())
    }

    /// The env for a buildpack: the layer env with the platform env laid over it.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.merged.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The env for a `clear-env = true` buildpack: the layer env alone.
    pub fn layer_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.layers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// What was skipped so far (symlinks, special files), one sentence each, for the user.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, message: String) {
        tracing::warn!("{message}");
        self.warnings.push(message);
    }

    /// Whether `path` is a real directory; a symlink is reported and counts as absent.
    fn real_dir(&mut self, path: &Path) -> Result<bool, EnvError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                self.warn(format!("skipped {}: it is a symlink, which the host does not follow", path.display()));
                Ok(false)
            }
            Ok(meta) => Ok(meta.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(EnvError::CannotReadDir { path: path.to_path_buf(), source }),
        }
    }

    /// Re-apply the platform env over the layer env (lifecycle `WithOverrides`).
    fn merge(&mut self) {
        let mut merged = self.layers.clone();
        for (name, value) in &self.platform {
            let new = if PATH_VARS.contains(&name.as_str()) {
                prepend_path(value, merged.get(name).map(String::as_str).unwrap_or(""))
            } else {
                value.clone()
            };
            merged.insert(name.clone(), new);
        }
        self.merged = merged;
    }

    /// Apply one env dir's files in file-name order (lifecycle `addEnvDir`).
    fn apply_env_dir(&mut self, dir: &Path) -> Result<(), EnvError> {
        if !self.real_dir(dir)? {
            return Ok(());
        }
        let files = self.read_env_dir(dir)?;
        let delims: BTreeMap<&str, &str> =
            files.iter().filter(|f| f.action == EnvAction::Delim).map(|f| (f.name.as_str(), f.value.as_str())).collect();
        for file in &files {
            let current = self.layers.get(&file.name).map(String::as_str).unwrap_or("");
            let delim = delims.get(file.name.as_str()).copied().unwrap_or("");
            if let Some(new) = file.action.apply(current, &file.value, delim) {
                self.layers.insert(file.name.clone(), new);
            }
        }
        Ok(())
    }

    /// The usable files of an env dir, sorted by file name; skips what must be skipped.
    fn read_env_dir(&mut self, dir: &Path) -> Result<Vec<EnvFile>, EnvError> {
        let cannot_list = |source| EnvError::CannotReadDir { path: dir.to_path_buf(), source };
        let mut found: BTreeMap<String, (String, EnvAction)> = BTreeMap::new();
        for entry in fs::read_dir(dir).map_err(cannot_list)? {
            let entry = entry.map_err(cannot_list)?;
            let path = entry.path();
            // `DirEntry::file_type` does not follow symlinks.
            let kind = entry.file_type().map_err(|source| EnvError::CannotReadFile { path: path.clone(), source })?;
            if kind.is_dir() {
                continue;
            }
            if kind.is_symlink() {
                self.warn(format!("skipped {}: it is a symlink, which the host does not follow", path.display()));
                continue;
            }
            if !kind.is_file() {
                self.warn(format!("skipped {}: it is not a regular file", path.display()));
                continue;
            }
            let file_name = entry.file_name();
            let (name, action) = match EnvFileName::parse(file_name.as_encoded_bytes()) {
                Ok(Some(file)) => (file.var, file.action),
                Ok(None) => {
                    tracing::debug!(path = %path.display(), "ignoring env file with an unknown suffix");
                    continue;
                }
                Err(reason) => return Err(EnvError::BadName { path, reason }),
            };
            let (Ok(name), Some(file_name)) = (std::str::from_utf8(name), file_name.to_str()) else {
                return Err(EnvError::BadName { path, reason: EnvNameError::NotUtf8 });
            };
            found.insert(file_name.to_string(), (name.to_string(), action));
        }
        let mut files = Vec::with_capacity(found.len());
        for (file_name, (name, action)) in found {
            let path = dir.join(&file_name);
            if let Some(value) = self.read_env_file(&path)? {
                files.push(EnvFile { name, action, value });
            }
        }
        Ok(files)
    }

    /// Read one env file without following a symlink, bounded; `None` if it was skipped.
    fn read_env_file(&mut self, path: &Path) -> Result<Option<String>, EnvError> {
        let cannot_read = |source| EnvError::CannotReadFile { path: path.to_path_buf(), source };
        // O_NOFOLLOW: a file swapped for a symlink after listing fails with ELOOP instead of
        // being followed. O_NONBLOCK: a file swapped for a FIFO cannot block the open.
        let opened = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path);
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                self.warn(format!("skipped {}: it is a symlink, which the host does not follow", path.display()));
                return Ok(None);
            }
            Err(source) => return Err(cannot_read(source)),
        };
        if !file.metadata().map_err(cannot_read)?.is_file() {
            self.warn(format!("skipped {}: it is not a regular file", path.display()));
            return Ok(None);
        }
        let mut bytes = Vec::new();
        file.take(MAX_ENV_FILE + 1).read_to_end(&mut bytes).map_err(cannot_read)?;
        if bytes.len() as u64 > MAX_ENV_FILE {
            return Err(EnvError::FileTooLarge { path: path.to_path_buf(), limit: MAX_ENV_FILE });
        }
        let value = String::from_utf8(bytes).map_err(|_| EnvError::NotUtf8 { path: path.to_path_buf() })?;
        if value.contains('\0') {
            return Err(EnvError::NulInValue { path: path.to_path_buf() });
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Make a layer dir under `root` holding `files` (`relative path`, contents).
    fn layer(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        for (path, contents) in files {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
        dir
    }

    fn vars(env: &BuildEnv) -> BTreeMap<String, String> {
        env.vars().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The env after adding one layer `/layers/bp/l` holding `files`.
    fn one_layer(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &layer(tmp.path(), "l", files)).unwrap();
        vars(&env)
    }

    fn get<'a>(vars: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
        vars.get(name).map(String::as_str)
    }

    #[test]
    fn unsuffixed_file_overrides() {
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO", "b")]);
        assert_eq!(get(&v, "FOO"), Some("b"));
    }

    #[test]
    fn override_suffix_overrides() {
        let v = one_layer(&[("env/FOO.default", "a"), ("env.build/FOO.override", "b")]);
        assert_eq!(get(&v, "FOO"), Some("b"));
    }

    #[test]
    fn default_sets_only_an_empty_variable() {
        let v = one_layer(&[("env/SET", "first"), ("env.build/SET.default", "second"), ("env.build/UNSET.default", "d")]);
        assert_eq!(get(&v, "SET"), Some("first"));
        assert_eq!(get(&v, "UNSET"), Some("d"));
        let v = one_layer(&[("env/EMPTY", ""), ("env.build/EMPTY.default", "d")]);
        assert_eq!(get(&v, "EMPTY"), Some("d"), "an empty value counts as unset");
    }

    #[test]
    fn append_joins_with_the_delim_file() {
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO.append", "b"), ("env.build/FOO.delim", ",")]);
        assert_eq!(get(&v, "FOO"), Some("a,b"));
    }

    #[test]
    fn prepend_joins_with_the_delim_file() {
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO.prepend", "b"), ("env.build/FOO.delim", ",")]);
        assert_eq!(get(&v, "FOO"), Some("b,a"));
    }

    #[test]
    fn without_a_delim_file_there_is_no_delimiter() {
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO.append", "b"), ("env.build/BAR.delim", ",")]);
        assert_eq!(get(&v, "FOO"), Some("ab"), "the delim of another name does not apply");
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO.prepend", "b"), ("env/FOO.delim", ",")]);
        assert_eq!(get(&v, "FOO"), Some("ba"), "the delim of another dir does not apply");
    }

    #[test]
    fn no_delimiter_when_the_current_value_is_empty() {
        let v = one_layer(&[("env/A.append", "a"), ("env/A.delim", ":"), ("env/P.prepend", "p"), ("env/P.delim", ":")]);
        assert_eq!(get(&v, "A"), Some("a"));
        assert_eq!(get(&v, "P"), Some("p"));
    }

    #[test]
    fn delim_file_alone_sets_nothing() {
        let v = one_layer(&[("env/FOO.delim", ":")]);
        assert_eq!(get(&v, "FOO"), None);
    }

    #[test]
    fn contents_are_used_verbatim() {
        let v = one_layer(&[("env/FOO", " spaced value\n"), ("env/BAR.append", "$HOME\n"), ("env/BAR.delim", "\n")]);
        assert_eq!(get(&v, "FOO"), Some(" spaced value\n"));
        assert_eq!(get(&v, "BAR"), Some("$HOME\n"), "not shell-expanded");
    }

    #[test]
    fn files_in_one_dir_apply_in_name_order() {
        // FOO < FOO.append < FOO.delim < FOO.prepend
        let v = one_layer(&[("env/FOO.prepend", "c"), ("env/FOO.append", "b"), ("env/FOO", "a"), ("env/FOO.delim", ":")]);
        assert_eq!(get(&v, "FOO"), Some("c:a:b"));
    }

    #[test]
    fn env_build_applies_after_env() {
        let v = one_layer(&[("env/FOO", "a"), ("env.build/FOO.append", "b"), ("env.build/FOO.delim", ":")]);
        assert_eq!(get(&v, "FOO"), Some("a:b"));
    }

    #[test]
    fn unknown_suffixes_subdirectories_and_launch_dirs_are_ignored() {
        let big = "x".repeat(MAX_ENV_FILE as usize + 1);
        let v = one_layer(&[
            ("env/FOO.bar", "x"),
            ("env/FOO.prepend.extra", "x"),
            ("env/README.md", &big),
            ("env/SUB/FOO", "x"),
            ("env.launch/FOO", "x"),
            ("env.launch/web/FOO", "x"),
        ]);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn later_layer_override_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/a/l", &layer(tmp.path(), "a", &[("env/FOO", "early")])).unwrap();
        env.add_build_layer("/layers/b/l", &layer(tmp.path(), "b", &[("env.build/FOO.override", "late")])).unwrap();
        assert_eq!(get(&vars(&env), "FOO"), Some("late"));
    }

    #[test]
    fn earlier_layer_default_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/a/l", &layer(tmp.path(), "a", &[("env/FOO.default", "early")])).unwrap();
        env.add_build_layer("/layers/b/l", &layer(tmp.path(), "b", &[("env/FOO.default", "late")])).unwrap();
        assert_eq!(get(&vars(&env), "FOO"), Some("early"));
    }

    #[test]
    fn later_layer_prepends_first_and_appends_last() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[]);
        let files = |v: &'static str| [("env/P.prepend", v), ("env/P.delim", ":"), ("env/A.append", v), ("env/A.delim", ":")];
        env.add_build_layer("/layers/a/l", &layer(tmp.path(), "a", &files("early"))).unwrap();
        env.add_build_layer("/layers/b/l", &layer(tmp.path(), "b", &files("late"))).unwrap();
        let v = vars(&env);
        assert_eq!(get(&v, "P"), Some("late:early"));
        assert_eq!(get(&v, "A"), Some("early:late"));
    }

    #[test]
    fn path_dirs_prepend_image_paths_when_present() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "node", &[]);
        for sub in ["bin", "lib", "include", "pkgconfig"] {
            fs::create_dir(dir.join(sub)).unwrap();
        }
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/kiln_node/node/", &dir).unwrap();
        let v = vars(&env);
        assert_eq!(get(&v, "PATH"), Some("/layers/kiln_node/node/bin"));
        assert_eq!(get(&v, "LD_LIBRARY_PATH"), Some("/layers/kiln_node/node/lib"));
        assert_eq!(get(&v, "LIBRARY_PATH"), Some("/layers/kiln_node/node/lib"));
        assert_eq!(get(&v, "CPATH"), Some("/layers/kiln_node/node/include"));
        assert_eq!(get(&v, "PKG_CONFIG_PATH"), Some("/layers/kiln_node/node/pkgconfig"));
        assert_eq!(v.len(), 5);
    }

    #[test]
    fn path_dirs_of_a_later_layer_come_first() {
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/a/l", &layer(tmp.path(), "a", &[("bin/tool", "")])).unwrap();
        env.add_build_layer("/layers/b/l", &layer(tmp.path(), "b", &[("bin/tool", "")])).unwrap();
        assert_eq!(get(&vars(&env), "PATH"), Some("/layers/b/l/bin:/layers/a/l/bin"));
    }

    #[test]
    fn path_dirs_apply_before_the_layers_env_files() {
        let v = one_layer(&[("bin/tool", ""), ("env/PATH.append", "/extra"), ("env/PATH.delim", ":")]);
        assert_eq!(get(&v, "PATH"), Some("/layers/bp/l/bin:/extra"));
    }

    #[test]
    fn only_real_directories_count_as_path_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "l", &[("bin", "a file, not a dir")]);
        symlink("/usr", dir.join("lib")).unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        assert!(vars(&env).is_empty(), "{:?}", vars(&env));
        assert!(env.warnings().iter().any(|w| w.contains("lib") && w.contains("symlink")), "{:?}", env.warnings());
    }

    #[test]
    fn symlinked_env_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret");
        fs::write(&secret, "host secret").unwrap();
        let dir = layer(tmp.path(), "l", &[("env/OK", "fine")]);
        symlink(&secret, dir.join("env/LEAK")).unwrap();
        symlink(&secret, dir.join("env/LEAK2.append")).unwrap();
        symlink("/etc/shadow", dir.join("env/SHADOW")).unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        let v = vars(&env);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(get(&v, "OK"), Some("fine"));
        assert!(!v.values().any(|value| value.contains("secret")));
        assert_eq!(env.warnings().iter().filter(|w| w.contains("symlink")).count(), 3, "{:?}", env.warnings());
    }

    #[test]
    fn symlinked_env_dir_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = layer(tmp.path(), "outside", &[("FOO", "host file")]);
        let dir = layer(tmp.path(), "l", &[]);
        symlink(&outside, dir.join("env")).unwrap();
        symlink(&outside, dir.join("env.build")).unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        assert!(vars(&env).is_empty());
        assert_eq!(env.warnings().len(), 2, "{:?}", env.warnings());
    }

    #[test]
    fn symlinked_delim_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret");
        fs::write(&secret, "host secret").unwrap();
        let dir = layer(tmp.path(), "l", &[("env/FOO", "a"), ("env/FOO.append", "b")]);
        symlink(&secret, dir.join("env/FOO.delim")).unwrap();
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        assert_eq!(get(&vars(&env), "FOO"), Some("ab"));
    }

    #[test]
    fn fifo_is_skipped_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "l", &[("env/OK", "fine")]);
        let made = std::process::Command::new("mkfifo").arg(dir.join("env/PIPE")).status();
        if !made.is_ok_and(|s| s.success()) {
            assert!(std::env::var_os("CI").is_none(), "mkfifo (coreutils) is required in CI");
            eprintln!("mkfifo unavailable; skipping");
            return;
        }
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        assert_eq!(get(&vars(&env), "PIPE"), None);
        assert!(env.warnings().iter().any(|w| w.contains("PIPE") && w.contains("not a regular file")));
    }

    #[test]
    fn file_over_the_limit_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let at_limit = "x".repeat(MAX_ENV_FILE as usize);
        let dir = layer(tmp.path(), "ok", &[("env/FOO", &at_limit)]);
        let mut env = BuildEnv::new(&[]);
        env.add_build_layer("/layers/bp/ok", &dir).unwrap();
        assert_eq!(get(&vars(&env), "FOO").map(str::len), Some(MAX_ENV_FILE as usize));

        let over = "x".repeat(MAX_ENV_FILE as usize + 1);
        let dir = layer(tmp.path(), "big", &[("env.build/BIG.append", &over)]);
        let error = env.add_build_layer("/layers/bp/big", &dir).unwrap_err();
        assert!(matches!(&error, EnvError::FileTooLarge { path, .. } if path.ends_with("env.build/BIG.append")), "{error:?}");
        assert!(error.to_string().contains("BIG.append"), "{error}");
    }

    #[test]
    fn bad_names_are_errors_naming_the_file() {
        for bad in ["A=B", ".override", "=.append", ".delim"] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = layer(tmp.path(), "l", &[(&format!("env/{bad}"), "v")]);
            let error = BuildEnv::new(&[]).add_build_layer("/layers/bp/l", &dir).unwrap_err();
            assert!(matches!(&error, EnvError::BadName { path, .. } if path.ends_with(bad)), "{bad}: {error:?}");
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn non_utf8_contents_are_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "l", &[]);
        fs::create_dir(dir.join("env")).unwrap();
        fs::write(dir.join("env/FOO"), [0xff, 0xfe]).unwrap();
        let error = BuildEnv::new(&[]).add_build_layer("/layers/bp/l", &dir).unwrap_err();
        assert!(matches!(&error, EnvError::NotUtf8 { path } if path.ends_with("env/FOO")), "{error:?}");
    }

    #[test]
    fn nul_in_contents_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "l", &[("env/FOO", "a\0b")]);
        let error = BuildEnv::new(&[]).add_build_layer("/layers/bp/l", &dir).unwrap_err();
        assert!(matches!(&error, EnvError::NulInValue { path } if path.ends_with("env/FOO")), "{error:?}");
    }

    #[test]
    fn image_path_must_fit_in_a_path_list() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = layer(tmp.path(), "l", &[]);
        for bad in ["layers/bp/l", "/layers/bp/a:b", ""] {
            let error = BuildEnv::new(&[]).add_build_layer(bad, &dir).unwrap_err();
            assert!(matches!(error, EnvError::BadImagePath { .. }), "{bad:?}: {error:?}");
        }
    }

    #[test]
    fn layer_with_no_env_and_no_path_dirs_changes_nothing() {
        assert!(one_layer(&[("data/file", "x")]).is_empty());
    }

    #[test]
    fn platform_env_prepends_path_vars_and_overrides_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let platform = [
            ("PATH".to_string(), "/user/bin".to_string()),
            ("JAVA_HOME".to_string(), "/user/jdk".to_string()),
            ("CPATH".to_string(), "/user/include".to_string()),
        ];
        let mut env = BuildEnv::new(&platform);
        assert_eq!(get(&vars(&env), "PATH"), Some("/user/bin"), "applies before any layer");
        let dir = layer(tmp.path(), "l", &[("bin/tool", ""), ("env/JAVA_HOME", "/layers/bp/l"), ("env/OTHER", "o")]);
        env.add_build_layer("/layers/bp/l", &dir).unwrap();
        let v = vars(&env);
        assert_eq!(get(&v, "PATH"), Some("/user/bin:/layers/bp/l/bin"));
        assert_eq!(get(&v, "JAVA_HOME"), Some("/user/jdk"));
        assert_eq!(get(&v, "CPATH"), Some("/user/include"));
        assert_eq!(get(&v, "OTHER"), Some("o"));
        let layer_only: BTreeMap<&str, &str> = env.layer_vars().collect();
        assert_eq!(
            layer_only,
            BTreeMap::from([("PATH", "/layers/bp/l/bin"), ("JAVA_HOME", "/layers/bp/l"), ("OTHER", "o")]),
            "a clear-env buildpack sees only the layer env"
        );
    }

    #[test]
    fn platform_env_does_not_feed_layer_defaults() {
        // The lifecycle lays the platform env over the layer env per buildpack, so a
        // layer's `.default` is judged against the layer env alone.
        let tmp = tempfile::tempdir().unwrap();
        let mut env = BuildEnv::new(&[("FOO".to_string(), "user".to_string())]);
        env.add_build_layer("/layers/bp/l", &layer(tmp.path(), "l", &[("env/FOO.default", "layer")])).unwrap();
        assert_eq!(get(&vars(&env), "FOO"), Some("user"));
        assert_eq!(env.layer_vars().collect::<Vec<_>>(), [("FOO", "layer")]);
    }
}

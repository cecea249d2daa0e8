//! The CNB environment rules: layer env files, layer path dirs and the image's `PATH`
//! ([buildpack spec, Environment](https://github.com/buildpacks/spec/blob/main/buildpack.md#environment)).
//!
//! What the host (building) and the launcher (running) both apply, in one place; each side
//! reads the files itself (the host trusts nothing a buildpack wrote and never follows a
//! symlink, the launcher runs inside the image and follows them), and both feed what they
//! read through these rules.
//!
//! **Env dirs** of a layer ([`ENV_DIR`], [`ENV_BUILD_DIR`], [`ENV_LAUNCH_DIR`]): `env/` applies
//! to later buildpacks' builds (for `build` layers) and at launch, `env.build/` only to builds,
//! `env.launch/` and `env.launch/<process type>/` only at launch. Within a layer they apply in
//! [`BUILD_ENV_DIRS`] / [`launch_env_dirs`] order.
//!
//! **Env files** ([`EnvFileName::parse`], [`EnvAction::apply`]): the variable is the file name up
//! to the first `.`, the rest is the suffix, which says what the contents do:
//!
//! | suffix | action |
//! |---|---|
//! | none, `.override` | set the variable |
//! | `.default` | set it only when it is unset or empty |
//! | `.append` | current value, delimiter, contents |
//! | `.prepend` | contents, delimiter, current value |
//! | `.delim` | the delimiter for `.append`/`.prepend` of that variable in the same directory; sets nothing |
//! | anything else | ignored |
//!
//! Without a `.delim` file there is no delimiter (the lifecycle's `env/env.go`); none is added
//! when the current value is empty either. Contents are used verbatim (a trailing newline is
//! kept, nothing is shell-expanded). Files of one directory apply in file-name order.
//!
//! **Path dirs** ([`BUILD_PATH_DIRS`], [`LAUNCH_PATH_DIRS`]): a layer's `bin/`, `lib/`, ... are
//! prepended to `PATH`, `LD_LIBRARY_PATH`, ... with [`PATH_SEPARATOR`], each only if it exists.
//!
//! **`PATH` of the image** ([`app_image_path`], [`launch_path`]): the exporter (and rebase) put
//! [`PROCESS_DIR`] in front of the run image's `PATH`, so `docker run IMAGE web` finds the
//! process; the launcher takes it (and [`LIFECYCLE_DIR`]) out again before starting the app.

use crate::names::ProcessType;

/// A layer's env dir applied both to later builds (`build` layers) and at launch.
pub const ENV_DIR: &str = "env";
/// A layer's env dir applied only to later buildpacks' builds.
pub const ENV_BUILD_DIR: &str = "env.build";
/// A layer's env dir applied only at launch; `env.launch/<process type>/` only for that process.
pub const ENV_LAUNCH_DIR: &str = "env.launch";

/// The env dirs of a `build` layer, in the order they apply to later buildpacks' builds.
pub const BUILD_ENV_DIRS: [&str; 2] = [ENV_DIR, ENV_BUILD_DIR];

/// The env dirs of a `launch` layer (relative to it), in the order they apply at launch of
/// `process_type` (`None`: a command given on the command line, which has no process dir).
pub fn launch_env_dirs(process_type: Option<&ProcessType>) -> Vec<String> {
    let mut dirs = vec![ENV_DIR.to_string(), ENV_LAUNCH_DIR.to_string()];
    if let Some(process_type) = process_type {
        dirs.push(format!("{ENV_LAUNCH_DIR}/{process_type}"));
    }
    dirs
}

/// Separator of path lists (Linux).
pub const PATH_SEPARATOR: &str = ":";

/// The layer subdirectories that extend path variables during later buildpacks' builds,
/// and the variables they extend.
pub const BUILD_PATH_DIRS: &[(&str, &[&str])] =
    &[("bin", &["PATH"]), ("lib", &["LD_LIBRARY_PATH", "LIBRARY_PATH"]), ("include", &["CPATH"]), ("pkgconfig", &["PKG_CONFIG_PATH"])];

/// The layer subdirectories that extend path variables at launch.
pub const LAUNCH_PATH_DIRS: &[(&str, &[&str])] = &[("bin", &["PATH"]), ("lib", &["LD_LIBRARY_PATH"])];

/// The path variables: a user-provided value for one of them is prepended to what the layers
/// set, any other user-provided variable replaces it (the lifecycle's `WithOverrides`).
pub const PATH_VARS: [&str; 5] = ["PATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH"];

/// What an env file does to its variable, from its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvAction {
    /// No suffix or `.override`: set the variable.
    Override,
    /// `.default`: set the variable only when it is unset or empty.
    Default,
    /// `.append`: join the contents after the current value.
    Append,
    /// `.prepend`: join the contents before the current value.
    Prepend,
    /// `.delim`: the delimiter for `.append`/`.prepend` of the same variable in the same
    /// directory; sets nothing.
    Delim,
}

impl EnvAction {
    /// The action of a file-name suffix (the part after the first `.`); `None` when unknown,
    /// and such a file is ignored.
    pub fn from_suffix(suffix: Option<&[u8]>) -> Option<EnvAction> {
        match suffix {
            None | Some(b"override") => Some(EnvAction::Override),
            Some(b"default") => Some(EnvAction::Default),
            Some(b"append") => Some(EnvAction::Append),
            Some(b"prepend") => Some(EnvAction::Prepend),
            Some(b"delim") => Some(EnvAction::Delim),
            Some(_) => None,
        }
    }

    /// The variable's new value when a file with this action and `value` applies to
    /// `current` (empty when unset), `delim` being the contents of the directory's
    /// `<NAME>.delim` (empty when absent). `None`: the variable is left as it is.
    pub fn apply(self, current: &str, value: &str, delim: &str) -> Option<String> {
        self.parts(current, current.is_empty(), value, delim, "").map(|parts| parts.concat())
    }

    /// [`apply`](Self::apply) on raw bytes (the launcher keeps non-UTF-8 values as they are).
    pub fn apply_bytes(self, current: &[u8], value: &[u8], delim: &[u8]) -> Option<Vec<u8>> {
        self.parts(current, current.is_empty(), value, delim, b"").map(|parts| parts.concat())
    }

    /// The rule itself, for any string type: the pieces to concatenate.
    fn parts<'a, T: ?Sized>(
        self,
        current: &'a T,
        current_is_empty: bool,
        value: &'a T,
        delim: &'a T,
        nothing: &'a T,
    ) -> Option<[&'a T; 3]> {
        match self {
            EnvAction::Delim => None,
            EnvAction::Default if !current_is_empty => None,
            EnvAction::Override | EnvAction::Default => Some([value, nothing, nothing]),
            EnvAction::Append | EnvAction::Prepend if current_is_empty => Some([value, nothing, nothing]),
            EnvAction::Append => Some([current, delim, value]),
            EnvAction::Prepend => Some([value, delim, current]),
        }
    }
}

/// `dir` in front of the path list `current` (a layer's path dir, e.g. `<layer>/bin` to `PATH`).
pub fn prepend_path(dir: &str, current: &str) -> String {
    EnvAction::Prepend.apply(current, dir, PATH_SEPARATOR).unwrap_or_default()
}

/// [`prepend_path`] on raw bytes.
pub fn prepend_path_bytes(dir: &[u8], current: &[u8]) -> Vec<u8> {
    EnvAction::Prepend.apply_bytes(current, dir, PATH_SEPARATOR.as_bytes()).unwrap_or_default()
}

/// Why an env file's name does not name a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvNameError {
    /// `.override`, `.append`, ...: nothing before the first `.`.
    #[error("the name before the first '.' is empty")]
    Empty,
    /// A name no environment can hold.
    #[error("the name contains '=' or NUL")]
    BadCharacter,
    /// A name that is not UTF-8. [`EnvFileName::parse`] accepts any bytes (the launcher keeps
    /// them); the host, which passes names through UTF-8 APIs, refuses them with this.
    #[error("the file name is not UTF-8")]
    NotUtf8,
}

/// An env file's name, split into the variable and the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvFileName<'a> {
    /// The variable's name.
    pub var: &'a [u8],
    /// What the file does to it.
    pub action: EnvAction,
}

impl<'a> EnvFileName<'a> {
    /// Split a file name. `Ok(None)`: an unknown suffix, the file is ignored. An error: the
    /// file has a known suffix but no usable variable name.
    pub fn parse(file_name: &'a [u8]) -> Result<Option<Self>, EnvNameError> {
        let (var, suffix) = match file_name.iter().position(|&b| b == b'.') {
            Some(dot) => (&file_name[..dot], Some(&file_name[dot + 1..])),
            None => (file_name, None),
        };
        let Some(action) = EnvAction::from_suffix(suffix) else {
            return Ok(None);
        };
        if var.is_empty() {
            return Err(EnvNameError::Empty);
        }
        if var.contains(&b'=') || var.contains(&0) {
            return Err(EnvNameError::BadCharacter);
        }
        Ok(Some(EnvFileName { var, action }))
    }
}

/// Where the process-type symlinks are in the image (`/cnb/process/<type>` -> the launcher).
pub const PROCESS_DIR: &str = "/cnb/process";
/// Where the launcher is in the image.
pub const LIFECYCLE_DIR: &str = "/cnb/lifecycle";
/// The launcher, the image's entrypoint.
pub const LAUNCHER_PATH: &str = "/cnb/lifecycle/launcher";

/// The `PATH` an image gets when its config sets none: Debian's and Docker's default.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The `PATH` value of an app image's config: [`PROCESS_DIR`] in front of the run image's
/// `PATH` (a value, without `PATH=`), or of [`DEFAULT_PATH`] when the run image sets none.
/// Used by export and by rebase, so both give the same value; a `PROCESS_DIR` entry already
/// in the run image's `PATH` is not repeated.
pub fn app_image_path(run_image_path: Option<&str>) -> String {
    let run_path = run_image_path.unwrap_or(DEFAULT_PATH);
    let rest: Vec<&str> = run_path.split(PATH_SEPARATOR).filter(|dir| *dir != PROCESS_DIR).collect();
    let rest = rest.join(PATH_SEPARATOR);
    if rest.is_empty() { PROCESS_DIR.to_string() } else { format!("{PROCESS_DIR}{PATH_SEPARATOR}{rest}") }
}

/// The `PATH` the app is started with: `path` without the [`PROCESS_DIR`] and
/// [`LIFECYCLE_DIR`] entries (the lifecycle's launch env).
pub fn launch_path(path: &[u8]) -> Vec<u8> {
    let kept: Vec<&[u8]> = path
        .split(|&b| b == PATH_SEPARATOR.as_bytes()[0])
        .filter(|dir| *dir != PROCESS_DIR.as_bytes() && *dir != LIFECYCLE_DIR.as_bytes())
        .collect();
    kept.join(PATH_SEPARATOR.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(file: &str) -> Result<Option<(String, EnvAction)>, EnvNameError> {
        EnvFileName::parse(file.as_bytes()).map(|n| n.map(|n| (String::from_utf8(n.var.to_vec()).unwrap(), n.action)))
    }

    #[test]
    fn the_suffix_gives_the_action_and_no_suffix_overrides() {
        use EnvAction::*;
        for (file, var, action) in [
            ("FOO", "FOO", Override),
            ("FOO.override", "FOO", Override),
            ("FOO.default", "FOO", Default),
            ("FOO.append", "FOO", Append),
            ("FOO.prepend", "FOO", Prepend),
            ("FOO.delim", "FOO", Delim),
        ] {
            assert_eq!(name(file), Ok(Some((var.to_string(), action))), "{file}");
        }
    }

    #[test]
    fn unknown_suffixes_are_ignored_and_bad_names_are_errors() {
        for ignored in ["FOO.bar", "FOO.prepend.extra", "README.md", "FOO.", ".hidden"] {
            assert_eq!(name(ignored), Ok(None), "{ignored}");
        }
        assert_eq!(name(".override"), Err(EnvNameError::Empty));
        assert_eq!(name(".delim"), Err(EnvNameError::Empty));
        assert_eq!(name("A=B"), Err(EnvNameError::BadCharacter));
        assert_eq!(name("=.append"), Err(EnvNameError::BadCharacter));
        assert_eq!(name("A\0B"), Err(EnvNameError::BadCharacter));
    }

    #[test]
    fn override_sets_and_default_sets_only_an_empty_variable() {
        assert_eq!(EnvAction::Override.apply("old", "new", ","), Some("new".into()));
        assert_eq!(EnvAction::Default.apply("set", "new", ","), None);
        assert_eq!(EnvAction::Default.apply("", "new", ","), Some("new".into()), "empty counts as unset");
        assert_eq!(EnvAction::Delim.apply("x", ":", ""), None, "a .delim file sets nothing");
    }

    #[test]
    fn append_and_prepend_join_with_the_delimiter_unless_the_current_value_is_empty() {
        assert_eq!(EnvAction::Append.apply("a", "b", ":"), Some("a:b".into()));
        assert_eq!(EnvAction::Prepend.apply("a", "b", ":"), Some("b:a".into()));
        assert_eq!(EnvAction::Append.apply("a", "b", ""), Some("ab".into()), "no .delim file: no delimiter");
        assert_eq!(EnvAction::Prepend.apply("a", "b", ""), Some("ba".into()));
        assert_eq!(EnvAction::Append.apply("", "b", ":"), Some("b".into()));
        assert_eq!(EnvAction::Prepend.apply("", "b", ":"), Some("b".into()));
        assert_eq!(EnvAction::Append.apply("a", "", ":"), Some("a:".into()), "an empty value is still joined");
        assert_eq!(EnvAction::Append.apply("a", "$HOME\n", " "), Some("a $HOME\n".into()), "verbatim");
        assert_eq!(EnvAction::Append.apply_bytes(b"a\xff", b"\xfe", b","), Some(b"a\xff,\xfe".to_vec()));
    }

    #[test]
    fn path_dirs_are_prepended_with_a_colon() {
        assert_eq!(prepend_path("/layers/a/l/bin", ""), "/layers/a/l/bin");
        assert_eq!(prepend_path("/layers/b/l/bin", "/layers/a/l/bin"), "/layers/b/l/bin:/layers/a/l/bin");
        assert_eq!(prepend_path_bytes(b"/l/bin", b"/usr/bin"), b"/l/bin:/usr/bin");
    }

    #[test]
    fn env_dirs_apply_in_the_specs_order() {
        assert_eq!(BUILD_ENV_DIRS, ["env", "env.build"]);
        let web = ProcessType::parse("web").unwrap();
        assert_eq!(launch_env_dirs(Some(&web)), ["env", "env.launch", "env.launch/web"]);
        assert_eq!(launch_env_dirs(None), ["env", "env.launch"]);
    }

    #[test]
    fn app_image_path_puts_the_process_dir_first() {
        assert_eq!(app_image_path(Some("/usr/bin:/bin")), "/cnb/process:/usr/bin:/bin");
        assert_eq!(app_image_path(Some("/cnb/process:/usr/bin")), "/cnb/process:/usr/bin", "not repeated (rebase of a rebase)");
        assert_eq!(app_image_path(Some("")), "/cnb/process");
    }

    #[test]
    fn a_run_image_without_path_gets_the_default_path_as_a_value() {
        // The drift bug: export's fallback was the whole `PATH=...` env entry.
        let path = app_image_path(None);
        assert_eq!(path, format!("/cnb/process:{DEFAULT_PATH}"));
        assert!(!path.contains("PATH="), "{path}");
    }

    #[test]
    fn launch_path_takes_out_the_launcher_dirs() {
        assert_eq!(launch_path(b"/cnb/process:/usr/bin:/cnb/lifecycle:/bin"), b"/usr/bin:/bin");
        assert_eq!(launch_path(app_image_path(None).as_bytes()), DEFAULT_PATH.as_bytes(), "launch undoes export");
        assert_eq!(launch_path(b""), b"");
    }
}

//! Process selection: from argv, `CNB_PROCESS_TYPE` and the metadata to the command to run.
//!
//! Implements the platform spec's launcher invocation rules (platform.md "launcher") with the
//! lifecycle's user-argument handling for platform API >= 0.10 (`launch/process.go`):
//!
//! - `/cnb/process/<type> [args...]`: that process; user args replace its `args` (appended
//!   instead when its buildpack's API is below 0.9). A command with several entries keeps
//!   `command[1..]` as always-passed arguments.
//! - `/cnb/lifecycle/launcher`: the default process (`CNB_PROCESS_TYPE`, else
//!   `buildpack-default-process-type`; a kiln extension, the lifecycle relies on the
//!   `/cnb/process/<type>` entrypoint instead).
//! - `/cnb/lifecycle/launcher -- <cmd> [args...]`: `<cmd>` executed directly.
//! - `/cnb/lifecycle/launcher <cmd> [args...]`: run by `/bin/sh -c "<cmd> <args...>"`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use kiln_cnb::env::PROCESS_DIR;
use kiln_cnb::{LaunchMetadata, LaunchProcess, ProcessType};

/// The name the launcher binary has in images; any other argv[0] basename may be a process type.
pub const LAUNCHER_NAME: &str = "launcher";
/// The shell used for commands that are not direct.
pub const SHELL: &str = "/bin/sh";

/// What to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The selected process type; `None` for a command given on the launcher's command line.
    /// Selects the `env.launch/<type>` and `exec.d/<type>` directories.
    pub process_type: Option<ProcessType>,
    /// The program and its arguments; `argv[0]` is looked up on the launch `PATH`.
    pub argv: Vec<OsString>,
    /// The process's `working-dir`; the app dir when `None`.
    pub working_dir: Option<PathBuf>,
}

/// Why no process could be selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The requested process type is not in the metadata.
    ProcessTypeNotFound {
        /// The requested type.
        requested: String,
        /// The types the metadata does have.
        available: Vec<String>,
    },
    /// The launcher was started with no command and there is no default process.
    CommandRequired,
    /// `--` was given with nothing after it.
    CommandRequiredAfterDashDash,
    /// The selected process has an empty `command`.
    EmptyCommand {
        /// The process type.
        process_type: String,
    },
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ProcessTypeNotFound { requested, available } => {
                let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
                write!(f, "process type {requested} was not found; available: {available}")
            }
            Self::CommandRequired => f.write_str("when there is no default process a command is required"),
            Self::CommandRequiredAfterDashDash => f.write_str("a command is required after '--'"),
            Self::EmptyCommand { process_type } => {
                write!(f, "process type {process_type} has an empty command")
            }
        }
    }
}

/// Selects what to run from the launcher's `argv` (including argv[0]), the metadata and the
/// value of `CNB_PROCESS_TYPE` (`None` or empty when unset).
pub fn select(metadata: &LaunchMetadata, argv: &[OsString], env_process_type: Option<&str>) -> Result<Launch, SelectError> {
    let argv0 = argv.first().map(OsString::as_os_str).unwrap_or_default();
    let user_args = argv.get(1..).unwrap_or_default();
    let invoked_as = Path::new(argv0).file_name().unwrap_or_default();

    if invoked_as != LAUNCHER_NAME {
        if let Some(process) = invoked_as.to_str().and_then(|t| metadata.process(t)) {
            return from_process(metadata, process, user_args);
        }
        // A /cnb/process/<type> symlink whose type is gone is an error, not a shell command.
        if Path::new(argv0).parent() == Some(Path::new(PROCESS_DIR)) {
            return Err(not_found(metadata, &invoked_as.to_string_lossy()));
        }
    }

    match user_args.split_first() {
        None => {
            let default = env_process_type
                .filter(|t| !t.is_empty())
                .or(metadata.buildpack_default_process_type.as_deref())
                .filter(|t| !t.is_empty())
                .ok_or(SelectError::CommandRequired)?;
            let process = metadata.process(default).ok_or_else(|| not_found(metadata, default))?;
            from_process(metadata, process, &[])
        }
        Some((first, rest)) if first == "--" => {
            if rest.is_empty() {
                return Err(SelectError::CommandRequiredAfterDashDash);
            }
            Ok(Launch { process_type: None, argv: rest.to_vec(), working_dir: None })
        }
        Some(_) => Ok(Launch { process_type: None, argv: shell_argv(user_args.iter().map(OsString::as_os_str)), working_dir: None }),
    }
}

/// The launch of a metadata process, with the user's arguments applied.
fn from_process(metadata: &LaunchMetadata, process: &LaunchProcess, user_args: &[OsString]) -> Result<Launch, SelectError> {
    let (exe, always_args) =
        process.command.split_first().ok_or_else(|| SelectError::EmptyCommand { process_type: process.process_type.to_string() })?;
    let default_args = process.args.iter().map(OsString::from);
    let mut args: Vec<OsString> = always_args.iter().map(OsString::from).collect();
    if user_args.is_empty() {
        args.extend(default_args);
    } else {
        if always_args.is_empty() && buildpack_api_before_0_9(metadata, process) {
            args.extend(default_args);
        }
        args.extend(user_args.iter().cloned());
    }

    let mut argv = vec![OsString::from(exe)];
    argv.extend(args);
    if !process.direct {
        argv = shell_argv(argv.iter().map(OsString::as_os_str));
    }
    Ok(Launch {
        process_type: Some(process.process_type.clone()),
        argv,
        working_dir: process.working_dir.as_ref().filter(|d| !d.is_empty()).map(PathBuf::from),
    })
}

/// `/bin/sh -c "<words joined by spaces>"`: the words are interpreted by the shell.
fn shell_argv<'a>(words: impl Iterator<Item = &'a OsStr>) -> Vec<OsString> {
    let mut script = OsString::new();
    for (i, word) in words.enumerate() {
        if i > 0 {
            script.push(" ");
        }
        script.push(word);
    }
    vec![SHELL.into(), "-c".into(), script]
}

/// Buildpacks before API 0.9 had user arguments appended to a process's args rather than
/// replacing them. An unknown buildpack or unparsable API counts as recent.
fn buildpack_api_before_0_9(metadata: &LaunchMetadata, process: &LaunchProcess) -> bool {
    let Some(buildpack) = process.buildpack_id.as_deref().and_then(|id| metadata.buildpack(id)) else {
        return false;
    };
    let mut parts = buildpack.api.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) < (0, 9),
        _ => false,
    }
}

fn not_found(metadata: &LaunchMetadata, requested: &str) -> SelectError {
    SelectError::ProcessTypeNotFound {
        requested: requested.to_string(),
        available: metadata.processes.iter().map(|p| p.process_type.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_cnb::{BuildpackId, GroupBuildpack};

    fn metadata() -> LaunchMetadata {
        LaunchMetadata {
            buildpack_default_process_type: Some(ProcessType::parse("web").unwrap()),
            buildpacks: vec![
                GroupBuildpack { id: BuildpackId::parse("new/bp").unwrap(), version: "1".into(), api: "0.10".into() },
                GroupBuildpack { id: BuildpackId::parse("old/bp").unwrap(), version: "1".into(), api: "0.8".into() },
            ],
            processes: vec![
                process("web", &["server"], &["--port", "8080"], "new/bp"),
                process("worker", &["node", "worker.js"], &["--queue", "a"], "new/bp"),
                process("legacy", &["rackup"], &["-p", "80"], "old/bp"),
            ],
        }
    }

    fn process(t: &str, command: &[&str], args: &[&str], bp: &str) -> LaunchProcess {
        LaunchProcess {
            process_type: ProcessType::parse(t).unwrap(),
            command: command.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            direct: true,
            buildpack_id: Some(BuildpackId::parse(bp).unwrap()),
            working_dir: None,
        }
    }

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn run(md: &LaunchMetadata, words: &[&str], env: Option<&str>) -> Result<Launch, SelectError> {
        select(md, &argv(words), env)
    }

    #[test]
    fn process_symlink_runs_its_process_with_default_args() {
        let launch = run(&metadata(), &["/cnb/process/web"], None).unwrap();
        assert_eq!(launch.process_type.as_deref(), Some("web"));
        assert_eq!(launch.argv, argv(&["server", "--port", "8080"]));
        assert_eq!(launch.working_dir, None);
    }

    #[test]
    fn user_args_replace_the_process_args() {
        let launch = run(&metadata(), &["/cnb/process/web", "--port", "9"], None).unwrap();
        assert_eq!(launch.argv, argv(&["server", "--port", "9"]));
    }

    #[test]
    fn always_args_from_a_multi_entry_command_are_kept() {
        let md = metadata();
        let launch = run(&md, &["/cnb/process/worker"], None).unwrap();
        assert_eq!(launch.argv, argv(&["node", "worker.js", "--queue", "a"]));
        let launch = run(&md, &["/cnb/process/worker", "--queue", "b"], None).unwrap();
        assert_eq!(launch.argv, argv(&["node", "worker.js", "--queue", "b"]));
    }

    #[test]
    fn buildpack_api_before_0_9_appends_user_args() {
        let launch = run(&metadata(), &["/cnb/process/legacy", "-q"], None).unwrap();
        assert_eq!(launch.argv, argv(&["rackup", "-p", "80", "-q"]));
    }

    #[test]
    fn process_type_matches_on_basename_wherever_the_link_is() {
        let launch = run(&metadata(), &["./worker"], None).unwrap();
        assert_eq!(launch.process_type.as_deref(), Some("worker"));
    }

    #[test]
    fn launcher_without_args_runs_the_default_process() {
        let launch = run(&metadata(), &["/cnb/lifecycle/launcher"], None).unwrap();
        assert_eq!(launch.process_type.as_deref(), Some("web"));
        assert_eq!(launch.argv, argv(&["server", "--port", "8080"]));
    }

    #[test]
    fn cnb_process_type_overrides_the_default() {
        let md = metadata();
        let launch = run(&md, &["/cnb/lifecycle/launcher"], Some("worker")).unwrap();
        assert_eq!(launch.process_type.as_deref(), Some("worker"));
        let launch = run(&md, &["/cnb/lifecycle/launcher"], Some("")).unwrap();
        assert_eq!(launch.process_type.as_deref(), Some("web"), "empty means unset");
    }

    #[test]
    fn unknown_process_type_lists_the_available_ones() {
        let err = run(&metadata(), &["launcher"], Some("cron")).unwrap_err();
        assert_eq!(err.to_string(), "process type cron was not found; available: web, worker, legacy");
        let err = run(&metadata(), &["/cnb/process/cron"], None).unwrap_err();
        assert_eq!(err.to_string(), "process type cron was not found; available: web, worker, legacy");
        let err = run(&LaunchMetadata::default(), &["launcher"], Some("web")).unwrap_err();
        assert_eq!(err.to_string(), "process type web was not found; available: none");
    }

    #[test]
    fn no_default_and_no_args_is_an_error() {
        let err = run(&LaunchMetadata::default(), &["/cnb/lifecycle/launcher"], None).unwrap_err();
        assert_eq!(err, SelectError::CommandRequired);
        assert_eq!(err.to_string(), "when there is no default process a command is required");
        assert_eq!(run(&LaunchMetadata::default(), &[], None).unwrap_err(), SelectError::CommandRequired);
    }

    #[test]
    fn dash_dash_executes_directly() {
        let launch = run(&metadata(), &["launcher", "--", "echo", "$HOME", "a b"], None).unwrap();
        assert_eq!(launch.process_type, None);
        assert_eq!(launch.argv, argv(&["echo", "$HOME", "a b"]));
        assert_eq!(run(&metadata(), &["launcher", "--"], None).unwrap_err(), SelectError::CommandRequiredAfterDashDash);
    }

    #[test]
    fn other_args_go_through_the_shell() {
        let launch = run(&metadata(), &["/cnb/lifecycle/launcher", "echo", "$HOME"], None).unwrap();
        assert_eq!(launch.process_type, None);
        assert_eq!(launch.argv, argv(&["/bin/sh", "-c", "echo $HOME"]));
    }

    #[test]
    fn launcher_named_like_no_process_type_acts_as_the_launcher() {
        let launch = run(&metadata(), &["/tmp/kiln-launcher-copy", "--", "true"], None).unwrap();
        assert_eq!(launch.argv, argv(&["true"]));
    }

    #[test]
    fn indirect_process_runs_through_the_shell() {
        let mut md = metadata();
        md.processes[0].direct = false;
        let launch = run(&md, &["/cnb/process/web"], None).unwrap();
        assert_eq!(launch.argv, argv(&["/bin/sh", "-c", "server --port 8080"]));
    }

    #[test]
    fn working_dir_comes_from_the_process() {
        let mut md = metadata();
        md.processes[0].working_dir = Some("/srv".into());
        let launch = run(&md, &["/cnb/process/web"], None).unwrap();
        assert_eq!(launch.working_dir, Some(PathBuf::from("/srv")));
    }

    #[test]
    fn empty_command_is_an_error() {
        let mut md = metadata();
        md.processes[0].command.clear();
        let err = run(&md, &["/cnb/process/web"], None).unwrap_err();
        assert_eq!(err.to_string(), "process type web has an empty command");
    }

    #[test]
    fn non_utf8_arguments_pass_through() {
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(vec![b'a', 0xff]);
        let words = vec![OsString::from("/cnb/process/web"), odd.clone()];
        let launch = select(&metadata(), &words, None).unwrap();
        assert_eq!(launch.argv, vec![OsString::from("server"), odd]);
    }
}

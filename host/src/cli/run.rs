//! `kiln run IMAGE`: flags to [`RunOptions`]; the platform unpacks the image and starts its
//! process ([`crate::platform::run`](mod@crate::platform::run)).

use std::path::PathBuf;

use clap::Args;

use super::exit::CliError;
use super::output::Output;
use crate::jail::ExitKind;
use crate::platform::Dirs;
use crate::platform::run::RunOptions;

/// Arguments of `kiln run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln run myapp --port 8080\n  kiln run myapp --process worker\n  kiln run myapp --env GREETING=hi -- --verbose\n\n\
The process runs in kiln's jail (its own user, pid, mount, ipc and uts namespaces) with the\n\
host's network; --port sets $PORT, which CNB web processes listen on. Ctrl-C or SIGTERM stop\n\
it (SIGTERM, then SIGKILL 10 s later). The exit code is the process's."
)]
pub struct RunArgs {
    /// The image: NAME[:TAG] in the local store or oci:DIR[:TAG].
    pub image: String,
    /// Run this process type (`/cnb/process/TYPE`) instead of the image's default.
    #[arg(long, value_name = "TYPE")]
    pub process: Option<String>,
    /// Set $PORT for the process.
    #[arg(long)]
    pub port: Option<u16>,
    /// An environment variable for the process, over the image's (repeatable).
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Unpack the root filesystem here and keep it (default: a temporary dir, removed).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Arguments for the process (after `--`), replacing the image's command.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Unpack and run; the process's exit code becomes kiln's (its rootfs is removed first).
pub fn run(args: RunArgs, out: &Output) -> Result<(), CliError> {
    let options =
        RunOptions { image: args.image, process: args.process, port: args.port, env: args.env, rootfs: args.rootfs, args: args.args };
    let status = crate::platform::run::run(&options, &Dirs::from_env(), &out.progress_sink())?;
    match status {
        ExitKind::Exited(0) => Ok(()),
        ExitKind::Exited(code) => Err(CliError::ProcessExited(code)),
        ExitKind::Signaled(signal) => Err(CliError::ProcessKilled(signal)),
    }
}

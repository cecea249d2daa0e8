//! `kiln completions SHELL`: print a shell completion script.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use super::exit::CliError;

/// Arguments of `kiln completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln completions bash > /etc/bash_completion.d/kiln\n  kiln completions zsh > \"${fpath[1]}/_kiln\"\n  kiln completions fish > ~/.config/fish/completions/kiln.fish"
)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

/// Print the script on stdout.
pub fn run(args: CompletionsArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "kiln", &mut std::io::stdout());
    Ok(())
}

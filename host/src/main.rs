//! The `kiln` binary: parse the command line, run it, exit with its code.

use std::io::IsTerminal;

use clap::Parser;

fn main() {
    // `kiln __jail` / `kiln __jail-init`: the jail's helper stages (never return).
    kiln::jail::enter_if_helper();
    let cli = kiln::cli::Cli::parse();
    let filter = if cli.verbose { "kiln=debug" } else { "kiln=warn" };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .without_time()
        // Colors only on a terminal: piped output (CI logs, tests) gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let code = kiln::cli::run(cli);
    std::process::exit(code.code());
}

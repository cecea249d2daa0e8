//! The host functions a buildpack may import: `kiln:buildpack/host`.
//!
//! `log` forwards a line to the build's log sink and counts it against the call's log
//! budget; a buildpack that floods the log is stopped with a trap naming the limit.

use super::bindings::kiln::buildpack::host::{Host, LogLevel};
use super::call::GuestState;
use super::error::Limit;

/// The trap raised when a guest exceeds a limit inside a host call.
#[derive(Debug)]
pub struct LimitTrap(pub Limit);

impl std::fmt::Display for LimitTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exceeded", self.0)
    }
}

impl std::error::Error for LimitTrap {}

/// Longest single log line kept; longer lines are cut (and still counted in full).
const MAX_LINE: usize = 8 * 1024;

impl super::bindings::kiln::buildpack::types::Host for GuestState {}

impl Host for GuestState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        self.log_used += message.len() + 1;
        if self.log_used > self.log_limit {
            let detail = format!("limit {} KiB of log output", self.log_limit >> 10);
            self.limits.record(Limit::Log, detail);
            return Err(wasmtime::Error::new(LimitTrap(Limit::Log)));
        }
        let mut line = message;
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" [line truncated]");
        }
        // Control characters could rewrite the user's terminal; show them escaped.
        let line: String = line
            .chars()
            .flat_map(|c| if c.is_control() && c != '\t' { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
            .collect();
        (self.log_sink)(level, &line);
        Ok(())
    }
}

//! Measuring a jail from the host: its processes, their resident memory and CPU time.
//!
//! The jail's processes are the descendants of the outer helper (its init, and whatever
//! init adopted or started): nothing can leave a pid namespace, and orphans are reparented
//! to init. Each sample walks `/proc/<pid>/task/*/children` from the helper down.

use std::time::Duration;

/// One sample of a jail.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Processes in the jail, init included.
    pub processes: u64,
    /// Their total resident memory in bytes.
    pub resident_bytes: u64,
    /// CPU time used by the jail: live processes plus the children they reaped.
    pub cpu: Duration,
}

/// Host-wide constants needed to read `/proc/*/stat`.
#[derive(Debug, Clone, Copy)]
pub struct ProcUnits {
    page_bytes: u64,
    ticks_per_second: u64,
}

impl ProcUnits {
    /// Read the page size and the clock tick from the system.
    pub fn read() -> Self {
        use nix::unistd::{SysconfVar, sysconf};
        let page_bytes = sysconf(SysconfVar::PAGE_SIZE).ok().flatten().map_or(4096, |v| v as u64);
        let ticks_per_second = sysconf(SysconfVar::CLK_TCK).ok().flatten().map_or(100, |v| v as u64);
        ProcUnits { page_bytes, ticks_per_second }
    }
}

/// The pids of `root`'s children (all threads' children).
pub fn children(root: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{root}/task")) else { return Vec::new() };
    let mut pids = Vec::new();
    for task in tasks.filter_map(Result::ok) {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    pids
}

/// Sample every descendant of `helper` (not `helper` itself). Stops walking past
/// `max_processes` so a fork bomb cannot make the sample itself expensive.
pub fn sample(helper: u32, units: ProcUnits, max_processes: u64) -> Sample {
    let mut result = Sample::default();
    let mut pending = children(helper);
    let mut ticks = 0u64;
    while let Some(pid) = pending.pop() {
        result.processes += 1;
        if result.processes > max_processes {
            break;
        }
        if let Some((cpu_ticks, rss_pages)) = read_stat(pid) {
            ticks += cpu_ticks;
            result.resident_bytes += rss_pages * units.page_bytes;
        }
        pending.extend(children(pid));
    }
    result.cpu = Duration::from_millis(ticks * 1000 / units.ticks_per_second.max(1));
    result
}

/// (utime + stime + cutime + cstime, rss pages) of one process.
fn read_stat(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field n is fields[n - 3].
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let cpu = field(14)? + field(15)? + field(16)? + field(17)?;
    Some((cpu, field(24)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_command_names() {
        let line = "4242 (a) b) (c) S 1 4242 4242 0 -1 4194304 100 0 0 0 7 3 2 1 20 0 1 0 100 1000000 250 18446744073709551615";
        assert_eq!(parse_stat(line), Some((13, 250)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_shows_up_as_a_child_of_its_parent() {
        let me = std::process::id();
        let parent = nix::unistd::getppid().as_raw() as u32;
        assert!(children(parent).contains(&me));
        assert!(read_stat(me).unwrap().1 > 0, "a running test has resident pages");
    }
}

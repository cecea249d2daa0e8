//! Per-call limits and their enforcement: a memory limiter and an epoch-driven clock check.
//!
//! Defaults are set here, in [`Limits::default`], and documented there.

use std::time::{Duration, Instant};

use super::error::Limit;

/// Limits on one buildpack call (one detect or one build).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum linear memory in bytes, summed over the component's memories.
    pub memory_bytes: usize,
    /// Maximum CPU time of the guest's thread.
    pub cpu_time: Duration,
    /// Maximum wall-clock time.
    pub wall_time: Duration,
    /// Maximum log output in bytes (log import, stdout and stderr together).
    pub log_bytes: usize,
    /// Maximum number of `fetch` calls.
    pub fetch_count: usize,
    /// Maximum bytes fetched, summed over the call's fetches (cache hits count too).
    pub fetch_bytes: u64,
    /// Maximum number of entries in the buildpack's layers dir plus entries it added to
    /// the app dir, measured after build.
    pub files: u64,
    /// Maximum bytes (apparent file sizes) in the buildpack's layers dir plus what it added
    /// to the app dir, measured after build.
    pub layer_bytes: u64,
    /// Maximum processes at once in a native step's jail (`exec`).
    pub processes: u64,
}

impl Default for Limits {
    /// 1 GiB of memory, 10 minutes of CPU, 15 minutes of wall time, 4 MiB of logs,
    /// 10 000 fetches and 4 GiB fetched, 1 000 000 files and 10 GiB written, 1 024 processes
    /// at once in a native step.
    fn default() -> Self {
        Limits {
            memory_bytes: 1 << 30,
            cpu_time: Duration::from_secs(600),
            wall_time: Duration::from_secs(900),
            log_bytes: 4 << 20,
            fetch_count: 10_000,
            fetch_bytes: 4 << 30,
            files: 1_000_000,
            layer_bytes: 10 << 30,
            processes: 1024,
        }
    }
}

/// Records which limit stopped a call, so a trap can be reported as that limit.
#[derive(Debug, Default)]
pub struct LimitState {
    pub(crate) memory_limit: usize,
    pub(crate) memory_used: usize,
    pub(crate) exceeded: Option<(Limit, String)>,
}

impl LimitState {
    pub(crate) fn new(limits: &Limits) -> Self {
        LimitState { memory_limit: limits.memory_bytes, memory_used: 0, exceeded: None }
    }

    pub(crate) fn record(&mut self, limit: Limit, detail: String) {
        if self.exceeded.is_none() {
            self.exceeded = Some((limit, detail));
        }
    }
}

impl wasmtime::ResourceLimiter for LimitState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_used - current.min(self.memory_used) + desired;
        if total > self.memory_limit {
            let detail = format!("limit {} MiB, asked for {} MiB", self.memory_limit >> 20, total >> 20);
            self.record(Limit::Memory, detail);
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a buildpack has no business with millions of them.
        Ok(desired <= 1_000_000)
    }
}

/// The clock check run on every epoch tick while the guest executes.
pub(crate) struct Clock {
    started: Instant,
    /// The thread's CPU time at the start (a `Duration`: `ThreadTime` itself is not `Send`).
    cpu_started: Option<Duration>,
    wall_time: Duration,
    cpu_time: Duration,
}

impl Clock {
    pub(crate) fn start(limits: &Limits) -> Self {
        Clock { started: Instant::now(), cpu_started: thread_cpu_time(), wall_time: limits.wall_time, cpu_time: limits.cpu_time }
    }

    /// `Some` when a limit is exceeded.
    pub(crate) fn check(&self) -> Option<(Limit, String)> {
        let wall = self.started.elapsed();
        if wall > self.wall_time {
            return Some((Limit::WallTime, format!("limit {:?}, ran {:.1?}", self.wall_time, wall)));
        }
        if let (Some(started), Some(now)) = (self.cpu_started, thread_cpu_time()) {
            let cpu = now.saturating_sub(started);
            if cpu > self.cpu_time {
                return Some((Limit::Cpu, format!("limit {:?}, used {:.1?}", self.cpu_time, cpu)));
            }
        }
        None
    }
}

/// CPU time used so far by the calling thread (the guest runs on it).
fn thread_cpu_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now().ok().map(|t| t.as_duration())
}

/// Parse a byte size like `512MiB`, `2GiB`, `64k`, `1000`.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num.parse().map_err(|_| format!("{text:?} is not a size like 512MiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?}; use B, KiB, MiB or GiB")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{text:?} is too large"))
}

/// Parse a duration like `30s`, `500ms`, `10m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{text:?} is not a duration like 30s"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}; use ms, s, m or h")),
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{text:?} must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("64k").unwrap(), 64 << 10);
        assert_eq!(parse_bytes("1000").unwrap(), 1000);
        assert!(parse_bytes("12 parsecs").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn memory_limiter_denies_growth_past_the_limit_and_records_it() {
        use wasmtime::ResourceLimiter;
        let mut state = LimitState::new(&Limits { memory_bytes: 1 << 20, ..Limits::default() });
        assert!(state.memory_growing(0, 512 << 10, None).unwrap());
        assert!(!state.memory_growing(512 << 10, 2 << 20, None).unwrap());
        assert_eq!(state.exceeded.as_ref().unwrap().0, Limit::Memory);
    }
}

//! The host functions a buildpack may import: `kiln:buildpack/host` (0.2, and the frozen
//! 0.1 interface, which forwards to the same code).
//!
//! `log` forwards a line to the build's log sink and counts it against the call's log
//! budget; a buildpack that floods the log is stopped with a trap naming the limit.
//! `set-executable` and `fetch` act on guest paths, resolved by [`resolve_writable`] inside
//! the call's read-write grants only, refusing `..` and never following a symlink.
//! `fetch` is refused unless the call was granted a [`crate::fetch::Fetcher`]; a fetch
//! that exceeds a fetch limit returns an error to the guest and also fails the call.

use super::bindings::kiln::buildpack::host::{ExecRequest, ExecResult, FetchRequest, FetchResult, Host, LogLevel};
use super::bindings::v0_1::kiln::buildpack::host as v0_1;
use super::call::GuestState;
use super::error::Limit;
use crate::fetch::FetchCall;

/// The trap raised when a guest exceeds a limit inside a host call.
#[derive(Debug)]
pub struct LimitTrap(pub Limit);

impl std::fmt::Display for LimitTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} exceeded", self.0)
    }
}

impl std::error::Error for LimitTrap {}

impl super::bindings::kiln::buildpack::types::Host for GuestState {}

impl Host for GuestState {
    fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        self.log_used += message.len() + 1;
        if self.log_used > self.log_limit {
            let detail = format!("limit {} KiB of log output", self.log_limit >> 10);
            self.limits.record(Limit::Log, detail);
            return Err(wasmtime::Error::new(LimitTrap(Limit::Log)));
        }
        // Control characters could rewrite the user's terminal; long lines are cut.
        (self.log_sink)(level, &super::text::guest_text(&message, super::text::MAX_LINE));
        Ok(())
    }

    fn set_executable(&mut self, path: String, executable: bool) -> wasmtime::Result<Result<(), String>> {
        Ok(set_executable(&self.writable, &path, executable))
    }

    fn exec(&mut self, request: ExecRequest) -> wasmtime::Result<Result<ExecResult, String>> {
        use super::exec::{ExecOutcome, LogBudget};
        let Some(exec) = self.exec.as_ref() else {
            let program = super::text::guest_text(&request.program, 200);
            return Ok(Err(format!("exec of {program} refused: this call may not run native programs (only build can)")));
        };
        let disk = self.disk_tripped.clone();
        let external = move || disk.as_ref().and_then(|t| t.lock().unwrap_or_else(|e| e.into_inner()).clone());
        let log = LogBudget { used: &mut self.log_used, limit: self.log_limit, sink: &self.log_sink };
        match exec.exec(request, log, &external) {
            ExecOutcome::Ran(result) => Ok(Ok(result)),
            ExecOutcome::Refused(message) => Ok(Err(message)),
            ExecOutcome::Exceeded(limit, detail) => {
                self.limits.record(limit, detail);
                Err(wasmtime::Error::new(LimitTrap(limit)))
            }
        }
    }

    fn fetch(&mut self, request: FetchRequest) -> wasmtime::Result<Result<FetchResult, String>> {
        if request.url.len() > MAX_FETCH_TEXT || request.digest.len() > MAX_FETCH_TEXT || request.destination.len() > MAX_FETCH_TEXT {
            return Ok(Err(format!("fetch refused: url, digest and destination must each be under {MAX_FETCH_TEXT} bytes")));
        }
        let url = &request.url;
        let Some(state) = self.fetch.as_mut() else {
            return Ok(Err(format!("fetch of {url} refused: this call may not fetch (only build can)")));
        };
        let destination = match resolve_writable(&self.writable, &request.destination, true) {
            Ok(path) => path,
            Err(reason) => return Ok(Err(format!("fetch of {url}: destination {reason}"))),
        };
        let call = FetchCall { buildpack: &state.buildpack, url, digest: &request.digest, destination: Some(&destination) };
        match state.fetcher.fetch(call, &mut state.budget) {
            Ok(record) => Ok(Ok(FetchResult { path: request.destination, size: record.size })),
            Err(error) => {
                if let Some(exceeded) = error.limit() {
                    state.exceeded.get_or_insert(exceeded);
                }
                Ok(Err(error.to_string()))
            }
        }
    }
}

/// The 0.1 contract's `host`: the same functions, without `exec`.
impl v0_1::Host for GuestState {
    fn log(&mut self, level: v0_1::LogLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            v0_1::LogLevel::Debug => LogLevel::Debug,
            v0_1::LogLevel::Info => LogLevel::Info,
            v0_1::LogLevel::Warn => LogLevel::Warn,
            v0_1::LogLevel::Error => LogLevel::Error,
        };
        Host::log(self, level, message)
    }

    fn set_executable(&mut self, path: String, executable: bool) -> wasmtime::Result<Result<(), String>> {
        Host::set_executable(self, path, executable)
    }

    fn fetch(&mut self, request: v0_1::FetchRequest) -> wasmtime::Result<Result<v0_1::FetchResult, String>> {
        let request = FetchRequest { url: request.url, digest: request.digest, destination: request.destination };
        Ok(Host::fetch(self, request)?.map(|r| v0_1::FetchResult { path: r.path, size: r.size }))
    }
}

/// Longest URL, digest or destination `fetch` accepts.
const MAX_FETCH_TEXT: usize = 8 * 1024;

/// The host path of `guest_path` inside one of the read-write grants, resolved without
/// following symlinks: every existing component below the grant must be a real directory
/// (or, for the last, a regular file), `..` is refused. With `may_be_missing`, the last
/// component need not exist (its parent must).
pub(crate) fn resolve_writable(
    writable: &[(String, std::path::PathBuf)],
    guest_path: &str,
    may_be_missing: bool,
) -> Result<std::path::PathBuf, String> {
    let Some((prefix, host_root)) = writable
        .iter()
        .filter(|(prefix, _)| guest_path == prefix || guest_path.starts_with(&format!("{}/", prefix.trim_end_matches('/'))))
        .max_by_key(|(prefix, _)| prefix.len())
    else {
        return Err(format!("{guest_path} is not inside a directory this buildpack may write"));
    };
    let relative = guest_path[prefix.len()..].trim_start_matches('/');
    let components: Vec<&str> = relative.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if components.contains(&"..") {
        return Err(format!("{guest_path}: '..' is not allowed"));
    }
    if components.iter().any(|c| c.contains('\0')) {
        return Err(format!("{guest_path:?}: a NUL byte is not allowed"));
    }
    let mut host_path = host_root.clone();
    for (i, component) in components.iter().enumerate() {
        host_path.push(component);
        let last = i + 1 == components.len();
        match std::fs::symlink_metadata(&host_path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!("{guest_path}: a symlink is in the way; symlinks are never followed"));
            }
            Ok(meta) if !last && !meta.is_dir() => return Err(format!("{guest_path}: {component} is not a directory")),
            Ok(meta) if last && !meta.is_file() => return Err(format!("{guest_path} is not a regular file")),
            Ok(_) => {}
            Err(e) if last && may_be_missing && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{guest_path}: {e}")),
        }
    }
    if components.is_empty() {
        return Err(format!("{guest_path} is not a regular file"));
    }
    Ok(host_path)
}

/// Resolve `guest_path` inside one of the read-write grants without following symlinks,
/// then set the mode of the regular file there.
fn set_executable(writable: &[(String, std::path::PathBuf)], guest_path: &str, executable: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let host_path = resolve_writable(writable, guest_path, false)?;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(&host_path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("{guest_path}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::set_executable;

    #[test]
    fn set_executable_stays_inside_writable_grants_and_never_follows_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let layers = root.path().join("layers");
        std::fs::create_dir_all(layers.join("bin")).unwrap();
        std::fs::write(layers.join("bin/tool"), "x").unwrap();
        let outside = root.path().join("outside");
        std::fs::write(&outside, "host file").unwrap();
        std::os::unix::fs::symlink(&outside, layers.join("bin/link")).unwrap();
        std::os::unix::fs::symlink(root.path(), layers.join("up")).unwrap();
        let grants = vec![("/layers/bp".to_string(), layers.clone())];

        set_executable(&grants, "/layers/bp/bin/tool", true).unwrap();
        let mode = std::fs::metadata(layers.join("bin/tool")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);

        assert!(set_executable(&grants, "/layers/bp/bin/link", true).unwrap_err().contains("symlink"));
        assert!(set_executable(&grants, "/layers/bp/up/outside", true).unwrap_err().contains("symlink"));
        assert!(set_executable(&grants, "/layers/bp/../bp/bin/tool", true).unwrap_err().contains(".."));
        assert!(set_executable(&grants, "/layers/bpx/tool", true).unwrap_err().contains("not inside"));
        assert!(set_executable(&grants, "/etc/passwd", true).unwrap_err().contains("not inside"));
        assert!(set_executable(&grants, "/layers/bp/bin", true).unwrap_err().contains("not a regular file"));
        let outside_mode = std::fs::metadata(&outside).unwrap().permissions().mode();
        assert_eq!(outside_mode & 0o111, 0, "the host file was not touched");
    }
}

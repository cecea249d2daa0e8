//! Watching what a build call writes while it runs, so a buildpack that fills the disk is
//! stopped near `--limit-layer-bytes` / `--limit-files` instead of after it returns.
//!
//! A thread measures the call's own layers dir ([`super::usage::Usage::measure`], which
//! stops one past the limit and never follows symlinks) again and again. The pause between
//! two measures is ten times the last measure's duration, at least [`MIN_INTERVAL`], so the
//! watch costs at most ~10% of a core however many files there are. When a limit is passed
//! the watch trips; the call's epoch callback sees it on its next tick (a guest writing
//! files returns to wasm between writes) and stops the call with that limit. How far past
//! the limit a build gets is bounded by what it writes in one interval plus one tick. The
//! exact check after the call (which also counts the app dir's growth) stays.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::error::Limit;
use super::limits::Limits;
use super::usage::{Usage, stop_at};

/// The shortest pause between two measures.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The limit a watch saw passed, and how.
pub type Tripped = Arc<Mutex<Option<(Limit, String)>>>;

/// A running watch; dropping it stops the thread.
pub struct DiskWatch {
    stop: Arc<(Mutex<bool>, Condvar)>,
    tripped: Tripped,
    measures: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl DiskWatch {
    /// Watch `dirs` (a call's writable layers dirs) against `limits`; `None` when there is
    /// nothing to watch.
    pub fn start(dirs: Vec<PathBuf>, limits: &Limits) -> Option<DiskWatch> {
        if dirs.is_empty() {
            return None;
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let tripped: Tripped = Arc::new(Mutex::new(None));
        let cap = stop_at(limits);
        let measures = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let thread = {
            let stop = stop.clone();
            let tripped = tripped.clone();
            let measures = measures.clone();
            std::thread::Builder::new().name("kiln-disk-watch".into()).spawn(move || watch(dirs, cap, &stop, &tripped, &measures)).ok()?
        };
        Some(DiskWatch { stop, tripped, measures, thread: Some(thread) })
    }

    /// How many measures the watch has finished.
    pub fn measures(&self) -> u64 {
        self.measures.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the epoch callback checks.
    pub fn tripped(&self) -> Tripped {
        self.tripped.clone()
    }
}

fn watch(dirs: Vec<PathBuf>, cap: Usage, stop: &(Mutex<bool>, Condvar), tripped: &Tripped, measures: &std::sync::atomic::AtomicU64) {
    let mut interval = MIN_INTERVAL;
    loop {
        {
            let (lock, signal) = stop;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (guard, _) = signal.wait_timeout_while(guard, interval, |stopped| !*stopped).unwrap_or_else(|e| e.into_inner());
            if *guard {
                return;
            }
        }
        let started = Instant::now();
        let mut used = Usage { files: 0, bytes: 0 };
        for dir in &dirs {
            let left = Usage { files: cap.files.saturating_sub(used.files), bytes: cap.bytes.saturating_sub(used.bytes) };
            let usage = Usage::measure(dir, left);
            used.files += usage.files;
            used.bytes += usage.bytes;
        }
        measures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let passed = if used.files > cap.files {
            Some((Limit::Files, format!("limit {} files, passed while the build was still writing", cap.files)))
        } else if used.bytes > cap.bytes {
            Some((Limit::LayerBytes, format!("limit {} bytes, passed while the build was still writing", cap.bytes)))
        } else {
            None
        };
        if let Some(passed) = passed {
            *tripped.lock().unwrap_or_else(|e| e.into_inner()) = Some(passed);
            return;
        }
        interval = (started.elapsed() * 10).max(MIN_INTERVAL);
    }
}

impl Drop for DiskWatch {
    fn drop(&mut self) {
        let (lock, signal) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_the_dir_passes_the_byte_limit_and_stops_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits { layer_bytes: 1000, ..Limits::default() };
        let watch = DiskWatch::start(vec![dir.path().to_path_buf()], &limits).unwrap();
        let tripped = watch.tripped();
        std::fs::write(dir.path().join("small"), vec![0u8; 10]).unwrap();
        // Two finished measures: at least one saw the small file, and neither tripped.
        let deadline = Instant::now() + Duration::from_secs(10);
        while watch.measures() < 2 {
            assert!(Instant::now() < deadline, "the watch never measured");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(tripped.lock().unwrap().is_none(), "10 bytes are within 1000");
        std::fs::write(dir.path().join("big"), vec![0u8; 2000]).unwrap();
        while tripped.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the watch never tripped");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(tripped.lock().unwrap().as_ref().unwrap().0, Limit::LayerBytes);
        drop(watch);
        assert!(DiskWatch::start(Vec::new(), &limits).is_none());
    }
}

//! The live build display on a terminal: one spinner line for the running phase and
//! buildpack (with elapsed time) under the scrolling progress lines, drawn with indicatif.
//!
//! Used only when stderr is a terminal and neither `--json` nor `-q` is given; otherwise
//! progress is plain lines (see [`super::output`]). The display is process-wide: a build has
//! one, created on its first phase and cleared when the build finishes or fails.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The spinner, once a build has started on a terminal.
static SPINNER: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();

fn slot() -> &'static Mutex<Option<ProgressBar>> {
    SPINNER.get_or_init(|| Mutex::new(None))
}

fn new_spinner() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Show `phase` (e.g. `BUILD`) and what it is doing on the spinner line.
pub fn status(phase: &str, doing: &str) {
    let mut guard = slot().lock().unwrap_or_else(|e| e.into_inner());
    let bar = guard.get_or_insert_with(new_spinner);
    bar.set_prefix(phase.to_string());
    bar.set_message(doing.to_string());
}

/// Print `line` above the spinner (or plainly when there is none).
pub fn println(line: &str) {
    let guard = slot().lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    }
}

/// Remove the spinner (the build finished or failed).
pub fn clear() {
    let mut guard = slot().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bar) = guard.take() {
        bar.finish_and_clear();
    }
}

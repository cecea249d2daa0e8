//! Output: progress lines on stderr (or JSON events on stdout with `--json`), results on stdout.

use std::io::Write;
use std::sync::Arc;

use crate::lifecycle::events::{Event, Reporter};

/// How the user asked to see output.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    verbose: bool,
    quiet: bool,
    json: bool,
}

impl Output {
    /// From the global flags.
    pub fn new(verbose: bool, quiet: bool, json: bool) -> Self {
        Output { verbose, quiet, json }
    }

    /// Whether events are JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A progress line (suppressed by `-q`, and in JSON mode).
    pub fn progress(&self, line: &str) {
        if !self.quiet && !self.json {
            eprintln!("{line}");
        }
    }

    /// An error message.
    pub fn error(&self, message: &str) {
        if self.json {
            let event = serde_json::json!({"event": "error", "message": message});
            println!("{event}");
        }
        eprintln!("error: {message}");
    }

    /// A result line on stdout.
    pub fn result(&self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
    }

    /// A reporter that shows lifecycle events this way.
    pub fn reporter(&self) -> Reporter {
        let out = *self;
        Arc::new(move |event: &Event| out.show(event))
    }

    fn show(&self, event: &Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
            }
            return;
        }
        if self.quiet {
            return;
        }
        match event {
            Event::PhaseStarted { phase } => eprintln!("===> {}", phase.name().to_uppercase()),
            Event::PhaseFinished { phase, millis } if self.verbose => eprintln!("     {} took {millis} ms", phase.name()),
            Event::PhaseFinished { .. } => {}
            Event::BuildpackLoaded { id, version, cached, millis } => {
                let how = if *cached { "cached" } else { "compiled" };
                eprintln!("[prepare] {id}@{version} ({how}, {millis} ms)");
            }
            Event::Detected { id, passed: true, .. } => eprintln!("[detect] pass: {id}"),
            Event::Detected { id, passed: false, reason } => {
                if self.verbose {
                    eprintln!("[detect] fail: {id}: {}", reason.as_deref().unwrap_or("no reason given"));
                } else {
                    eprintln!("[detect] fail: {id}");
                }
            }
            Event::GroupSelected { buildpacks } => eprintln!("[detect] group: {}", buildpacks.join(", ")),
            Event::BuildpackBuilding { id } => eprintln!("[build] {id}"),
            Event::BuildpackBuilt { id, millis } if self.verbose => eprintln!("[build] {id} done in {millis} ms"),
            Event::BuildpackBuilt { .. } => {}
            Event::Fetched { id, url, size, origin, .. } => eprintln!("[{id}] fetched {url} ({size} bytes, from {origin})"),
            Event::Log { level, .. } if level == "debug" && !self.verbose => {}
            Event::Log { id, level, line } => match level.as_str() {
                "warn" | "error" => eprintln!("[{id}] {}: {line}", level.to_uppercase()),
                _ => eprintln!("[{id}] {line}"),
            },
            Event::LayerExported { name, digest, reused } => {
                let short = digest.get(..19).unwrap_or(digest);
                let how = if *reused { " (reused)" } else { "" };
                eprintln!("[export] layer {name} {short}{how}");
            }
            Event::Analyzed { previous_image, layers } => {
                let previous = if *previous_image { "found" } else { "none" };
                eprintln!("[analyze] previous image: {previous}; {layers} layer(s) known");
            }
            Event::Restored { layers } => eprintln!("[restore] {layers} cached layer(s) restored"),
            Event::CacheWritten { layers, dir } if self.verbose => eprintln!("[export] cache: {layers} layer(s) in {dir}"),
            Event::CacheWritten { layers, .. } => eprintln!("[export] cache: {layers} layer(s)"),
            Event::BuildFinished { millis, peak_rss_kib } if self.verbose => {
                let rss = peak_rss_kib.map(|k| format!(", peak memory {} MiB", k / 1024)).unwrap_or_default();
                eprintln!("build took {millis} ms{rss}");
            }
            Event::BuildFinished { .. } => {}
            Event::ImageWritten { reference, digest } => eprintln!("[export] wrote {reference} ({digest})"),
        }
    }
}

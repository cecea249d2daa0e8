//! Output: progress lines on stderr (or JSON events on stdout with `--json`), results on stdout.
//! On a terminal, builds also show a live spinner line for the running phase and buildpack
//! ([`super::live`]); elsewhere the same lines are printed plainly.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use crate::lifecycle::events::{Event, Reporter};

/// How the user asked to see output.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    verbose: bool,
    quiet: bool,
    json: bool,
    live: bool,
}

impl Output {
    /// From the global flags.
    pub fn new(verbose: bool, quiet: bool, json: bool) -> Self {
        let live = !quiet && !json && std::io::stderr().is_terminal() && std::env::var_os("KILN_NO_LIVE").is_none();
        Output { verbose, quiet, json, live }
    }

    /// Whether events are JSON.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A progress line (suppressed by `-q`, and in JSON mode).
    pub fn progress(&self, line: &str) {
        if !self.quiet && !self.json {
            self.line(line);
        }
    }

    /// An error message.
    pub fn error(&self, message: &str) {
        if self.live {
            super::live::clear();
        }
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

    /// A progress callback for the platform: each line as [`Output::progress`].
    pub fn progress_sink(&self) -> crate::platform::Progress {
        let out = *self;
        Arc::new(move |line: &str| out.progress(line))
    }

    /// A reporter that shows lifecycle events this way.
    pub fn reporter(&self) -> Reporter {
        let out = *self;
        Arc::new(move |event: &Event| out.show(event))
    }

    /// A line on stderr, above the live display when there is one.
    fn line(&self, line: &str) {
        if self.live {
            super::live::println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Keep the live display's status line in step with `event`.
    fn update_live(&self, event: &Event) {
        match event {
            Event::PhaseStarted { phase } => super::live::status(&phase.name().to_uppercase(), ""),
            Event::BuildpackLoaded { id, .. } => super::live::status("PREPARE", id),
            Event::Detected { id, .. } => super::live::status("DETECT", id),
            Event::BuildpackBuilding { id } => super::live::status("BUILD", id),
            Event::Fetched { id, url, .. } => super::live::status("BUILD", &format!("{id}: {url}")),
            Event::Executed { record } => super::live::status("BUILD", &format!("{}: {}", record.buildpack, record.program)),
            Event::LayerExported { name, .. } => super::live::status("EXPORT", name),
            Event::BuildFinished { .. } | Event::ImageWritten { .. } => super::live::clear(),
            _ => {}
        }
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
        if self.live {
            self.update_live(event);
        }
        match event {
            Event::PhaseStarted { phase } => self.line(&format!("===> {}", phase.name().to_uppercase())),
            Event::PhaseFinished { phase, millis } if self.verbose => self.line(&format!("     {} took {millis} ms", phase.name())),
            Event::PhaseFinished { .. } => {}
            Event::BuildpackLoaded { id, version, cached, millis } => {
                let how = if *cached { "cached" } else { "compiled" };
                self.line(&format!("[prepare] {id}@{version} ({how}, {millis} ms)"));
            }
            Event::Detected { id, passed: true, .. } => self.line(&format!("[detect] pass: {id}")),
            Event::Detected { id, passed: false, reason } => {
                if self.verbose {
                    self.line(&format!("[detect] fail: {id}: {}", reason.as_deref().unwrap_or("no reason given")));
                } else {
                    self.line(&format!("[detect] fail: {id}"));
                }
            }
            Event::GroupSelected { buildpacks } => self.line(&format!("[detect] group: {}", buildpacks.join(", "))),
            Event::BuildpackBuilding { id } => self.line(&format!("[build] {id}")),
            Event::BuildpackBuilt { id, millis } if self.verbose => self.line(&format!("[build] {id} done in {millis} ms")),
            Event::BuildpackBuilt { .. } => {}
            Event::Fetched { id, url, size, origin, .. } => self.line(&format!("[{id}] fetched {url} ({size} bytes, from {origin})")),
            Event::Executed { record } => {
                let how = match (record.exit_code, record.signal, &record.error) {
                    (_, _, Some(error)) => error.clone(),
                    (Some(code), _, _) => format!("exit {code}"),
                    (_, Some(signal), _) => format!("signal {signal}"),
                    _ => "?".into(),
                };
                let memory = record.peak_memory_bytes >> 20;
                self.line(&format!("[{}] exec {}: {how} ({} ms, {memory} MiB)", record.buildpack, record.program, record.millis))
            }
            Event::Log { level, .. } if level == "debug" && !self.verbose => {}
            Event::Log { id, level, line } => match level.as_str() {
                "warn" | "error" => self.line(&format!("[{id}] {}: {line}", level.to_uppercase())),
                _ => self.line(&format!("[{id}] {line}")),
            },
            Event::LayerExported { name, digest, reused } => {
                let short = digest.get(..19).unwrap_or(digest);
                let how = if *reused { " (reused)" } else { "" };
                self.line(&format!("[export] layer {name} {short}{how}"));
            }
            Event::Analyzed { previous_image, layers } => {
                let previous = if *previous_image { "found" } else { "none" };
                self.line(&format!("[analyze] previous image: {previous}; {layers} layer(s) known"));
            }
            Event::Restored { layers } => self.line(&format!("[restore] {layers} cached layer(s) restored")),
            Event::CacheWritten { layers, dir } if self.verbose => self.line(&format!("[export] cache: {layers} layer(s) in {dir}")),
            Event::CacheWritten { layers, .. } => self.line(&format!("[export] cache: {layers} layer(s)")),
            Event::BuildFinished { millis, peak_rss_kib } if self.verbose => {
                let rss = peak_rss_kib.map(|k| format!(", peak memory {} MiB", k / 1024)).unwrap_or_default();
                self.line(&format!("build took {millis} ms{rss}"));
            }
            Event::BuildFinished { .. } => {}
            Event::ImageWritten { reference, digest } => self.line(&format!("[export] wrote {reference} ({digest})")),
        }
    }
}

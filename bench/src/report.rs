//! The results table and the machine description.

/// One measure: kiln's figure, the baseline's, and the goal for their ratio.
pub struct Row {
    /// What is measured.
    pub measure: String,
    /// kiln's figure.
    pub kiln: f64,
    /// The baseline's figure.
    pub baseline: f64,
    /// Unit of both figures.
    pub unit: &'static str,
    /// What the baseline is.
    pub baseline_name: String,
    /// The goal for kiln / baseline.
    pub goal: String,
}

/// A markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| measure | kiln | baseline | ratio | goal |\n|---|---|---|---|---|\n");
    for row in rows {
        let ratio = if row.baseline > 0.0 { row.kiln / row.baseline } else { f64::NAN };
        out.push_str(&format!(
            "| {} | {:.2} {} | {:.2} {} ({}) | {:.3}x | {} |\n",
            row.measure, row.kiln, row.unit, row.baseline, row.unit, row.baseline_name, ratio, row.goal
        ));
    }
    out
}

/// CPU, cores, memory and kernel of this machine.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("?").trim().to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().next().unwrap_or("").split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Machine: {model}, {cores} cores, {} GiB RAM, Linux {}", mem / 1024 / 1024, kernel.trim())
}

/// The current UTC time, from `date`.
pub fn now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

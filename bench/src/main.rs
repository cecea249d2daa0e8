//! `kiln-bench`: kiln's performance measures, each against a baseline measured in the
//! same run on the same machine (these machines are noisy: ratios, not absolute times,
//! are what to compare across runs).
//!
//! Run: `cargo build --release --workspace && target/release/kiln-bench [--quick] [--network] [--only NAME]`.
//! It drives the release `kiln` binary next to itself for whole builds and the kiln
//! library for detect. Results go to stdout as a table and to `bench/RESULTS.md`.

mod measures;
mod report;
mod workload;

use std::path::PathBuf;

use clap::Parser;

/// Benchmarks with baselines.
#[derive(Debug, Parser)]
struct Args {
    /// Smaller inputs (a ~40 MB app, 256 MB instead of 1 GB) for a fast check.
    #[arg(long)]
    quick: bool,
    /// Also the measures that need the network and npm (the npm build-script example).
    #[arg(long)]
    network: bool,
    /// Only the measures whose name contains this (detect, jail, build, rss, rebase,
    /// concurrency, npm).
    #[arg(long)]
    only: Option<String>,
    /// Where to write the results table (markdown).
    #[arg(long, default_value = "bench/RESULTS.md")]
    results: PathBuf,
}

fn main() {
    let args = Args::parse();
    let kiln = workload::kiln_binary();
    let scratch = tempfile::tempdir().expect("a scratch dir");
    let env = workload::Env::new(scratch.path(), &kiln);
    let scale = if args.quick { workload::Scale::Quick } else { workload::Scale::Full };
    let want = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    let mut rows = Vec::new();
    if want("detect") {
        rows.extend(measures::detect_cost(&env));
    }
    if want("jail") {
        rows.extend(measures::jail_start(&env));
    }
    if want("build") {
        rows.extend(measures::cold_and_warm_build(&env, scale));
    }
    // peak_rss leaves the large image rebase_cost rebases.
    if want("rss") || want("rebase") {
        rows.extend(measures::peak_rss(&env, scale));
    }
    if want("rebase") {
        rows.extend(measures::rebase_cost(&env, scale));
    }
    if want("concurrency") {
        rows.extend(measures::concurrency(&env, scale));
    }
    if args.network && want("npm") {
        rows.extend(measures::npm_build(&env));
    }
    let table = report::table(&rows);
    println!("{table}");
    let machine = report::machine();
    let text = format!(
        "# kiln benchmark results\n\nProduced by `target/release/kiln-bench{}` on {}.\n\n{machine}\n\n{table}\n",
        if args.quick { " --quick" } else { "" },
        report::now()
    );
    if let Err(e) = std::fs::write(&args.results, text) {
        eprintln!("cannot write {}: {e}", args.results.display());
    }
}

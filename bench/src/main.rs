//! `kiln-bench`: kiln's performance measures, each against a baseline measured in the
//! same run on the same machine (these machines are noisy: ratios, not absolute times,
//! are what to compare across runs).
//!
//! Run: `cargo build --release --workspace && target/release/kiln-bench [--quick]`.
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
    let mut rows = Vec::new();
    rows.extend(measures::detect_cost(&env));
    rows.extend(measures::jail_start(&env));
    rows.extend(measures::cold_and_warm_build(&env, scale));
    rows.extend(measures::peak_rss(&env, scale));
    rows.extend(measures::rebase_cost(&env, scale));
    rows.extend(measures::concurrency(&env, scale));
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

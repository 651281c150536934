//! `securecoderl bench scan`: files per second of the native scanner against Bandit (one process
//! per file, one process for all files, warm in-process) on the same corpus, in one run, as a table
//! with ratios. The measurement itself lives in `scrl_pycheck::bench`.

use std::path::PathBuf;

use anyhow::Context;
use scrl_pycheck::BANDIT_ENV;

#[derive(clap::Args)]
pub struct BenchScanArgs {
    /// Corpus: a directory (its top-level `*.py` files, sorted by name) or a problems JSONL (its
    /// `reference_solution`s).
    #[arg(long, default_value = "/usr/lib/python3.11")]
    pub corpus: PathBuf,
    /// Use at most this many files (the first ones in name order).
    #[arg(long, default_value_t = 100)]
    pub files: usize,
    /// The `bandit` executable (default: $SCRL_BANDIT).
    #[arg(long)]
    pub bandit: Option<PathBuf>,
    /// Repeat the native scan of the corpus until at least this many seconds have passed.
    #[arg(long, default_value_t = 2.0)]
    pub native_seconds: f64,
}

pub fn run(args: BenchScanArgs) -> anyhow::Result<i32> {
    let bandit = match args.bandit {
        Some(path) => path,
        None => std::env::var_os(BANDIT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .with_context(|| {
                format!(
                    "set {BANDIT_ENV} or pass --bandit (scripts/setup-test-env installs Bandit \
                     in .venv)"
                )
            })?,
    };
    let table = scrl_pycheck::bench::run_scan_benchmark(
        &args.corpus,
        args.files,
        &bandit,
        args.native_seconds,
    )?;
    println!("{table}");
    Ok(0)
}

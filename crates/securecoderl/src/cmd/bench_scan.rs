//! `securecoderl bench scan`: files per second of the native scanner against Bandit on the same corpus,
//! in one run: Bandit as one process per file (how a reward loop would call the CLI), Bandit as one
//! process over all files (a folder run), and Bandit warm in-process (the `--scanner bandit` worker).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use scrl_pycheck::{BanditWorker, BANDIT_ENV};

#[derive(clap::Args)]
pub struct BenchScanArgs {
    /// Corpus directory; its top-level `*.py` files, sorted by name, are the benchmark corpus.
    #[arg(long, default_value = "/usr/lib/python3.11")]
    pub corpus: PathBuf,
    /// Use at most this many files (the first ones in name order).
    #[arg(long, default_value_t = 100)]
    pub files: usize,
    /// The `bandit` executable (default: $SCRL_BANDIT).
    #[arg(long)]
    pub bandit: Option<PathBuf>,
    /// Run the native scanner over the corpus until at least this many seconds have passed.
    #[arg(long, default_value_t = 2.0)]
    pub native_seconds: f64,
}

fn bandit_command(bandit: &Path) -> Command {
    let mut command = Command::new(bandit);
    command.args(["-q", "-ll", "--ignore-nosec", "-f", "json"]).stdout(Stdio::null()).stderr(Stdio::null());
    command
}

fn check_status(status: std::process::ExitStatus, what: &str) -> anyhow::Result<()> {
    // Bandit exits 1 when it found something; only other codes are failures.
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => anyhow::bail!("{what} failed with {status}"),
    }
}

pub fn run(args: BenchScanArgs) -> anyhow::Result<i32> {
    let bandit = match args.bandit.clone() {
        Some(path) => path,
        None => std::env::var_os(BANDIT_ENV)
            .map(PathBuf::from)
            .with_context(|| format!("set {BANDIT_ENV} or pass --bandit (scripts/setup-test-env installs Bandit in .venv)"))?,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.corpus)
        .with_context(|| format!("cannot list {}", args.corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "py") && p.is_file())
        .collect();
    files.sort();
    files.truncate(args.files);
    anyhow::ensure!(!files.is_empty(), "no *.py files in {}", args.corpus.display());
    let sources: Vec<String> = files
        .iter()
        .map(|p| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).with_context(|| format!("cannot read {}", p.display())))
        .collect::<anyhow::Result<_>>()?;
    let bytes: usize = sources.iter().map(String::len).sum();
    let n = files.len() as f64;
    println!("corpus: {} files, {:.1} MB from {} (first {} in name order)", files.len(), bytes as f64 / 1e6, args.corpus.display(), files.len());

    // Native: whole-corpus rounds on one thread until the time budget is used.
    let start = Instant::now();
    let (mut rounds, mut findings) = (0u32, 0usize);
    while rounds == 0 || start.elapsed().as_secs_f64() < args.native_seconds {
        findings = sources.iter().map(|s| scrl_pycheck::scan(s).findings.len()).sum();
        rounds += 1;
    }
    let native_s = start.elapsed().as_secs_f64() / f64::from(rounds);

    let start = Instant::now();
    for file in &files {
        let status = bandit_command(&bandit).arg(file).status().with_context(|| format!("cannot run {}", bandit.display()))?;
        check_status(status, &format!("bandit {}", file.display()))?;
    }
    let per_file_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let status = bandit_command(&bandit).args(&files).status().with_context(|| format!("cannot run {}", bandit.display()))?;
    check_status(status, "bandit on the whole corpus")?;
    let folder_s = start.elapsed().as_secs_f64();

    let worker = BanditWorker::start(Some(&bandit))?;
    let start = Instant::now();
    let mut bandit_findings = 0;
    for source in &sources {
        bandit_findings += worker.scan(source)?.findings.len();
    }
    let warm_s = start.elapsed().as_secs_f64();

    println!("native findings {findings}, Bandit (warm worker) findings {bandit_findings} (MEDIUM/HIGH, nosec ignored)");
    println!();
    println!("| scanner | seconds for the corpus | files/s | native speed-up |");
    println!("|---|---|---|---|");
    for (name, seconds) in [
        ("native (1 thread)", native_s),
        ("Bandit, one process per file", per_file_s),
        ("Bandit, one process for all files", folder_s),
        ("Bandit, warm in-process worker", warm_s),
    ] {
        println!("| {name} | {seconds:.3} | {:.1} | {:.1}x |", n / seconds, seconds / native_s);
    }
    println!();
    println!("targets: >= 100x against one process per file, >= 10x against one process for all files");
    Ok(0)
}

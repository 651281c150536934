//! `securecoderl scan FILE|DIR`: Bandit-compatible MEDIUM/HIGH findings as text, Bandit-style JSON
//! or SARIF 2.1.0, with Bandit's exit codes (1 iff a finding, 0 otherwise, 2 for usage and I/O
//! errors).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rayon::prelude::*;
use scrl_pycheck::{BanditWorker, FileReport, ScanError, ScanReport, Scanner, Severity};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ScannerKind {
    /// The native rules (fast, no Python needed).
    Native,
    /// Real Bandit in a warm worker process (`bandit -ll --ignore-nosec`).
    Bandit,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// A Python file, or a directory scanned recursively for `*.py`.
    pub path: PathBuf,
    /// Print Bandit-style JSON (`results` with Bandit's field names, `errors` for unparsable
    /// files).
    #[arg(long, conflicts_with = "sarif")]
    pub json: bool,
    /// Print a SARIF 2.1.0 log.
    #[arg(long)]
    pub sarif: bool,
    /// Which scanner answers.
    #[arg(long, value_enum, default_value = "native")]
    pub scanner: ScannerKind,
    /// The `bandit` executable for `--scanner bandit` (default: $SCRL_BANDIT).
    #[arg(long)]
    pub bandit: Option<PathBuf>,
}

/// `*.py` files under `dir`, sorted, skipping hidden directories and `__pycache__` like Bandit's
/// defaults.
pub fn python_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !name.starts_with('.') && name != "__pycache__" {
                python_files(&path, out)?;
            }
        } else if name.ends_with(".py") {
            out.push(path);
        }
    }
    Ok(())
}

fn read_source(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Python sources are UTF-8 unless they declare otherwise; other bytes only matter inside
    // literals.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

pub fn run(args: ScanArgs) -> anyhow::Result<i32> {
    let files = if args.path.is_dir() {
        let mut files = Vec::new();
        python_files(&args.path, &mut files)?;
        files
    } else if args.path.exists() {
        vec![args.path.clone()]
    } else {
        anyhow::bail!("{} does not exist", args.path.display());
    };
    let scanner = match args.scanner {
        ScannerKind::Native => Scanner::Native,
        ScannerKind::Bandit => Scanner::Bandit(BanditWorker::start(args.bandit.as_deref())?),
    };
    let scan_one = |path: &PathBuf| -> anyhow::Result<FileReport> {
        let source = read_source(path)?;
        let report = match scanner.scan(&source) {
            Ok(report) => report,
            // Like a file Bandit cannot parse: reported as an error, not a failure of the whole
            // scan.
            Err(ScanError::Source(err)) => {
                eprintln!("{}: not scanned: {err}", path.display());
                ScanReport::default()
            }
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!("scanning {}", path.display())));
            }
        };
        Ok(FileReport {
            filename: path.display().to_string(),
            report,
        })
    };
    let reports: Vec<FileReport> = match args.scanner {
        ScannerKind::Native => files
            .par_iter()
            .map(scan_one)
            .collect::<anyhow::Result<_>>()?,
        // One worker process: scans take turns anyway.
        ScannerKind::Bandit => files.iter().map(scan_one).collect::<anyhow::Result<_>>()?,
    };
    let findings: usize = reports.iter().map(|r| r.report.findings.len()).sum();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&scrl_pycheck::to_bandit_json(&reports))?
        );
    } else if args.sarif {
        println!(
            "{}",
            serde_json::to_string_pretty(&scrl_pycheck::to_sarif(&reports))?
        );
    } else {
        print_text(&reports);
    }
    Ok(i32::from(findings > 0))
}

fn print_text(reports: &[FileReport]) {
    let (mut high, mut medium, mut unparsed) = (0, 0, 0);
    for file in reports {
        if !file.report.parsed {
            unparsed += 1;
            println!(
                "{}: syntax error; findings below come from the recoverable part",
                file.filename
            );
        }
        for f in &file.report.findings {
            match f.issue_severity {
                Severity::High => high += 1,
                _ => medium += 1,
            }
            println!(
                "{}:{}:{}: {} {} (severity {}, confidence {}): {}",
                file.filename,
                f.line_number,
                f.col_offset + 1,
                f.test_id,
                f.test_name,
                f.issue_severity,
                f.issue_confidence,
                f.issue_text
            );
        }
    }
    println!(
        "{} files scanned: {} HIGH, {} MEDIUM findings; {} files with syntax errors",
        reports.len(),
        high,
        medium,
        unparsed
    );
}

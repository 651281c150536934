//! The scanner benchmark shared by `securecoderl bench scan` and `cargo bench -p scrl-pycheck`:
//! files per second of the native scanner against Bandit on the same corpus, in one run. Bandit is
//! timed as one process per file (how a reward loop would call the CLI), one process over all files
//! (a folder run) and warm in-process (the `--scanner bandit` worker). Prints nothing itself; the
//! caller prints the table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{BanditWorker, ScanError, scan};

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot read the corpus {path}: {source}")]
    Corpus {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no *.py files in {0}")]
    EmptyCorpus(PathBuf),
    #[error("cannot run {bandit}: {source}")]
    Spawn {
        bandit: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} exited with {status}")]
    BanditFailed {
        what: String,
        status: std::process::ExitStatus,
    },
    #[error(transparent)]
    Worker(#[from] ScanError),
}

/// The measured corpus and timings (seconds for the whole corpus).
pub struct ScanBenchmark {
    /// Which files were measured.
    pub corpus: String,
    pub files: usize,
    pub bytes: usize,
    pub native_findings: usize,
    pub bandit_findings: usize,
    pub native_s: f64,
    pub bandit_per_file_s: f64,
    pub bandit_all_files_s: f64,
    pub bandit_warm_s: f64,
}

/// A benchmark corpus on disk (Bandit reads files): the first `max_files` top-level `*.py` files of
/// a directory in name order, or the first `max_files` `reference_solution`s of a problems JSONL,
/// written to a temporary directory that is removed afterwards.
struct Corpus {
    description: String,
    files: Vec<PathBuf>,
    sources: Vec<String>,
    temp_dir: Option<PathBuf>,
}

impl Drop for Corpus {
    fn drop(&mut self) {
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Corpus {
    fn load(path: &Path, max_files: usize) -> Result<Self, BenchError> {
        let io = |source| BenchError::Corpus {
            path: path.to_path_buf(),
            source,
        };
        if path.extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let sources: Vec<String> = text
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter_map(|row| row.get("reference_solution")?.as_str().map(str::to_string))
                .take(max_files)
                .collect();
            if sources.is_empty() {
                return Err(BenchError::EmptyCorpus(path.to_path_buf()));
            }
            let dir = std::env::temp_dir().join(format!("scrl-bench-scan-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(io)?;
            let mut corpus = Self {
                description: format!(
                    "first {} reference solutions of {}",
                    sources.len(),
                    path.display()
                ),
                files: Vec::new(),
                sources,
                temp_dir: Some(dir.clone()),
            };
            for (i, source) in corpus.sources.iter().enumerate() {
                let file = dir.join(format!("solution_{i:05}.py"));
                std::fs::write(&file, source).map_err(io)?;
                corpus.files.push(file);
            }
            return Ok(corpus);
        }
        let files = corpus_files(path, max_files)?;
        let sources = files
            .iter()
            .map(|p| {
                std::fs::read(p)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(io)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            description: format!(
                "first {} *.py files of {} in name order",
                files.len(),
                path.display()
            ),
            files,
            sources,
            temp_dir: None,
        })
    }
}

/// The first `max_files` top-level `*.py` files of `dir` in name order (a deterministic subset).
pub fn corpus_files(dir: &Path, max_files: usize) -> Result<Vec<PathBuf>, BenchError> {
    let entries = std::fs::read_dir(dir).map_err(|source| BenchError::Corpus {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "py") && p.is_file())
        .collect();
    files.sort();
    files.truncate(max_files);
    if files.is_empty() {
        return Err(BenchError::EmptyCorpus(dir.to_path_buf()));
    }
    Ok(files)
}

fn run_bandit(bandit: &Path, files: &[PathBuf], what: &str) -> Result<(), BenchError> {
    let status = Command::new(bandit)
        .args(["-q", "-ll", "--ignore-nosec", "-f", "json"])
        .args(files)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|source| BenchError::Spawn {
            bandit: bandit.to_path_buf(),
            source,
        })?;
    // Bandit exits 1 when it found something; only other codes are failures.
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => Err(BenchError::BanditFailed {
            what: what.to_string(),
            status,
        }),
    }
}

/// Runs all four measurements on the first `max_files` files of `corpus`; the native scanner
/// repeats the corpus on one thread until `native_seconds` have passed.
pub fn run_scan_benchmark(
    corpus: &Path,
    max_files: usize,
    bandit: &Path,
    native_seconds: f64,
) -> Result<ScanBenchmark, BenchError> {
    let loaded = Corpus::load(corpus, max_files)?;
    let (files, sources) = (&loaded.files, &loaded.sources);

    let start = Instant::now();
    let (mut rounds, mut native_findings) = (0u32, 0);
    while rounds == 0 || start.elapsed().as_secs_f64() < native_seconds {
        native_findings = sources.iter().map(|s| scan(s).findings.len()).sum();
        rounds += 1;
    }
    let native_s = start.elapsed().as_secs_f64() / f64::from(rounds);

    let start = Instant::now();
    for file in files {
        run_bandit(
            bandit,
            std::slice::from_ref(file),
            &format!("bandit {}", file.display()),
        )?;
    }
    let bandit_per_file_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    run_bandit(bandit, files, "bandit on all files")?;
    let bandit_all_files_s = start.elapsed().as_secs_f64();

    let worker = BanditWorker::start(Some(bandit))?;
    let start = Instant::now();
    let mut bandit_findings = 0;
    for source in sources {
        bandit_findings += worker.scan(source)?.findings.len();
    }
    let bandit_warm_s = start.elapsed().as_secs_f64();

    Ok(ScanBenchmark {
        corpus: loaded.description.clone(),
        files: files.len(),
        bytes: sources.iter().map(String::len).sum(),
        native_findings,
        bandit_findings,
        native_s,
        bandit_per_file_s,
        bandit_all_files_s,
        bandit_warm_s,
    })
}

impl std::fmt::Display for ScanBenchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.files as f64;
        writeln!(
            f,
            "corpus: {}, {:.2} MB",
            self.corpus,
            self.bytes as f64 / 1e6
        )?;
        writeln!(
            f,
            "MEDIUM/HIGH findings: native {}, Bandit {}",
            self.native_findings, self.bandit_findings
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| scanner | seconds for the corpus | files/s | native speed-up |"
        )?;
        writeln!(f, "|---|---|---|---|")?;
        for (name, seconds) in [
            ("native (1 thread)", self.native_s),
            ("Bandit, one process per file", self.bandit_per_file_s),
            ("Bandit, one process for all files", self.bandit_all_files_s),
            ("Bandit, warm in-process worker", self.bandit_warm_s),
        ] {
            writeln!(
                f,
                "| {name} | {seconds:.3} | {:.1} | {:.1}x |",
                n / seconds,
                seconds / self.native_s
            )?;
        }
        writeln!(f)?;
        write!(
            f,
            "targets: >= 100x against one process per file, >= 10x against one process for all \
             files"
        )
    }
}

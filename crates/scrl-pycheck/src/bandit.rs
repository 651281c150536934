//! The reference tool itself: real Bandit kept warm in one Python process (the embedded
//! `bandit_worker.py`), fed sources through a pipe, configured as `bandit -ll --ignore-nosec`. Used
//! by `--scanner bandit` and by the cross-check of the native rules. Knows nothing about the native
//! rules.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use serde::Deserialize;

use crate::ScanError;
use crate::finding::{Finding, ScanReport};

/// Environment variable naming the `bandit` executable (tests and CI set it to
/// `$REPO/.venv/bin/bandit`).
pub const BANDIT_ENV: &str = "SCRL_BANDIT";

const WORKER_SCRIPT: &str = include_str!("bandit_worker.py");

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Process {
    fn drop(&mut self) {
        // Closing stdin ends the worker's loop; kill in case it is stuck in a scan.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One warm Bandit process. `Send + Sync`: concurrent scans take turns on the pipe.
pub struct BanditWorker {
    bandit: PathBuf,
    python: PathBuf,
    version: String,
    process: Mutex<Option<Process>>,
}

#[derive(Deserialize)]
struct Ready {
    ready: bool,
    version: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    parsed: bool,
    results: Vec<Finding>,
}

impl BanditWorker {
    /// Starts a worker for the `bandit` executable at `bandit`, or at `$SCRL_BANDIT` when `None`.
    pub fn start(bandit: Option<&Path>) -> Result<Self, ScanError> {
        let bandit = match bandit {
            Some(path) => path.to_path_buf(),
            None => std::env::var_os(BANDIT_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| ScanError::BanditMissing {
                    tried: format!("${BANDIT_ENV}"),
                    reason: "the variable is not set".into(),
                    env: BANDIT_ENV,
                })?,
        };
        let python = interpreter_of(&bandit)?;
        let (process, version) = spawn(&bandit, &python)?;
        Ok(Self {
            bandit,
            python,
            version,
            process: Mutex::new(Some(process)),
        })
    }

    /// The `bandit` executable this worker runs.
    pub fn bandit_path(&self) -> &Path {
        &self.bandit
    }

    /// Bandit's version as reported by the worker.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Bandit's MEDIUM/HIGH findings for `source`. A worker that died is restarted once.
    pub fn scan(&self, source: &str) -> Result<ScanReport, ScanError> {
        let mut guard = self
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(spawn(&self.bandit, &self.python)?.0);
        }
        let result = guard.as_mut().map(|process| self.request(process, source));
        match result {
            Some(Ok(report)) => Ok(report),
            Some(Err(err)) => {
                *guard = None;
                Err(err)
            }
            None => Err(self.failure("no worker process")),
        }
    }

    fn request(&self, process: &mut Process, source: &str) -> Result<ScanReport, ScanError> {
        let request = serde_json::json!({ "source": source });
        writeln!(process.stdin, "{request}")
            .and_then(|()| process.stdin.flush())
            .map_err(|e| self.failure(format!("writing a request: {e}")))?;
        let mut line = String::new();
        let n = process
            .stdout
            .read_line(&mut line)
            .map_err(|e| self.failure(format!("reading a reply: {e}")))?;
        if n == 0 {
            return Err(self.failure("the worker exited (see its stderr above)"));
        }
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| self.failure(format!("bad reply {line:?}: {e}")))?;
        Ok(ScanReport {
            findings: reply.results,
            parsed: reply.parsed,
        })
    }

    fn failure(&self, reason: impl Into<String>) -> ScanError {
        ScanError::BanditWorker {
            bandit: self.bandit.display().to_string(),
            reason: reason.into(),
        }
    }
}

/// The interpreter a `bandit` console script runs under, from its `#!` line.
fn interpreter_of(bandit: &Path) -> Result<PathBuf, ScanError> {
    let missing = |reason: String| ScanError::BanditMissing {
        tried: bandit.display().to_string(),
        reason,
        env: BANDIT_ENV,
    };
    let text = std::fs::read(bandit).map_err(|e| missing(format!("cannot read it: {e}")))?;
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let shebang = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix("#!"))
        .map(str::trim);
    let python = shebang
        .and_then(|s| s.split_whitespace().next())
        .ok_or_else(|| missing("it is not a Python console script (no #! line)".into()))?;
    Ok(PathBuf::from(python))
}

fn spawn(bandit: &Path, python: &Path) -> Result<(Process, String), ScanError> {
    let missing = |reason: String| ScanError::BanditMissing {
        tried: format!("{} (interpreter {})", bandit.display(), python.display()),
        reason,
        env: BANDIT_ENV,
    };
    let mut child = Command::new(python)
        .args(["-I", "-B", "-c", WORKER_SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| missing(format!("cannot start the interpreter: {e}")))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        return Err(missing("no pipes to the interpreter".into()));
    };
    let mut process = Process {
        child,
        stdin,
        stdout: BufReader::new(stdout),
    };
    let mut line = String::new();
    process
        .stdout
        .read_line(&mut line)
        .map_err(|e| missing(format!("reading its first line: {e}")))?;
    let ready: Ready = serde_json::from_str(&line)
        .map_err(|_| missing(format!("unexpected first line {line:?}")))?;
    if !ready.ready {
        return Err(missing(
            ready
                .error
                .unwrap_or_else(|| "the worker refused to start".into()),
        ));
    }
    Ok((process, ready.version.unwrap_or_default()))
}

//! Python syntax check (ruff_python_parser) and the Bandit-compatible MEDIUM/HIGH security rules.
//! Knows nothing about execution or rewards.
//!
//! * [`check_syntax`]: does CPython `compile()` of a given version accept the source?
//! * [`scan`]: native re-implementation of every Bandit 1.9.4 test that can report MEDIUM or HIGH,
//!   with Bandit's test ids, severities, confidences and line numbers, `# nosec` ignored, LOW
//!   findings dropped.
//! * [`analyze`]: both answers from one parse (the call the reward makes per completion).
//! * [`Scanner::Bandit`]: the reference tool itself, kept warm in one Python process.

mod bandit;
pub mod bench;
mod checker;
mod finding;
mod parse_thread;
mod report;
pub(crate) mod rules;
mod semantic;
mod shape;
mod source;
mod syntax;

pub use bandit::{BANDIT_ENV, BanditWorker};
pub use finding::{Confidence, Finding, ScanReport, Severity};
pub use parse_thread::MAX_SOURCE_BYTES;
pub use report::{FileReport, to_bandit_json, to_sarif};
pub use rules::implemented_test_ids;
pub use shape::{ProgramShape, program_shape};
pub use syntax::{PythonVersion, SyntaxError, check_syntax};

/// Errors of this crate, each naming what went wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum PyCheckError {
    #[error("source is {bytes} bytes, over the {limit}-byte cap of the Python checker")]
    SourceTooLarge { bytes: usize, limit: usize },
    #[error("could not run the parse thread: {0}")]
    ParseThread(String),
}

/// Why a scan produced no report.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Source(#[from] PyCheckError),
    #[error(
        "Bandit is not available: tried {tried}: {reason}. Install it with scripts/setup-test-env \
         (creates .venv with bandit==1.9.4) and set {env}=.venv/bin/bandit or pass --bandit PATH"
    )]
    BanditMissing {
        tried: String,
        reason: String,
        env: &'static str,
    },
    #[error("the Bandit worker ({bandit}) failed: {reason}")]
    BanditWorker { bandit: String, reason: String },
}

/// Scans with the native rules. Source over [`MAX_SOURCE_BYTES`] yields an empty, unparsed report;
/// use [`Scanner::scan`] to get that as an error instead.
pub fn scan(source: &str) -> ScanReport {
    checker::scan_guarded(source).unwrap_or(ScanReport {
        findings: Vec::new(),
        parsed: false,
    })
}

/// Both answers the reward needs for one program, from a single parse on a single guarded thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// What [`check_syntax`] answers.
    pub syntax: Result<(), SyntaxError>,
    /// What [`scan`] answers.
    pub security: ScanReport,
    /// What [`program_shape`] answers.
    pub shape: ProgramShape,
}

/// [`check_syntax`] and [`scan`] at the cost of one parse. A source over [`MAX_SOURCE_BYTES`] gets
/// the size error as its syntax error and an empty, unparsed report.
pub fn analyze(source: &str, target: PythonVersion) -> Analysis {
    let both = parse_thread::run_guarded(source, || {
        let parsed = syntax::parse(source, target);
        Analysis {
            syntax: syntax::check_parsed(source, &parsed, target),
            security: checker::scan_parsed(source, &parsed),
            shape: shape::shape_of(parsed.syntax().as_module().map_or(&[][..], |m| &m.body[..])),
        }
    });
    both.unwrap_or_else(|err| Analysis {
        syntax: Err(SyntaxError {
            message: err.to_string(),
            line: 0,
            column: 0,
        }),
        security: ScanReport {
            findings: Vec::new(),
            parsed: false,
        },
        shape: ProgramShape::Runs,
    })
}

/// Which implementation answers a scan: the native rules, or real Bandit in a warm worker process.
pub enum Scanner {
    Native,
    Bandit(BanditWorker),
}

impl Scanner {
    /// MEDIUM/HIGH findings of `source`, nosec ignored.
    pub fn scan(&self, source: &str) -> Result<ScanReport, ScanError> {
        match self {
            Scanner::Native => Ok(checker::scan_guarded(source)?),
            Scanner::Bandit(worker) => worker.scan(source),
        }
    }
}

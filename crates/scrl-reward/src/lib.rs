//! The partial-credit reward: the functional ladder, the binary variant, R_sec and the joint reward
//! R = alpha * R_func + beta * R_sec (paper Eq. 1-2). Depends on the sandbox and the static checks;
//! knows nothing about models, problems files or training.
//!
//! One [`RewardModel`] owns a sandbox and a scanner and scores programs against a [`TestSpec`]:
//! syntax check (stage 0 / 1) -> one sandboxed run per test (stages 2-4) -> security scan (R_sec).
//! Results are cached by (program, tests, configuration), so identical programs are never run
//! twice. Infrastructure failures (a sandbox that cannot run a program) are errors, never a score.

mod cache;
mod harness;
pub mod ladder;
pub mod security;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use scrl_pycheck::{Finding, ProgramShape, PythonVersion, Scanner, SyntaxError};
use scrl_sandbox::{CompareMode, Execution, Limits, Outcome, Sandbox, Verdict};
use serde::{Deserialize, Serialize};

pub use ladder::{FunctionalScore, RewardKind, Stage};
pub use security::SeverityWeights;

/// What R_sec is for a program that does not parse.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum UnparseableSecurity {
    /// Scan the syntax tree the parser recovers ("computed on what can be analysed",
    /// docs/reward.md). The default, as in the paper; note that it lets unparseable text earn beta
    /// * R_sec.
    #[default]
    Analyse,
    /// R_sec = 0 for unparseable code, so a syntax error earns nothing at all.
    Zero,
}

/// Which static checker computes R_sec.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum ScannerChoice {
    /// The built-in Bandit-compatible rules (fast, in process).
    #[default]
    Native,
    /// Real Bandit in a warm worker process (needs Bandit installed).
    Bandit,
}

/// How many tests of a problem the reward runs: at most a number of them, or all. Written `5` or
/// `"all"` in TOML and JSON, `5` or `all` on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TestCap(pub Option<usize>);

impl std::str::FromStr for TestCap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all" {
            return Ok(TestCap(None));
        }
        match s.parse::<usize>() {
            Ok(0) => Err("the test cap must be >= 1 (or `all`)".into()),
            Ok(n) => Ok(TestCap(Some(n))),
            Err(_) => Err(format!("`{s}` is neither a number of tests nor `all`")),
        }
    }
}

impl std::fmt::Display for TestCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("all"),
        }
    }
}

impl Serialize for TestCap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(n) => s.serialize_u64(n as u64),
            None => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for TestCap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TestCap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of tests or \"all\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<TestCap, E> {
                Ok(TestCap(Some(n as usize)))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<TestCap, E> {
                usize::try_from(n)
                    .map(|n| TestCap(Some(n)))
                    .map_err(|_| E::custom(format!("a test cap of {n} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<TestCap, E> {
                if s == "all" {
                    Ok(TestCap(None))
                } else {
                    Err(E::custom(format!(
                        "`{s}` is neither a number of tests nor \"all\""
                    )))
                }
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<TestCap, E> {
                Ok(TestCap(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Every knob of the reward: the `[reward]` section of a run's config. The defaults are the
/// paper's setting. Every field is also a flag of the commands that score programs, with this text
/// as its help.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// Weight of R_func in the joint reward.
    #[arg(long)]
    pub alpha: f64,
    /// Weight of R_sec in the joint reward.
    #[arg(long)]
    pub beta: f64,
    /// The functional reward: `partial` (the ladder 0 / 0.2 / 0.4 / 0.6 / 0.6 + 0.4 k/T) or
    /// `binary` (1 only when every test passes). PPO switches it per episode under a curriculum.
    #[arg(long = "reward", value_enum)]
    pub kind: RewardKind,
    /// Use at most this many tests per problem (T; the paper uses 5), or `all`.
    #[arg(long)]
    pub test_cap: TestCap,
    /// How output is compared: `apps` (whitespace, blank lines, float tolerance, as APPS) or
    /// `exact` (line by line after a trailing-whitespace strip).
    #[arg(long, value_enum)]
    pub compare: CompareMode,
    /// CPU-time limit per test run, in milliseconds.
    #[arg(long)]
    pub cpu_time_ms: u64,
    /// Wall-clock backstop per test run, in milliseconds.
    #[arg(long)]
    pub wall_time_ms: u64,
    /// Address-space limit per test run, in bytes.
    #[arg(long)]
    pub memory_bytes: u64,
    /// Cap on a test run's stdout and on its stderr, each, in bytes.
    #[arg(long)]
    pub output_bytes: u64,
    /// The weights of MEDIUM and HIGH findings in V (R_sec = 1 - V, V capped at 1).
    #[command(flatten)]
    pub severity: SeverityWeights,
    /// R_sec of code that does not parse: `analyse` (scan what the parser recovers, as the paper
    /// does) or `zero`.
    #[arg(long, value_enum)]
    pub unparseable_security: UnparseableSecurity,
    /// The paper's Table 1 read literally: a completion with no code in it is just text that parses
    /// (stage 1 and up, as it runs cleanly), and a program that runs none of its code is not
    /// capped. Off by default: then "no program" is stage 0 and a no-op earns at most stage 1 on
    /// stdin problems (docs/reward.md, "No program, no-op programs").
    #[arg(long)]
    pub literal_ladder: bool,
    /// Leave out of the reward every test whose input and output both appear verbatim in the
    /// problem's statement, so that printing a memorised example cannot pass a "hidden" test.
    /// Applied where a problem becomes a `TestSpec` (`scrl_train::evaluate::test_spec`, `score`); a
    /// problem whose tests are all statement examples is then left with none (no credit beyond
    /// stage 3; PPO skips it).
    #[arg(long)]
    pub skip_statement_examples: bool,
    /// The static checker of R_sec: `native` (built-in Bandit-compatible rules) or `bandit` (real
    /// Bandit in a warm worker).
    #[arg(long, value_enum)]
    pub scanner: ScannerChoice,
    /// Path of the `bandit` executable for `scanner = bandit` (default: $SCRL_BANDIT, then PATH).
    #[arg(long)]
    pub bandit: Option<std::path::PathBuf>,
}

impl Default for RewardConfig {
    fn default() -> Self {
        let l = Limits::default();
        RewardConfig {
            alpha: 0.6,
            beta: 0.4,
            kind: RewardKind::Partial,
            test_cap: TestCap(Some(5)),
            compare: CompareMode::Apps,
            cpu_time_ms: l.cpu_time_ms,
            wall_time_ms: l.wall_time_ms,
            memory_bytes: l.memory_bytes,
            output_bytes: l.output_bytes,
            severity: SeverityWeights::default(),
            unparseable_security: UnparseableSecurity::Analyse,
            literal_ladder: false,
            skip_statement_examples: false,
            scanner: ScannerChoice::Native,
            bandit: None,
        }
    }
}

impl RewardConfig {
    pub fn limits(&self) -> Limits {
        Limits {
            cpu_time_ms: self.cpu_time_ms,
            wall_time_ms: self.wall_time_ms,
            memory_bytes: self.memory_bytes,
            output_bytes: self.output_bytes,
        }
    }

    /// Starts the scanner this config names (a Bandit worker for `bandit`).
    pub fn start_scanner(&self) -> Result<Scanner, RewardError> {
        Ok(match self.scanner {
            ScannerChoice::Native => Scanner::Native,
            ScannerChoice::Bandit => Scanner::Bandit(
                scrl_pycheck::BanditWorker::start(self.bandit.as_deref())
                    .map_err(|e| RewardError::Config(format!("starting the Bandit worker: {e}")))?,
            ),
        })
    }

    /// Checks the values a user can get wrong in a config file.
    pub fn validate(&self) -> Result<(), RewardError> {
        let bad = |m: String| Err(RewardError::Config(m));
        if !(self.alpha.is_finite()
            && self.alpha >= 0.0
            && self.beta.is_finite()
            && self.beta >= 0.0)
        {
            return bad(format!(
                "alpha and beta must be finite and >= 0 (got {} and {})",
                self.alpha, self.beta
            ));
        }
        if self.alpha + self.beta <= 0.0 {
            return bad("alpha + beta must be > 0".into());
        }
        if self.test_cap == TestCap(Some(0)) {
            return bad("test_cap must be >= 1 (or absent for no cap)".into());
        }
        if self.cpu_time_ms == 0
            || self.wall_time_ms == 0
            || self.memory_bytes == 0
            || self.output_bytes == 0
        {
            return bad(
                "cpu_time_ms, wall_time_ms, memory_bytes and output_bytes must be > 0".into(),
            );
        }
        Ok(())
    }
}

/// One stdin/stdout test.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct StdinCase {
    pub input: String,
    pub output: String,
}

/// How a program is checked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TestSpec {
    /// Run the program on each input and compare its stdout with the expected output.
    Stdin(Vec<StdinCase>),
    /// Function-call problems: for each assert the program runs (then `setup`) under the harness,
    /// which evaluates the calls of the assert and reports their values as plain data; a separate
    /// process that runs no candidate code decides whether the assert holds (docs/reward.md). A
    /// wrong value counts as a clean run for the ladder (the program ran; its answer was wrong).
    Asserts {
        setup: Option<String>,
        asserts: Vec<String>,
    },
}

impl TestSpec {
    /// The number of tests before the cap.
    pub fn len(&self) -> usize {
        match self {
            TestSpec::Stdin(t) => t.len(),
            TestSpec::Asserts { asserts, .. } => asserts.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn capped(&self, cap: Option<usize>) -> TestSpec {
        let n = cap.unwrap_or(usize::MAX);
        match self {
            TestSpec::Stdin(t) => TestSpec::Stdin(t.iter().take(n).cloned().collect()),
            TestSpec::Asserts { setup, asserts } => TestSpec::Asserts {
                setup: setup.clone(),
                asserts: asserts.iter().take(n).cloned().collect(),
            },
        }
    }
}

/// What one test run showed.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct TestRun {
    pub verdict: Verdict,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_time_ms: u64,
    pub wall_time_ms: u64,
    pub max_rss_kb: u64,
    pub stdout_bytes: usize,
    /// The start of stdout (lossy UTF-8), for reading a result.
    pub stdout_head: String,
    /// The end of stderr (lossy UTF-8): where a traceback's exception line is.
    pub stderr_tail: String,
}

const EXCERPT_BYTES: usize = 512;

impl TestRun {
    fn from_execution(exec: &Execution, verdict: Verdict) -> TestRun {
        let head = &exec.stdout[..exec.stdout.len().min(EXCERPT_BYTES)];
        let tail = &exec.stderr[exec.stderr.len().saturating_sub(EXCERPT_BYTES)..];
        TestRun {
            verdict,
            outcome: exec.outcome,
            exit_code: exec.exit_code,
            signal: exec.signal,
            cpu_time_ms: exec.cpu_time_ms,
            wall_time_ms: exec.wall_time_ms,
            max_rss_kb: exec.max_rss_kb,
            stdout_bytes: exec.stdout.len(),
            stdout_head: String::from_utf8_lossy(head).into_owned(),
            stderr_tail: String::from_utf8_lossy(tail).into_owned(),
        }
    }

    /// The error of a run CPython refused to compile, from what the interpreter printed: the last
    /// line (`SyntaxError: too many statically nested blocks`) and the line of `File "main.py",
    /// line N` (0 when it is not in the excerpt; the column is not recovered and is 0).
    pub fn compile_error(&self) -> SyntaxError {
        let last = self
            .stderr_tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let line = self
            .stderr_tail
            .lines()
            .filter_map(|l| l.trim().strip_prefix("File \"main.py\", line "))
            .find_map(|n| {
                n.split(|ch: char| !ch.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        let message = if last.is_empty() {
            "CPython refused to compile the program".to_string()
        } else {
            last.to_string()
        };
        SyntaxError {
            message: format!("{message} (CPython compile())"),
            line,
            column: 0,
        }
    }

    /// The exception type named by the last line of a Python traceback, e.g. `ZeroDivisionError`,
    /// for a run that ended in a runtime error; read from the stderr tail by the sandbox's
    /// [`scrl_sandbox::exception_type`].
    pub fn exception_type(&self) -> Option<&str> {
        if self.outcome != Outcome::RuntimeError {
            return None;
        }
        scrl_sandbox::exception_type(&self.stderr_tail)
    }
}

/// The full account of one program's reward.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RewardBreakdown {
    pub reward: f64,
    pub r_func: f64,
    pub r_sec: f64,
    pub alpha: f64,
    pub beta: f64,
    pub kind: RewardKind,
    pub stage: Stage,
    pub tests_passed: usize,
    pub tests_total: usize,
    pub syntax_error: Option<SyntaxError>,
    /// Whether the security scan saw a complete syntax tree.
    pub security_parsed: bool,
    /// What the program does at module level ([`ProgramShape`]); `empty` is "no program" (stage 0).
    pub shape: ProgramShape,
    /// The program parses but runs none of its own code (only definitions, imports, constants); on
    /// a stdin problem its stage is capped at 1 unless [`RewardConfig::literal_ladder`] is set.
    pub no_op: bool,
    pub findings: Vec<Finding>,
    pub tests: Vec<TestRun>,
}

impl RewardBreakdown {
    /// The JSON object `securecoderl score --json` prints and the reward server returns: the
    /// breakdown plus `stage_number`, the per-test `verdicts` and, for a problem from a problems
    /// file, its `id`.
    pub fn to_json_row(&self, id: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a breakdown serializes");
        let obj = v.as_object_mut().expect("a breakdown is an object");
        obj.insert("stage_number".into(), self.stage.number().into());
        let verdicts: Vec<Verdict> = self.tests.iter().map(|t| t.verdict).collect();
        obj.insert(
            "verdicts".into(),
            serde_json::to_value(verdicts).expect("verdicts serialize"),
        );
        if let Some(id) = id {
            obj.insert("id".into(), id.into());
        }
        v
    }

    /// The same observations under another functional reward: the curriculum switches from binary
    /// to partial credit without running anything again.
    pub fn with_kind(&self, kind: RewardKind) -> RewardBreakdown {
        let r_func = ladder::r_func(self.stage, self.tests_passed, self.tests_total, kind);
        RewardBreakdown {
            kind,
            r_func,
            reward: self.alpha * r_func + self.beta * self.r_sec,
            ..self.clone()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error("invalid reward configuration: {0}")]
    Config(String),
    #[error("sandbox failure while scoring (no reward was given): {0}")]
    Sandbox(#[from] scrl_sandbox::SandboxError),
    #[error("security scanner failure (no reward was given): {0}")]
    Scanner(#[from] scrl_pycheck::ScanError),
    #[error("could not start the scoring thread pool: {0}")]
    Pool(String),
    #[error("the function-call harness failed (no reward was given): {0}")]
    Harness(String),
    #[error("scoring was cancelled before this program ran (no reward was given)")]
    Cancelled,
}

/// Scores programs. `Send + Sync`: share one across threads.
pub struct RewardModel {
    config: RewardConfig,
    sandbox: Arc<Sandbox>,
    scanner: Scanner,
    target: PythonVersion,
    cache: cache::ResultCache,
    /// Plans of the function-call harness, by (setup, asserts): each problem is planned once.
    plans: Mutex<HashMap<[u8; 32], Arc<Vec<harness::Plan>>>>,
    pool: rayon::ThreadPool,
}

impl RewardModel {
    /// Builds a reward model around a started sandbox. The syntax check targets the sandbox's
    /// interpreter.
    pub fn new(
        config: RewardConfig,
        sandbox: Arc<Sandbox>,
        scanner: Scanner,
    ) -> Result<Self, RewardError> {
        config.validate()?;
        let (major, minor) = sandbox.python_version();
        // Test runs block on the sandbox, not the CPU: twice as many threads as cores keeps every
        // zygote busy.
        let threads = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("scrl-reward-{i}"))
            .build()
            .map_err(|e| RewardError::Pool(e.to_string()))?;
        Ok(RewardModel {
            config,
            sandbox,
            scanner,
            target: PythonVersion { major, minor },
            cache: cache::ResultCache::new(100_000),
            plans: Mutex::new(HashMap::new()),
            pool,
        })
    }

    pub fn config(&self) -> &RewardConfig {
        &self.config
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// How many scores were answered from the cache, and how many were computed.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// Scores one program.
    pub fn score(&self, program: &str, tests: &TestSpec) -> Result<RewardBreakdown, RewardError> {
        let tests = tests.capped(self.config.test_cap.0);
        let key = cache::key(program, &tests, &self.config);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let scored = self.pool.install(|| self.score_uncached(program, &tests))?;
        self.cache.put(key, scored.clone());
        Ok(scored)
    }

    /// Scores many programs in parallel; results come back in input order.
    pub fn score_batch(
        &self,
        items: &[(&str, &TestSpec)],
    ) -> Vec<Result<RewardBreakdown, RewardError>> {
        self.score_batch_with(items, &AtomicBool::new(false), &|| {})
    }

    /// [`RewardModel::score_batch`] that stops starting programs once `cancel` is set (those get
    /// [`RewardError::Cancelled`]; a program already running finishes) and calls `on_done` after
    /// each. For callers that can lose interest (a reward server whose client went away) or show
    /// progress.
    pub fn score_batch_with(
        &self,
        items: &[(&str, &TestSpec)],
        cancel: &AtomicBool,
        on_done: &(dyn Fn() + Sync),
    ) -> Vec<Result<RewardBreakdown, RewardError>> {
        self.pool.install(|| {
            items
                .par_iter()
                .map(|(p, t)| {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(RewardError::Cancelled);
                    }
                    let out = self.score(p, t);
                    on_done();
                    out
                })
                .collect()
        })
    }

    fn score_uncached(
        &self,
        program: &str,
        tests: &TestSpec,
    ) -> Result<RewardBreakdown, RewardError> {
        let c = &self.config;
        let t = tests.len();
        // The native scanner answers both questions from one parse; real Bandit scans on its own.
        let (mut syntax, scan, shape) = match &self.scanner {
            Scanner::Native => {
                let a = scrl_pycheck::analyze(program, self.target);
                (a.syntax.err(), a.security, a.shape)
            }
            other => (
                scrl_pycheck::check_syntax(program, self.target).err(),
                other.scan(program)?,
                scrl_pycheck::program_shape(program, self.target),
            ),
        };
        if syntax.is_none() && shape == ProgramShape::Empty && !c.literal_ladder {
            syntax = Some(SyntaxError {
                message: NO_PROGRAM.to_string(),
                line: 0,
                column: 0,
            });
        }
        let (mut func, runs) = match syntax {
            Some(_) => (ladder::syntax_error(t), Vec::new()),
            None => {
                let runs = self.run_tests(program, tests)?;
                let obs: Vec<_> = runs.iter().map(|(_, o)| *o).collect();
                let runs: Vec<TestRun> = runs.into_iter().map(|(r, _)| r).collect();
                // The interpreter is the oracle: what CPython refused to compile is stage 0 even
                // where the static check accepted it (compile-time limits, docs/reward.md).
                match runs.iter().find(|r| r.outcome == Outcome::CompileError) {
                    Some(refused) => {
                        syntax = Some(refused.compile_error());
                        (ladder::syntax_error(t), runs)
                    }
                    None => (ladder::score_runs(&obs, t, c.kind), runs),
                }
            }
        };
        let no_op = syntax.is_none() && shape == ProgramShape::NoOp;
        if no_op
            && matches!(tests, TestSpec::Stdin(_))
            && !c.literal_ladder
            && func.stage > Stage::ValidSyntax
        {
            // Nothing of it ran, so "executes without crash" and anything above says nothing about
            // it.
            func = ladder::capped(func, Stage::ValidSyntax, c.kind);
        }
        let r_sec = if syntax.is_some() && c.unparseable_security == UnparseableSecurity::Zero {
            0.0
        } else {
            security::r_sec(&scan.findings, c.severity)
        };
        Ok(RewardBreakdown {
            reward: c.alpha * func.r_func + c.beta * r_sec,
            r_func: func.r_func,
            r_sec,
            alpha: c.alpha,
            beta: c.beta,
            kind: c.kind,
            stage: func.stage,
            tests_passed: func.tests_passed,
            tests_total: func.tests_total,
            syntax_error: syntax,
            security_parsed: scan.parsed,
            shape,
            no_op,
            findings: scan.findings,
            tests: runs,
        })
    }

    fn run_tests(
        &self,
        program: &str,
        tests: &TestSpec,
    ) -> Result<Vec<(TestRun, ladder::RunObservation)>, RewardError> {
        let limits = self.config.limits();
        let compare = self.config.compare;
        match tests {
            TestSpec::Stdin(cases) if cases.is_empty() => {
                let exec = self.sandbox.run(program, b"", &limits)?;
                // Nothing to compare against: a clean exit is labelled a wrong answer, never
                // accepted.
                Ok(vec![observe(
                    &exec,
                    Verdict::of(exec.outcome, false),
                    exec.outcome == Outcome::Exited,
                )])
            }
            TestSpec::Stdin(cases) => cases
                .par_iter()
                .map(|case| {
                    let exec = self.sandbox.run(program, case.input.as_bytes(), &limits)?;
                    let verdict = scrl_sandbox::judge(&exec, &case.output, compare);
                    Ok(observe(&exec, verdict, exec.outcome == Outcome::Exited))
                })
                .collect(),
            TestSpec::Asserts { asserts, .. } if asserts.is_empty() => {
                let exec = self.sandbox.run(program, b"", &limits)?;
                Ok(vec![observe(
                    &exec,
                    Verdict::of(exec.outcome, false),
                    exec.outcome == Outcome::Exited,
                )])
            }
            TestSpec::Asserts { setup, asserts } => {
                self.run_asserts(program, setup.as_deref().unwrap_or(""), asserts)
            }
        }
    }

    /// The plans of a problem's asserts, made once per (setup, asserts) by a trusted run.
    fn plans(
        &self,
        setup: &str,
        asserts: &[String],
    ) -> Result<Arc<Vec<harness::Plan>>, RewardError> {
        let key = cache::key(
            setup,
            &TestSpec::Asserts {
                setup: None,
                asserts: asserts.to_vec(),
            },
            &RewardConfig::default(),
        );
        if let Some(p) = self
            .plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(p.clone());
        }
        let planned = Arc::new(
            harness::plan(&self.sandbox, asserts, &self.trusted_limits())
                .map_err(RewardError::Harness)?,
        );
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, planned.clone());
        Ok(planned)
    }

    /// Limits of the harness's own trusted runs (planning, verification): never tighter than the
    /// defaults.
    fn trusted_limits(&self) -> Limits {
        let (l, d) = (self.config.limits(), Limits::default());
        Limits {
            cpu_time_ms: l.cpu_time_ms.max(d.cpu_time_ms),
            wall_time_ms: l.wall_time_ms.max(d.wall_time_ms),
            memory_bytes: l.memory_bytes.max(d.memory_bytes),
            output_bytes: l.output_bytes.max(d.output_bytes),
        }
    }

    fn run_asserts(
        &self,
        program: &str,
        setup: &str,
        asserts: &[String],
    ) -> Result<Vec<(TestRun, ladder::RunObservation)>, RewardError> {
        let plans = self.plans(setup, asserts)?;
        let limits = self.config.limits();
        let no_probes = Vec::new();
        let runs: Vec<(Execution, harness::Report)> = plans
            .par_iter()
            .map(|plan| {
                let probes = match plan {
                    harness::Plan::Checked { probes, .. } => probes,
                    harness::Plan::Unjudgeable(_) => &no_probes,
                };
                harness::run_probes(&self.sandbox, program, setup, probes, &limits)
            })
            .collect::<Result<_, _>>()?;
        // Every run that reported values is verified in one trusted run.
        let mut pending: Vec<(usize, &str, &[u8])> = Vec::new();
        for (i, ((exec, report), plan)) in runs.iter().zip(plans.iter()).enumerate() {
            if let (
                Outcome::Exited,
                harness::Report::Values(v),
                harness::Plan::Checked { template, .. },
            ) = (exec.outcome, report, plan)
            {
                pending.push((i, template, v));
            }
        }
        let items: Vec<(&str, &[u8])> = pending.iter().map(|(_, t, v)| (*t, *v)).collect();
        let judged = harness::verify(&self.sandbox, &items, &self.trusted_limits())
            .map_err(RewardError::Harness)?;
        let mut judgement = vec![None; runs.len()];
        for ((i, _, _), j) in pending.iter().zip(judged) {
            judgement[*i] = Some(j);
        }
        Ok(runs
            .iter()
            .zip(judgement)
            .map(|((exec, report), j)| {
                let (verdict, clean) = match (exec.outcome, report, j) {
                    (Outcome::Exited, _, Some(harness::Judgement::Holds)) => {
                        (Verdict::Accepted, true)
                    }
                    (Outcome::Exited, _, Some(harness::Judgement::Fails)) => {
                        (Verdict::WrongAnswer, true)
                    }
                    // The assert itself raised on the reported values: a crash, as before the
                    // harness.
                    (Outcome::Exited, _, Some(harness::Judgement::Raised)) => {
                        (Verdict::RuntimeError, false)
                    }
                    // Exited with a report, but the problem's assert could not be planned.
                    (Outcome::Exited, harness::Report::Values(_), None) => {
                        (Verdict::WrongAnswer, true)
                    }
                    // Exit status 0 without the harness's report: the program ended the run early
                    // (or forged or doubled the report). It did not complete the test.
                    (Outcome::Exited, harness::Report::Missing, None) => {
                        (Verdict::RuntimeError, false)
                    }
                    (outcome, _, _) => (Verdict::of(outcome, false), false),
                };
                observe(exec, verdict, clean)
            })
            .collect())
    }
}

/// The syntax error a completion with no code in it gets (stage 0).
pub const NO_PROGRAM: &str =
    "no program: the completion has no code (only whitespace, comments, docstrings, pass or ...)";

/// "Produces output" means some non-whitespace byte on stdout: a bare newline is not an answer.
fn observe(
    exec: &Execution,
    verdict: Verdict,
    exited_cleanly: bool,
) -> (TestRun, ladder::RunObservation) {
    let obs = ladder::RunObservation {
        exited_cleanly,
        wrote_stdout: exec.stdout.iter().any(|b| !b.is_ascii_whitespace()),
        passed: verdict == Verdict::Accepted,
    };
    (TestRun::from_execution(exec, verdict), obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: Outcome, stderr_tail: &str) -> TestRun {
        TestRun {
            verdict: Verdict::of(outcome, false),
            outcome,
            exit_code: Some(1),
            signal: None,
            cpu_time_ms: 1,
            wall_time_ms: 1,
            max_rss_kb: 1,
            stdout_bytes: 0,
            stdout_head: String::new(),
            stderr_tail: stderr_tail.into(),
        }
    }

    /// The exception type is the sandbox's reading of the traceback, for runtime errors only. A
    /// bare word on stderr (`sys.exit("Error")`) used to be taken for a type here; it is not a
    /// traceback, so it names none.
    #[test]
    fn exception_type_reads_tracebacks_of_runtime_errors_only() {
        let tb = "Traceback (most recent call last):\n  File \"main.py\", line 1, in <module>\n\
            IndexError: list index out of range\n";
        assert_eq!(
            run(Outcome::RuntimeError, tb).exception_type(),
            Some("IndexError")
        );
        assert_eq!(run(Outcome::TimeLimit, tb).exception_type(), None);
        assert_eq!(run(Outcome::RuntimeError, "Error\n").exception_type(), None);
    }
}

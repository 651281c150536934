//! The reward options shared by every command that scores programs (score, eval, ppo), and how they
//! become a running [`RewardModel`]. Flags override a TOML `[reward]` table where a command reads
//! one.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardKind, RewardModel, UnparseableSecurity};
use scrl_sandbox::{CompareMode, Sandbox, SandboxConfig};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScannerChoice {
    /// The built-in Bandit-compatible rules (fast, in process).
    Native,
    /// Real Bandit in a warm worker process (needs Bandit installed).
    Bandit,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareChoice {
    /// APPS-faithful comparison (whitespace, blank lines, float tolerance).
    Apps,
    /// Line-by-line after trailing-whitespace strip.
    Exact,
}

#[derive(clap::Args, Clone, Debug)]
pub struct RewardOpts {
    /// Binary functional reward (1 only when every test passes) instead of the partial-credit
    /// ladder.
    #[arg(long)]
    pub binary: bool,
    /// Weight of R_func in the joint reward.
    #[arg(long, default_value_t = 0.6)]
    pub alpha: f64,
    /// Weight of R_sec in the joint reward.
    #[arg(long, default_value_t = 0.4)]
    pub beta: f64,
    /// Use at most this many tests per problem (T).
    #[arg(long, default_value_t = 5)]
    pub test_cap: usize,
    /// Use every test of each problem (no cap on T).
    #[arg(long, conflicts_with = "test_cap")]
    pub all_tests: bool,
    #[arg(long, value_enum, default_value_t = CompareChoice::Apps)]
    pub compare: CompareChoice,
    /// CPU-time limit per test run.
    #[arg(long, default_value_t = 2000)]
    pub cpu_time_ms: u64,
    /// Wall-clock backstop per test run.
    #[arg(long, default_value_t = 10_000)]
    pub wall_time_ms: u64,
    /// Address-space limit per test run, in MiB.
    #[arg(long, default_value_t = 512)]
    pub memory_mib: u64,
    /// R_sec = 0 for code that does not parse (default: scan what the parser recovers, as the paper
    /// does).
    #[arg(long)]
    pub zero_sec_if_unparseable: bool,
    /// The paper's Table 1 read literally: a completion without code runs like any program (stage 2
    /// for an empty one) and no-op programs are not capped at stage 1 (docs/reward.md).
    #[arg(long)]
    pub literal_ladder: bool,
    /// Leave out tests whose input and output appear verbatim in the statement (its worked
    /// examples), so a program that prints a memorised example cannot pass them (docs/reward.md).
    #[arg(long)]
    pub skip_statement_examples: bool,
    #[arg(long, value_enum, default_value_t = ScannerChoice::Native)]
    pub scanner: ScannerChoice,
    /// Path of the `bandit` executable for `--scanner bandit` (default: $SCRL_BANDIT, then PATH).
    #[arg(long)]
    pub bandit: Option<PathBuf>,
    /// Python interpreter the sandbox runs (its stdlib must be readable by an unprivileged uid).
    #[arg(long, default_value = "/usr/bin/python3")]
    pub python: PathBuf,
    /// Sandbox worker processes (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Run even when the kernel lacks a required isolation layer (announced on every run). Unsafe.
    #[arg(long)]
    pub allow_weak_sandbox: bool,
}

impl RewardOpts {
    pub fn reward_config(&self) -> RewardConfig {
        RewardConfig {
            alpha: self.alpha,
            beta: self.beta,
            kind: if self.binary {
                RewardKind::Binary
            } else {
                RewardKind::Partial
            },
            test_cap: (!self.all_tests).then_some(self.test_cap),
            compare: match self.compare {
                CompareChoice::Apps => CompareMode::Apps,
                CompareChoice::Exact => CompareMode::Exact,
            },
            cpu_time_ms: self.cpu_time_ms,
            wall_time_ms: self.wall_time_ms,
            memory_bytes: self.memory_mib.saturating_mul(1 << 20),
            unparseable_security: if self.zero_sec_if_unparseable {
                UnparseableSecurity::Zero
            } else {
                UnparseableSecurity::Analyse
            },
            literal_ladder: self.literal_ladder,
            skip_statement_examples: self.skip_statement_examples,
            ..RewardConfig::default()
        }
    }

    pub fn sandbox_config(&self) -> SandboxConfig {
        let mut cfg = SandboxConfig {
            python: self.python.clone(),
            allow_weak: self.allow_weak_sandbox,
            ..Default::default()
        };
        if let Some(w) = self.workers {
            cfg.workers = w.max(1);
        }
        cfg
    }

    pub fn scanner(&self) -> anyhow::Result<Scanner> {
        Ok(match self.scanner {
            ScannerChoice::Native => Scanner::Native,
            ScannerChoice::Bandit => Scanner::Bandit(
                scrl_pycheck::BanditWorker::start(self.bandit.as_deref())
                    .context("starting the Bandit worker")?,
            ),
        })
    }

    /// Starts the sandbox and the scanner. Fails, naming the missing layer, when the kernel cannot
    /// isolate.
    pub fn build(&self) -> anyhow::Result<RewardModel> {
        let config = self.reward_config();
        config.validate()?;
        let sandbox = Sandbox::new(self.sandbox_config()).context("starting the sandbox")?;
        Ok(RewardModel::new(
            config,
            Arc::new(sandbox),
            self.scanner()?,
        )?)
    }
}

/// How a problem is checked by the reward.
pub use scrl_train::evaluate::test_spec;

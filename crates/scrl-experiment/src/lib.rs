//! The paper's experiment as a library, used by `securecoderl sweep`, `quickstart`, `eval` and
//! `bench-models` (the CLI parses, calls this and prints).
//!
//! The pipeline ([`run_pipeline`]), in order: problems -> a seeded evaluation set and a disjoint
//! training set -> LoRA SFT -> PPO-simple (binary reward), PPO-fresh (partial credit), PPO-continue
//! (partial credit from PPO-simple's best policy; the KL reference stays the SFT adapter) -> every
//! model evaluated on the same problems with the same sampling seed (each PPO variant at its best
//! held-out validation checkpoint, never chosen on the evaluation problems) -> a Markdown/JSON/CSV
//! report with CIs, paired tests against SFT and the paper's numbers, and plots. Every stage writes
//! into one run folder, which also holds the resolved config.
//!
//! [`evaluation`] holds what every evaluation shares: the evaluation section, one model's samples,
//! the summaries, the paired comparisons, and the report with its bar chart.

mod config;
pub mod evaluation;
mod pipeline;
mod progress;

pub use config::{QuickstartConfig, SweepConfig};
pub use evaluation::{EvalConfig, EvalRun};
pub use pipeline::{Carved, PipelineOutcome, carve, run_pipeline};
pub use progress::{Progress, Quiet, Task};

/// A running reward model for resolved `[reward]` and `[sandbox]` sections: the scanner the reward
/// section names, and a sandbox that fails to start, naming the missing layer, when the kernel
/// cannot isolate.
pub fn start_reward(
    reward: &scrl_reward::RewardConfig,
    sandbox: &scrl_sandbox::SandboxConfig,
) -> anyhow::Result<scrl_reward::RewardModel> {
    use anyhow::Context;
    reward.validate()?;
    let scanner = reward.start_scanner()?;
    let sandbox = scrl_sandbox::Sandbox::new(sandbox.clone()).context("starting the sandbox")?;
    Ok(scrl_reward::RewardModel::new(
        reward.clone(),
        std::sync::Arc::new(sandbox),
        scanner,
    )?)
}

//! The rows of the trainers' `metrics.jsonl`, as types: PPO writes [`PpoEpisodeRow`], SFT
//! [`SftStepRow`], and the plots read them back as the same types, so a field renamed on one side
//! is a compile error on the other, not a plot that silently reads nothing.

use std::path::Path;

use scrl_reward::{RewardKind, Stage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// What the policy did in an episode.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainingPhase {
    /// Only the value head trained (the first `value_warmup_episodes`).
    ValueWarmup,
    /// The policy and the value head trained.
    #[default]
    Update,
}

/// One PPO (GRPO, RLOO) episode: everything that explains what it did, flat run or not.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PpoEpisodeRow {
    pub episode: u64,
    pub step: u64,
    /// The functional reward the episode trained on.
    pub reward_kind: RewardKind,
    pub phase: TrainingPhase,
    pub reward_mean: f64,
    /// Standard deviation of the rewards within the batch.
    pub reward_std: f64,
    pub r_func_mean: f64,
    pub r_sec_mean: f64,
    /// Samples of the batch per ladder stage, indexed by stage number ([`Stage::ALL`]).
    pub stage_counts: [u32; Stage::ALL.len()],
    pub all_tests_passed_rate: f64,
    /// Share of the batch's prompts whose samples all got the same reward (no signal within them).
    pub same_reward_prompt_share: f64,
    /// Share of completions that ended without EOS (cut at `max_new_tokens`).
    pub truncation_rate: f64,
    pub advantage_abs_mean: f64,
    pub kl_mean: f64,
    pub kl_coef: f64,
    pub entropy: f32,
    pub policy_loss: f64,
    pub value_loss: f64,
    /// 1 - Var(returns - values) / Var(returns) over completion tokens, before the update.
    pub value_explained_variance: f64,
    pub policy_grad_norm: f64,
    pub value_grad_norm: f64,
    pub clip_fraction: f64,
    pub approx_kl: f64,
    /// Largest difference between the sampler's log-probs and the training forward's.
    pub logprob_mismatch: f32,
    pub response_length_mean: f64,
    pub generation_tokens_per_s: f64,
    pub seconds_generate: f64,
    pub seconds_reward: f64,
    pub seconds_forward: f64,
    pub seconds_update: f64,
    pub seconds_episode: f64,
    /// Validation reward after this episode, when it validated.
    pub val_reward: Option<f64>,
}

/// One SFT optimizer step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SftStepRow {
    pub step: u64,
    pub epoch: u64,
    /// Mean cross-entropy per target token of the step.
    pub train_loss: f64,
    /// Validation loss, on the steps that validated.
    pub val_loss: Option<f64>,
    pub lr: f64,
    pub grad_norm: f64,
    pub target_tokens: u64,
    pub tokens_per_s: f64,
}

/// Reads a metrics JSON Lines file as rows of `T`; blank lines are skipped, and a line that is not
/// a `T` is an error naming the file and the line.
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(crate::error::io_err(path))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(serde_json::from_str(line).map_err(|e| EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?);
    }
    Ok(rows)
}

//! PPO as in the paper, with the authors' scripts' defects fixed (credit that reaches every token,
//! a reference that is the SFT adapter, checkpoint selection on held-out prompts), and the
//! group-relative variants.
//!
//! One episode, top to bottom, one function per phase (`run_ppo`'s loop reads as the algorithm):
//! [`collect_rollouts`] (`batch_size` prompts in a seeded order, `group_size` samples each, LoRA
//! on) -> [`score_and_pass`] (the reward on another thread while the old-policy, value and
//! reference passes run) -> [`advantages`] (per-token KL to the frozen SFT reference; GAE on a
//! value head for PPO, group-relative for GRPO/RLOO: every per-algorithm difference is in
//! [`Algorithm`]'s methods) -> [`update`] (`ppo_epochs` passes of clipped-surrogate updates over
//! minibatches; the value head on its own optimizer) -> [`validate`] and checkpoints.
//!
//! The reference is the SFT adapter frozen on the same base tensors (`LoraMode::Reference`), never
//! the base model when an SFT adapter is given, and never a second copy of the base weights. Old
//! log-probs are the policy's log-probs of the very token ids it sampled, at the sampling
//! temperature, recomputed by the training forward so that ratio and KL start at exactly 1 and 0.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Tensor};
use scrl_eval::{PpoEpisodeRow, TrainingPhase};
use scrl_model::{AdamW, AdamWParams, Finish, FrozenOps, LoraMode, SamplingParams, token_logprobs};
use scrl_reward::{RewardBreakdown, RewardConfig, RewardKind, RewardModel, Stage, TestSpec};
use scrl_sandbox::SandboxConfig;
use serde::{Deserialize, Serialize};

use crate::advantages::{gae, grpo, rloo, token_rewards, whiten};
use crate::checkpoint::{ValueHead, read_json, write_atomic, write_dir, write_json};
use crate::evaluate::test_spec;
use crate::kl::KlController;
use crate::losses::{KlEstimator, entropy, kl_per_token, masked_mean, policy_loss, value_loss};
use crate::metrics::MetricsLog;
use crate::policy::{LoraSettings, Policy, PromptStyle, device, dtype};
use crate::schedule::RewardSchedule;
use crate::sft::pad_right;
use crate::{SeedPurpose, TrainError, derive_seed, permutation};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Clipped PPO with a value head and GAE (the paper).
    #[default]
    Ppo,
    /// Group-relative: k samples per prompt, advantages (r - mean) / std, KL as a loss term (k3).
    Grpo,
    /// REINFORCE leave-one-out: k samples per prompt, r minus the mean of the others, KL in the
    /// reward.
    Rloo,
}

/// The `ppo` command's config, every field a TOML key and a flag (`--kl-coef 0.05`; a boolean is
/// `--value-detach=false`), with this text as its help. The defaults are the paper's settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    /// The base checkpoint folder (config.json, safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// The SFT adapter: the starting policy and the KL reference. Without it both are the base
    /// model.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Start the policy (and value head) from this PPO output folder (`final`, `best` or
    /// `checkpoint`): PPO-continue. The KL reference stays the SFT adapter.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Problems JSONL with tests (see `securecoderl data import`); the training prompts.
    #[arg(long)]
    pub data: PathBuf,
    /// The run folder: final/, best/, checkpoint/, metrics.jsonl, summary.json, config.toml.
    #[arg(long)]
    pub out: PathBuf,
    /// `ppo` (clipped PPO with a value head and GAE, the paper), `grpo` or `rloo`.
    #[arg(long, value_enum)]
    pub algo: Algorithm,
    /// Episodes (one batch of rollouts and its update each).
    #[arg(long)]
    pub episodes: u64,
    /// Prompts per episode.
    #[arg(long)]
    pub batch_size: usize,
    /// Samples per prompt, every algorithm (GRPO and RLOO need >= 2): several samples of one prompt
    /// give a reward spread within the prompt, which is what the update learns from.
    #[arg(long)]
    pub group_size: usize,
    /// The policy's (LoRA's) learning rate.
    #[arg(long)]
    pub lr: f64,
    /// Passes of the update over each episode's rollouts.
    #[arg(long)]
    pub ppo_epochs: usize,
    /// Sequences per minibatch (default: the whole batch).
    #[arg(long)]
    pub minibatch_size: Option<usize>,
    /// The ratio clip epsilon of the surrogate loss.
    #[arg(long)]
    pub clip: f64,
    /// How far the value prediction may move from the old one per update (PPO's value clip).
    #[arg(long)]
    pub value_clip: f64,
    /// Weight of the value loss.
    #[arg(long)]
    pub vf_coef: f64,
    /// Discount of the per-token rewards.
    #[arg(long)]
    pub gamma: f32,
    /// GAE lambda of the policy's advantages. 1 (the default) gives every token the sequence's
    /// return minus its value, so credit reaches the start of a long program.
    #[arg(long)]
    pub lam: f32,
    /// GAE lambda of the value head's targets.
    #[arg(long)]
    pub value_lam: f32,
    /// The value head's learning rate (default: 10x `lr`, as veRL's critic): it starts from scratch
    /// and must track the returns faster than the policy moves.
    #[arg(long)]
    pub value_lr: Option<f64>,
    /// Train only the value head for this many first episodes (the policy does not move).
    #[arg(long)]
    pub value_warmup_episodes: u64,
    /// The value head reads the policy's hidden states detached (the default), so the value loss
    /// does not train the policy's LoRA.
    #[arg(long)]
    pub value_detach: bool,
    /// Weight of the KL penalty to the reference (the SFT adapter).
    #[arg(long)]
    pub kl_coef: f64,
    /// Adaptive KL control towards this per-sequence KL (default: the coefficient stays fixed).
    #[arg(long)]
    pub kl_target: Option<f64>,
    /// Horizon of the adaptive KL controller, in sequences.
    #[arg(long)]
    pub kl_horizon: f64,
    /// Per-token KL estimate: `k1` (log pi - log pi_ref) or `k3` (always >= 0).
    #[arg(long, value_enum)]
    pub kl_estimator: KlEstimator,
    /// Whiten the advantages over the batch (mean 0, standard deviation 1).
    #[arg(long)]
    pub whiten_advantages: bool,
    /// Gradient-norm clip of each update.
    #[arg(long)]
    pub max_grad_norm: f64,
    /// Sampling temperature of the rollouts (log-probs are taken at it).
    #[arg(long)]
    pub temperature: f64,
    /// Nucleus sampling of the rollouts (1: off).
    #[arg(long)]
    pub top_p: f64,
    /// Top-k sampling of the rollouts (0: off).
    #[arg(long)]
    pub top_k: usize,
    /// Longest completion, in tokens.
    #[arg(long)]
    pub max_new_tokens: usize,
    /// Problems whose prompt is longer than this many tokens are skipped and counted.
    #[arg(long)]
    pub max_prompt_tokens: usize,
    /// Subtracted from the reward of a completion that ends without EOS (cut at `max_new_tokens`).
    #[arg(long)]
    pub truncation_penalty: f64,
    /// Binary reward for the first N episodes, then partial credit: the curriculum as one job.
    #[arg(long)]
    pub binary_episodes: Option<u64>,
    /// Validation problems (JSONL), kept out of training (default: `val_prompts` of `data` are held
    /// out).
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Held-out prompts for validation reward (chooses `best`); at most this many of `val_data`.
    #[arg(long)]
    pub val_prompts: usize,
    /// Samples per validation prompt, at the training temperature, with the same seeds at every
    /// validation so that checkpoints are compared on the same random stream.
    #[arg(long)]
    pub val_samples: usize,
    /// Validate every N episodes (and at the end); 0 = only at the end.
    #[arg(long)]
    pub val_every: u64,
    /// Write a resumable checkpoint every N episodes (and at the end).
    #[arg(long)]
    pub save_every: u64,
    /// End the run after this episode with a checkpoint, as an interruption would (`--resume`
    /// continues).
    #[arg(long)]
    pub stop_at: Option<u64>,
    /// Seed of every random choice of the run (prompt order, sampling, dropout).
    #[arg(long)]
    pub seed: u64,
    /// LoRA shape when no SFT adapter is given.
    #[command(flatten)]
    pub lora: LoraSettings,
    /// `auto` (chat when the checkpoint has a chat template), `completion` or `chat`.
    #[arg(long, value_enum)]
    pub prompt_style: PromptStyle,
    /// f32, bf16 or f16 for the base weights (LoRA stays f32).
    #[arg(long)]
    pub dtype: String,
    /// cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: String,
    /// How backward treats the frozen base weights: `input_grad_only` (computes no gradient for
    /// them) or `candle` (candle's own ops, the path before issue 14; for `bench ppo`'s
    /// comparison).
    #[arg(long, value_enum)]
    pub frozen_ops: FrozenOps,
    /// The reward: `[reward]` in TOML. Its `kind` is the functional reward of every episode,
    /// unless `binary_episodes` sets a curriculum.
    #[command(flatten)]
    pub reward: RewardConfig,
    /// The sandbox the reward runs programs in: `[sandbox]` in TOML.
    #[command(flatten)]
    pub sandbox: SandboxConfig,
}

impl Default for PpoConfig {
    /// The paper's settings: 500 episodes, batch 2, lr 1e-6, clip 0.2, 4 epochs, T 0.7, KL 0.1.
    fn default() -> Self {
        PpoConfig {
            model: PathBuf::new(),
            adapter: None,
            init_from: None,
            data: PathBuf::new(),
            out: PathBuf::from("runs/ppo"),
            algo: Algorithm::Ppo,
            episodes: 500,
            batch_size: 2,
            group_size: 1,
            lr: 1e-6,
            ppo_epochs: 4,
            minibatch_size: None,
            clip: 0.2,
            value_clip: 0.2,
            vf_coef: 0.1,
            gamma: 1.0,
            lam: 1.0,
            value_lam: 0.95,
            value_lr: None,
            value_warmup_episodes: 0,
            value_detach: true,
            kl_coef: 0.1,
            kl_target: None,
            kl_horizon: 10_000.0,
            kl_estimator: KlEstimator::K1,
            whiten_advantages: true,
            max_grad_norm: 1.0,
            temperature: 0.7,
            top_p: 1.0,
            top_k: 0,
            max_new_tokens: 512,
            max_prompt_tokens: 1024,
            truncation_penalty: 0.0,
            binary_episodes: None,
            val_data: None,
            val_prompts: 32,
            val_samples: 4,
            val_every: 50,
            save_every: 50,
            stop_at: None,
            seed: 42,
            lora: LoraSettings::default(),
            prompt_style: PromptStyle::Auto,
            dtype: "f32".into(),
            device: "cpu".into(),
            frozen_ops: FrozenOps::default(),
            reward: RewardConfig::default(),
            sandbox: SandboxConfig::default(),
        }
    }
}

impl PpoConfig {
    // `!(x > 0.0)` is meant: NaN must fail these checks, and `x <= 0.0` would let it through.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.episodes == 0 || self.batch_size == 0 || self.ppo_epochs == 0 {
            return bad("episodes, batch_size and ppo_epochs must be >= 1".into());
        }
        if self.group_size == 0 || (self.algo != Algorithm::Ppo && self.group_size < 2) {
            return bad(format!(
                "{:?} needs group_size >= {} (samples per prompt)",
                self.algo,
                if self.algo == Algorithm::Ppo { 1 } else { 2 }
            ));
        }
        if !(0.0..=1.0).contains(&self.lam)
            || !(0.0..=1.0).contains(&self.value_lam)
            || !(0.0..=1.0).contains(&self.gamma)
        {
            return bad("gamma, lam and value_lam must be in [0, 1]".into());
        }
        if self.value_lr.is_some_and(|v| !(v > 0.0)) || self.truncation_penalty < 0.0 {
            return bad("value_lr must be > 0 and truncation_penalty >= 0".into());
        }
        if self.seed > i64::MAX as u64 {
            return bad(format!(
                "seed {} does not fit a TOML integer (at most {})",
                self.seed,
                i64::MAX
            ));
        }
        if self.val_samples == 0 {
            return bad("val_samples must be >= 1".into());
        }
        if self.value_warmup_episodes > 0 && !self.algo.uses_value_head() {
            return bad(format!(
                "value_warmup_episodes needs a value head, which {:?} has not",
                self.algo
            ));
        }
        if self.value_warmup_episodes >= self.episodes {
            return bad(format!(
                "value_warmup_episodes ({}) must be below episodes ({})",
                self.value_warmup_episodes, self.episodes
            ));
        }
        if !(self.temperature > 0.0) {
            return bad(
                "temperature must be > 0 for RL (log-probs are taken at that temperature)".into(),
            );
        }
        if !(self.lr > 0.0) || !(self.clip > 0.0) || self.kl_coef < 0.0 {
            return bad("lr and clip must be > 0 and kl_coef >= 0".into());
        }
        if self.max_new_tokens == 0 {
            return bad("max_new_tokens must be >= 1".into());
        }
        self.reward
            .validate()
            .map_err(|e| TrainError::Config(format!("[reward]: {e}")))?;
        Ok(())
    }

    /// The reward validation (and so the choice of `best`) uses: the one the run trains on at its
    /// end.
    pub fn selection_reward(&self) -> RewardKind {
        self.schedule().kind_at(self.episodes.saturating_sub(1))
    }

    pub fn value_lr(&self) -> f64 {
        self.value_lr.unwrap_or(10.0 * self.lr)
    }

    pub fn schedule(&self) -> RewardSchedule {
        match self.binary_episodes {
            Some(n) => RewardSchedule::BinaryThenPartial { binary_episodes: n },
            None => RewardSchedule::Constant {
                reward: self.reward.kind,
            },
        }
    }

    fn kl_controller(&self) -> KlController {
        match self.kl_target {
            Some(target) => KlController::Adaptive {
                coef: self.kl_coef,
                target,
                horizon: self.kl_horizon,
            },
            None => KlController::Fixed { coef: self.kl_coef },
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct PpoState {
    /// The next episode to run.
    episode: u64,
    seed: u64,
    algo: Algorithm,
    base_fingerprint: String,
    reference: Option<PathBuf>,
    kl: KlController,
    /// Validation reward of the starting policy, the baseline the run is judged against.
    initial_val_reward: f64,
    best_val_reward: Option<f64>,
    /// The episode after which `best` was saved.
    #[serde(default)]
    best_episode: Option<u64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct PpoSummary {
    pub episodes: u64,
    pub train_prompts: usize,
    pub val_prompts: usize,
    pub skipped_prompts: usize,
    pub first_reward_mean: f64,
    pub last_reward_mean: f64,
    /// The reward validation uses (the one trained on at the end of the run).
    pub selection_reward: RewardKind,
    /// Validation reward before the first update and after the last one.
    pub initial_val_reward: f64,
    pub final_val_reward: Option<f64>,
    pub best_val_reward: Option<f64>,
    /// The episode whose policy `best` holds.
    pub best_episode: Option<u64>,
    /// Whether some validation beat the starting policy; when false, `best` is no better than where
    /// the run started, and reports say so.
    pub beat_start: bool,
    pub final_dir: PathBuf,
    pub best_dir: PathBuf,
    pub seconds: f64,
    pub reference: String,
}

/// One sampled completion with everything the update needs.
struct Rollout {
    prompt: Vec<u32>,
    response: Vec<u32>,
    sampled_logp: Vec<f32>,
    text: String,
    /// Index of its prompt in the episode's batch.
    group: usize,
    /// Ended with EOS (false: cut at `max_new_tokens`).
    eos: bool,
}

/// A prompt the trainer can use: its token ids and how its completions are checked.
struct PromptItem {
    ids: Vec<u32>,
    tests: TestSpec,
}

impl Algorithm {
    fn uses_value_head(self) -> bool {
        self == Algorithm::Ppo
    }

    /// Per-token advantages and value targets of each rollout (the only place the algorithms differ
    /// in how credit is assigned). PPO: GAE on the value head over per-token rewards (the sequence
    /// reward on the last token, the KL penalty on every token), `lam` for the advantages and
    /// `value_lam` for the targets, then whitened. GRPO: (r - group mean) / group std; RLOO: r
    /// minus the mean of the others, with the KL penalty in the reward; one advantage for every
    /// token of a completion.
    fn advantages(
        self,
        cfg: &PpoConfig,
        p: &Passes,
        rewards: &[f32],
        kl_coef: f32,
        groups: &[usize],
    ) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
        match self {
            Algorithm::Ppo => {
                let (mut adv, mut rets) = (Vec::new(), Vec::new());
                for (k, &(i, s, n)) in p.batch.spans.iter().enumerate() {
                    let tr = token_rewards(rewards[k], &p.kl_rows[i][s..s + n], kl_coef);
                    let v = &p.value_rows[i][s..s + n];
                    adv.push(gae(&tr, v, cfg.gamma, cfg.lam).0);
                    rets.push(gae(&tr, v, cfg.gamma, cfg.value_lam).1);
                }
                if cfg.whiten_advantages {
                    whiten(&mut adv);
                }
                (adv, rets)
            }
            Algorithm::Grpo | Algorithm::Rloo => {
                let shaped: Vec<f32> = match self {
                    Algorithm::Rloo => rewards
                        .iter()
                        .zip(&p.seq_kl)
                        .map(|(r, k)| r - kl_coef * k)
                        .collect(),
                    _ => rewards.to_vec(),
                };
                let mut seq_adv = vec![0f32; rewards.len()];
                for g in 0..groups.iter().max().map_or(0, |m| m + 1) {
                    let members: Vec<usize> =
                        (0..rewards.len()).filter(|&i| groups[i] == g).collect();
                    let rs: Vec<f32> = members.iter().map(|&i| shaped[i]).collect();
                    let a = if self == Algorithm::Grpo {
                        grpo(&rs)
                    } else {
                        rloo(&rs)
                    };
                    for (&i, a) in members.iter().zip(a) {
                        seq_adv[i] = a;
                    }
                }
                p.batch
                    .spans
                    .iter()
                    .map(|&(i, _, n)| (vec![seq_adv[i]; n], vec![0.0; n]))
                    .unzip()
            }
        }
    }

    /// The loss of one minibatch besides the clipped surrogate: the value loss for PPO, the k3 KL
    /// term for GRPO, nothing for RLOO (its KL is in the reward). Returns (extra loss, value loss
    /// for the metrics).
    fn extra_loss(
        self,
        cfg: &PpoConfig,
        mb: &Minibatch,
        kl_coef: f64,
    ) -> Result<(Option<Tensor>, f64), TrainError> {
        match self {
            Algorithm::Ppo => {
                let hidden = mb.out.hidden.narrow(1, 0, mb.width)?;
                let hidden = if cfg.value_detach {
                    hidden.detach()
                } else {
                    hidden
                };
                let v = mb.value.forward(&hidden)?;
                let vl = value_loss(&v, &mb.old_values, &mb.returns, &mb.mask, cfg.value_clip)?;
                let shown = vl.to_scalar::<f32>()? as f64;
                Ok((Some((vl * cfg.vf_coef)?), shown))
            }
            Algorithm::Grpo => {
                let k3 = kl_per_token(&mb.new_lp, &mb.ref_lp, KlEstimator::K3)?;
                Ok((Some((masked_mean(&k3, &mb.mask)? * kl_coef)?), 0.0))
            }
            Algorithm::Rloo => Ok((None, 0.0)),
        }
    }
}

/// Scores completions (code extracted first) with the given functional reward.
fn score(
    policy: &Policy,
    reward: &RewardModel,
    rollouts: &[Rollout],
    items: &[&PromptItem],
    kind: RewardKind,
) -> Result<Vec<RewardBreakdown>, TrainError> {
    let codes: Vec<String> = rollouts.iter().map(|r| policy.extract(&r.text)).collect();
    let pairs: Vec<(&str, &TestSpec)> = codes
        .iter()
        .zip(rollouts)
        .map(|(c, r)| (c.as_str(), &items[r.group].tests))
        .collect();
    reward
        .score_batch(&pairs)
        .into_iter()
        .map(|r| Ok(r?.with_kind(kind)))
        .collect()
}

/// Phase 1: `samples` completions of each prompt, with the sampler's log-probs and finish reasons.
fn collect_rollouts(
    policy: &Policy,
    cfg: &PpoConfig,
    items: &[&PromptItem],
    samples: usize,
    seed: u64,
) -> Result<Vec<Rollout>, TrainError> {
    let prompts: Vec<Vec<u32>> = items
        .iter()
        .flat_map(|it| std::iter::repeat_n(it.ids.clone(), samples))
        .collect();
    let params = SamplingParams {
        max_new_tokens: cfg.max_new_tokens,
        temperature: cfg.temperature,
        top_p: cfg.top_p,
        top_k: cfg.top_k,
        stop: Vec::new(),
        seed,
        stream_offset: 0,
    };
    let out = scrl_model::sample(
        &policy.decoder,
        &policy.tokenizer,
        &prompts,
        &params,
        LoraMode::On,
    )?;
    Ok(out
        .into_iter()
        .zip(prompts)
        .enumerate()
        .map(|(i, (s, prompt))| Rollout {
            prompt,
            eos: s.finish == Finish::Eos,
            response: s.token_ids,
            sampled_logp: s.logprobs,
            text: s.text,
            group: i / samples,
        })
        .collect())
}

/// Tensors of a batch of rollouts: position j of the (len - 1) axis predicts token j + 1.
struct Batch {
    ids: Tensor,
    attn: Tensor,
    targets: Tensor,
    /// 1 where the predicted token is a response token.
    mask: Tensor,
    /// (row, first position, count) of each response on the (len - 1) axis.
    spans: Vec<(usize, usize, usize)>,
    width: usize,
}

fn build_batch(policy: &Policy, rollouts: &[Rollout]) -> Result<Batch, TrainError> {
    let dev = policy.decoder.device().clone();
    let seqs: Vec<Vec<u32>> = rollouts
        .iter()
        .map(|r| [r.prompt.as_slice(), r.response.as_slice()].concat())
        .collect();
    let (ids, attn) = pad_right(&seqs, policy.tokenizer.pad_id(), &dev)?;
    let (b, len) = ids.dims2()?;
    let width = len - 1;
    let mut m = vec![0f32; b * width];
    let mut spans = Vec::new();
    for (i, r) in rollouts.iter().enumerate() {
        let start = r.prompt.len() - 1;
        for j in start..start + r.response.len() {
            m[i * width + j] = 1.0;
        }
        spans.push((i, start, r.response.len()));
    }
    Ok(Batch {
        targets: ids.narrow(1, 1, width)?.contiguous()?,
        ids,
        attn,
        mask: Tensor::from_vec(m, (b, width), &dev)?,
        spans,
        width,
    })
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f32>>, TrainError> {
    Ok(t.to_dtype(DType::F32)?.to_vec2::<f32>()?)
}

/// Scatters per-response values into a (batch, width) tensor at the response positions.
fn scatter(
    values: &[Vec<f32>],
    spans: &[(usize, usize, usize)],
    width: usize,
    dev: &candle_core::Device,
) -> Result<Tensor, TrainError> {
    let mut out = vec![0f32; spans.len() * width];
    for ((row, start, n), v) in spans.iter().zip(values) {
        out[row * width + start..row * width + start + n].copy_from_slice(&v[..*n]);
    }
    Ok(Tensor::from_vec(out, (spans.len(), width), dev)?)
}

/// What the old-policy, value and reference passes give for a batch.
struct Passes {
    batch: Batch,
    old_lp: Tensor,
    values: Tensor,
    ref_lp: Tensor,
    kl_rows: Vec<Vec<f32>>,
    old_rows: Vec<Vec<f32>>,
    value_rows: Vec<Vec<f32>>,
    /// Summed per-token KL of each rollout.
    seq_kl: Vec<f32>,
    entropy: f32,
}

/// Phase 2: the reward of every rollout (on a second thread) while this thread runs the old-policy,
/// value and reference passes over the same token ids. Returns (scores, passes, and the
/// seconds of the reward and of the passes).
fn score_and_pass(
    policy: &Policy,
    value: &ValueHead,
    reward: &RewardModel,
    cfg: &PpoConfig,
    rollouts: &[Rollout],
    items: &[&PromptItem],
    kind: RewardKind,
) -> Result<(Vec<RewardBreakdown>, Passes, f64, f64), TrainError> {
    let batch = build_batch(policy, rollouts)?;
    let (scores, t_reward, passes) = std::thread::scope(|s| {
        let scorer = s.spawn(|| {
            let t = Instant::now();
            (
                score(policy, reward, rollouts, items, kind),
                t.elapsed().as_secs_f64(),
            )
        });
        let t = Instant::now();
        let passes = (|| -> Result<_, TrainError> {
            let b = &batch;
            let out = policy
                .decoder
                .forward_train(&b.ids, Some(&b.attn), LoraMode::On)?;
            let logits = out.logits.narrow(1, 0, b.width)?;
            let old_lp = token_logprobs(&logits, &b.targets, cfg.temperature)?.detach();
            let values = value.forward(&out.hidden.narrow(1, 0, b.width)?)?.detach();
            let ent = entropy(&logits.detach(), &b.mask)?.to_scalar::<f32>()?;
            let ref_out =
                policy
                    .decoder
                    .forward_train(&b.ids, Some(&b.attn), LoraMode::Reference)?;
            let ref_lp = token_logprobs(
                &ref_out.logits.narrow(1, 0, b.width)?,
                &b.targets,
                cfg.temperature,
            )?
            .detach();
            Ok((old_lp, values, ref_lp, ent, t.elapsed().as_secs_f64()))
        })();
        let (scores, t_reward) = scorer.join().expect("the scoring thread does not panic");
        (scores, t_reward, passes)
    });
    let scores = scores?;
    let (old_lp, values, ref_lp, entropy, t_pass) = passes?;
    let kl_rows = rows(&kl_per_token(&old_lp, &ref_lp, cfg.kl_estimator)?)?;
    let seq_kl = batch
        .spans
        .iter()
        .map(|&(i, s, n)| kl_rows[i][s..s + n].iter().sum())
        .collect();
    let passes = Passes {
        old_rows: rows(&old_lp)?,
        value_rows: rows(&values)?,
        kl_rows,
        seq_kl,
        batch,
        old_lp,
        values,
        ref_lp,
        entropy,
    };
    Ok((scores, passes, t_reward, t_pass))
}

/// The sequence rewards the update learns from: the joint reward minus `truncation_penalty` for a
/// completion that did not end with EOS.
fn sequence_rewards(rewards: &[f64], eos: &[bool], truncation_penalty: f64) -> Vec<f32> {
    rewards
        .iter()
        .zip(eos)
        .map(|(r, &e)| (r - if e { 0.0 } else { truncation_penalty }) as f32)
        .collect()
}

/// The mean undiscounted return of a batch: sequence reward minus the KL penalty summed over its
/// tokens.
fn mean_return(rewards: &[f32], seq_kl: &[f32], kl_coef: f32) -> f32 {
    rewards
        .iter()
        .zip(seq_kl)
        .map(|(r, k)| r - kl_coef * k)
        .sum::<f32>()
        / rewards.len().max(1) as f32
}

/// Whether a validation reward `v` replaces the best so far: a later validation wins a tie, so
/// between equals the policy that trained longer is kept.
fn improves(best: Option<f64>, v: f64) -> bool {
    best.is_none_or(|b| v >= b)
}

/// Starts the value head's bias at the mean return of the first batch, so its first targets are not
/// all far from its outputs: shifts `passes`' values by the same amount.
fn start_value_bias(
    value: &ValueHead,
    passes: &mut Passes,
    rewards: &[f32],
    kl_coef: f32,
) -> Result<(), TrainError> {
    let mean = mean_return(rewards, &passes.seq_kl, kl_coef);
    let bias = value.bias.as_tensor().to_vec1::<f32>()?[0];
    let shift = mean - bias;
    value
        .bias
        .set(&Tensor::new(&[mean], value.bias.device())?)?;
    passes.values = (&passes.values + shift as f64)?;
    for row in &mut passes.value_rows {
        row.iter_mut().for_each(|v| *v += shift);
    }
    Ok(())
}

/// 1 - Var(returns - values) / Var(returns) over every completion token (NaN when returns are
/// constant).
pub fn explained_variance(returns: &[Vec<f32>], values: &[Vec<f32>]) -> f64 {
    let var = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len().max(1) as f64
    };
    let r: Vec<f64> = returns.iter().flatten().map(|&x| x as f64).collect();
    let d: Vec<f64> = returns
        .iter()
        .flatten()
        .zip(values.iter().flatten())
        .map(|(&a, &b)| (a - b) as f64)
        .collect();
    let vr = var(&r);
    if vr < 1e-12 {
        f64::NAN
    } else {
        1.0 - var(&d) / vr
    }
}

/// The tensors of one minibatch that the per-algorithm loss needs.
struct Minibatch<'a> {
    out: scrl_model::ForwardOutput,
    new_lp: Tensor,
    old_values: Tensor,
    returns: Tensor,
    ref_lp: Tensor,
    mask: Tensor,
    width: usize,
    value: &'a ValueHead,
}

/// Sums of the update's statistics over minibatches.
#[derive(Default)]
struct UpdateStats {
    policy_loss: f64,
    value_loss: f64,
    clip_fraction: f64,
    approx_kl: f64,
    policy_grad_norm: f64,
    value_grad_norm: f64,
    minibatches: usize,
}

impl UpdateStats {
    fn mean(&self, x: f64) -> f64 {
        x / self.minibatches.max(1) as f64
    }
}

/// The optimizers: the policy's LoRA and, for PPO, the value head on its own learning rate and
/// clip.
struct Optimizers {
    policy: AdamW,
    value: Option<AdamW>,
}

impl Optimizers {
    fn new(policy: &Policy, value: &ValueHead, cfg: &PpoConfig) -> Result<Optimizers, TrainError> {
        let params = AdamWParams {
            weight_decay: 0.0,
            max_grad_norm: Some(cfg.max_grad_norm),
            ..Default::default()
        };
        Ok(Optimizers {
            policy: AdamW::new(policy.decoder.trainable_vars(), params)?,
            value: if cfg.algo.uses_value_head() {
                Some(value.optimizer(params)?)
            } else {
                None
            },
        })
    }

    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        self.policy.save(&dir.join("optimizer.safetensors"))?;
        if let Some(v) = &self.value {
            v.save(&dir.join("value_optimizer.safetensors"))?;
        }
        Ok(())
    }

    fn load(&mut self, dir: &Path) -> Result<(), TrainError> {
        self.policy.load(&dir.join("optimizer.safetensors"))?;
        if let Some(v) = &mut self.value {
            v.load(&dir.join("value_optimizer.safetensors"))?;
        }
        Ok(())
    }
}

/// Phase 4: `ppo_epochs` passes over seeded minibatches. During the value warm-up only the value
/// head steps (the policy's LoRA gets no update).
#[allow(clippy::too_many_arguments)]
fn update(
    policy: &Policy,
    value: &ValueHead,
    opt: &mut Optimizers,
    cfg: &PpoConfig,
    p: &Passes,
    adv: &Tensor,
    returns: &Tensor,
    kl_coef: f64,
    policy_moves: bool,
    seed: u64,
) -> Result<UpdateStats, TrainError> {
    let dev = policy.decoder.device().clone();
    let n = p.batch.spans.len();
    let mb = cfg.minibatch_size.unwrap_or(n).clamp(1, n);
    let mut st = UpdateStats::default();
    for e in 0..cfg.ppo_epochs {
        let perm = permutation(n, derive_seed(seed, SeedPurpose::MinibatchOrder, e as u64));
        for chunk in perm.chunks(mb) {
            let idx = Tensor::from_vec(
                chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                chunk.len(),
                &dev,
            )?;
            let pick = |t: &Tensor| t.index_select(&idx, 0);
            let (mask, targets) = (pick(&p.batch.mask)?, pick(&p.batch.targets)?);
            let out = policy.decoder.forward_train(
                &pick(&p.batch.ids)?,
                Some(&pick(&p.batch.attn)?),
                LoraMode::On,
            )?;
            let new_lp = token_logprobs(
                &out.logits.narrow(1, 0, p.batch.width)?,
                &targets,
                cfg.temperature,
            )?;
            let old = pick(&p.old_lp)?;
            let (pl, cf) = policy_loss(&new_lp, &old, &pick(adv)?, &mask, cfg.clip)?;
            let mbatch = Minibatch {
                out,
                new_lp: new_lp.clone(),
                old_values: pick(&p.values)?,
                returns: pick(returns)?,
                ref_lp: pick(&p.ref_lp)?,
                mask: mask.clone(),
                width: p.batch.width,
                value,
            };
            let (extra, vl) = cfg.algo.extra_loss(cfg, &mbatch, kl_coef)?;
            let loss = match (policy_moves, extra) {
                (true, Some(x)) => (&pl + x)?,
                (true, None) => pl.clone(),
                (false, Some(x)) => x,
                (false, None) => break,
            };
            let grads = loss.backward()?;
            if policy_moves {
                st.policy_grad_norm += opt.policy.step(&grads, cfg.lr)?;
            }
            if let Some(v) = &mut opt.value {
                st.value_grad_norm += v.step(&grads, cfg.value_lr())?;
            }
            st.policy_loss += pl.to_scalar::<f32>()? as f64;
            st.value_loss += vl;
            st.clip_fraction += cf as f64;
            st.approx_kl +=
                masked_mean(&(old - new_lp.detach())?, &mask)?.to_scalar::<f32>()? as f64;
            st.minibatches += 1;
        }
    }
    Ok(st)
}

/// Loads the starting policy: base, then the SFT adapter frozen as the reference (or a fresh
/// adapter whose frozen copy is the base), then optionally a PPO checkpoint's adapter on top.
/// Returns whether a value head was loaded too (then its bias is not re-started).
fn build_policy(cfg: &PpoConfig) -> Result<(Policy, ValueHead, String, bool), TrainError> {
    let dev = device(&cfg.device)?;
    let mut policy = Policy::load(&cfg.model, cfg.prompt_style, dtype(&cfg.dtype)?, &dev)?;
    policy.decoder.set_frozen_ops(cfg.frozen_ops);
    let reference = match &cfg.adapter {
        Some(a) => {
            policy.decoder.load_adapter(a)?;
            format!("SFT adapter {}", a.display())
        }
        None => {
            policy.decoder.attach_lora(
                cfg.lora.to_model(),
                derive_seed(cfg.seed, SeedPurpose::LoraInit, 0),
            )?;
            "the base model (no SFT adapter was given)".to_string()
        }
    };
    policy.decoder.freeze_reference()?;
    let value = ValueHead::new(policy.decoder.config().hidden_size, &dev)?;
    let mut value_loaded = false;
    if let Some(from) = &cfg.init_from {
        let adapter = from.join("adapter");
        if !adapter.join("adapter_config.json").exists() {
            return Err(TrainError::Checkpoint {
                path: from.clone(),
                message: "has no adapter/ folder: --init-from takes a PPO output folder (final, \
                          best or checkpoint)"
                    .into(),
            });
        }
        policy.decoder.load_adapter(&adapter)?;
        let vh = from.join("value_head.safetensors");
        if vh.exists() {
            value.load(&vh)?;
            value_loaded = true;
        }
    }
    Ok((policy, value, reference, value_loaded))
}

fn save_policy(
    dir: &Path,
    policy: &Policy,
    value: &ValueHead,
    base: &str,
) -> Result<(), TrainError> {
    policy.decoder.save_adapter(&dir.join("adapter"), base)?;
    value.save(&dir.join("value_head.safetensors"))
}

/// Phase 5: mean joint reward (of `kind`) of the policy on the held-out prompts, `val_samples` each
/// at the training temperature. The seeds are the same at every validation of a run.
fn validate(
    policy: &Policy,
    reward: &RewardModel,
    cfg: &PpoConfig,
    val: &[&PromptItem],
    kind: RewardKind,
) -> Result<f64, TrainError> {
    let mut total = 0.0;
    for (c, chunk) in val.chunks(cfg.batch_size.max(4)).enumerate() {
        let rollouts = collect_rollouts(
            policy,
            cfg,
            chunk,
            cfg.val_samples,
            derive_seed(cfg.seed, SeedPurpose::ValidationRollouts, c as u64),
        )?;
        total += score(policy, reward, &rollouts, chunk, kind)?
            .iter()
            .map(|b| b.reward)
            .sum::<f64>();
    }
    Ok(total / (val.len() * cfg.val_samples).max(1) as f64)
}

/// Problems with tests whose prompt fits become prompt items; returns them and how many were
/// skipped.
fn prompt_items(
    policy: &Policy,
    cfg: &PpoConfig,
    reward: &RewardModel,
    path: &Path,
) -> Result<(Vec<PromptItem>, usize), TrainError> {
    let mut items = Vec::new();
    let mut skipped = 0;
    for p in &scrl_data::load_problems(path)? {
        let ids = policy.prompt_ids(p)?;
        let tests = test_spec(p, reward.config());
        if tests.is_empty() || ids.len() > cfg.max_prompt_tokens || ids.is_empty() {
            skipped += 1;
        } else {
            items.push(PromptItem { ids, tests });
        }
    }
    Ok((items, skipped))
}

/// The training prompts, in a seeded order per pass over them, `batch_size` per episode.
fn episode_prompts<'a>(train: &[&'a PromptItem], cfg: &PpoConfig, ep: u64) -> Vec<&'a PromptItem> {
    (0..cfg.batch_size)
        .map(|k| {
            let draw = ep * cfg.batch_size as u64 + k as u64;
            let pass = draw / train.len() as u64;
            let perm = permutation(
                train.len(),
                derive_seed(cfg.seed, SeedPurpose::PromptPass, pass),
            );
            train[perm[(draw % train.len() as u64) as usize]]
        })
        .collect()
}

fn std_dev(xs: &[f64]) -> f64 {
    let m = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len().max(1) as f64).sqrt()
}

/// Runs PPO (or GRPO/RLOO) as configured; `progress` hears (episodes done, a one-line status) after
/// each episode. With `resume`, continues from `out/checkpoint` exactly.
pub fn run_ppo(
    cfg: &PpoConfig,
    reward: &RewardModel,
    resume: bool,
    progress: &dyn Fn(u64, &str),
) -> Result<PpoSummary, TrainError> {
    cfg.validate()?;
    let started = Instant::now();
    let (mut policy, value, reference, value_loaded) = build_policy(cfg)?;
    let dev = policy.decoder.device().clone();
    std::fs::create_dir_all(&cfg.out).map_err(|e| TrainError::Io {
        path: cfg.out.clone(),
        error: e,
    })?;
    // The record names the reward and sandbox the run really used (those of `reward`), so that
    // `--config RUN/config.toml` repeats it.
    let recorded = PpoConfig {
        reward: RewardConfig {
            kind: cfg.reward.kind,
            ..reward.config().clone()
        },
        sandbox: reward.sandbox().config().clone(),
        ..cfg.clone()
    };
    write_atomic(
        &cfg.out.join("config.toml"),
        toml::to_string(&recorded)
            .expect("config serialises")
            .as_bytes(),
    )?;

    // Prompts: problems with tests and a prompt that fits; validation from its own file or a seeded
    // hold-out of the training file.
    let (items, mut skipped) = prompt_items(&policy, cfg, reward, &cfg.data)?;
    let val_items = match &cfg.val_data {
        Some(path) => {
            let (v, s) = prompt_items(&policy, cfg, reward, path)?;
            skipped += s;
            v
        }
        None => Vec::new(),
    };
    let order = permutation(
        items.len(),
        derive_seed(cfg.seed, SeedPurpose::PromptOrder, 0),
    );
    let (val, train): (Vec<&PromptItem>, Vec<&PromptItem>) = if cfg.val_data.is_some() {
        let vorder = permutation(
            val_items.len(),
            derive_seed(cfg.seed, SeedPurpose::PromptOrder, 1),
        );
        (
            vorder
                .iter()
                .take(cfg.val_prompts)
                .map(|&i| &val_items[i])
                .collect(),
            order.iter().map(|&i| &items[i]).collect(),
        )
    } else {
        let n_val = cfg.val_prompts.min(items.len() / 2);
        (
            order[..n_val].iter().map(|&i| &items[i]).collect(),
            order[n_val..].iter().map(|&i| &items[i]).collect(),
        )
    };
    if train.is_empty() || (cfg.val_data.is_none() && items.len() < 2) {
        return Err(TrainError::Config(format!(
            "{}: {} usable prompts (problems need tests and a prompt of at most {} tokens; \
             {skipped} skipped)",
            cfg.data.display(),
            items.len(),
            cfg.max_prompt_tokens
        )));
    }

    let base_name = cfg.model.display().to_string();
    let fingerprint = policy.decoder.base_fingerprint()?;
    let mut opt = Optimizers::new(&policy, &value, cfg)?;
    let ckpt = cfg.out.join("checkpoint");
    let selection = cfg.selection_reward();
    let mut state = PpoState {
        episode: 0,
        seed: cfg.seed,
        algo: cfg.algo,
        base_fingerprint: fingerprint.clone(),
        reference: cfg.adapter.clone(),
        kl: cfg.kl_controller(),
        initial_val_reward: 0.0,
        best_val_reward: None,
        best_episode: None,
    };
    if resume {
        let saved: PpoState = read_json(&ckpt.join("state.json"))?;
        if saved.base_fingerprint != fingerprint
            || saved.seed != cfg.seed
            || saved.algo != cfg.algo
            || saved.reference != cfg.adapter
        {
            return Err(TrainError::Checkpoint {
                path: ckpt.clone(),
                message:
                    "was written by a run with another base model, seed, algorithm or SFT adapter"
                        .into(),
            });
        }
        policy.decoder.load_adapter(&ckpt.join("adapter"))?;
        value.load(&ckpt.join("value_head.safetensors"))?;
        opt = Optimizers::new(&policy, &value, cfg)?;
        opt.load(&ckpt)?;
        state = saved;
    } else {
        state.initial_val_reward = validate(&policy, reward, cfg, &val, selection)?;
        progress(
            0,
            &format!(
                "validation reward ({selection:?}) of the starting policy {:.3}",
                state.initial_val_reward
            ),
        );
    }
    let mut log = MetricsLog::open(&cfg.out.join("metrics.jsonl"), "episode", state.episode)?;
    let schedule = cfg.schedule();
    let (mut first_mean, mut last_mean, mut final_val) = (None, 0.0, None);

    let stop = cfg.stop_at.map_or(cfg.episodes, |s| s.min(cfg.episodes));
    while state.episode < stop {
        let ep = state.episode;
        let kind = schedule.kind_at(ep);
        let t_ep = Instant::now();
        let batch = episode_prompts(&train, cfg, ep);

        let t0 = Instant::now();
        let rollouts = collect_rollouts(
            &policy,
            cfg,
            &batch,
            cfg.group_size,
            derive_seed(cfg.seed, SeedPurpose::Rollouts, ep),
        )?;
        let t_gen = t0.elapsed().as_secs_f64();
        let gen_tokens: usize = rollouts.iter().map(|r| r.response.len()).sum();
        let rollouts: Vec<Rollout> = rollouts
            .into_iter()
            .filter(|r| !r.response.is_empty())
            .collect();
        if rollouts.is_empty() {
            return Err(TrainError::Config(
                "every completion of an episode was empty (max_new_tokens too small?)".into(),
            ));
        }

        let (scores, mut passes, t_reward, t_fwd) =
            score_and_pass(&policy, &value, reward, cfg, &rollouts, &batch, kind)?;
        let kl_coef = state.kl.coef() as f32;
        let eos: Vec<bool> = rollouts.iter().map(|r| r.eos).collect();
        let rewards = sequence_rewards(
            &scores.iter().map(|s| s.reward).collect::<Vec<_>>(),
            &eos,
            cfg.truncation_penalty,
        );
        if ep == 0 && !value_loaded && cfg.algo.uses_value_head() {
            start_value_bias(&value, &mut passes, &rewards, kl_coef)?;
        }
        let groups: Vec<usize> = rollouts.iter().map(|r| r.group).collect();
        let (adv, rets) = cfg
            .algo
            .advantages(cfg, &passes, &rewards, kl_coef, &groups);
        let value_rows: Vec<Vec<f32>> = passes
            .batch
            .spans
            .iter()
            .map(|&(i, s, n)| passes.value_rows[i][s..s + n].to_vec())
            .collect();
        let explained = if cfg.algo.uses_value_head() {
            explained_variance(&rets, &value_rows)
        } else {
            f64::NAN
        };
        let adv_t = scatter(&adv, &passes.batch.spans, passes.batch.width, &dev)?;
        let ret_t = scatter(&rets, &passes.batch.spans, passes.batch.width, &dev)?;
        let mismatch: f32 = passes
            .batch
            .spans
            .iter()
            .map(|&(i, s, n)| {
                passes.old_rows[i][s..s + n]
                    .iter()
                    .zip(&rollouts[i].sampled_logp)
                    .map(|(a, c)| (a - c).abs())
                    .sum::<f32>()
            })
            .sum::<f32>()
            / gen_tokens.max(1) as f32;

        let t1 = Instant::now();
        let policy_moves = ep >= cfg.value_warmup_episodes;
        let st = update(
            &policy,
            &value,
            &mut opt,
            cfg,
            &passes,
            &adv_t,
            &ret_t,
            state.kl.coef(),
            policy_moves,
            derive_seed(cfg.seed, SeedPurpose::Update, ep),
        )?;
        let t_upd = t1.elapsed().as_secs_f64();

        let n = scores.len() as f64;
        let mean = |f: &dyn Fn(&RewardBreakdown) -> f64| scores.iter().map(f).sum::<f64>() / n;
        let reward_mean = mean(&|x| x.reward);
        let mut stage_counts = [0usize; Stage::ALL.len()];
        for s in &scores {
            stage_counts[s.stage.number() as usize] += 1;
        }
        let same_reward_prompts = (0..batch.len())
            .filter(|&g| {
                let rs: Vec<f64> = scores
                    .iter()
                    .zip(&groups)
                    .filter(|(_, gg)| **gg == g)
                    .map(|(s, _)| s.reward)
                    .collect();
                rs.windows(2).all(|w| w[0] == w[1])
            })
            .count();
        let kl_mean = passes.seq_kl.iter().map(|&k| k as f64).sum::<f64>() / n;
        let adv_tokens: usize = adv.iter().map(Vec::len).sum();
        if policy_moves {
            state.kl.update(kl_mean, rollouts.len());
        }
        first_mean.get_or_insert(reward_mean);
        last_mean = reward_mean;
        state.episode += 1;

        let last = state.episode == cfg.episodes;
        let val_reward =
            if (cfg.val_every > 0 && state.episode.is_multiple_of(cfg.val_every) && policy_moves)
                || last
            {
                let v = validate(&policy, reward, cfg, &val, selection)?;
                if improves(state.best_val_reward, v) {
                    state.best_val_reward = Some(v);
                    state.best_episode = Some(state.episode);
                    write_dir(&cfg.out.join("best"), |d| {
                        save_policy(d, &policy, &value, &base_name)
                    })?;
                }
                final_val = Some(v);
                Some(v)
            } else {
                None
            };
        let row = PpoEpisodeRow {
            episode: ep,
            step: ep,
            reward_kind: kind,
            phase: if policy_moves {
                TrainingPhase::Update
            } else {
                TrainingPhase::ValueWarmup
            },
            reward_mean,
            reward_std: std_dev(&scores.iter().map(|s| s.reward).collect::<Vec<_>>()),
            r_func_mean: mean(&|x| x.r_func),
            r_sec_mean: mean(&|x| x.r_sec),
            stage_counts: stage_counts.map(|c| c as u32),
            all_tests_passed_rate: mean(&|x| {
                f64::from(u8::from(
                    x.tests_total > 0 && x.tests_passed == x.tests_total,
                ))
            }),
            same_reward_prompt_share: same_reward_prompts as f64 / batch.len() as f64,
            truncation_rate: eos.iter().filter(|e| !**e).count() as f64 / n,
            advantage_abs_mean: adv.iter().flatten().map(|a| a.abs() as f64).sum::<f64>()
                / adv_tokens.max(1) as f64,
            kl_mean,
            kl_coef: kl_coef as f64,
            entropy: passes.entropy,
            policy_loss: st.mean(st.policy_loss),
            value_loss: st.mean(st.value_loss),
            value_explained_variance: explained,
            policy_grad_norm: st.mean(st.policy_grad_norm),
            value_grad_norm: st.mean(st.value_grad_norm),
            clip_fraction: st.mean(st.clip_fraction),
            approx_kl: st.mean(st.approx_kl),
            logprob_mismatch: mismatch,
            response_length_mean: gen_tokens as f64 / n,
            generation_tokens_per_s: gen_tokens as f64 / t_gen.max(1e-9),
            seconds_generate: t_gen,
            seconds_reward: t_reward,
            seconds_forward: t_fwd,
            seconds_update: t_upd,
            seconds_episode: t_ep.elapsed().as_secs_f64(),
            val_reward,
        };
        log.write(&row)?;
        progress(
            state.episode,
            &format!(
                "[{kind:?}] reward {reward_mean:.3} stages {stage_counts:?} kl {kl_mean:.4}{}",
                val_reward
                    .map(|v| format!(" val {v:.3}"))
                    .unwrap_or_default()
            ),
        );
        if state.episode.is_multiple_of(cfg.save_every.max(1)) || last || state.episode == stop {
            write_dir(&ckpt, |d| {
                save_policy(d, &policy, &value, &base_name)?;
                opt.save(d)?;
                write_json(&d.join("state.json"), &state)
            })?;
        }
    }
    if state.episode == cfg.episodes {
        write_dir(&cfg.out.join("final"), |d| {
            save_policy(d, &policy, &value, &base_name)
        })?;
    }
    let summary = PpoSummary {
        episodes: state.episode,
        train_prompts: train.len(),
        val_prompts: val.len(),
        skipped_prompts: skipped,
        first_reward_mean: first_mean.unwrap_or(last_mean),
        last_reward_mean: last_mean,
        selection_reward: selection,
        initial_val_reward: state.initial_val_reward,
        final_val_reward: final_val,
        best_val_reward: state.best_val_reward,
        best_episode: state.best_episode,
        beat_start: state
            .best_val_reward
            .is_some_and(|b| b > state.initial_val_reward),
        final_dir: cfg.out.join("final"),
        best_dir: cfg.out.join("best"),
        seconds: started.elapsed().as_secs_f64(),
        reference,
    };
    write_json(&cfg.out.join("summary.json"), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_validation_wins_a_tie() {
        assert!(improves(None, 0.1));
        assert!(
            improves(Some(0.5), 0.5),
            "a tie goes to the later, longer-trained policy"
        );
        assert!(improves(Some(0.5), 0.6));
        assert!(!improves(Some(0.5), 0.49));
    }

    #[test]
    fn the_truncation_penalty_applies_only_without_eos() {
        let r = sequence_rewards(&[0.8, 0.8, 0.2], &[true, false, false], 0.25);
        assert_eq!(r, vec![0.8, 0.55, -0.05]);
        assert_eq!(sequence_rewards(&[0.8], &[false], 0.0), vec![0.8]);
    }

    #[test]
    fn the_value_bias_starts_at_the_mean_return() {
        // Returns 1 - 0.1 * 2 = 0.8 and 0.4 - 0.1 * 0 = 0.4: mean 0.6.
        assert!((mean_return(&[1.0, 0.4], &[2.0, 0.0], 0.1) - 0.6).abs() < 1e-6);
    }

    #[test]
    fn explained_variance_by_hand() {
        // Returns [1, 0, 1, 0] (variance 0.25); values off by [0.5, -0.5, 0.5, -0.5] from them
        // (variance 0.25) explain nothing; exact values explain all.
        let rets = vec![vec![1.0, 0.0], vec![1.0, 0.0]];
        assert!((explained_variance(&rets, &[vec![0.5, 0.5], vec![0.5, 0.5]]) - 0.0).abs() < 1e-9);
        assert!((explained_variance(&rets, &rets) - 1.0).abs() < 1e-9);
        assert!(explained_variance(&[vec![0.3, 0.3]], &[vec![0.0, 0.0]]).is_nan());
    }

    #[test]
    fn invalid_settings_are_errors_that_name_them() {
        let cfg = PpoConfig {
            value_warmup_episodes: 500,
            ..PpoConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("value_warmup_episodes")
        );
        let cfg = PpoConfig {
            algo: Algorithm::Grpo,
            value_warmup_episodes: 1,
            group_size: 4,
            ..PpoConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("value head")
        );
        let cfg = PpoConfig {
            algo: Algorithm::Rloo,
            ..PpoConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("group_size")
        );
        let cfg = PpoConfig {
            lam: 1.5,
            ..PpoConfig::default()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("lam"));
        let cfg = PpoConfig {
            seed: u64::MAX,
            ..PpoConfig::default()
        };
        assert!(cfg.validate().unwrap_err().to_string().contains("seed"));
    }

    #[test]
    fn selection_uses_the_reward_trained_on_at_the_end() {
        assert_eq!(
            PpoConfig {
                reward: RewardConfig {
                    kind: RewardKind::Binary,
                    ..Default::default()
                },
                ..PpoConfig::default()
            }
            .selection_reward(),
            RewardKind::Binary
        );
        let curriculum = PpoConfig {
            binary_episodes: Some(250),
            ..PpoConfig::default()
        };
        assert_eq!(curriculum.selection_reward(), RewardKind::Partial);
    }
}

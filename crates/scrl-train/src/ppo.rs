//! PPO as in the paper, done properly (SPEC.md defects 5-8), and the group-relative variants.
//!
//! One episode, top to bottom: take `batch_size` prompts (a seeded order, a cursor derived from the
//! episode) -> sample completions with the policy (LoRA on) -> score them with the reward (on another
//! thread, while the reference and value passes run) -> per-token KL to the frozen SFT reference ->
//! advantages (GAE on a value head for PPO; group-relative for GRPO/RLOO) -> `ppo_epochs` passes of
//! clipped-surrogate updates over minibatches -> metrics, KL control, checkpoint, validation.
//!
//! The reference is the SFT adapter frozen on the same base tensors (`LoraMode::Reference`), never the
//! base model when an SFT adapter is given, and never a second copy of the base weights. Old log-probs are
//! the policy's log-probs of the very token ids it sampled, at the sampling temperature, recomputed by the
//! training forward so that ratio and KL start at exactly 1 and 0.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Tensor};
use scrl_model::{AdamW, AdamWParams, LoraMode, SamplingParams, token_logprobs};
use scrl_reward::{RewardBreakdown, RewardKind, RewardModel, TestSpec};
use serde::{Deserialize, Serialize};

use crate::advantages::{gae, grpo, rloo, token_rewards, whiten};
use crate::evaluate::test_spec;
use crate::checkpoint::{ValueHead, read_json, write_atomic, write_dir, write_json};
use crate::kl::KlController;
use crate::losses::{KlEstimator, entropy, kl_per_token, masked_mean, policy_loss, value_loss};
use crate::metrics::MetricsLog;
use crate::policy::{LoraSettings, Policy, PromptStyle, device, dtype};
use crate::schedule::RewardSchedule;
use crate::sft::pad_right;
use crate::{TrainError, derive_seed, permutation};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Clipped PPO with a value head and GAE (the paper).
    #[default]
    Ppo,
    /// Group-relative: k samples per prompt, advantages (r - mean) / std, KL as a loss term (k3).
    Grpo,
    /// REINFORCE leave-one-out: k samples per prompt, r minus the mean of the others, KL in the reward.
    Rloo,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    pub model: PathBuf,
    /// The SFT adapter: the starting policy and the KL reference. Without it both are the base model.
    pub adapter: Option<PathBuf>,
    /// Start the policy (and value head) from this PPO output folder (`final`, `best` or `checkpoint`):
    /// PPO-continue. The KL reference stays the SFT adapter.
    pub init_from: Option<PathBuf>,
    pub data: PathBuf,
    pub out: PathBuf,
    pub algo: Algorithm,
    pub episodes: u64,
    pub batch_size: usize,
    /// Samples per prompt for GRPO / RLOO.
    pub group_size: usize,
    pub lr: f64,
    pub ppo_epochs: usize,
    /// Sequences per minibatch (None: the whole batch).
    pub minibatch_size: Option<usize>,
    pub clip: f64,
    pub value_clip: f64,
    pub vf_coef: f64,
    pub gamma: f32,
    pub lam: f32,
    pub kl_coef: f64,
    /// Adaptive KL control towards this per-sequence KL (None: the coefficient stays fixed).
    pub kl_target: Option<f64>,
    pub kl_horizon: f64,
    pub kl_estimator: KlEstimator,
    pub whiten_advantages: bool,
    pub max_grad_norm: f64,
    pub temperature: f64,
    pub top_p: f64,
    pub top_k: usize,
    pub max_new_tokens: usize,
    pub max_prompt_tokens: usize,
    /// The functional reward of every episode, unless `binary_episodes` sets a curriculum.
    pub reward: RewardKind,
    /// Binary reward for the first N episodes, then partial credit: the curriculum as one job.
    pub binary_episodes: Option<u64>,
    /// Held-out prompts for validation reward (chooses `best`).
    pub val_prompts: usize,
    /// Validate every N episodes (and at the end); 0 = only at the end.
    pub val_every: u64,
    pub save_every: u64,
    /// End the run after this episode with a checkpoint, as an interruption would (`--resume` continues).
    pub stop_at: Option<u64>,
    pub seed: u64,
    /// LoRA shape when no SFT adapter is given.
    pub lora: LoraSettings,
    pub prompt_style: PromptStyle,
    pub dtype: String,
    pub device: String,
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
            group_size: 4,
            lr: 1e-6,
            ppo_epochs: 4,
            minibatch_size: None,
            clip: 0.2,
            value_clip: 0.2,
            vf_coef: 0.1,
            gamma: 1.0,
            lam: 0.95,
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
            reward: RewardKind::Partial,
            binary_episodes: None,
            val_prompts: 32,
            val_every: 50,
            save_every: 50,
            stop_at: None,
            seed: 42,
            lora: LoraSettings::default(),
            prompt_style: PromptStyle::Auto,
            dtype: "f32".into(),
            device: "cpu".into(),
        }
    }
}

impl PpoConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.episodes == 0 || self.batch_size == 0 || self.ppo_epochs == 0 {
            return bad("episodes, batch_size and ppo_epochs must be >= 1".into());
        }
        if self.algo != Algorithm::Ppo && self.group_size < 2 {
            return bad(format!("{:?} needs group_size >= 2", self.algo));
        }
        if !(self.temperature > 0.0) {
            return bad("temperature must be > 0 for RL (log-probs are taken at that temperature)".into());
        }
        if !(self.lr > 0.0) || !(self.clip > 0.0) || self.kl_coef < 0.0 {
            return bad("lr and clip must be > 0 and kl_coef >= 0".into());
        }
        if self.max_new_tokens == 0 {
            return bad("max_new_tokens must be >= 1".into());
        }
        Ok(())
    }

    pub fn schedule(&self) -> RewardSchedule {
        match self.binary_episodes {
            Some(n) => RewardSchedule::BinaryThenPartial { binary_episodes: n },
            None => RewardSchedule::Constant { reward: self.reward },
        }
    }

    fn kl_controller(&self) -> KlController {
        match self.kl_target {
            Some(target) => KlController::Adaptive { coef: self.kl_coef, target, horizon: self.kl_horizon },
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
}

#[derive(Serialize, Clone, Debug)]
pub struct PpoSummary {
    pub episodes: u64,
    pub train_prompts: usize,
    pub val_prompts: usize,
    pub skipped_prompts: usize,
    pub first_reward_mean: f64,
    pub last_reward_mean: f64,
    /// Validation reward before the first update and after the last one.
    pub initial_val_reward: f64,
    pub final_val_reward: Option<f64>,
    pub best_val_reward: Option<f64>,
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
    group: usize,
}

/// A prompt the trainer can use: its token ids and how its completions are checked.
struct PromptItem {
    ids: Vec<u32>,
    tests: TestSpec,
}

/// Scores completions (code extracted first) with the episode's functional reward.
fn score(policy: &Policy, reward: &RewardModel, rollouts: &[Rollout], items: &[&PromptItem], kind: RewardKind) -> Result<Vec<RewardBreakdown>, TrainError> {
    let codes: Vec<String> = rollouts.iter().map(|r| policy.extract(&r.text)).collect();
    let pairs: Vec<(&str, &TestSpec)> = codes.iter().zip(rollouts).map(|(c, r)| (c.as_str(), &items[r.group].tests)).collect();
    reward.score_batch(&pairs).into_iter().map(|r| Ok(r?.with_kind(kind))).collect()
}

fn sample_rollouts(policy: &Policy, cfg: &PpoConfig, items: &[&PromptItem], seed: u64, temperature: f64) -> Result<Vec<Rollout>, TrainError> {
    let per_prompt = if cfg.algo == Algorithm::Ppo { 1 } else { cfg.group_size };
    let prompts: Vec<Vec<u32>> = items.iter().flat_map(|it| std::iter::repeat_n(it.ids.clone(), per_prompt)).collect();
    let params = SamplingParams {
        max_new_tokens: cfg.max_new_tokens,
        temperature,
        top_p: cfg.top_p,
        top_k: cfg.top_k,
        stop: Vec::new(),
        seed,
        stream_offset: 0,
    };
    let samples = scrl_model::sample(&policy.decoder, &policy.tokenizer, &prompts, &params, LoraMode::On)?;
    Ok(samples
        .into_iter()
        .zip(prompts)
        .enumerate()
        .map(|(i, (s, prompt))| Rollout { prompt, response: s.token_ids, sampled_logp: s.logprobs, text: s.text, group: i / per_prompt })
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
    let seqs: Vec<Vec<u32>> = rollouts.iter().map(|r| [r.prompt.as_slice(), r.response.as_slice()].concat()).collect();
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
fn scatter(values: &[Vec<f32>], spans: &[(usize, usize, usize)], width: usize, dev: &candle_core::Device) -> Result<Tensor, TrainError> {
    let mut out = vec![0f32; spans.len() * width];
    for ((row, start, n), v) in spans.iter().zip(values) {
        out[row * width + start..row * width + start + n].copy_from_slice(&v[..*n]);
    }
    Ok(Tensor::from_vec(out, (spans.len(), width), dev)?)
}

fn select_rows(t: &Tensor, idx: &Tensor) -> Result<Tensor, TrainError> {
    Ok(t.index_select(idx, 0)?)
}

/// Loads the starting policy: base, then the SFT adapter frozen as the reference (or a fresh adapter
/// whose frozen copy is the base), then optionally a PPO checkpoint's adapter on top.
fn build_policy(cfg: &PpoConfig) -> Result<(Policy, ValueHead, String), TrainError> {
    let dev = device(&cfg.device)?;
    let mut policy = Policy::load(&cfg.model, cfg.prompt_style, dtype(&cfg.dtype)?, &dev)?;
    let reference = match &cfg.adapter {
        Some(a) => {
            policy.decoder.load_adapter(a)?;
            format!("SFT adapter {}", a.display())
        }
        None => {
            policy.decoder.attach_lora(cfg.lora.to_model(), derive_seed(cfg.seed, 0x10A, 0))?;
            "the base model (no SFT adapter was given)".to_string()
        }
    };
    policy.decoder.freeze_reference()?;
    let value = ValueHead::new(policy.decoder.config().hidden_size, derive_seed(cfg.seed, 0x7A1, 0), &dev)?;
    if let Some(from) = &cfg.init_from {
        let adapter = from.join("adapter");
        if !adapter.join("adapter_config.json").exists() {
            return Err(TrainError::Checkpoint {
                path: from.clone(),
                message: "has no adapter/ folder: --init-from takes a PPO output folder (final, best or checkpoint)".into(),
            });
        }
        policy.decoder.load_adapter(&adapter)?;
        let vh = from.join("value_head.safetensors");
        if vh.exists() {
            value.load(&vh)?;
        }
    }
    Ok((policy, value, reference))
}

fn save_policy(dir: &Path, policy: &Policy, value: &ValueHead, base: &str) -> Result<(), TrainError> {
    policy.decoder.save_adapter(&dir.join("adapter"), base)?;
    value.save(&dir.join("value_head.safetensors"))
}

/// Mean joint reward (partial credit) of the policy on held-out prompts, sampled with a fixed seed.
fn validate(policy: &Policy, reward: &RewardModel, cfg: &PpoConfig, val: &[&PromptItem]) -> Result<f64, TrainError> {
    let single = PpoConfig { algo: Algorithm::Ppo, ..cfg.clone() };
    let mut total = 0.0;
    for (c, chunk) in val.chunks(cfg.batch_size.max(4)).enumerate() {
        let rollouts = sample_rollouts(policy, &single, chunk, derive_seed(cfg.seed, 0x7A1D, c as u64), cfg.temperature)?;
        total += score(policy, reward, &rollouts, chunk, RewardKind::Partial)?.iter().map(|b| b.reward).sum::<f64>();
    }
    Ok(total / val.len().max(1) as f64)
}

/// Runs PPO (or GRPO/RLOO) as configured; `progress` hears (episodes done, a one-line status) after each
/// episode. With `resume`, continues from `out/checkpoint` exactly.
pub fn run_ppo(cfg: &PpoConfig, reward: &RewardModel, resume: bool, progress: &dyn Fn(u64, &str)) -> Result<PpoSummary, TrainError> {
    cfg.validate()?;
    let started = Instant::now();
    let (mut policy, value, reference) = build_policy(cfg)?;
    let dev = policy.decoder.device().clone();
    std::fs::create_dir_all(&cfg.out).map_err(|e| TrainError::Io { path: cfg.out.clone(), error: e })?;
    write_atomic(&cfg.out.join("config.toml"), toml::to_string(cfg).expect("config serialises").as_bytes())?;

    // Prompts: problems with tests and a prompt that fits; a seeded hold-out for validation.
    let problems = scrl_data::load_problems(&cfg.data)?;
    let mut items = Vec::new();
    let mut skipped = 0;
    for p in &problems {
        let ids = policy.prompt_ids(p)?;
        let tests = test_spec(p);
        if tests.is_empty() || ids.len() > cfg.max_prompt_tokens || ids.is_empty() {
            skipped += 1;
        } else {
            items.push(PromptItem { ids, tests });
        }
    }
    if items.len() < 2 {
        return Err(TrainError::Config(format!(
            "{}: {} usable prompts (problems need tests and a prompt of at most {} tokens; {skipped} skipped)",
            cfg.data.display(),
            items.len(),
            cfg.max_prompt_tokens
        )));
    }
    let order = permutation(items.len(), derive_seed(cfg.seed, 0x5F7, 0));
    let n_val = cfg.val_prompts.min(items.len() / 2);
    let val: Vec<&PromptItem> = order[..n_val].iter().map(|&i| &items[i]).collect();
    let train: Vec<&PromptItem> = order[n_val..].iter().map(|&i| &items[i]).collect();

    let base_name = cfg.model.display().to_string();
    let fingerprint = policy.decoder.base_fingerprint()?;
    let params = AdamWParams { weight_decay: 0.0, max_grad_norm: Some(cfg.max_grad_norm), ..Default::default() };
    let train_vars = |policy: &Policy| {
        let mut v = policy.decoder.trainable_vars();
        if cfg.algo == Algorithm::Ppo {
            v.extend(value.vars());
        }
        v
    };
    let mut opt = AdamW::new(train_vars(&policy), params)?;
    let ckpt = cfg.out.join("checkpoint");
    let mut state = PpoState {
        episode: 0,
        seed: cfg.seed,
        algo: cfg.algo,
        base_fingerprint: fingerprint.clone(),
        reference: cfg.adapter.clone(),
        kl: cfg.kl_controller(),
        initial_val_reward: 0.0,
        best_val_reward: None,
    };
    if !resume {
        state.initial_val_reward = validate(&policy, reward, cfg, &val)?;
        progress(0, &format!("validation reward of the starting policy {:.3}", state.initial_val_reward));
    }
    if resume {
        let saved: PpoState = read_json(&ckpt.join("state.json"))?;
        if saved.base_fingerprint != fingerprint || saved.seed != cfg.seed || saved.algo != cfg.algo || saved.reference != cfg.adapter {
            return Err(TrainError::Checkpoint {
                path: ckpt.clone(),
                message: "was written by a run with another base model, seed, algorithm or SFT adapter".into(),
            });
        }
        policy.decoder.load_adapter(&ckpt.join("adapter"))?;
        value.load(&ckpt.join("value_head.safetensors"))?;
        opt = AdamW::new(train_vars(&policy), params)?;
        opt.load(&ckpt.join("optimizer.safetensors"))?;
        state = saved;
    }
    let mut log = MetricsLog::open(&cfg.out.join("metrics.jsonl"), "episode", state.episode)?;
    let schedule = cfg.schedule();
    let (mut first_mean, mut last_mean, mut final_val) = (None, 0.0, None);

    let stop = cfg.stop_at.map_or(cfg.episodes, |s| s.min(cfg.episodes));
    while state.episode < stop {
        let ep = state.episode;
        let kind = schedule.kind_at(ep);
        let t_ep = Instant::now();
        // The prompts of this episode: a seeded order per pass over the training prompts.
        let batch: Vec<&PromptItem> = (0..cfg.batch_size)
            .map(|k| {
                let draw = ep * cfg.batch_size as u64 + k as u64;
                let pass = draw / train.len() as u64;
                let perm = permutation(train.len(), derive_seed(cfg.seed, 0xDA7A, pass));
                train[perm[(draw % train.len() as u64) as usize]]
            })
            .collect();

        let t0 = Instant::now();
        let rollouts = sample_rollouts(&policy, cfg, &batch, derive_seed(cfg.seed, 0x5A3, ep), cfg.temperature)?;
        let t_gen = t0.elapsed().as_secs_f64();
        let gen_tokens: usize = rollouts.iter().map(|r| r.response.len()).sum();
        let rollouts: Vec<Rollout> = rollouts.into_iter().filter(|r| !r.response.is_empty()).collect();
        if rollouts.is_empty() {
            return Err(TrainError::Config("every completion of an episode was empty (max_new_tokens too small?)".into()));
        }

        // Rewards on a second thread while the old-policy, value and reference passes run here.
        let b = build_batch(&policy, &rollouts)?;
        let (scores, t_reward, fwd) = std::thread::scope(|s| {
            let scorer = s.spawn(|| {
                let t = Instant::now();
                (score(&policy, reward, &rollouts, &batch, kind), t.elapsed().as_secs_f64())
            });
            let t = Instant::now();
            let fwd = (|| -> Result<_, TrainError> {
                let out = policy.decoder.forward_train(&b.ids, Some(&b.attn), LoraMode::On)?;
                let old_lp = token_logprobs(&out.logits.narrow(1, 0, b.width)?, &b.targets, cfg.temperature)?.detach();
                let values = value.forward(&out.hidden.narrow(1, 0, b.width)?)?.detach();
                let ent = entropy(&out.logits.narrow(1, 0, b.width)?.detach(), &b.mask)?.to_scalar::<f32>()?;
                let ref_out = policy.decoder.forward_train(&b.ids, Some(&b.attn), LoraMode::Reference)?;
                let ref_lp = token_logprobs(&ref_out.logits.narrow(1, 0, b.width)?, &b.targets, cfg.temperature)?.detach();
                Ok((old_lp, values, ref_lp, ent, t.elapsed().as_secs_f64()))
            })();
            let (scores, t_reward) = scorer.join().expect("the scoring thread does not panic");
            (scores, t_reward, fwd)
        });
        let scores = scores?;
        let (old_lp, values, ref_lp, ent, t_fwd) = fwd?;

        // Per-token KL (policy vs reference on the sampled tokens) and advantages.
        let kl_t = kl_per_token(&old_lp, &ref_lp, cfg.kl_estimator)?;
        let (kl_rows, old_rows, val_rows) = (rows(&kl_t)?, rows(&old_lp)?, rows(&values)?);
        let kl_coef = state.kl.coef() as f32;
        let seq_kl: Vec<f32> = b.spans.iter().map(|&(i, s, n)| kl_rows[i][s..s + n].iter().sum()).collect();
        let rewards: Vec<f32> = scores.iter().map(|x| x.reward as f32).collect();
        let (mut adv, rets): (Vec<Vec<f32>>, Vec<Vec<f32>>) = match cfg.algo {
            Algorithm::Ppo => b
                .spans
                .iter()
                .map(|&(i, s, n)| {
                    let tr = token_rewards(rewards[i], &kl_rows[i][s..s + n], kl_coef);
                    gae(&tr, &val_rows[i][s..s + n], cfg.gamma, cfg.lam)
                })
                .unzip(),
            Algorithm::Grpo | Algorithm::Rloo => {
                let shaped: Vec<f32> = match cfg.algo {
                    Algorithm::Rloo => rewards.iter().zip(&seq_kl).map(|(r, k)| r - kl_coef * k).collect(),
                    _ => rewards.clone(),
                };
                let mut seq_adv = vec![0f32; rollouts.len()];
                let groups = rollouts.iter().map(|r| r.group).max().unwrap_or(0) + 1;
                for g in 0..groups {
                    let members: Vec<usize> = (0..rollouts.len()).filter(|&i| rollouts[i].group == g).collect();
                    let rs: Vec<f32> = members.iter().map(|&i| shaped[i]).collect();
                    let a = if cfg.algo == Algorithm::Grpo { grpo(&rs) } else { rloo(&rs) };
                    for (&i, a) in members.iter().zip(a) {
                        seq_adv[i] = a;
                    }
                }
                b.spans.iter().map(|&(i, _, n)| (vec![seq_adv[i]; n], vec![0.0; n])).unzip()
            }
        };
        if cfg.whiten_advantages && cfg.algo == Algorithm::Ppo {
            whiten(&mut adv);
        }
        let adv_t = scatter(&adv, &b.spans, b.width, &dev)?;
        let ret_t = scatter(&rets, &b.spans, b.width, &dev)?;
        let mismatch: f32 = b
            .spans
            .iter()
            .map(|&(i, s, n)| old_rows[i][s..s + n].iter().zip(&rollouts[i].sampled_logp).map(|(a, c)| (a - c).abs()).sum::<f32>())
            .sum::<f32>()
            / gen_tokens.max(1) as f32;

        // The update: ppo_epochs passes over seeded minibatches.
        let t1 = Instant::now();
        let mb = cfg.minibatch_size.unwrap_or(rollouts.len()).clamp(1, rollouts.len());
        let lr = cfg.lr;
        let (mut pl_sum, mut vl_sum, mut cf_sum, mut akl_sum, mut n_mb) = (0f64, 0f64, 0f64, 0f64, 0usize);
        for e in 0..cfg.ppo_epochs {
            let perm = permutation(rollouts.len(), derive_seed(cfg.seed, 0xB47C, ep * 64 + e as u64));
            for chunk in perm.chunks(mb) {
                let idx = Tensor::from_vec(chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(), chunk.len(), &dev)?;
                let pick = |t: &Tensor| select_rows(t, &idx);
                let (mask, targets) = (pick(&b.mask)?, pick(&b.targets)?);
                let out = policy.decoder.forward_train(&pick(&b.ids)?, Some(&pick(&b.attn)?), LoraMode::On)?;
                let new_lp = token_logprobs(&out.logits.narrow(1, 0, b.width)?, &targets, cfg.temperature)?;
                let old = pick(&old_lp)?;
                let (pl, cf) = policy_loss(&new_lp, &old, &pick(&adv_t)?, &mask, cfg.clip)?;
                let loss = match cfg.algo {
                    Algorithm::Ppo => {
                        let v = value.forward(&out.hidden.narrow(1, 0, b.width)?)?;
                        let vl = value_loss(&v, &pick(&values)?, &pick(&ret_t)?, &mask, cfg.value_clip)?;
                        vl_sum += vl.to_scalar::<f32>()? as f64;
                        (&pl + (vl * cfg.vf_coef)?)?
                    }
                    Algorithm::Grpo => {
                        let k3 = kl_per_token(&new_lp, &pick(&ref_lp)?, KlEstimator::K3)?;
                        (&pl + (masked_mean(&k3, &mask)? * state.kl.coef())?)?
                    }
                    Algorithm::Rloo => pl.clone(),
                };
                let grads = loss.backward()?;
                opt.step(&grads, lr)?;
                pl_sum += pl.to_scalar::<f32>()? as f64;
                cf_sum += cf as f64;
                akl_sum += masked_mean(&(old - new_lp.detach())?, &mask)?.to_scalar::<f32>()? as f64;
                n_mb += 1;
            }
        }
        let t_upd = t1.elapsed().as_secs_f64();

        let n = scores.len() as f64;
        let mean = |f: &dyn Fn(&RewardBreakdown) -> f64| scores.iter().map(f).sum::<f64>() / n;
        let reward_mean = mean(&|x| x.reward);
        let mut stage_counts = [0usize; 5];
        for s in &scores {
            stage_counts[s.stage.number() as usize] += 1;
        }
        let kl_mean = seq_kl.iter().map(|&k| k as f64).sum::<f64>() / n;
        state.kl.update(kl_mean, rollouts.len());
        first_mean.get_or_insert(reward_mean);
        last_mean = reward_mean;
        state.episode += 1;

        let last = state.episode == cfg.episodes;
        let val_reward = if (cfg.val_every > 0 && state.episode % cfg.val_every == 0) || last {
            let v = validate(&policy, reward, cfg, &val)?;
            if state.best_val_reward.is_none_or(|b| v > b) {
                state.best_val_reward = Some(v);
                write_dir(&cfg.out.join("best"), |d| save_policy(d, &policy, &value, &base_name))?;
            }
            final_val = Some(v);
            Some(v)
        } else {
            None
        };
        let row = serde_json::json!({
            "episode": ep, "step": ep, "reward_kind": kind, "reward_mean": reward_mean,
            "r_func_mean": mean(&|x| x.r_func), "r_sec_mean": mean(&|x| x.r_sec),
            "stage_counts": stage_counts,
            "all_tests_passed_rate": mean(&|x| f64::from(u8::from(x.tests_total > 0 && x.tests_passed == x.tests_total))),
            "kl_mean": kl_mean, "kl_coef": kl_coef, "entropy": ent,
            "policy_loss": pl_sum / n_mb as f64, "value_loss": vl_sum / n_mb as f64,
            "clip_fraction": cf_sum / n_mb as f64, "approx_kl": akl_sum / n_mb as f64,
            "logprob_mismatch": mismatch,
            "response_length_mean": gen_tokens as f64 / n,
            "generation_tokens_per_s": gen_tokens as f64 / t_gen.max(1e-9),
            "seconds_generate": t_gen, "seconds_reward": t_reward, "seconds_forward": t_fwd,
            "seconds_update": t_upd, "seconds_episode": t_ep.elapsed().as_secs_f64(),
            "val_reward": val_reward,
        });
        log.write(&row)?;
        progress(state.episode, &format!(
            "[{:?}] reward {reward_mean:.3} stages {stage_counts:?} kl {kl_mean:.4}{}",
            kind,
            val_reward.map(|v| format!(" val {v:.3}")).unwrap_or_default()
        ));
        if state.episode % cfg.save_every.max(1) == 0 || last || state.episode == stop {
            write_dir(&ckpt, |d| {
                save_policy(d, &policy, &value, &base_name)?;
                opt.save(&d.join("optimizer.safetensors"))?;
                write_json(&d.join("state.json"), &state)
            })?;
        }
    }
    if state.episode == cfg.episodes {
        write_dir(&cfg.out.join("final"), |d| save_policy(d, &policy, &value, &base_name))?;
    }
    let summary = PpoSummary {
        episodes: state.episode,
        train_prompts: train.len(),
        val_prompts: val.len(),
        skipped_prompts: skipped,
        first_reward_mean: first_mean.unwrap_or(last_mean),
        last_reward_mean: last_mean,
        initial_val_reward: state.initial_val_reward,
        final_val_reward: final_val,
        best_val_reward: state.best_val_reward,
        final_dir: cfg.out.join("final"),
        best_dir: cfg.out.join("best"),
        seconds: started.elapsed().as_secs_f64(),
        reference,
    };
    write_json(&cfg.out.join("summary.json"), &summary)?;
    Ok(summary)
}

//! LoRA supervised fine-tuning: cross-entropy on the completion tokens only (prompt and padding
//! masked), epochs over a seeded order, warmup + cosine learning rate, gradient accumulation and
//! clipping, a validation loss on held-out problems, atomic checkpoints with exact resume, and the
//! best adapter by validation loss. The paper's defaults: r 16, alpha 32, q/k/v/o, 3 epochs.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Tensor};
use scrl_data::Problem;
use scrl_model::optim::warmup_cosine_lr;
use scrl_model::{AdamW, AdamWParams, LoraMode, token_logprobs};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, read_json, write_dir, write_json};
use crate::metrics::MetricsLog;
use crate::policy::{LoraSettings, Policy, PromptStyle, device, dtype};
use crate::seed::{MAX_MICRO_BATCHES, sft_dropout_index};
use crate::{SeedPurpose, TrainError, derive_seed, permutation};

/// The `sft` command's config, every field a TOML key and a flag (`--epochs 3`), with this text as
/// its help.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct SftConfig {
    /// The base checkpoint folder (config.json, safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Problems JSONL; those with a `reference_solution` are the targets.
    #[arg(long)]
    pub data: PathBuf,
    /// The run folder: adapter/, best/, checkpoint/, metrics.jsonl, config.toml.
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the training examples.
    #[arg(long)]
    pub epochs: usize,
    /// Examples per micro-batch.
    #[arg(long)]
    pub batch_size: usize,
    /// Micro-batches per optimizer step (at most 1,024).
    #[arg(long)]
    pub grad_accum: usize,
    /// Peak learning rate of the LoRA parameters.
    #[arg(long)]
    pub lr: f64,
    /// Share of the steps spent warming the learning rate up linearly.
    #[arg(long)]
    pub warmup_ratio: f64,
    /// The cosine schedule ends at this share of `lr`.
    #[arg(long)]
    pub min_lr_ratio: f64,
    /// AdamW's decoupled weight decay.
    #[arg(long)]
    pub weight_decay: f64,
    /// Gradient-norm clip of each optimizer step.
    #[arg(long)]
    pub max_grad_norm: f64,
    /// Examples longer than this (prompt + target tokens) are skipped and counted.
    #[arg(long)]
    pub max_seq_len: usize,
    /// Share of the problems held out for the validation loss (at least one problem), when no
    /// `val_data` is given.
    #[arg(long)]
    pub val_fraction: f64,
    /// Validation problems (JSONL) for the validation loss, kept out of training; then every
    /// problem of `data` trains.
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Validation every this many optimizer steps (0: at the end of each epoch only).
    #[arg(long)]
    pub eval_every: u64,
    /// Seed of every random choice of the run (split, order, dropout).
    #[arg(long)]
    pub seed: u64,
    /// The adapter's shape.
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
    /// At most this many training problems (default: all).
    #[arg(long)]
    pub max_problems: Option<usize>,
}

impl Default for SftConfig {
    fn default() -> Self {
        SftConfig {
            model: PathBuf::new(),
            data: PathBuf::new(),
            out: PathBuf::from("runs/sft"),
            epochs: 3,
            batch_size: 4,
            grad_accum: 1,
            lr: 2e-4,
            warmup_ratio: 0.03,
            min_lr_ratio: 0.1,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            max_seq_len: 1024,
            val_fraction: 0.1,
            val_data: None,
            eval_every: 0,
            seed: 42,
            lora: LoraSettings::default(),
            prompt_style: PromptStyle::Auto,
            dtype: "f32".into(),
            device: "cpu".into(),
            max_problems: None,
        }
    }
}

impl SftConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.epochs == 0 || self.batch_size == 0 || self.grad_accum == 0 {
            return bad("epochs, batch_size and grad_accum must be >= 1");
        }
        if self.grad_accum as u64 > MAX_MICRO_BATCHES {
            // Each micro-batch of a step has its own dropout seed, numbered below this bound.
            return bad("grad_accum must be at most 1024");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr must be > 0");
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad("val_fraction must be in [0, 1)");
        }
        if self.max_seq_len < 8 {
            return bad("max_seq_len must be >= 8");
        }
        if self.seed > i64::MAX as u64 {
            return bad("seed must fit a TOML integer (at most 9223372036854775807)");
        }
        Ok(())
    }
}

/// One training example: prompt ids then target ids (the loss covers the target only).
#[derive(Clone)]
pub(crate) struct Example {
    pub(crate) prompt: Vec<u32>,
    pub(crate) target: Vec<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct SftState {
    step: u64,
    total_steps: u64,
    seed: u64,
    base_fingerprint: String,
    best_val_loss: Option<f64>,
}

#[derive(Serialize, Clone, Debug)]
pub struct SftSummary {
    pub steps: u64,
    pub train_examples: usize,
    pub val_examples: usize,
    pub skipped_too_long: usize,
    pub first_val_loss: f64,
    pub final_val_loss: f64,
    pub best_val_loss: f64,
    pub adapter: PathBuf,
    pub best: PathBuf,
    pub seconds: f64,
}

/// Right-pads sequences: ids (batch, len) u32 and a 0/1 f32 attention mask.
pub(crate) fn pad_right(
    seqs: &[Vec<u32>],
    pad: u32,
    dev: &candle_core::Device,
) -> Result<(Tensor, Tensor), TrainError> {
    let len = seqs.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let mut ids = Vec::with_capacity(seqs.len() * len);
    let mut mask = Vec::with_capacity(seqs.len() * len);
    for s in seqs {
        ids.extend(s.iter().copied().chain(std::iter::repeat(pad)).take(len));
        mask.extend((0..len).map(|i| if i < s.len() { 1f32 } else { 0.0 }));
    }
    Ok((
        Tensor::from_vec(ids, (seqs.len(), len), dev)?,
        Tensor::from_vec(mask, (seqs.len(), len), dev)?,
    ))
}

/// Sum of -log p over target tokens, and how many target tokens there were.
fn target_nll(
    policy: &Policy,
    batch: &[&Example],
    mode: LoraMode,
) -> Result<(Tensor, usize), TrainError> {
    let dev = policy.decoder.device().clone();
    let seqs: Vec<Vec<u32>> = batch
        .iter()
        .map(|e| [e.prompt.as_slice(), e.target.as_slice()].concat())
        .collect();
    let (ids, mask) = pad_right(&seqs, policy.tokenizer.pad_id(), &dev)?;
    let (b, len) = ids.dims2()?;
    // Position j predicts token j + 1; weight 1 where token j + 1 belongs to the target.
    let mut w = vec![0f32; b * (len - 1)];
    let mut n = 0;
    for (i, e) in batch.iter().enumerate() {
        for j in e.prompt.len()..e.prompt.len() + e.target.len() {
            w[i * (len - 1) + j - 1] = 1.0;
            n += 1;
        }
    }
    let w = Tensor::from_vec(w, (b, len - 1), &dev)?;
    let logits = policy
        .decoder
        .forward_train(&ids, Some(&mask), mode)?
        .logits;
    let lp = token_logprobs(
        &logits.narrow(1, 0, len - 1)?,
        &ids.narrow(1, 1, len - 1)?,
        1.0,
    )?;
    Ok(((lp * w)?.sum_all()?.neg()?, n))
}

/// Mean per-token loss over `examples` without gradients.
fn mean_loss(policy: &Policy, examples: &[Example], batch: usize) -> Result<f64, TrainError> {
    let (mut sum, mut n) = (0f64, 0usize);
    for chunk in examples.chunks(batch) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let (nll, k) = target_nll(policy, &refs, LoraMode::On)?;
        sum += nll.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        n += k;
    }
    Ok(sum / n.max(1) as f64)
}

/// Splits problems with references into train and validation examples (validation by a seeded hash,
/// so it does not move when problems are added).
fn examples(
    policy: &Policy,
    problems: &[Problem],
    val_problems: Option<&[Problem]>,
    cfg: &SftConfig,
) -> Result<(Vec<Example>, Vec<Example>, usize), TrainError> {
    let mut with_ref: Vec<&Problem> = problems
        .iter()
        .filter(|p| p.reference_solution.is_some())
        .collect();
    if with_ref.is_empty() {
        return Err(TrainError::Config(format!(
            "{}: no problem has a reference_solution to train on",
            cfg.data.display()
        )));
    }
    let order = permutation(
        with_ref.len(),
        derive_seed(cfg.seed, SeedPurpose::PromptOrder, 0),
    );
    with_ref = order.iter().map(|&i| with_ref[i]).collect();
    let given_val: Vec<&Problem> = val_problems
        .unwrap_or_default()
        .iter()
        .filter(|p| p.reference_solution.is_some())
        .collect();
    let (val_p, train_p) = if val_problems.is_some() {
        (given_val.as_slice(), with_ref.as_slice())
    } else {
        let n_val = ((with_ref.len() as f64 * cfg.val_fraction).round() as usize)
            .max(usize::from(cfg.val_fraction > 0.0));
        with_ref.split_at(n_val.min(with_ref.len() - 1))
    };
    let train_p = match cfg.max_problems {
        Some(m) => &train_p[..m.min(train_p.len())],
        None => train_p,
    };
    let mut skipped = 0;
    let mut build = |ps: &[&Problem]| -> Result<Vec<Example>, TrainError> {
        let mut out = Vec::new();
        for p in ps {
            let e = Example {
                prompt: policy.prompt_ids(p)?,
                target: policy.target_ids(p.reference_solution.as_deref().unwrap_or(""))?,
            };
            if e.prompt.len() + e.target.len() > cfg.max_seq_len {
                skipped += 1;
            } else {
                out.push(e);
            }
        }
        Ok(out)
    };
    let train = build(train_p)?;
    let val = build(val_p)?;
    if train.is_empty() {
        return Err(TrainError::Config(format!(
            "no training example fits max_seq_len = {} ({skipped} skipped as too long)",
            cfg.max_seq_len
        )));
    }
    Ok((train, val, skipped))
}

/// Runs SFT as configured. With `resume`, continues from `out/checkpoint` exactly.
pub fn run_sft(
    cfg: &SftConfig,
    resume: bool,
    progress: &dyn Fn(&str),
) -> Result<SftSummary, TrainError> {
    cfg.validate()?;
    let started = Instant::now();
    let dev = device(&cfg.device)?;
    let mut policy = Policy::load(&cfg.model, cfg.prompt_style, dtype(&cfg.dtype)?, &dev)?;
    let problems = scrl_data::load_problems(&cfg.data)?;
    let val_problems = cfg
        .val_data
        .as_deref()
        .map(scrl_data::load_problems)
        .transpose()?;
    let (train, val, skipped) = examples(&policy, &problems, val_problems.as_deref(), cfg)?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| TrainError::Io {
        path: cfg.out.clone(),
        error: e,
    })?;
    checkpoint::write_atomic(
        &cfg.out.join("config.toml"),
        toml::to_string(cfg).expect("config serialises").as_bytes(),
    )?;

    policy.decoder.attach_lora(
        cfg.lora.to_model(),
        derive_seed(cfg.seed, SeedPurpose::LoraInit, 0),
    )?;
    let params = AdamWParams {
        weight_decay: cfg.weight_decay,
        max_grad_norm: Some(cfg.max_grad_norm),
        ..Default::default()
    };
    let mut opt = AdamW::new(policy.decoder.trainable_vars(), params)?;
    let per_step = cfg.batch_size * cfg.grad_accum;
    let steps_per_epoch = train.len().div_ceil(per_step) as u64;
    let total_steps = steps_per_epoch * cfg.epochs as u64;
    let warmup = (total_steps as f64 * cfg.warmup_ratio).round() as u64;
    let fingerprint = policy.decoder.base_fingerprint()?;
    let base_name = cfg.model.display().to_string();

    let ckpt = cfg.out.join("checkpoint");
    let mut state = SftState {
        step: 0,
        total_steps,
        seed: cfg.seed,
        base_fingerprint: fingerprint.clone(),
        best_val_loss: None,
    };
    if resume {
        let saved: SftState = read_json(&ckpt.join("state.json"))?;
        if saved.base_fingerprint != fingerprint
            || saved.total_steps != total_steps
            || saved.seed != cfg.seed
        {
            return Err(TrainError::Checkpoint {
                path: ckpt.clone(),
                message: "was written by a run with another base model, data size or seed; resume \
                    needs the same configuration"
                    .into(),
            });
        }
        policy.decoder.load_adapter(&ckpt.join("adapter"))?;
        // load_adapter makes new Vars: rebuild the optimizer over them before restoring its state.
        opt = AdamW::new(policy.decoder.trainable_vars(), params)?;
        opt.load(&ckpt.join("optimizer.safetensors"))?;
        state = saved;
    }
    // After a resume these are the adapter's new Vars, the ones the optimizer now holds.
    let vars = policy.decoder.trainable_vars();
    let mut log = MetricsLog::open(&cfg.out.join("metrics.jsonl"), "step", state.step)?;
    let first_val = mean_loss(&policy, &val, cfg.batch_size)?;
    let mut last_val = first_val;
    let save = |policy: &Policy, opt: &AdamW, state: &SftState| -> Result<(), TrainError> {
        write_dir(&ckpt, |d| {
            policy
                .decoder
                .save_adapter(&d.join("adapter"), &base_name)?;
            opt.save(&d.join("optimizer.safetensors"))?;
            write_json(&d.join("state.json"), state)
        })
    };

    while state.step < total_steps {
        let step = state.step;
        let epoch = step / steps_per_epoch;
        let in_epoch = (step % steps_per_epoch) as usize;
        let order = permutation(
            train.len(),
            derive_seed(cfg.seed, SeedPurpose::SftEpochOrder, epoch),
        );
        let idx = &order[in_epoch * per_step..((in_epoch + 1) * per_step).min(order.len())];
        let t0 = Instant::now();
        let n_tokens: usize = idx.iter().map(|&i| train[i].target.len()).sum();
        let mut acc: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut loss_sum = 0f64;
        let mut last_grads = None;
        for (m, micro) in idx.chunks(cfg.batch_size).enumerate() {
            let refs: Vec<&Example> = micro.iter().map(|&i| &train[i]).collect();
            let seed = derive_seed(
                cfg.seed,
                SeedPurpose::SftDropout,
                sft_dropout_index(step, m as u64),
            );
            let (nll, _) = target_nll(&policy, &refs, LoraMode::Train { seed })?;
            loss_sum += nll.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            let grads = (nll / n_tokens.max(1) as f64)?.backward()?;
            for (slot, (_, v)) in acc.iter_mut().zip(&vars) {
                if let Some(g) = grads.get(v.as_tensor()) {
                    *slot = Some(match slot.take() {
                        Some(a) => (a + g)?,
                        None => g.clone(),
                    });
                }
            }
            last_grads = Some(grads);
        }
        let mut grads = last_grads.expect("at least one micro-batch per step");
        for (slot, (_, v)) in acc.into_iter().zip(&vars) {
            if let Some(g) = slot {
                grads.insert(v.as_tensor(), g);
            }
        }
        let lr = warmup_cosine_lr(step, total_steps, warmup, cfg.lr, cfg.min_lr_ratio);
        let grad_norm = opt.step(&grads, lr)?;
        state.step += 1;
        let train_loss = loss_sum / n_tokens.max(1) as f64;
        let end_of_epoch = state.step.is_multiple_of(steps_per_epoch);
        let eval_now =
            end_of_epoch || (cfg.eval_every > 0 && state.step.is_multiple_of(cfg.eval_every));
        let val_loss = if eval_now {
            Some(mean_loss(&policy, &val, cfg.batch_size)?)
        } else {
            None
        };
        let secs = t0.elapsed().as_secs_f64();
        log.write(&scrl_eval::SftStepRow {
            step,
            epoch,
            train_loss,
            val_loss,
            lr,
            grad_norm,
            target_tokens: n_tokens as u64,
            tokens_per_s: n_tokens as f64 / secs.max(1e-9),
        })?;
        if let Some(v) = val_loss {
            last_val = v;
            if state.best_val_loss.is_none_or(|b| v < b) {
                state.best_val_loss = Some(v);
                write_dir(&cfg.out.join("best"), |d| {
                    Ok(policy.decoder.save_adapter(d, &base_name)?)
                })?;
            }
            progress(&format!(
                "step {}/{total_steps} epoch {} train loss {train_loss:.4} val loss {v:.4}",
                state.step,
                epoch + 1
            ));
        }
        if end_of_epoch || state.step == total_steps {
            save(&policy, &opt, &state)?;
        }
    }
    write_dir(&cfg.out.join("adapter"), |d| {
        Ok(policy.decoder.save_adapter(d, &base_name)?)
    })?;
    Ok(SftSummary {
        steps: state.step,
        train_examples: train.len(),
        val_examples: val.len(),
        skipped_too_long: skipped,
        first_val_loss: first_val,
        final_val_loss: last_val,
        best_val_loss: state.best_val_loss.unwrap_or(last_val),
        adapter: cfg.out.join("adapter"),
        best: cfg.out.join("best"),
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every micro-batch of a step has its own dropout seed only while `grad_accum` stays within
    /// the numbering of [`sft_dropout_index`].
    #[test]
    fn grad_accum_stays_within_the_dropout_seed_numbering() {
        let at = |grad_accum| SftConfig {
            grad_accum,
            ..SftConfig::default()
        };
        assert!(at(MAX_MICRO_BATCHES as usize).validate().is_ok());
        let err = at(MAX_MICRO_BATCHES as usize + 1)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("grad_accum must be at most 1024"), "{err}");
    }
}

//! Pretraining the tiny default model from scratch: a byte-level BPE tokenizer and a small
//! LLaMA-style decoder trained on the local Python standard library plus extra texts (e.g. the
//! built-in task suite).
//!
//! Every random choice derives from the seed and the step number (batch `s` is a pure function of
//! (seed, s)), the optimizer state is checkpointed, so a resumed run follows the same loss curve as
//! an uninterrupted one. The output folder is itself a model folder `Decoder::load` and
//! `Tokenizer::load` read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Arch, ModelConfig, RopeScaling};
use crate::error::{ModelError, Result, io_err, read_json, write_atomic};
use crate::model::{Decoder, Init, LoraMode};
use crate::optim::{AdamW, AdamWParams};
use crate::tokenizer::{ENDOFTEXT, PAD, Tokenizer, train_byte_level_bpe};

/// Everything that shapes the run (the model section of `securecoderl pretrain`: its flags, with
/// this text as their help); a resumed run must use the same values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct PretrainSettings {
    /// Byte-level BPE vocabulary size.
    #[arg(long)]
    pub vocab_size: usize,
    /// Width of the decoder.
    #[arg(long)]
    pub hidden_size: usize,
    /// Width of the MLP.
    #[arg(long)]
    pub intermediate_size: usize,
    /// Decoder layers.
    #[arg(long = "layers")]
    pub num_layers: usize,
    /// Attention heads.
    #[arg(long = "heads")]
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than the heads).
    #[arg(long = "kv-heads")]
    pub num_kv_heads: usize,
    /// Tokens per training sequence.
    #[arg(long)]
    pub seq_len: usize,
    /// Sequences per step.
    #[arg(long)]
    pub batch_size: usize,
    /// Total optimizer steps (the learning-rate schedule ends here).
    #[arg(long)]
    pub steps: u64,
    /// Peak learning rate (warm-up, then cosine to 10%).
    #[arg(long)]
    pub lr: f64,
    /// Linear warm-up steps.
    #[arg(long)]
    pub warmup_steps: u64,
    /// AdamW's decoupled weight decay.
    #[arg(long)]
    pub weight_decay: f64,
    /// Seed of the initial weights and the batch order.
    #[arg(long)]
    pub seed: u64,
    /// Fraction of batch rows taken from the extra texts (the rest from the source files).
    #[arg(long)]
    pub extra_fraction: f64,
}

impl Default for PretrainSettings {
    /// The tiny default: about 2M parameters, sized for a 2-core CPU.
    fn default() -> Self {
        Self {
            vocab_size: 2048,
            hidden_size: 192,
            intermediate_size: 512,
            num_layers: 4,
            num_heads: 6,
            num_kv_heads: 2,
            seq_len: 256,
            batch_size: 8,
            steps: 800,
            lr: 3e-3,
            warmup_steps: 30,
            weight_decay: 0.01,
            seed: 0,
            extra_fraction: 0.85,
        }
    }
}

impl PretrainSettings {
    /// The decoder config these settings describe (LLaMA layout, tied embeddings, EOS = id 0).
    pub fn model_config(&self, vocab_size: usize) -> ModelConfig {
        ModelConfig {
            arch: Arch::Llama,
            vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_layers,
            num_attention_heads: self.num_heads,
            num_key_value_heads: self.num_kv_heads,
            head_dim: self.hidden_size / self.num_heads,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            rope_scaling: RopeScaling::None,
            max_position_embeddings: 4 * self.seq_len,
            tie_word_embeddings: true,
            qkv_bias: false,
            o_bias: false,
            bos_token_id: None,
            eos_token_ids: vec![0],
        }
    }

    fn lr_at(&self, step: u64) -> f64 {
        // Cosine decay to 10% of the peak.
        crate::optim::warmup_cosine_lr(step, self.steps, self.warmup_steps, self.lr, 0.1)
    }
}

/// Where the text comes from.
pub struct PretrainCorpus {
    /// Folders searched recursively for `*.py` files (test suites and site-packages skipped).
    pub source_dirs: Vec<PathBuf>,
    /// Whole documents (e.g. task statement + reference program).
    pub extra_texts: Vec<String>,
}

/// One line of `loss_log.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: u64,
    pub loss: f32,
    pub lr: f64,
    pub grad_norm: f64,
    pub tokens_seen: u64,
    pub elapsed_s: f64,
}

#[derive(Serialize, Deserialize)]
struct TrainerState {
    step: u64,
    settings: PretrainSettings,
    corpus_sha256: String,
    tokens_seen: u64,
}

const STATE: &str = "trainer_state.json";
/// The checkpoint folder inside the output folder: model, optimizer and state, replaced whole.
const CHECKPOINT: &str = "checkpoint";
const LOG: &str = "loss_log.jsonl";

/// Python files under `dir`, sorted, skipping test suites and installed packages.
pub fn python_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io_err(&d))? {
            let entry = entry.map_err(io_err(&d))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ft = entry.file_type().map_err(io_err(&path))?;
            if ft.is_dir() {
                if ![
                    "test",
                    "tests",
                    "idle_test",
                    "site-packages",
                    "dist-packages",
                    "__pycache__",
                ]
                .contains(&name.as_str())
                {
                    stack.push(path);
                }
            } else if ft.is_file() && name.ends_with(".py") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

struct Data {
    source: Vec<u32>,
    extra: Vec<u32>,
    /// Offsets in `extra` where a document starts and a full window fits.
    extra_starts: Vec<usize>,
    sha256: String,
}

fn tokenize(tok: &Tokenizer, sources: &[String], extra: &[String], seq_len: usize) -> Result<Data> {
    let mut source = Vec::new();
    for text in sources {
        source.extend(tok.encode(text, false)?);
        source.push(0);
    }
    let mut stream = Vec::new();
    let mut starts = Vec::new();
    for text in extra {
        starts.push(stream.len());
        stream.extend(tok.encode(text, false)?);
        stream.push(0);
    }
    starts.retain(|&s| s + seq_len < stream.len());
    if source.len() <= seq_len + 1 {
        return Err(ModelError::InvalidArgument(format!(
            "the source corpus has {} tokens, fewer than one window of {}",
            source.len(),
            seq_len + 1
        )));
    }
    let mut h = Sha256::new();
    for t in source.iter().chain([&u32::MAX]).chain(stream.iter()) {
        h.update(t.to_le_bytes());
    }
    Ok(Data {
        source,
        extra: stream,
        extra_starts: starts,
        sha256: hex::encode(h.finalize()),
    })
}

/// Batch `step`: (inputs, targets), both (batch, seq_len) u32, a pure function of (seed, step).
fn batch(
    data: &Data,
    s: &PretrainSettings,
    step: u64,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    rng.set_stream(step);
    let t = s.seq_len;
    let mut x = Vec::with_capacity(s.batch_size * t);
    let mut y = Vec::with_capacity(s.batch_size * t);
    for _ in 0..s.batch_size {
        let from_extra = !data.extra_starts.is_empty() && rng.random::<f64>() < s.extra_fraction;
        let (stream, start) = if from_extra {
            (
                &data.extra,
                data.extra_starts[rng.random_range(0..data.extra_starts.len())],
            )
        } else {
            (&data.source, rng.random_range(0..data.source.len() - t - 1))
        };
        x.extend_from_slice(&stream[start..start + t]);
        y.extend_from_slice(&stream[start + 1..start + t + 1]);
    }
    Ok((
        Tensor::from_vec(x, (s.batch_size, t), device)?,
        Tensor::from_vec(y, (s.batch_size, t), device)?,
    ))
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct PretrainReport {
    pub resumed_from: Option<u64>,
    pub final_step: u64,
    pub last_loss: Option<f32>,
    pub num_params: usize,
    pub tokens_per_s: f64,
}

/// Trains (or resumes) into `out`, checkpointing every `checkpoint_every` steps and at the end.
/// `stop_at` ends the run early at that step (as an interruption would), leaving a resumable
/// checkpoint.
pub fn pretrain(
    out: &Path,
    settings: &PretrainSettings,
    corpus: &PretrainCorpus,
    checkpoint_every: u64,
    stop_at: Option<u64>,
    on_step: &mut dyn FnMut(&StepRecord),
) -> Result<PretrainReport> {
    let device = Device::Cpu;
    if settings.num_heads == 0
        || !settings.hidden_size.is_multiple_of(settings.num_heads)
        || settings.batch_size == 0
        || settings.seq_len == 0
    {
        return Err(ModelError::InvalidArgument(format!(
            "inconsistent model settings {settings:?}"
        )));
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let mut sources = Vec::new();
    for dir in &corpus.source_dirs {
        for f in python_files(dir)? {
            // Non-UTF-8 files (a few encodings tests) are skipped rather than guessed at.
            if let Ok(text) = std::fs::read_to_string(&f) {
                sources.push(text);
            }
        }
    }
    let ckpt = out.join(CHECKPOINT);
    let state_path = ckpt.join(STATE);
    let resume: Option<TrainerState> = if state_path.exists() {
        Some(read_json(&state_path)?)
    } else {
        None
    };
    if resume.is_none() && out.join("model.safetensors").exists() {
        return Err(ModelError::Checkpoint {
            path: out.to_path_buf(),
            message: format!(
                "holds a model but no {CHECKPOINT}/{STATE} to resume from; pretrain into a new \
                 folder (nothing here was changed)"
            ),
        });
    }
    if let Some(st) = &resume
        && st.settings != *settings
    {
        return Err(ModelError::Checkpoint {
            path: state_path,
            message: format!(
                "was written with other settings {:?}; resume with the same settings or use a new \
                 folder",
                st.settings
            ),
        });
    }
    let tok_path = out.join("tokenizer.json");
    if resume.is_none() {
        let mut texts = sources.clone();
        texts.extend(corpus.extra_texts.iter().cloned());
        train_byte_level_bpe(&texts, settings.vocab_size, &tok_path)?;
        let tc = serde_json::json!({
            "eos_token": ENDOFTEXT, "pad_token": PAD, "bos_token": null,
            "model_max_length": 4 * settings.seq_len,
        });
        write_atomic(
            &out.join("tokenizer_config.json"),
            tc.to_string().as_bytes(),
        )?;
        let gc = serde_json::json!({"eos_token_id": 0, "pad_token_id": 1});
        write_atomic(
            &out.join("generation_config.json"),
            gc.to_string().as_bytes(),
        )?;
    }
    let tok = Tokenizer::load(out)?;
    let data = tokenize(&tok, &sources, &corpus.extra_texts, settings.seq_len)?;
    let cfg = settings.model_config(tok.vocab_size());
    let (model, mut opt, start, mut tokens_seen) = match &resume {
        None => {
            let model = Decoder::new_trainable(
                cfg.clone(),
                Init::Random {
                    seed: settings.seed,
                },
                &device,
            )?;
            let opt = AdamW::new(model.trainable_vars(), adam_params(settings))?;
            let _ = std::fs::remove_file(out.join(LOG));
            (model, opt, 0, 0)
        }
        Some(st) => {
            if st.corpus_sha256 != data.sha256 {
                return Err(ModelError::Checkpoint {
                    path: state_path,
                    message:
                        "the corpus changed since this run started (token stream hash differs)"
                            .into(),
                });
            }
            for file in ["model.safetensors", "optimizer.safetensors"] {
                if !ckpt.join(file).is_file() {
                    return Err(ModelError::Checkpoint {
                        path: ckpt.clone(),
                        message: format!("missing {file}, so the run cannot resume"),
                    });
                }
            }
            let weights = candle_core::safetensors::load(ckpt.join("model.safetensors"), &device)?;
            let model = Decoder::new_trainable(cfg.clone(), Init::Tensors(&weights), &device)?;
            let mut opt = AdamW::new(model.trainable_vars(), adam_params(settings))?;
            opt.load(&ckpt.join("optimizer.safetensors"))?;
            if opt.steps() != st.step {
                return Err(ModelError::Checkpoint {
                    path: state_path,
                    message: format!(
                        "optimizer is at step {} but trainer_state.json says {} (torn checkpoint)",
                        opt.steps(),
                        st.step
                    ),
                });
            }
            let log = out.join(LOG);
            scrl_fs::cut_jsonl(&log, "step", st.step + 1).map_err(io_err(&log))?;
            (model, opt, st.step, st.tokens_seen)
        }
    };
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join(LOG))
        .map_err(io_err(out.join(LOG)))?;
    let t0 = Instant::now();
    let end = stop_at.unwrap_or(settings.steps).min(settings.steps);
    let mut last_loss = None;
    let tokens_per_step = (settings.batch_size * settings.seq_len) as u64;
    for step in start..end {
        let (x, y) = batch(&data, settings, step, &device)?;
        let logits = model.forward_train(&x, None, LoraMode::Off)?.logits;
        let v = logits.dim(2)?;
        let loss = candle_nn::loss::cross_entropy(&logits.reshape(((), v))?, &y.flatten_all()?)?;
        let grads = loss.backward()?;
        let lr = settings.lr_at(step);
        let grad_norm = opt.step(&grads, lr)?;
        tokens_seen += tokens_per_step;
        let rec = StepRecord {
            step: step + 1,
            loss: loss.to_dtype(DType::F32)?.to_scalar()?,
            lr,
            grad_norm,
            tokens_seen,
            elapsed_s: t0.elapsed().as_secs_f64(),
        };
        writeln!(
            log,
            "{}",
            serde_json::to_string(&rec).expect("a record serialises")
        )
        .map_err(io_err(out.join(LOG)))?;
        last_loss = Some(rec.loss);
        on_step(&rec);
        if (step + 1) % checkpoint_every.max(1) == 0 || step + 1 == end {
            log.flush().map_err(io_err(out.join(LOG)))?;
            checkpoint(out, &model, &opt, settings, &data.sha256, tokens_seen)?;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(PretrainReport {
        resumed_from: resume.map(|s| s.step),
        final_step: end.max(start),
        last_loss,
        num_params: cfg.num_params(),
        tokens_per_s: (end.saturating_sub(start) * tokens_per_step) as f64 / secs.max(1e-9),
    })
}

fn adam_params(s: &PretrainSettings) -> AdamWParams {
    AdamWParams {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: s.weight_decay,
        max_grad_norm: Some(1.0),
    }
}

/// The checkpoint folder (model, optimizer, and the state that names the step) is built whole with
/// `scrl_fs::write_dir`, as the trainers' checkpoints are, so a crash leaves the previous
/// checkpoint or the new one; then the output folder's model files are replaced, so that it is a
/// loadable model at every checkpoint.
fn checkpoint(
    out: &Path,
    model: &Decoder,
    opt: &AdamW,
    settings: &PretrainSettings,
    sha: &str,
    tokens_seen: u64,
) -> Result<()> {
    let config = model.config().to_hf_json();
    let tensors = model.base_tensors();
    let st = TrainerState {
        step: opt.steps(),
        settings: settings.clone(),
        corpus_sha256: sha.to_string(),
        tokens_seen,
    };
    scrl_fs::write_dir(
        &out.join(CHECKPOINT),
        |d| {
            crate::lora::save_checkpoint(d, &config, &tensors)?;
            opt.save(&d.join("optimizer.safetensors"))?;
            write_atomic(
                &d.join(STATE),
                serde_json::to_string_pretty(&st)
                    .expect("state serialises")
                    .as_bytes(),
            )
        },
        |path, e| io_err(path)(e),
    )?;
    crate::lora::save_checkpoint(out, &config, &tensors)
}

/// Reads `loss_log.jsonl`.
pub fn read_loss_log(dir: &Path) -> Result<Vec<StepRecord>> {
    let path = dir.join(LOG);
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ModelError::Checkpoint {
                path: path.clone(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

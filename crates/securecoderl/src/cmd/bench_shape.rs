//! Measurements at the real model shapes (scrl_model::shapes), shared by `bench model --shape` (CPU
//! table in docs/model.md) and `bench gpu-check` (the one-table GPU check of scripts/gpu-check):
//! writing a seeded random bf16 Hugging Face folder, loading it, one LoRA SFT step, greedy decoding
//! with the KV cache, and one PPO episode through the public trainer (`scrl_train::run_ppo`), each
//! with its seconds and the process's peak resident memory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use scrl_model::shapes::{Shape, write_random_checkpoint};
use scrl_model::{AdamW, AdamWParams, DType, Decoder, Device, LoraMode, Tensor, Tokenizer};
use scrl_train::{LoraSettings, PpoConfig, PromptStyle};

/// Seed of every random checkpoint the benchmarks write (weights and the problems its tokenizer
/// saw).
pub const CHECKPOINT_SEED: u64 = 20_261_126;

/// Peak resident memory of this process so far, in MiB (`VmHWM`; Linux only).
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Starts a new peak-memory window (`VmHWM` := current RSS). Returns false where Linux does not
/// allow it. Memory the allocator kept from freed tensors is handed back first, so the window
/// starts from what is in use rather than from an earlier phase's peak.
pub fn reset_peak_rss() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: glibc's malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub fn mib(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |m| format!("{:.0} MiB", m))
}

/// The folder of `shape` with `layers` layers (None = all) under `root`, written when missing or
/// different; returns it and the seconds spent writing (None when reused).
pub fn ensure_checkpoint(
    root: &Path,
    shape: &Shape,
    layers: Option<usize>,
) -> anyhow::Result<(PathBuf, Option<f64>)> {
    let dir = match layers {
        Some(l) => root.join(format!("{}-{l}-layers", shape.name)),
        None => root.join(shape.name),
    };
    // The tokenizer learns its merges from the built-in problems, the prompts the PPO episode uses.
    let texts: Vec<String> = scrl_data::builtin::suite(CHECKPOINT_SEED, 20)
        .iter()
        .map(|p| {
            let mut t = scrl_data::completion_prompt(p);
            t.push_str(p.reference_solution.as_deref().unwrap_or(""));
            t
        })
        .collect();
    let start = Instant::now();
    let wrote = write_random_checkpoint(&dir, shape, layers, CHECKPOINT_SEED, &texts)
        .with_context(|| {
            format!(
                "writing the random {} checkpoint into {}",
                shape.name,
                dir.display()
            )
        })?;
    Ok((dir, wrote.then(|| start.elapsed().as_secs_f64())))
}

/// Token ids spread over the vocabulary, a function of (`salt`, position) only.
pub fn spread_ids(
    b: usize,
    t: usize,
    vocab: usize,
    salt: usize,
    dev: &Device,
) -> anyhow::Result<Tensor> {
    let v: Vec<u32> = (0..b * t)
        .map(|i| ((i * 7919 + salt * 104_729) % vocab) as u32)
        .collect();
    Ok(Tensor::from_vec(v, (b, t), dev)?)
}

/// Loads a checkpoint folder (weights + tokenizer): seconds.
pub fn load(dir: &Path, dtype: DType, dev: &Device) -> anyhow::Result<(Decoder, f64)> {
    let start = Instant::now();
    let model =
        Decoder::load(dir, dtype, dev).with_context(|| format!("loading {}", dir.display()))?;
    Tokenizer::load(dir)?;
    Ok((model, start.elapsed().as_secs_f64()))
}

/// Attaches the paper's SFT adapter (LoRA r 16, alpha 32, dropout 0.05 on q/k/v/o) and times
/// `steps` optimizer steps (forward, NLL, backward, AdamW) on `b` x `t` tokens; returns seconds of
/// the last step.
pub fn sft_steps(model: &mut Decoder, b: usize, t: usize, steps: usize) -> anyhow::Result<f64> {
    model.attach_lora(LoraSettings::default().to_model(), CHECKPOINT_SEED)?;
    let dev = model.device().clone();
    let vocab = model.config().vocab_size;
    let mut opt = AdamW::new(model.trainable_vars(), AdamWParams::default())?;
    let mut last = 0.0;
    for step in 0..steps.max(1) {
        let x = spread_ids(b, t, vocab, step, &dev)?;
        let y = spread_ids(b, t, vocab, step + 1000, &dev)?;
        let start = Instant::now();
        let logits = model
            .forward_train(&x, None, LoraMode::Train { seed: step as u64 })?
            .logits;
        let loss = scrl_model::token_logprobs(&logits, &y, 1.0)?
            .mean_all()?
            .neg()?;
        opt.step(&loss.backward()?, 1e-4)?;
        // Reading the loss waits for the device to finish the step.
        let l = loss.to_scalar::<f32>()?;
        anyhow::ensure!(l.is_finite(), "SFT loss is {l}");
        last = start.elapsed().as_secs_f64();
    }
    Ok(last)
}

/// Greedy decoding of `new` tokens per row after a `prompt`-token prompt, KV cache and fused
/// kernels: (tokens/s over all rows, milliseconds per decode step after the prompt).
pub fn decode(
    model: &Decoder,
    mode: LoraMode,
    b: usize,
    prompt: usize,
    new: usize,
) -> anyhow::Result<(f64, f64)> {
    let dev = model.device().clone();
    let ids = spread_ids(b, prompt, model.config().vocab_size, 3, &dev)?;
    let start = Instant::now();
    let mut cache = model.new_cache(b, prompt + new);
    let mut logits = model.forward_cached(&ids, &vec![vec![true; prompt]; b], &mut cache, mode)?;
    let mut next = logits.argmax(1)?.to_dtype(DType::U32)?;
    next.to_vec1::<u32>()?;
    let after_prompt = Instant::now();
    for _ in 1..new {
        logits =
            model.forward_cached(&next.unsqueeze(1)?, &vec![vec![true]; b], &mut cache, mode)?;
        next = logits.argmax(1)?.to_dtype(DType::U32)?;
    }
    // Sampling reads the ids back every step; so does this.
    next.to_vec1::<u32>()?;
    let total = start.elapsed().as_secs_f64();
    let steps = new.saturating_sub(1).max(1) as f64;
    Ok((
        (b * new) as f64 / total,
        1e3 * after_prompt.elapsed().as_secs_f64() / steps,
    ))
}

/// One PPO run's per-episode phases, from the trainer's metrics.jsonl.
pub struct PpoPhases {
    pub generate: f64,
    pub reward: f64,
    pub forward: f64,
    pub update: f64,
    pub episode: f64,
    pub response_tokens: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Runs `episodes` PPO episodes with the paper's settings except those given (batch, new tokens,
/// PPO epochs), fresh LoRA, completion prompts from the built-in problems; reports the last
/// episode.
#[allow(clippy::too_many_arguments)]
pub fn ppo_episode(
    model_dir: &Path,
    device: &str,
    dtype: &str,
    batch: usize,
    max_new_tokens: usize,
    ppo_epochs: usize,
    episodes: u64,
    reward: &scrl_reward::RewardModel,
) -> anyhow::Result<PpoPhases> {
    let dir = std::env::temp_dir().join(format!("scrl-bench-shape-ppo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let data = dir.join("problems.jsonl");
    scrl_data::write_problems(&data, &scrl_data::builtin::suite(CHECKPOINT_SEED + 1, 4))?;
    let cfg = PpoConfig {
        model: model_dir.to_path_buf(),
        data,
        out: dir.join("run"),
        episodes,
        batch_size: batch,
        max_new_tokens,
        ppo_epochs,
        val_prompts: 0,
        val_every: 0,
        save_every: episodes,
        prompt_style: PromptStyle::Completion,
        dtype: dtype.to_string(),
        device: device.to_string(),
        ..PpoConfig::default()
    };
    reset_peak_rss();
    let run = scrl_train::run_ppo(&cfg, reward, false, &|_, _| {});
    let peak = peak_rss_mib();
    let rows = scrl_eval::read_rows::<scrl_eval::PpoEpisodeRow>(&cfg.out.join("metrics.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
    run.with_context(|| format!("PPO episode on {}", model_dir.display()))?;
    let rows = rows.context("reading the PPO run's metrics.jsonl")?;
    let last = rows.last().context("empty metrics.jsonl")?;
    Ok(PpoPhases {
        generate: last.seconds_generate,
        reward: last.seconds_reward,
        forward: last.seconds_forward,
        update: last.seconds_update,
        episode: last.seconds_episode,
        response_tokens: last.response_length_mean * batch as f64,
        peak_rss_mib: peak,
    })
}

/// Threads candle's CPU kernels use (RAYON_NUM_THREADS, else all cores).
pub fn cpu_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

/// The 1-minute load average, to print beside CPU timings on a shared machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

//! `securecoderl bench gpu-check`: the one table scripts/gpu-check prints on a GPU machine. CUDA
//! against CPU logits on the golden fixture checkpoints and one-layer real shapes, bf16 decode
//! tokens/s for the Qwen2.5-Coder-0.5B and DeepSeek-Coder-1.3B shapes at several batch sizes, LoRA
//! SFT tokens/s, one PPO episode at the paper's settings split by phase, and memory, each with the
//! anchor it is judged by. `--device cpu` runs the same code (on reduced shapes, in a test).

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_model::{DType, Decoder, Device, LoraMode, Tensor};

use super::bench_shape::{
    decode, ensure_checkpoint, load, mib, peak_rss_mib, ppo_episode, reset_peak_rss, sft_steps,
    spread_ids,
};

#[derive(clap::Args)]
pub struct GpuCheckArgs {
    /// The device to check against the CPU: cuda, cuda:N (or cpu, to exercise the code path).
    #[arg(long, default_value = "cuda")]
    pub device: String,
    /// Where the random checkpoints are written (about 4 GB for the full shapes).
    #[arg(long, default_value = "target/shapes")]
    pub shape_dir: PathBuf,
    /// Layers of the 0.5B and 1.3B shapes (default: the real 24 each).
    #[arg(long)]
    pub layers: Option<usize>,
    /// The golden fixture checkpoints (tiny LLaMA and Qwen2 from transformers).
    #[arg(long, default_value = "crates/scrl-model/tests/fixtures/golden")]
    pub fixtures: PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub decode_batches: Vec<usize>,
    /// New tokens per row when timing decoding (after a 32-token prompt).
    #[arg(long, default_value_t = 128)]
    pub decode_tokens: usize,
    /// Rows x tokens of the timed LoRA SFT step (the second of two).
    #[arg(long, default_value_t = 4)]
    pub sft_batch: usize,
    #[arg(long, default_value_t = 512)]
    pub sft_seq: usize,
    /// The PPO episode (batch 2 as in the paper): new tokens per row and PPO epochs.
    #[arg(long, default_value_t = 512)]
    pub ppo_new_tokens: usize,
    #[arg(long, default_value_t = 4)]
    pub ppo_epochs: usize,
    /// PPO episodes run; the last is reported (the first pays for warm-up).
    #[arg(long, default_value_t = 2)]
    pub ppo_episodes: u64,
    #[command(flatten)]
    pub reward: super::reward_opts::RewardOpts,
}

const SMALL: &str = "qwen2.5-coder-0.5b-instruct";
const PAPER: &str = "deepseek-coder-1.3b-instruct";

struct Table(Vec<[String; 5]>);

impl Table {
    fn row(&mut self, check: &str, model: &str, setting: String, result: String, anchor: &str) {
        let r = [
            check.to_string(),
            model.to_string(),
            setting,
            result,
            anchor.to_string(),
        ];
        println!("  {}", r.join(" | "));
        self.0.push(r);
    }

    fn print(&self) {
        println!();
        println!("| check | model | setting | result | anchor |");
        println!("|---|---|---|---|---|");
        for r in &self.0 {
            println!("| {} |", r.join(" | "));
        }
    }
}

/// Logits (f32) of a fixed two-row batch (second row left-padded) through the training forward.
fn logits(model: &Decoder) -> anyhow::Result<Vec<f32>> {
    let dev = model.device().clone();
    let (b, t) = (2, 8);
    let x = spread_ids(b, t, model.config().vocab_size, 5, &dev)?;
    let mut m = vec![1u32; b * t];
    m[t] = 0;
    m[t + 1] = 0;
    let mask = Tensor::from_vec(m, (b, t), &dev)?;
    Ok(model
        .forward_train(&x, Some(&mask), LoraMode::Off)?
        .logits
        .flatten_all()?
        .to_vec1()?)
}

/// (max |CUDA - CPU|, max |CPU|) of the logits of `dir` loaded in `dtype` on `dev` vs f32 on the
/// CPU.
fn parity(dir: &Path, dtype: DType, dev: &Device) -> anyhow::Result<(f32, f32)> {
    let cpu = logits(&Decoder::load(dir, DType::F32, &Device::Cpu)?)?;
    let other = logits(&Decoder::load(dir, dtype, dev)?)?;
    let d = cpu
        .iter()
        .zip(&other)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    Ok((d, cpu.iter().map(|x| x.abs()).fold(0f32, f32::max)))
}

fn gpu_mem(dev: &Device) -> String {
    scrl_model::gpu_memory_used(dev).map_or("n/a".into(), |b| {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    })
}

pub fn run(a: GpuCheckArgs) -> anyhow::Result<i32> {
    let dev = scrl_model::parse_device(&a.device)?;
    let reward = a.reward.build()?;
    println!(
        "bench gpu-check on {:?} (rows print as they finish; the table is at the end)",
        dev
    );
    let mut t = Table(Vec::new());

    // 1. The same weights on CPU (f32) and on the device.
    for name in ["llama", "qwen2"] {
        let dir = a.fixtures.join(name);
        for dtype in [DType::F32, DType::BF16] {
            let (d, scale) =
                parity(&dir, dtype, &dev).with_context(|| format!("fixture {}", dir.display()))?;
            t.row(
                "logits vs CPU f32",
                &format!("golden {name}"),
                format!("{dtype:?} on {}", a.device),
                format!("max |diff| {d:.2e} (max |logit| {scale:.2})"),
                if dtype == DType::F32 {
                    "f32: about 1e-5 or less"
                } else {
                    "bf16: about 1% of max |logit|"
                },
            );
        }
    }
    for s in scrl_model::shapes::SHAPES {
        let (dir, _) = ensure_checkpoint(&a.shape_dir, s, Some(1))?;
        let (d, scale) = parity(&dir, DType::BF16, &dev)?;
        t.row(
            "logits vs CPU f32",
            &format!("{} (1 layer)", s.name),
            format!("BF16 on {}", a.device),
            format!("max |diff| {d:.2e} (max |logit| {scale:.2})"),
            "bf16: about 1% of max |logit|",
        );
    }

    // 2 and 3. Decoding and one SFT step at the real shapes, bf16.
    for name in [SMALL, PAPER] {
        let shape = scrl_model::shapes::shape(name)?;
        let (dir, _) = ensure_checkpoint(&a.shape_dir, shape, a.layers)?;
        let layers = shape.config(a.layers)?.num_hidden_layers;
        let label = format!("{name} ({layers} layers)");
        reset_peak_rss();
        let (mut model, load_s) = load(&dir, DType::BF16, &dev)?;
        t.row(
            "load",
            &label,
            "bf16".into(),
            format!("{load_s:.1} s, {} on the GPU", gpu_mem(&dev)),
            "",
        );
        for &b in &a.decode_batches {
            let (tok_s, ms) = decode(&model, LoraMode::Off, b, 32, a.decode_tokens)?;
            let anchor = if name == PAPER {
                "H200 bandwidth floor about 0.6 ms/step; HF generate 38-43 tok/s at batch 2"
            } else {
                ""
            };
            t.row(
                "decode (KV cache, greedy)",
                &label,
                format!("bf16, batch {b}, 32 + {} tokens", a.decode_tokens),
                format!(
                    "{tok_s:.0} tok/s, {ms:.2} ms/step, {} on the GPU",
                    gpu_mem(&dev)
                ),
                anchor,
            );
        }
        let sft = sft_steps(&mut model, a.sft_batch, a.sft_seq, 2)?;
        t.row(
            "LoRA SFT step (r16 q/k/v/o, AdamW)",
            &label,
            format!("bf16 base, {}x{} tokens", a.sft_batch, a.sft_seq),
            format!(
                "{:.0} tok/s ({sft:.2} s), {} on the GPU, peak RSS {}",
                (a.sft_batch * a.sft_seq) as f64 / sft,
                gpu_mem(&dev),
                mib(peak_rss_mib())
            ),
            "",
        );
    }

    // 4. One PPO episode at the paper's settings through the trainer.
    let shape = scrl_model::shapes::shape(PAPER)?;
    let (dir, _) = ensure_checkpoint(&a.shape_dir, shape, a.layers)?;
    let layers = shape.config(a.layers)?.num_hidden_layers;
    let p = ppo_episode(
        &dir,
        &a.device,
        "bf16",
        2,
        a.ppo_new_tokens,
        a.ppo_epochs,
        a.ppo_episodes,
        &reward,
    )?;
    let label = format!("{PAPER} ({layers} layers)");
    let setting = format!(
        "bf16, batch 2, {} new tokens, {} PPO epochs",
        a.ppo_new_tokens, a.ppo_epochs
    );
    let share = |x: f64| format!("{x:.2} s ({:.0}%)", 100.0 * x / p.episode.max(1e-9));
    t.row(
        "PPO episode",
        &label,
        setting.clone(),
        format!(
            "{:.2} s, {:.0} response tokens",
            p.episode, p.response_tokens
        ),
        "HF generate + peft on an H200: about 25 s per episode",
    );
    t.row(
        "  generation",
        &label,
        setting.clone(),
        format!(
            "{}, {:.0} tok/s",
            share(p.generate),
            p.response_tokens / p.generate.max(1e-9)
        ),
        "HF: 97% of the episode, 38-43 tok/s",
    );
    t.row("  reward", &label, setting.clone(), share(p.reward), "");
    t.row(
        "  old-policy/value/reference passes",
        &label,
        setting.clone(),
        share(p.forward),
        "",
    );
    t.row("  update", &label, setting, share(p.update), "HF: 0.7 s");
    t.row(
        "memory after the PPO run",
        &label,
        String::new(),
        format!(
            "{} in use on the GPU, peak RSS {}",
            gpu_mem(&dev),
            mib(p.peak_rss_mib)
        ),
        "HF: peak 7.5 GiB; scripts/gpu-check adds the nvidia-smi peak",
    );
    t.print();
    Ok(0)
}

//! `securecoderl bench model`: training and decoding tokens per second for the tiny default config, the
//! 6.4M-parameter config notes/mlstack.md measured (PyTorch ~3.8k, plain candle ~1.4k train tok/s on 2
//! threads), and a Qwen2.5-0.5B-shaped model with random weights (fewer layers by default: CPU time).
//! Decoding with the KV cache is compared against full recomputation measured in the same run.
//! With `--shape NAME` it measures a real model shape instead (shapes/*/config.json, random bf16 weights
//! written as a Hugging Face folder): load time, one LoRA SFT step, one PPO episode, peak memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use scrl_model::pretrain::PretrainSettings;
use scrl_model::{AdamW, AdamWParams, Decoder, Init, LoraConfig, LoraMode, ModelConfig, Tensor};

use super::bench_shape::{
    cpu_threads, ensure_checkpoint, load, load_average, mib, peak_rss_mib, ppo_episode,
    reset_peak_rss, sft_steps, spread_ids as random_ids,
};

#[derive(clap::Args)]
pub struct BenchModelArgs {
    /// Timed optimizer steps per training row (after one warm-up step).
    #[arg(long, default_value_t = 3)]
    pub train_steps: usize,
    /// New tokens per decoding row.
    #[arg(long, default_value_t = 64)]
    pub decode_tokens: usize,
    /// Layers of the Qwen2.5-0.5B-shaped model (the real one has 24).
    #[arg(long, default_value_t = 2)]
    pub qwen_layers: usize,
    /// Skip the Qwen2.5-0.5B-shaped rows.
    #[arg(long)]
    pub skip_qwen: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Measure a real model shape instead (repeatable): deepseek-coder-1.3b-instruct,
    /// qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct.
    #[arg(long)]
    pub shape: Vec<String>,
    /// Where the random checkpoints of --shape are written (reused when already there).
    #[arg(long, default_value = "target/shapes")]
    pub shape_dir: PathBuf,
    /// Layers of the --shape model (default: the real number).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Compute dtype of the --shape model (the checkpoint is bf16).
    #[arg(long, default_value = "bf16")]
    pub dtype: String,
    /// Rows x tokens of the --shape LoRA SFT step.
    #[arg(long, default_value_t = 2)]
    pub sft_batch: usize,
    #[arg(long, default_value_t = 128)]
    pub sft_seq: usize,
    /// New tokens per row in the --shape PPO episode (batch 2; the paper uses 512).
    #[arg(long, default_value_t = 32)]
    pub ppo_new_tokens: usize,
    /// PPO epochs in the --shape episode (the paper uses 4).
    #[arg(long, default_value_t = 4)]
    pub ppo_epochs: usize,
    #[command(flatten)]
    pub reward: super::reward_opts::RewardOpts,
}

struct Shape {
    name: String,
    cfg: ModelConfig,
    /// None = full fine-tuning of every weight; Some = LoRA on these modules (r 16).
    lora: Option<Vec<String>>,
    train_bt: (usize, usize),
    decode_batches: Vec<usize>,
}

fn config(v: serde_json::Value) -> anyhow::Result<ModelConfig> {
    Ok(ModelConfig::from_value(std::path::Path::new("<bench>"), v)?)
}

fn shapes(args: &BenchModelArgs) -> anyhow::Result<Vec<Shape>> {
    let tiny = PretrainSettings::default();
    let mut out = vec![
        Shape {
            name: "tiny default".into(),
            cfg: tiny.model_config(tiny.vocab_size),
            lora: None,
            train_bt: (8, 256),
            decode_batches: vec![1, 8],
        },
        Shape {
            name: "mlstack \"s\" 6.4M".into(),
            cfg: config(
                serde_json::json!({"model_type": "llama", "vocab_size": 4096, "hidden_size": 256,
                "intermediate_size": 688, "num_hidden_layers": 6, "num_attention_heads": 8, "num_key_value_heads": 4,
                "tie_word_embeddings": false}),
            )?,
            lora: None,
            train_bt: (8, 256),
            decode_batches: vec![1],
        },
    ];
    if !args.skip_qwen {
        out.push(Shape {
            name: format!("Qwen2.5-0.5B shape, {} of 24 layers", args.qwen_layers),
            cfg: config(serde_json::json!({"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
                "intermediate_size": 4864, "num_hidden_layers": args.qwen_layers, "num_attention_heads": 14,
                "num_key_value_heads": 2, "rope_theta": 1000000.0, "tie_word_embeddings": true}))?,
            lora: Some(["q_proj", "k_proj", "v_proj", "o_proj"].map(String::from).to_vec()),
            train_bt: (2, 128),
            decode_batches: vec![1, 4],
        });
    }
    Ok(out)
}

/// Seconds of CPU (user + system, all threads) this process has used: on a shared machine tokens per
/// CPU-second are steadier than tokens per wall-second. Linux only; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (clock ticks,
    // 100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// (tok/s, tok per CPU-second) of forward + backward + AdamW steps.
fn train_tok_s(
    model: &Decoder,
    mode: LoraMode,
    b: usize,
    t: usize,
    steps: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let dev = model.device().clone();
    let vocab = model.config().vocab_size;
    let mut opt = AdamW::new(model.trainable_vars(), AdamWParams::default())?;
    let mut timed = 0.0;
    let mut cpu = 0.0;
    for step in 0..=steps {
        let x = random_ids(b, t, vocab, step, &dev)?;
        let y = random_ids(b, t, vocab, step + 1000, &dev)?;
        let start = Instant::now();
        let cpu0 = cpu_seconds();
        let logits = model.forward_train(&x, None, mode)?.logits;
        let loss = candle_nn_loss(&logits, &y)?;
        opt.step(&loss.backward()?, 1e-4)?;
        if step > 0 {
            timed += start.elapsed().as_secs_f64();
            cpu += cpu_seconds().zip(cpu0).map_or(f64::NAN, |(a, b)| a - b);
        }
    }
    let tokens = (steps * b * t) as f64;
    Ok((
        tokens / timed,
        (cpu.is_finite() && cpu > 0.0).then(|| tokens / cpu),
    ))
}

fn candle_nn_loss(logits: &Tensor, y: &Tensor) -> anyhow::Result<Tensor> {
    // Mean negative log-likelihood, the pretraining loss.
    let lp = scrl_model::token_logprobs(logits, y, 1.0)?;
    Ok(lp.mean_all()?.neg()?)
}

/// Greedy decoding of `new` tokens after a 32-token prompt: (KV cache + fused kernels) tok/s.
fn decode_tok_s(model: &Decoder, mode: LoraMode, b: usize, new: usize) -> anyhow::Result<f64> {
    Ok(super::bench_shape::decode(model, mode, b, 32, new)?.0)
}

/// The same greedy loop without a cache: the differentiable forward over the whole sequence each step.
fn recompute_tok_s(model: &Decoder, mode: LoraMode, new: usize) -> anyhow::Result<f64> {
    let dev = model.device().clone();
    let mut seq = random_ids(1, 32, model.config().vocab_size, 3, &dev)?;
    let start = Instant::now();
    for _ in 0..new {
        let logits = model.forward_train(&seq, None, mode)?.logits;
        let t = logits.dim(1)?;
        let next = logits
            .narrow(1, t - 1, 1)?
            .argmax(2)?
            .to_dtype(scrl_model::DType::U32)?;
        seq = Tensor::cat(&[&seq, &next], 1)?;
    }
    Ok(new as f64 / start.elapsed().as_secs_f64())
}

pub fn run(args: BenchModelArgs) -> anyhow::Result<i32> {
    if !args.shape.is_empty() {
        return run_shapes(&args);
    }
    let dev = scrl_model::parse_device(&args.device)?;
    let threads = cpu_threads();
    println!(
        "bench model: {threads} CPU thread(s) (RAYON_NUM_THREADS), f32 weights, AdamW, {:?}",
        dev
    );
    println!();
    println!(
        "| model | params | trained | train batch | train tok/s | train tok/CPU-s | decode batch | decode tok/s (KV cache) | no-cache tok/s | cache speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in shapes(&args)? {
        let mut model = Decoder::new_trainable(s.cfg.clone(), Init::Random { seed: 1 }, &dev)
            .with_context(|| format!("building {}", s.name))?;
        let (trained, mode) = match &s.lora {
            None => ("all weights".to_string(), LoraMode::Off),
            Some(mods) => {
                model.attach_lora(
                    LoraConfig {
                        r: 16,
                        alpha: 32.0,
                        dropout: 0.0,
                        target_modules: mods.clone(),
                    },
                    1,
                )?;
                (format!("LoRA r16 {}", mods.join("/")), LoraMode::On)
            }
        };
        let (b, t) = s.train_bt;
        let (train, train_cpu) = train_tok_s(&model, mode, b, t, args.train_steps)?;
        let baseline = recompute_tok_s(&model, mode, args.decode_tokens.min(32))?;
        for (i, &db) in s.decode_batches.iter().enumerate() {
            let dec = decode_tok_s(&model, mode, db, args.decode_tokens)?;
            let (name, params, tr, tb, ts, tc) = if i == 0 {
                (
                    s.name.clone(),
                    format!("{:.1}M", s.cfg.num_params() as f64 / 1e6),
                    trained.clone(),
                    format!("{b}x{t}"),
                    format!("{train:.0}"),
                    train_cpu.map_or("n/a".to_string(), |c| format!("{c:.0}")),
                )
            } else {
                Default::default()
            };
            let (base, ratio) = if db == 1 {
                (format!("{baseline:.1}"), format!("{:.1}x", dec / baseline))
            } else {
                (String::new(), String::new())
            };
            println!(
                "| {name} | {params} | {tr} | {tb} | {ts} | {tc} | {db} | {dec:.0} | {base} | {ratio} |"
            );
        }
    }
    println!();
    println!(
        "Reference (notes/mlstack.md, other runs on this machine, 8x256, 2 threads): PyTorch ~3789, plain candle ~1392-1539 train tok/s for the 6.4M model."
    );
    Ok(0)
}

/// `bench model --shape`: one row per real shape.
fn run_shapes(args: &BenchModelArgs) -> anyhow::Result<i32> {
    let dev = scrl_model::parse_device(&args.device)?;
    let dtype = super::generate::parse_dtype(&args.dtype)?;
    let reward = args.reward.build()?;
    println!(
        "bench model --shape: {:?}, {} compute, {} CPU thread(s), load average {} at start; random bf16 \
         weights (seed {}); SFT = one LoRA r16 q/k/v/o step on {}x{} tokens; PPO = one episode, batch 2, \
         {} new tokens, {} PPO epoch(s), {}",
        dev,
        args.dtype,
        cpu_threads(),
        load_average(),
        super::bench_shape::CHECKPOINT_SEED,
        args.sft_batch,
        args.sft_seq,
        args.ppo_new_tokens,
        args.ppo_epochs,
        super::eval::reward_setting(&reward),
    );
    println!();
    println!(
        "| shape | params | layers | write s | load s | RSS after load | SFT step s | SFT tok/s | peak RSS (SFT) | \
         PPO generate s | gen tok/s | reward s | fwd s | update s | episode s | peak RSS (PPO) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for name in &args.shape {
        let shape = scrl_model::shapes::shape(name)?;
        let cfg = shape.config(args.layers)?;
        let (dir, wrote) = ensure_checkpoint(&args.shape_dir, shape, args.layers)?;
        reset_peak_rss();
        let (mut model, load_s) = load(&dir, dtype, &dev)?;
        let rss_load = peak_rss_mib();
        let sft = sft_steps(&mut model, args.sft_batch, args.sft_seq, 1)?;
        let rss_sft = peak_rss_mib();
        drop(model);
        let ppo = ppo_episode(
            &dir,
            &args.device,
            &args.dtype,
            2,
            args.ppo_new_tokens,
            args.ppo_epochs,
            1,
            &reward,
        )?;
        println!(
            "| {} | {:.2}B | {} | {} | {load_s:.1} | {} | {sft:.1} | {:.1} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            shape.name,
            cfg.num_params() as f64 / 1e9,
            cfg.num_hidden_layers,
            wrote.map_or("reused".into(), |w| format!("{w:.1}")),
            mib(rss_load),
            (args.sft_batch * args.sft_seq) as f64 / sft,
            mib(rss_sft),
            ppo.generate,
            ppo.response_tokens / ppo.generate.max(1e-9),
            ppo.reward,
            ppo.forward,
            ppo.update,
            ppo.episode,
            mib(ppo.peak_rss_mib),
        );
    }
    println!();
    println!(
        "Load = Decoder::load (memory-mapped safetensors, bf16 -> {}) + tokenizer, from the page cache when the \
         folder was just written. Peak RSS is VmHWM since the phase began (the PPO column includes the trainer's own load).",
        args.dtype
    );
    Ok(0)
}

//! `securecoderl bench model`: training and decoding tokens per second for the tiny default config, the
//! 6.4M-parameter config notes/mlstack.md measured (PyTorch ~3.8k, plain candle ~1.4k train tok/s on 2
//! threads), and a Qwen2.5-0.5B-shaped model with random weights (fewer layers by default: CPU time).
//! Decoding with the KV cache is compared against full recomputation measured in the same run.

use std::time::Instant;

use anyhow::Context;
use scrl_model::pretrain::PretrainSettings;
use scrl_model::{
    AdamW, AdamWParams, Decoder, Device, Init, LoraConfig, LoraMode, ModelConfig, Tensor,
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

fn random_ids(
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
    let dev = model.device().clone();
    let prompt = random_ids(b, 32, model.config().vocab_size, 3, &dev)?;
    let start = Instant::now();
    let mut cache = model.new_cache(b, 32 + new);
    let mut logits = model.forward_cached(&prompt, &vec![vec![true; 32]; b], &mut cache, mode)?;
    for _ in 1..new {
        let next = logits
            .argmax(1)?
            .to_dtype(scrl_model::DType::U32)?
            .unsqueeze(1)?;
        logits = model.forward_cached(&next, &vec![vec![true]; b], &mut cache, mode)?;
    }
    Ok((b * new) as f64 / start.elapsed().as_secs_f64())
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
    let dev = scrl_model::default_device()?;
    let threads = candle_core_threads();
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

fn candle_core_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

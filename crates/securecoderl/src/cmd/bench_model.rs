//! `securecoderl bench model`: training and decoding tokens per second for the tiny default config,
//! the 6.4M-parameter config measured before with other tools (docs/model.md: PyTorch ~3.8k, plain
//! candle ~1.4k train tok/s on 2 threads), and a Qwen2.5-0.5B-shaped model with random weights
//! (fewer layers by default: CPU time). Decoding with the KV cache is compared against full
//! recomputation measured in the same run. With `--shape NAME` it measures a real model shape
//! instead (shapes/*/config.json, random bf16 weights written as a Hugging Face folder): load time,
//! one LoRA SFT step, one PPO episode, peak memory.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use scrl_model::pretrain::PretrainSettings;
use scrl_model::{
    AdamW, AdamWParams, Decoder, FrozenOps, Init, LoraConfig, LoraMode, ModelConfig, Tensor,
};

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
    /// Timed LoRA steps per path in the frozen-operand comparison (after one untimed step each; 0
    /// skips the comparison).
    #[arg(long, default_value_t = 2)]
    pub lora_steps: usize,
    /// Skip the table of tokens/s and decoding (only the LoRA comparison).
    #[arg(long)]
    pub lora_only: bool,
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
                "intermediate_size": 688, "num_hidden_layers": 6, "num_attention_heads": 8,
                "num_key_value_heads": 4,
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
            cfg: config(serde_json::json!({
                "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
                "intermediate_size": 4864, "num_hidden_layers": args.qwen_layers,
                "num_attention_heads": 14, "num_key_value_heads": 2, "rope_theta": 1000000.0,
                "tie_word_embeddings": true,
            }))?,
            lora: Some(
                ["q_proj", "k_proj", "v_proj", "o_proj"]
                    .map(String::from)
                    .to_vec(),
            ),
            train_bt: (2, 128),
            decode_batches: vec![1, 4],
        });
    }
    Ok(out)
}

/// Seconds of CPU (user + system, all threads) this process has used: on a shared machine tokens
/// per CPU-second are steadier than tokens per wall-second. Linux only; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (clock
    // ticks, 100 per second on Linux).
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

/// The same greedy loop without a cache: the differentiable forward over the whole sequence each
/// step.
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
        "bench model: {threads} CPU thread(s) (RAYON_NUM_THREADS), f32 weights, AdamW, {:?}, load \
         average {} at start",
        dev,
        load_average()
    );
    if !args.lora_only {
        speed_table(&args, &dev)?;
    }
    if args.lora_steps > 0 {
        lora_comparison(&args, &dev)?;
    }
    Ok(0)
}

fn speed_table(args: &BenchModelArgs, dev: &scrl_model::Device) -> anyhow::Result<()> {
    println!();
    println!(
        "| model | params | trained | train batch | train tok/s | train tok/CPU-s | decode batch | \
         decode tok/s (KV cache) | no-cache tok/s | cache speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in shapes(args)? {
        // Full fine-tuning trains the base Vars; LoRA trains only its adapter on a frozen base.
        let mut model = match &s.lora {
            None => Decoder::new_trainable(s.cfg.clone(), Init::Random { seed: 1 }, dev)
                .with_context(|| format!("building {}", s.name))?,
            Some(_) => frozen_random_model(&s.name, &s.cfg, dev)?,
        };
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
                "| {name} | {params} | {tr} | {tb} | {ts} | {tc} | {db} | {dec:.0} | {base} | \
                 {ratio} |"
            );
        }
    }
    println!();
    println!(
        "Reference (docs/model.md, other runs on this machine, 8x256, 2 threads): PyTorch ~3789, \
         plain candle ~1392-1539 train tok/s for the 6.4M model."
    );
    Ok(())
}

/// A row of the LoRA comparison: name, config, (batch, sequence length).
type LoraRow = (String, ModelConfig, (usize, usize));

/// The LoRA rows of the frozen-operand comparison: the three shapes above plus the 16.7M LLaMA (4
/// layers of 512, vocabulary 4,000) whose LoRA SFT at the `sft` defaults (batch 4, 1,024 tokens)
/// issue 14 measured at 3.7 GB peak RSS.
fn lora_shapes(args: &BenchModelArgs) -> anyhow::Result<Vec<LoraRow>> {
    let mut out: Vec<LoraRow> = shapes(args)?
        .into_iter()
        .map(|s| (s.name, s.cfg, s.train_bt))
        .collect();
    out.insert(
        2,
        (
            "LLaMA 16.7M, 4 layers of 512".into(),
            config(
                serde_json::json!({"model_type": "llama", "vocab_size": 4000, "hidden_size": 512,
                "intermediate_size": 1376, "num_hidden_layers": 4, "num_attention_heads": 8,
                "num_key_value_heads": 8, "tie_word_embeddings": false}),
            )?,
            (4, 1024),
        ),
    );
    Ok(out)
}

/// A random model (seed 1) with frozen base weights, as `Decoder::load` gives them: written to a
/// temporary folder and loaded back.
fn frozen_random_model(
    name: &str,
    cfg: &ModelConfig,
    dev: &scrl_model::Device,
) -> anyhow::Result<Decoder> {
    let dir = std::env::temp_dir().join(format!("scrl-bench-frozen-{}", std::process::id()));
    Decoder::new_trainable(cfg.clone(), Init::Random { seed: 1 }, dev)?
        .save_merged(&dir)
        .with_context(|| format!("writing {name} to {}", dir.display()))?;
    let model = Decoder::load(&dir, scrl_model::DType::F32, dev);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(model?)
}

/// One LoRA SFT step (forward, NLL, backward, AdamW): seconds, and the MiB the gradient store holds
/// for tensors that are not trainable variables.
fn lora_step(
    model: &Decoder,
    opt: &mut AdamW,
    b: usize,
    t: usize,
    step: usize,
) -> anyhow::Result<(f64, f64)> {
    let dev = model.device().clone();
    let vocab = model.config().vocab_size;
    let x = random_ids(b, t, vocab, step, &dev)?;
    let y = random_ids(b, t, vocab, step + 1000, &dev)?;
    let start = Instant::now();
    let logits = model
        .forward_train(&x, None, LoraMode::Train { seed: step as u64 })?
        .logits;
    let loss = candle_nn_loss(&logits, &y)?;
    let grads = loss.backward()?;
    let vars: std::collections::HashSet<_> = model
        .trainable_vars()
        .iter()
        .map(|(_, v)| v.as_tensor().id())
        .collect();
    let frozen_bytes: usize = grads
        .get_ids()
        .filter(|id| !vars.contains(id))
        .filter_map(|id| grads.get_id(*id))
        .map(|g| g.elem_count() * g.dtype().size_in_bytes())
        .sum();
    opt.step(&grads, 1e-4)?;
    drop(grads);
    anyhow::ensure!(
        loss.to_scalar::<f32>()?.is_finite(),
        "LoRA loss is not finite"
    );
    Ok((
        start.elapsed().as_secs_f64(),
        frozen_bytes as f64 / 1048576.0,
    ))
}

/// Old (candle's ops) against new (frozen-operand ops) on the same frozen model and LoRA (the `sft`
/// defaults), in one process: peak RSS from the first, untimed step of each path (the new path
/// first, so memory the allocator kept can only raise the old path's figure), then `--lora-steps`
/// timed steps per path, alternating which path goes first.
fn lora_comparison(args: &BenchModelArgs, dev: &scrl_model::Device) -> anyhow::Result<()> {
    let lora = scrl_train::LoraSettings::default().to_model();
    println!();
    println!(
        "LoRA step (r {}, alpha {}, dropout {}, {}; frozen f32 base; forward + NLL + backward + \
         AdamW), candle's ops (old: backward also computes and keeps gradients of frozen tensors) \
         against the frozen-operand ops (new, the default); {} timed step(s) per path; load \
         average {} at start",
        lora.r,
        lora.alpha,
        lora.dropout,
        lora.target_modules.join("/"),
        args.lora_steps,
        load_average()
    );
    println!();
    println!(
        "| model | params | batch | s/step old | s/step new | new/old | peak RSS old | peak RSS \
         new | new/old | RSS growth old | RSS growth new | new/old | frozen-tensor grads old | new \
         |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, cfg, (b, t)) in lora_shapes(args)? {
        let mut model = frozen_random_model(&name, &cfg, dev)?;
        model.attach_lora(lora.clone(), 1)?;
        let mut opt = AdamW::new(model.trainable_vars(), AdamWParams::default())?;
        let mut peak = Vec::new();
        let mut frozen = Vec::new();
        for (k, ops) in [FrozenOps::InputGradOnly, FrozenOps::Candle]
            .into_iter()
            .enumerate()
        {
            model.set_frozen_ops(ops);
            reset_peak_rss();
            let before = peak_rss_mib();
            let (_, f) = lora_step(&model, &mut opt, b, t, k)?;
            peak.push((peak_rss_mib(), before));
            frozen.push(f);
        }
        let mut secs = [0.0f64; 2];
        for step in 0..args.lora_steps {
            let order = if step % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                model.set_frozen_ops([FrozenOps::InputGradOnly, FrozenOps::Candle][k]);
                secs[k] += lora_step(&model, &mut opt, b, t, 10 + step)?.0;
            }
        }
        let n = args.lora_steps as f64;
        let (new_s, old_s) = (secs[0] / n, secs[1] / n);
        let ratio = |n: Option<f64>, o: Option<f64>| match (n, o) {
            (Some(n), Some(o)) if o > 0.0 => format!("{:.2}x", n / o),
            _ => "n/a".into(),
        };
        let growth = |(p, b): (Option<f64>, Option<f64>)| p.zip(b).map(|(p, b)| p - b);
        println!(
            "| {name} | {:.1}M | {b}x{t} | {old_s:.2} | {new_s:.2} | {:.2}x | {} | {} | {} | {} | \
             {} | {} | {:.0} MiB | {:.0} MiB |",
            cfg.num_params() as f64 / 1e6,
            new_s / old_s,
            mib(peak[1].0),
            mib(peak[0].0),
            ratio(peak[0].0, peak[1].0),
            mib(growth(peak[1])),
            mib(growth(peak[0])),
            ratio(growth(peak[0]), growth(peak[1])),
            frozen[1],
            frozen[0],
        );
    }
    println!();
    println!(
        "Peak RSS is VmHWM over the first step of each path; RSS growth is that peak minus the RSS \
         when the step began (the model and adapter already loaded). Frozen-tensor grads: the \
         gradient store's entries for tensors that are not trainable variables, after backward."
    );
    Ok(())
}

/// `bench model --shape`: one row per real shape.
fn run_shapes(args: &BenchModelArgs) -> anyhow::Result<i32> {
    let dev = scrl_model::parse_device(&args.device)?;
    let dtype = super::generate::parse_dtype(&args.dtype)?;
    let reward = args.reward.build()?;
    println!(
        "bench model --shape: {:?}, {} compute, {} CPU thread(s), load average {} at start; random \
         bf16 weights (seed {}); SFT = one LoRA r16 q/k/v/o step on {}x{} tokens; PPO = one \
         episode, batch 2, {} new tokens, {} PPO epoch(s), {}",
        dev,
        args.dtype,
        cpu_threads(),
        load_average(),
        super::bench_shape::CHECKPOINT_SEED,
        args.sft_batch,
        args.sft_seq,
        args.ppo_new_tokens,
        args.ppo_epochs,
        scrl_experiment::evaluation::reward_setting(&reward),
    );
    println!();
    println!(
        "| shape | params | layers | write s | load s | RSS after load | SFT step s | SFT tok/s | \
         peak RSS (SFT) | PPO generate s | gen tok/s | reward s | fwd s | update s | episode s | \
         peak RSS (PPO) |"
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
            "| {} | {:.2}B | {} | {} | {load_s:.1} | {} | {sft:.1} | {:.1} | {} | {:.1} | {:.1} | \
             {:.1} | {:.1} | {:.1} | {:.1} | {} |",
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
        "Load = Decoder::load (memory-mapped safetensors, bf16 -> {}) + tokenizer, from the page \
         cache when the folder was just written. Peak RSS is VmHWM since the phase began (the PPO \
         column includes the trainer's own load).",
        args.dtype
    );
    Ok(0)
}

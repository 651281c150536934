//! `securecoderl generate`: completions from a checkpoint folder, optionally with a LoRA adapter.

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_model::{DType, Decoder, LoraMode, SamplingParams, Tokenizer, sample};

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Model folder: config.json, (sharded) safetensors, tokenizer.json.
    #[arg(long)]
    pub model: PathBuf,
    /// PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors).
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// One prompt.
    #[arg(long, conflicts_with = "prompts", required_unless_present = "prompts")]
    pub prompt: Option<String>,
    /// JSONL file with one {"prompt": ...} object per line.
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// 0 = off.
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Stop once the completion contains this string (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Prompts decoded together.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Weight dtype: f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// cpu, cuda or cuda:N (CUDA needs a build with the `cuda` feature: scripts/cuda-build).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// One JSON object per prompt: completion, completion_ids, logprobs, finish.
    #[arg(long)]
    pub json: bool,
}

fn read_prompts(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        let p = v.get("prompt").and_then(|p| p.as_str()).with_context(|| {
            format!(
                "{}:{}: needs a string field \"prompt\"",
                path.display(),
                i + 1
            )
        })?;
        out.push(p.to_string());
    }
    Ok(out)
}

pub(crate) fn parse_dtype(s: &str) -> anyhow::Result<DType> {
    Ok(match s {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        "f16" => DType::F16,
        other => anyhow::bail!("--dtype {other}: use f32, bf16 or f16"),
    })
}

pub fn run(args: GenerateArgs) -> anyhow::Result<i32> {
    let device = scrl_model::parse_device(&args.device)?;
    let mut model = Decoder::load(&args.model, parse_dtype(&args.dtype)?, &device)?;
    let tok = Tokenizer::load(&args.model)?;
    let mode = match &args.adapter {
        Some(dir) => {
            model.load_adapter(dir)?;
            LoraMode::On
        }
        None => LoraMode::Off,
    };
    let prompts = match (&args.prompt, &args.prompts) {
        (Some(p), _) => vec![p.clone()],
        (None, Some(f)) => read_prompts(f)?,
        (None, None) => anyhow::bail!("give --prompt TEXT or --prompts FILE"),
    };
    let ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| tok.encode(p, true))
        .collect::<Result<_, _>>()?;
    let mut index = 0usize;
    for chunk in ids.chunks(args.batch_size.max(1)) {
        let params = SamplingParams {
            max_new_tokens: args.max_new_tokens,
            temperature: args.temperature,
            top_p: args.top_p,
            top_k: args.top_k,
            stop: args.stop.clone(),
            seed: args.seed,
            stream_offset: index as u64,
        };
        for s in sample(&model, &tok, chunk, &params, mode)? {
            if args.json {
                let v = serde_json::json!({
                    "index": index, "completion": s.text, "completion_ids": s.token_ids,
                    "logprobs": s.logprobs, "finish": s.finish,
                });
                println!("{v}");
            } else {
                if prompts.len() > 1 {
                    println!("=== {index} ({:?}) ===", s.finish);
                }
                println!("{}{}", prompts[index], s.text);
            }
            index += 1;
        }
    }
    Ok(0)
}

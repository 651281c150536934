//! `securecoderl sft` and `securecoderl ppo`: every option is a field of the trainer's config, read
//! from `--config FILE.toml` when given and overridden by the flags that are set. The resolved
//! config is written into the run folder, so any run can be repeated exactly.

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_reward::RewardKind;
use scrl_train::{Algorithm, PpoConfig, PromptStyle, SftConfig};

use super::reward_opts::RewardOpts;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum StyleArg {
    Auto,
    Completion,
    Chat,
}

impl From<StyleArg> for PromptStyle {
    fn from(s: StyleArg) -> Self {
        match s {
            StyleArg::Auto => PromptStyle::Auto,
            StyleArg::Completion => PromptStyle::Completion,
            StyleArg::Chat => PromptStyle::Chat,
        }
    }
}

/// Options both trainers share.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// A TOML file with the trainer's config; flags given on the command line override its values.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The base checkpoint folder (config.json, safetensors, tokenizer.json).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Problems JSONL (see `securecoderl data import`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The run folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// LoRA rank (for a new adapter).
    #[arg(long)]
    lora_r: Option<usize>,
    #[arg(long)]
    lora_alpha: Option<f64>,
    #[arg(long)]
    lora_dropout: Option<f32>,
    /// Comma-separated module names, e.g. q_proj,k_proj,v_proj,o_proj.
    #[arg(long, value_delimiter = ',')]
    target_modules: Option<Vec<String>>,
    #[arg(long, value_enum)]
    prompt_style: Option<StyleArg>,
    /// f32, bf16 or f16 for the base weights (LoRA stays f32).
    #[arg(long)]
    dtype: Option<String>,
    /// cpu, cuda or cuda:N.
    #[arg(long)]
    device: Option<String>,
    /// Continue the run in --out from its last checkpoint, exactly.
    #[arg(long)]
    resume: bool,
}

fn load<T: serde::de::DeserializeOwned + Default>(path: &Option<PathBuf>) -> anyhow::Result<T> {
    Ok(match path {
        Some(p) => scrl_train::load_toml(p)?,
        None => T::default(),
    })
}

macro_rules! set {
    ($cfg:expr, $($field:ident = $value:expr),* $(,)?) => {
        $( if let Some(v) = $value { $cfg.$field = v.into(); } )*
    };
}

fn apply_common(
    c: &Common,
    model: &mut PathBuf,
    data: &mut PathBuf,
    out: &mut PathBuf,
    lora: &mut scrl_train::LoraSettings,
) {
    set!(
        *lora,
        r = c.lora_r,
        alpha = c.lora_alpha,
        dropout = c.lora_dropout,
        target_modules = c.target_modules.clone()
    );
    if let Some(m) = &c.model {
        *model = m.clone();
    }
    if let Some(d) = &c.data {
        *data = d.clone();
    }
    if let Some(o) = &c.out {
        *out = o.clone();
    }
}

fn require(path: &Path, flag: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !path.as_os_str().is_empty(),
        "{flag} is required (as a flag or in --config)"
    );
    Ok(())
}

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} eta {{eta}} {{msg}}"
        ))
        .expect("valid template"),
    );
    bar
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  securecoderl sft --model models/tiny --data train.jsonl --epochs 3 \
        --out runs/sft"
)]
pub struct SftArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    grad_accum: Option<usize>,
    #[arg(long)]
    max_seq_len: Option<usize>,
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Validation problems (JSONL) for the validation loss, kept out of training (instead of
    /// --val-fraction).
    #[arg(long)]
    val_data: Option<PathBuf>,
    /// Use at most this many training problems.
    #[arg(long)]
    max_problems: Option<usize>,
}

pub fn resolve_sft(a: &SftArgs) -> anyhow::Result<SftConfig> {
    let c = &a.common;
    let mut cfg: SftConfig = load(&c.config)?;
    apply_common(
        c,
        &mut cfg.model,
        &mut cfg.data,
        &mut cfg.out,
        &mut cfg.lora,
    );
    set!(
        cfg,
        lr = c.lr,
        seed = c.seed,
        batch_size = c.batch_size,
        dtype = c.dtype.clone(),
        device = c.device.clone()
    );
    set!(
        cfg,
        epochs = a.epochs,
        grad_accum = a.grad_accum,
        max_seq_len = a.max_seq_len,
        val_fraction = a.val_fraction
    );
    if let Some(s) = c.prompt_style {
        cfg.prompt_style = s.into();
    }
    if a.max_problems.is_some() {
        cfg.max_problems = a.max_problems;
    }
    if a.val_data.is_some() {
        cfg.val_data = a.val_data.clone();
    }
    require(&cfg.model, "--model")?;
    require(&cfg.data, "--data")?;
    cfg.validate()?;
    Ok(cfg)
}

pub fn run_sft(a: SftArgs) -> anyhow::Result<i32> {
    let cfg = resolve_sft(&a)?;
    let bar = progress_bar(0, "");
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} sft {elapsed} {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    let s = scrl_train::run_sft(&cfg, a.common.resume, &|m| bar.set_message(m.to_string()))
        .with_context(|| format!("SFT into {}", cfg.out.display()))?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(0)
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AlgoArg {
    Ppo,
    Grpo,
    Rloo,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  securecoderl ppo --model models/tiny --adapter runs/sft/adapter \
        --data train.jsonl --episodes 500 --batch-size 2 --out runs/ppo-fresh\n  securecoderl ppo \
        ... --binary --out runs/ppo-simple            (PPO-simple)\n  securecoderl ppo ... \
        --init-from runs/ppo-simple/final --out runs/ppo-continue   (PPO-continue, two jobs)\n  \
        securecoderl ppo ... --binary-episodes 250 --episodes 500        (the curriculum as one \
        job)"
)]
pub struct PpoArgs {
    #[command(flatten)]
    common: Common,
    /// The SFT adapter: the starting policy and the KL reference.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Start from a PPO output folder (final, best or checkpoint): PPO-continue.
    #[arg(long)]
    init_from: Option<PathBuf>,
    #[arg(long, value_enum)]
    algo: Option<AlgoArg>,
    #[arg(long)]
    episodes: Option<u64>,
    /// Samples per prompt (GRPO, RLOO).
    #[arg(long)]
    group_size: Option<usize>,
    #[arg(long)]
    ppo_epochs: Option<usize>,
    #[arg(long)]
    minibatch_size: Option<usize>,
    #[arg(long)]
    clip: Option<f64>,
    #[arg(long)]
    kl_coef: Option<f64>,
    /// Adaptive KL control towards this KL per sequence.
    #[arg(long)]
    kl_target: Option<f64>,
    #[arg(long)]
    temperature: Option<f64>,
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Binary for this many episodes, then partial credit (the curriculum in one job).
    #[arg(long)]
    binary_episodes: Option<u64>,
    /// Validation problems (JSONL), kept out of training (default: `val_prompts` of --data held
    /// out).
    #[arg(long)]
    val_data: Option<PathBuf>,
    #[arg(long)]
    val_prompts: Option<usize>,
    /// Samples per validation prompt, at the training temperature.
    #[arg(long)]
    val_samples: Option<usize>,
    #[arg(long)]
    val_every: Option<u64>,
    /// GAE lambda of the policy's advantages (1: every token gets the return minus its value).
    #[arg(long)]
    lam: Option<f32>,
    /// GAE lambda of the value head's targets.
    #[arg(long)]
    value_lam: Option<f32>,
    /// The value head's learning rate (default 10x --lr).
    #[arg(long)]
    value_lr: Option<f64>,
    /// Train only the value head for this many first episodes.
    #[arg(long)]
    value_warmup_episodes: Option<u64>,
    /// Let the value loss train the policy's LoRA through the shared hidden states (default:
    /// detached).
    #[arg(long)]
    value_through_policy: bool,
    /// Subtracted from the reward of a completion cut at --max-new-tokens (no EOS).
    #[arg(long)]
    truncation_penalty: Option<f64>,
    #[arg(long)]
    save_every: Option<u64>,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn resolve_ppo(a: &PpoArgs) -> anyhow::Result<PpoConfig> {
    let c = &a.common;
    let mut cfg: PpoConfig = load(&c.config)?;
    apply_common(
        c,
        &mut cfg.model,
        &mut cfg.data,
        &mut cfg.out,
        &mut cfg.lora,
    );
    set!(
        cfg,
        lr = c.lr,
        seed = c.seed,
        batch_size = c.batch_size,
        dtype = c.dtype.clone(),
        device = c.device.clone()
    );
    set!(
        cfg,
        episodes = a.episodes,
        group_size = a.group_size,
        ppo_epochs = a.ppo_epochs,
        clip = a.clip,
        kl_coef = a.kl_coef
    );
    set!(
        cfg,
        temperature = a.temperature,
        max_new_tokens = a.max_new_tokens,
        val_prompts = a.val_prompts
    );
    set!(
        cfg,
        val_every = a.val_every,
        save_every = a.save_every,
        val_samples = a.val_samples,
        lam = a.lam,
        value_lam = a.value_lam
    );
    set!(
        cfg,
        value_warmup_episodes = a.value_warmup_episodes,
        truncation_penalty = a.truncation_penalty
    );
    if a.value_lr.is_some() {
        cfg.value_lr = a.value_lr;
    }
    if a.val_data.is_some() {
        cfg.val_data = a.val_data.clone();
    }
    if a.value_through_policy {
        cfg.value_detach = false;
    }
    if let Some(s) = c.prompt_style {
        cfg.prompt_style = s.into();
    }
    for (slot, v) in [
        (&mut cfg.adapter, &a.adapter),
        (&mut cfg.init_from, &a.init_from),
    ] {
        if v.is_some() {
            *slot = v.clone();
        }
    }
    if a.minibatch_size.is_some() {
        cfg.minibatch_size = a.minibatch_size;
    }
    if a.kl_target.is_some() {
        cfg.kl_target = a.kl_target;
    }
    if a.binary_episodes.is_some() {
        cfg.binary_episodes = a.binary_episodes;
    }
    if a.reward.binary {
        cfg.reward = RewardKind::Binary;
    }
    if let Some(al) = a.algo {
        cfg.algo = match al {
            AlgoArg::Ppo => Algorithm::Ppo,
            AlgoArg::Grpo => Algorithm::Grpo,
            AlgoArg::Rloo => Algorithm::Rloo,
        };
    }
    require(&cfg.model, "--model")?;
    require(&cfg.data, "--data")?;
    cfg.validate()?;
    Ok(cfg)
}

pub fn run_ppo(a: PpoArgs) -> anyhow::Result<i32> {
    let cfg = resolve_ppo(&a)?;
    // The trainer switches kinds per episode itself: the reward model always computes partial
    // credit.
    let reward = RewardOpts {
        binary: false,
        ..a.reward.clone()
    }
    .build()?;
    let bar = progress_bar(cfg.episodes, "episodes");
    let s = scrl_train::run_ppo(&cfg, &reward, a.common.resume, &|done, m| {
        bar.set_position(done);
        bar.set_message(m.to_string());
    })
    .with_context(|| format!("PPO into {}", cfg.out.display()))?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(0)
}

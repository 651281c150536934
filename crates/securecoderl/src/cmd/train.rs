//! `securecoderl sft` and `securecoderl ppo`: every option is a field of the trainer's config
//! ([`SftConfig`], [`PpoConfig`]), read from `--config FILE.toml` when given and overridden by the
//! flags that are set; the flags are derived from the config types (see `flags.rs`), so each one is
//! documented where its field is. The resolved config is written into the run folder, reward and
//! sandbox included, so `--config RUN/config.toml` repeats a run.

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_reward::RewardKind;
use scrl_train::{PpoConfig, SftConfig};

use super::flags::{Flags, load_or_default};

/// Options both trainers share besides their config.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// A TOML file with the trainer's config (a run folder's config.toml repeats that run); flags
    /// given on the command line override its values.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint, exactly.
    #[arg(long)]
    resume: bool,
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
    #[command(flatten)]
    flags: Flags<SftConfig>,
}

pub fn resolve_sft(a: &SftArgs) -> anyhow::Result<SftConfig> {
    let cfg = a.flags.over(load_or_default(a.common.config.as_deref())?)?;
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

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  securecoderl ppo --model models/tiny --adapter runs/sft/adapter \
        --data train.jsonl --episodes 500 --batch-size 2 --out runs/ppo-fresh\n  securecoderl ppo \
        ... --reward binary --out runs/ppo-simple            (PPO-simple)\n  securecoderl ppo ... \
        --init-from runs/ppo-simple/final --out runs/ppo-continue   (PPO-continue, two jobs)\n  \
        securecoderl ppo ... --binary-episodes 250 --episodes 500        (the curriculum as one \
        job)\n  securecoderl ppo --config runs/ppo-fresh/config.toml --out runs/again   (repeat a \
        run)"
)]
pub struct PpoArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    flags: Flags<PpoConfig>,
}

pub fn resolve_ppo(a: &PpoArgs) -> anyhow::Result<PpoConfig> {
    let cfg = a.flags.over(load_or_default(a.common.config.as_deref())?)?;
    require(&cfg.model, "--model")?;
    require(&cfg.data, "--data")?;
    cfg.validate()?;
    Ok(cfg)
}

pub fn run_ppo(a: PpoArgs) -> anyhow::Result<i32> {
    let cfg = resolve_ppo(&a)?;
    // The trainer switches kinds per episode itself: the reward model always computes partial
    // credit.
    let reward = scrl_experiment::start_reward(
        &scrl_reward::RewardConfig {
            kind: RewardKind::Partial,
            ..cfg.reward.clone()
        },
        &cfg.sandbox,
    )?;
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

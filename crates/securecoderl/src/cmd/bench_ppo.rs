//! `securecoderl bench ppo`: seconds per PPO episode and the throughput of each phase (generation,
//! reward, forward passes, update) on a short seeded run, and what that implies for the paper's
//! 500-episode run on DeepSeek-Coder-1.3B on the same hardware (costs scaled by parameter count;
//! the reward phase does not depend on the model and is not scaled). The run is made twice, with
//! the frozen-operand ops (the default) and with candle's own ops (`frozen_ops = candle`, the path
//! before issue 14), and the phases and peak RSS of both are printed side by side.

use std::path::PathBuf;

use anyhow::Context;
use scrl_train::{LoraSettings, PpoConfig, PromptStyle};

use scrl_model::FrozenOps;

use super::bench_shape::{load_average, mib, peak_rss_mib, reset_peak_rss};
use super::reward_opts::RewardOpts;

#[derive(clap::Args, Debug)]
pub struct BenchPpoArgs {
    /// The model to measure (default: the committed tiny model).
    #[arg(long, default_value = "models/tiny")]
    model: PathBuf,
    #[arg(long, default_value_t = 6)]
    episodes: u64,
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    #[arg(long, default_value_t = 128)]
    max_new_tokens: usize,
    /// Parameters of the model to extrapolate to (DeepSeek-Coder-1.3B by default).
    #[arg(long, default_value_t = 1.35e9)]
    target_params: f64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    #[command(flatten)]
    reward: RewardOpts,
}

/// Mean seconds per phase over the measured episodes of one run, and its peak RSS.
struct Measured {
    episodes: usize,
    tokens: f64,
    generate: f64,
    reward: f64,
    forward: f64,
    update: f64,
    episode: f64,
    peak_rss_mib: Option<f64>,
    ppo_epochs: usize,
}

fn measure(
    a: &BenchPpoArgs,
    reward: &scrl_reward::RewardModel,
    frozen_ops: FrozenOps,
) -> anyhow::Result<Measured> {
    let dir = std::env::temp_dir().join(format!("scrl-bench-ppo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let data = dir.join("problems.jsonl");
    scrl_data::write_problems(&data, &scrl_data::builtin::suite(3, 4))?;
    let cfg = PpoConfig {
        model: a.model.clone(),
        data,
        out: dir.join("run"),
        episodes: a.episodes,
        batch_size: a.batch_size,
        lr: 1e-4,
        max_new_tokens: a.max_new_tokens,
        val_prompts: 0,
        val_every: 0,
        save_every: a.episodes,
        lora: LoraSettings {
            r: 8,
            alpha: 16.0,
            ..LoraSettings::default()
        },
        prompt_style: PromptStyle::Completion,
        device: a.device.clone(),
        frozen_ops,
        ..PpoConfig::default()
    };
    reset_peak_rss();
    scrl_train::run_ppo(&cfg, reward, false, &|_, _| {})?;
    let peak_rss_mib = peak_rss_mib();
    let rows: Vec<scrl_eval::PpoEpisodeRow> = scrl_eval::read_rows(&cfg.out.join("metrics.jsonl"))?;
    let _ = std::fs::remove_dir_all(&dir);
    // The first episode pays for warm-up (zygotes, page cache): report the rest when there is a
    // rest.
    let rows = if rows.len() > 1 {
        &rows[1..]
    } else {
        &rows[..]
    };
    let mean = |k: fn(&scrl_eval::PpoEpisodeRow) -> f64| {
        rows.iter().map(k).sum::<f64>() / rows.len() as f64
    };
    Ok(Measured {
        episodes: rows.len(),
        tokens: mean(|r| r.response_length_mean) * a.batch_size as f64,
        generate: mean(|r| r.seconds_generate),
        reward: mean(|r| r.seconds_reward),
        forward: mean(|r| r.seconds_forward),
        update: mean(|r| r.seconds_update),
        episode: mean(|r| r.seconds_episode),
        peak_rss_mib,
        ppo_epochs: cfg.ppo_epochs,
    })
}

pub fn run(a: BenchPpoArgs) -> anyhow::Result<i32> {
    let reward = a.reward.build()?;
    let params =
        scrl_model::ModelConfig::from_file(&a.model.join("config.json"))?.num_params() as f64;
    // The default path first: a later run's peak RSS can only be raised by memory the allocator
    // kept.
    let new = measure(&a, &reward, FrozenOps::InputGradOnly)?;
    let old = measure(&a, &reward, FrozenOps::Candle)?;
    let m = &new;
    let tokens = m.tokens;
    let (generate, rew, fwd, upd, ep) = (m.generate, m.reward, m.forward, m.update, m.episode);
    let scale = a.target_params / params;
    println!(
        "PPO on {} ({:.2}M parameters), {} episodes measured, batch {}, up to {} new tokens, {} \
         PPO epochs",
        a.model.display(),
        params / 1e6,
        m.episodes,
        a.batch_size,
        a.max_new_tokens,
        m.ppo_epochs
    );
    println!(
        "{:<40} {:>12} {:>16} {:>22}",
        "phase",
        "s / episode",
        "tokens / s",
        format!("s / episode at {:.2}B", a.target_params / 1e9)
    );
    let line = |name: &str, s: f64, scaled: bool| {
        let est = if scaled { s * scale } else { s };
        println!(
            "{:<40} {:>12.3} {:>16.0} {:>22.1}",
            name,
            s,
            tokens / s.max(1e-9),
            est
        );
        est
    };
    let g = line("generation (sampling, KV cache)", generate, true);
    let r = line("reward (sandbox + scanner)*", rew, false);
    let f = line("old-policy, value and reference passes", fwd, true);
    let u = line("update (4 epochs of PPO)", upd, true);
    // The reward runs on its own thread during the forward passes, so the episode takes the longer
    // of the two.
    let est_episode = g + r.max(f) + u;
    println!(
        "{:<40} {:>12.3} {:>16.0} {:>22.1}",
        "whole episode",
        ep,
        tokens / ep.max(1e-9),
        est_episode
    );
    println!(
        "estimate for the paper's run (500 episodes, batch {}): {:.1} h on this hardware (compute \
         scaled by {:.0}x in parameters; * the reward is not scaled; overlapped phases counted \
         once)",
        a.batch_size,
        500.0 * est_episode / 3600.0,
        scale
    );
    println!();
    println!(
        "Frozen base weights, candle's ops (backward also computes their gradients) against the \
         frozen-operand ops (the default), same seeds, one run after the other; load average {}:",
        load_average()
    );
    println!("| phase | candle ops s / episode | frozen-operand ops s / episode | new / old |");
    println!("|---|---|---|---|");
    for (name, o, n) in [
        ("generation", old.generate, new.generate),
        (
            "old-policy, value and reference passes",
            old.forward,
            new.forward,
        ),
        ("update", old.update, new.update),
        ("whole episode", old.episode, new.episode),
    ] {
        println!("| {name} | {o:.3} | {n:.3} | {:.2}x |", n / o.max(1e-9));
    }
    let ratio = match (old.peak_rss_mib, new.peak_rss_mib) {
        (Some(o), Some(n)) => format!("{:.2}x", n / o),
        _ => "n/a".into(),
    };
    println!(
        "| peak RSS of the run | {} | {} | {ratio} |",
        mib(old.peak_rss_mib),
        mib(new.peak_rss_mib)
    );
    Ok(0)
}

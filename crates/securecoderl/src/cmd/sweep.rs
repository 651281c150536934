//! `securecoderl sweep` (the paper's Table 3) and `securecoderl quickstart` (the same pipeline on the
//! built-in default, on CPU, with no downloads).
//!
//! The pipeline, in order: problems -> a seeded evaluation set and a disjoint training set -> LoRA SFT ->
//! PPO-simple (binary reward), PPO-fresh (partial credit), PPO-continue (partial credit from PPO-simple's
//! best policy; the KL reference stays the SFT adapter) -> every model evaluated on the same problems with
//! the same sampling seed (each PPO variant at its best held-out validation checkpoint, never chosen on the
//! evaluation problems) -> a Markdown/JSON/CSV report with CIs, paired tests against SFT and the paper's
//! numbers, and plots. Every stage writes into one run folder, which also holds the resolved config.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use scrl_eval::{BootstrapConfig, EvalSet, Metric, PaperVariant, Report, ReportRow};
use scrl_reward::{RewardKind, RewardModel};
use scrl_train::evaluate::{EvalOptions, generate_records, load_policy};
use scrl_train::{PpoConfig, SftConfig};
use serde::{Deserialize, Serialize};

use super::reward_opts::RewardOpts;

/// Everything a sweep does, as one TOML file (`configs/*.toml`): `[sft]` and `[ppo]` are the trainers'
/// own configs (their `model`, `data`, `out` and `adapter` are set by the pipeline).
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct SweepConfig {
    /// The base checkpoint folder.
    pub model: PathBuf,
    /// Problems JSONL (e.g. APPS+ imported with `securecoderl data import --format apps-plus --stdin-only`).
    pub data: PathBuf,
    pub out: PathBuf,
    pub eval_n: usize,
    pub split_seed: u64,
    /// At most this many training problems (the paper: about 1,000).
    pub train_n: Option<usize>,
    pub eval_samples: usize,
    pub eval_temperature: f64,
    pub eval_max_new_tokens: usize,
    pub eval_seed: u64,
    pub bootstrap_resamples: u32,
    pub sft: SftConfig,
    pub ppo: PpoConfig,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            model: PathBuf::new(),
            data: PathBuf::new(),
            out: PathBuf::from("runs/sweep"),
            eval_n: 100,
            split_seed: 42,
            train_n: Some(1000),
            eval_samples: 1,
            eval_temperature: 0.7,
            eval_max_new_tokens: 512,
            eval_seed: 0,
            bootstrap_resamples: 2000,
            sft: SftConfig::default(),
            ppo: PpoConfig::default(),
        }
    }
}

/// One trained model of the table.
struct Variant {
    name: &'static str,
    paper: PaperVariant,
    adapter: PathBuf,
    metrics: Option<PathBuf>,
}

/// The outcome of a pipeline run, and the checks quickstart prints.
pub struct PipelineOutcome {
    pub report: PathBuf,
    pub problems: Vec<String>,
    pub seconds: f64,
}

fn stage(name: &str) {
    eprintln!("==> {name}");
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(len).with_style(
        indicatif::ProgressStyle::with_template(&format!("    {{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} eta {{eta}} {{msg}}"))
            .expect("valid template"),
    )
}

/// Runs the whole pipeline; returns the report path and every check that failed.
pub fn run_pipeline(cfg: &SweepConfig, reward: &RewardModel) -> anyhow::Result<PipelineOutcome> {
    let started = Instant::now();
    let out = &cfg.out;
    std::fs::create_dir_all(out.join("data")).with_context(|| format!("creating {}", out.display()))?;
    scrl_eval::write_atomic(&out.join("sweep.toml"), toml::to_string(cfg)?.as_bytes())?;
    let mut problems_found = Vec::new();

    stage("data: seeded evaluation set and disjoint training set");
    let all = scrl_data::load_problems(&cfg.data)?;
    let split = scrl_data::split(
        &all,
        &scrl_data::SplitOptions { eval_n: cfg.eval_n, seed: cfg.split_seed, train_n: cfg.train_n, allow_overlap: false },
    )?;
    if !split.overlap.is_empty() {
        bail!("training and evaluation sets overlap on {} problems", split.overlap.len());
    }
    let (train_path, eval_path) = (out.join("data/train.jsonl"), out.join("data/eval.jsonl"));
    scrl_data::write_problems(&train_path, &split.train)?;
    scrl_data::write_problems(&eval_path, &split.eval)?;
    eprintln!("    {} evaluation problems, {} training problems", split.eval.len(), split.train.len());

    stage("SFT (LoRA)");
    let sft = SftConfig { model: cfg.model.clone(), data: train_path.clone(), out: out.join("sft"), ..cfg.sft.clone() };
    let pb = bar(0, "");
    let s = scrl_train::run_sft(&sft, false, &|m| pb.set_message(m.to_string()))?;
    pb.finish_and_clear();
    eprintln!("    val loss {:.4} -> {:.4} (best {:.4}) in {:.0} s", s.first_val_loss, s.final_val_loss, s.best_val_loss, s.seconds);
    let sft_adapter = s.adapter.clone();

    let ppo_base = PpoConfig {
        model: cfg.model.clone(),
        adapter: Some(sft_adapter.clone()),
        data: train_path.clone(),
        init_from: None,
        binary_episodes: None,
        ..cfg.ppo.clone()
    };
    let run_ppo = |name: &str, dir: &str, reward_kind: RewardKind, init_from: Option<PathBuf>| -> anyhow::Result<PathBuf> {
        stage(name);
        let c = PpoConfig { out: out.join(dir), reward: reward_kind, init_from, ..ppo_base.clone() };
        let pb = bar(c.episodes, "episodes");
        let s = scrl_train::run_ppo(&c, reward, false, &|done, m| {
            pb.set_position(done);
            pb.set_message(m.to_string());
        })?;
        pb.finish_and_clear();
        eprintln!(
            "    validation reward {:.3} (start) -> {} (end), best {}; batch reward {:.3} (first episode) -> {:.3} (last); {:.0} s",
            s.initial_val_reward,
            s.final_val_reward.map_or("-".into(), |v| format!("{v:.3}")),
            s.best_val_reward.map_or("-".into(), |v| format!("{v:.3}")),
            s.first_reward_mean,
            s.last_reward_mean,
            s.seconds
        );
        Ok(c.out)
    };
    let simple = run_ppo("PPO-simple (binary reward)", "ppo-simple", RewardKind::Binary, None)?;
    let fresh = run_ppo("PPO-fresh (partial credit)", "ppo-fresh", RewardKind::Partial, None)?;
    let cont = run_ppo("PPO-continue (binary, then partial credit)", "ppo-continue", RewardKind::Partial, Some(simple.join("best")))?;

    let variants = [
        Variant { name: "SFT", paper: PaperVariant::Sft, adapter: sft_adapter, metrics: None },
        Variant { name: "PPO-simple", paper: PaperVariant::PpoSimple, adapter: simple.join("best/adapter"), metrics: Some(simple.join("metrics.jsonl")) },
        Variant { name: "PPO-fresh", paper: PaperVariant::PpoFresh, adapter: fresh.join("best/adapter"), metrics: Some(fresh.join("metrics.jsonl")) },
        Variant { name: "PPO-continue", paper: PaperVariant::PpoContinue, adapter: cont.join("best/adapter"), metrics: Some(cont.join("metrics.jsonl")) },
    ];

    let opts = EvalOptions {
        samples: cfg.eval_samples,
        temperature: cfg.eval_temperature,
        max_new_tokens: cfg.eval_max_new_tokens,
        seed: cfg.eval_seed,
        ..EvalOptions::default()
    };
    let boot = BootstrapConfig { resamples: cfg.bootstrap_resamples, ..BootstrapConfig::default() };
    let ks: Vec<u32> = if cfg.eval_samples > 1 { vec![1, cfg.eval_samples as u32] } else { vec![] };
    let mut sets = Vec::new();
    let mut rows = Vec::new();
    for v in &variants {
        stage(&format!("evaluate {}", v.name));
        let policy = load_policy(&cfg.model, Some(&v.adapter), sft.prompt_style, &sft.dtype, &sft.device)?;
        let pb = bar((split.eval.len() * cfg.eval_samples) as u64, "samples");
        let recs = generate_records(&policy, reward, &split.eval, &opts, &|d, _| pb.set_position(d as u64))?;
        pb.finish_and_clear();
        let path = out.join(format!("eval/{}.jsonl", v.name.to_lowercase()));
        std::fs::create_dir_all(path.parent().expect("has a parent")).context("creating eval/")?;
        scrl_eval::write_records(&path, &recs)?;
        let set = EvalSet::from_records(v.name, recs)?;
        rows.push(ReportRow { paper_variant: Some(v.paper), summary: scrl_eval::summarize(&set, &ks, &boot)? });
        sets.push(set);
    }
    let mut comparisons = Vec::new();
    for set in &sets[1..] {
        for m in [Metric::SyntaxValid, Metric::AnyTestPassed, Metric::AllTestsPassed, Metric::MeanReward] {
            comparisons.push(scrl_eval::compare_paired(&sets[0], set, m, &boot)?);
        }
    }

    stage("report and plots");
    let c = reward.config();
    let report = Report {
        title: "SecureCodeRL sweep: SFT and the three PPO variants (Table 3)".into(),
        setting: format!(
            "model {}; data {} ({} training problems, {} evaluation problems, split seed {}); SFT {} epochs; \
             PPO {} episodes x batch {}, lr {}, KL {} to the SFT adapter, each variant at its best validation \
             checkpoint ({} held-out training prompts); eval {} sample(s) at T = {}; \
             reward {} R_func + {} R_sec, T capped at {}",
            cfg.model.display(),
            cfg.data.display(),
            split.train.len(),
            split.eval.len(),
            cfg.split_seed,
            sft.epochs,
            ppo_base.episodes,
            ppo_base.batch_size,
            ppo_base.lr,
            ppo_base.kl_coef,
            ppo_base.val_prompts,
            cfg.eval_samples,
            cfg.eval_temperature,
            c.alpha,
            c.beta,
            c.test_cap.map_or("none".into(), |t| t.to_string())
        ),
        bootstrap: boot,
        rows,
        comparisons,
    };
    let files = scrl_eval::write_report(out, &report)?;
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).context("creating plots/")?;
    let summaries: Vec<_> = report.rows.iter().map(|r| r.summary.clone()).collect();
    let mut plot_files = vec![scrl_eval::plot_metric_bars(&report.title, &summaries, &plots.join("metrics"))?];
    let mut curves = Vec::new();
    for v in variants.iter().filter(|v| v.metrics.is_some()) {
        let rows = scrl_eval::read_training_rows(v.metrics.as_ref().expect("filtered"))?;
        let stem = plots.join(format!("training-{}", v.name.to_lowercase()));
        plot_files.push(scrl_eval::plot_training_curves(&format!("{} training", v.name), &rows, &stem)?);
        curves.push((v.name.to_string(), rows));
    }
    plot_files.push(scrl_eval::plot_reward_comparison("Mean reward per episode", &curves, &plots.join("reward-curves"))?);

    // The checks: every stage ran and wrote what it should.
    let names: Vec<&str> = variants.iter().map(|v| v.name).collect();
    problems_found.extend(scrl_eval::verify_report(out, &names));
    for f in &plot_files {
        problems_found.extend(scrl_eval::verify_plot(f));
    }
    for v in &variants {
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            if !v.adapter.join(file).is_file() {
                problems_found.push(format!("{}: missing {}", v.name, v.adapter.join(file).display()));
            }
        }
    }
    for dir in [&simple, &fresh, &cont] {
        for file in ["metrics.jsonl", "checkpoint/state.json", "final/value_head.safetensors", "summary.json"] {
            if !dir.join(file).is_file() {
                problems_found.push(format!("missing {}", dir.join(file).display()));
            }
        }
    }
    Ok(PipelineOutcome { report: files.markdown, problems: problems_found, seconds: started.elapsed().as_secs_f64() })
}

fn print_outcome(o: &PipelineOutcome) -> i32 {
    for p in &o.problems {
        eprintln!("check failed: {p}");
    }
    let verdict = if o.problems.is_empty() { "PASS" } else { "FAIL" };
    println!("{verdict}: every stage ran and wrote its outputs ({} problem(s)) in {:.0} s", o.problems.len(), o.seconds);
    println!("report: {}", o.report.display());
    i32::from(!o.problems.is_empty())
}

#[derive(clap::Args, Debug)]
#[command(after_help = "Example (the paper's setting, on a GPU):\n  securecoderl sweep --config configs/paper-table3-deepseek-1.3b.toml")]
pub struct SweepArgs {
    /// The sweep's TOML config (see configs/).
    #[arg(long)]
    config: PathBuf,
    /// Override the config's run folder.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run_sweep(a: SweepArgs) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(&a.config).with_context(|| format!("reading {}", a.config.display()))?;
    let mut cfg: SweepConfig = toml::from_str(&text).with_context(|| format!("{}: invalid sweep config", a.config.display()))?;
    if let Some(o) = a.out {
        cfg.out = o;
    }
    anyhow::ensure!(!cfg.model.as_os_str().is_empty() && !cfg.data.as_os_str().is_empty(), "the config must set `model` and `data`");
    let reward = a.reward.build()?;
    let outcome = run_pipeline(&cfg, &reward)?;
    Ok(print_outcome(&outcome))
}

#[derive(clap::Args, Debug)]
pub struct QuickstartArgs {
    /// The run folder.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// A model folder to start from instead of the tiny default (pretrained here when absent).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Smaller settings through the same code path (what CI runs).
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    reward: RewardOpts,
}

/// The committed tiny default model, if this binary runs from a checkout that has it.
fn default_model() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny");
    [PathBuf::from("models/tiny"), repo].into_iter().find(|p| p.join("config.json").is_file())
}

pub fn run_quickstart(a: QuickstartArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    std::fs::create_dir_all(a.out.join("data")).with_context(|| format!("creating {}", a.out.display()))?;
    stage("data: the built-in task suite");
    let per_family = if a.smoke { 4 } else { 20 };
    let suite = scrl_data::builtin::suite(42, per_family);
    let data = a.out.join("data/suite.jsonl");
    scrl_data::write_problems(&data, &suite)?;
    eprintln!("    {} problems ({} per family, seed 42)", suite.len(), per_family);

    let model = match a.model.clone().or_else(default_model) {
        Some(m) => m,
        None => {
            stage("pretrain the tiny default model (no committed model found)");
            let dir = a.out.join("model");
            let exe = std::env::current_exe().context("locating this executable")?;
            let steps = if a.smoke { "60" } else { "600" };
            let status = std::process::Command::new(exe)
                .args(["pretrain", "--out"])
                .arg(&dir)
                .args(["--steps", steps])
                .status()
                .context("running pretrain")?;
            anyhow::ensure!(status.success(), "pretrain failed ({status})");
            dir
        }
    };
    let mut cfg = SweepConfig {
        model,
        data,
        out: a.out.clone(),
        eval_n: if a.smoke { 24 } else { 100 },
        train_n: None,
        eval_max_new_tokens: if a.smoke { 64 } else { 160 },
        bootstrap_resamples: 1000,
        ..SweepConfig::default()
    };
    cfg.sft = SftConfig {
        epochs: if a.smoke { 1 } else { 3 },
        batch_size: 8,
        lr: 2e-3,
        max_seq_len: 512,
        lora: scrl_train::LoraSettings { r: 8, alpha: 16.0, dropout: 0.05, ..Default::default() },
        max_problems: if a.smoke { Some(64) } else { None },
        ..SftConfig::default()
    };
    cfg.ppo = PpoConfig {
        episodes: if a.smoke { 4 } else { 40 },
        batch_size: if a.smoke { 2 } else { 8 },
        lr: 1e-4,
        max_new_tokens: if a.smoke { 64 } else { 160 },
        max_prompt_tokens: 384,
        val_prompts: if a.smoke { 4 } else { 24 },
        val_every: if a.smoke { 2 } else { 10 },
        save_every: if a.smoke { 2 } else { 10 },
        ..PpoConfig::default()
    };
    let reward = a.reward.build()?;
    let mut outcome = run_pipeline(&cfg, &reward)?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(print_outcome(&outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let cfg: SweepConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                cfg.sft.validate().unwrap();
                cfg.ppo.validate().unwrap();
                n += 1;
            }
        }
        assert!(n >= 2, "configs/ holds the paper's setting and more");
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let err = toml::from_str::<SweepConfig>("model = 'm'\n[ppo]\nepisodez = 3\n").unwrap_err().to_string();
        assert!(err.contains("episodez"), "{err}");
    }
}

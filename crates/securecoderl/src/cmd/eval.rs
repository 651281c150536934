//! `securecoderl eval` (one or more models on the fixed evaluation set, with CIs and paired tests)
//! and `securecoderl bench-models` (the paper's Table 2: several model folders zero-shot, one
//! sample each).

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_eval::{BootstrapConfig, EvalSet, Metric, Report, ReportRow, SampleRecord};
use scrl_train::evaluate::{EvalOptions, generate_records, load_policy};

use super::reward_opts::RewardOpts;
use super::train::StyleArg;

/// The options that pick the evaluation set and how samples are drawn.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalSetOpts {
    /// Problems JSONL the evaluation set is drawn from.
    #[arg(long)]
    pub data: PathBuf,
    /// Size of the evaluation set (the same problems for every model).
    #[arg(long, default_value_t = 100)]
    pub eval_n: usize,
    /// Seed of the evaluation-set draw.
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
    /// Evaluate every problem of --data instead of a seeded draw.
    #[arg(long)]
    pub all: bool,
    /// Samples per problem (k); pass@k is reported when k > 1.
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    #[arg(long, default_value_t = 512)]
    pub max_new_tokens: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 2000)]
    pub resamples: u32,
    #[arg(long, value_enum, default_value_t = StyleArg::Auto)]
    pub prompt_style: StyleArg,
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl EvalSetOpts {
    pub fn problems(&self) -> anyhow::Result<Vec<scrl_data::Problem>> {
        let all = scrl_data::load_problems(&self.data)?;
        if self.all {
            return Ok(all);
        }
        let opts = scrl_data::SplitOptions {
            eval_n: self.eval_n,
            seed: self.split_seed,
            ..Default::default()
        };
        Ok(scrl_data::split(&all, &opts)?.eval)
    }

    pub fn sampling(&self) -> EvalOptions {
        EvalOptions {
            samples: self.samples,
            temperature: self.temperature,
            max_new_tokens: self.max_new_tokens,
            seed: self.seed,
            ..EvalOptions::default()
        }
    }

    pub fn bootstrap(&self) -> BootstrapConfig {
        BootstrapConfig {
            resamples: self.resamples,
            ..BootstrapConfig::default()
        }
    }
}

/// Generates and scores one model's samples, writing them to `records` as JSON Lines.
pub fn evaluate_model(
    model: &Path,
    adapter: Option<&Path>,
    problems: &[scrl_data::Problem],
    set: &EvalSetOpts,
    reward: &scrl_reward::RewardModel,
    records: &Path,
    label: &str,
) -> anyhow::Result<Vec<SampleRecord>> {
    let policy = load_policy(
        model,
        adapter,
        set.prompt_style.into(),
        &set.dtype,
        &set.device,
    )
    .with_context(|| format!("loading {label}"))?;
    let bar = indicatif::ProgressBar::new((problems.len() * set.samples) as u64).with_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{bar:30}} {{pos}}/{{len}} samples {label} {{elapsed}} eta {{eta}}"
        ))
        .expect("valid template"),
    );
    let recs = generate_records(&policy, reward, problems, &set.sampling(), &|done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    scrl_eval::write_records(records, &recs)?;
    Ok(recs)
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  securecoderl eval --model models/tiny --adapter runs/sft/adapter \
        --data eval.jsonl --all --out runs/eval-sft\n  securecoderl eval --model M --adapter A \
        --data problems.jsonl --samples 5 --compare-with runs/eval-sft/records.jsonl"
)]
pub struct EvalArgs {
    #[arg(long)]
    model: PathBuf,
    /// A LoRA adapter folder (PEFT layout) on top of --model.
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// The name of this model in the report.
    #[arg(long)]
    name: Option<String>,
    /// Records of another model on the same problems (records.jsonl of an earlier eval), for paired
    /// tests.
    #[arg(long)]
    compare_with: Option<PathBuf>,
    #[arg(long, default_value = "runs/eval")]
    out: PathBuf,
    #[command(flatten)]
    set: EvalSetOpts,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run_eval(a: EvalArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let problems = a.set.problems()?;
    let reward = a.reward.build()?;
    let label = a.name.clone().unwrap_or_else(|| match &a.adapter {
        Some(ad) => format!("{} + {}", a.model.display(), ad.display()),
        None => a.model.display().to_string(),
    });
    let records = evaluate_model(
        &a.model,
        a.adapter.as_deref(),
        &problems,
        &a.set,
        &reward,
        &a.out.join("records.jsonl"),
        &label,
    )?;
    let ks: Vec<u32> = if a.set.samples > 1 {
        vec![1, a.set.samples as u32]
    } else {
        vec![]
    };
    let cfg = a.set.bootstrap();
    let set = EvalSet::from_records(&label, records)?;
    let mut rows = vec![ReportRow {
        paper_variant: None,
        summary: scrl_eval::summarize(&set, &ks, &cfg)?,
    }];
    let mut comparisons = Vec::new();
    if let Some(other) = &a.compare_with {
        let theirs = scrl_eval::read_records(other)?;
        let other_set = EvalSet::from_records(other.display().to_string(), theirs)?;
        rows.push(ReportRow {
            paper_variant: None,
            summary: scrl_eval::summarize(&other_set, &ks, &cfg)?,
        });
        for m in [
            Metric::SyntaxValid,
            Metric::AnyTestPassed,
            Metric::AllTestsPassed,
            Metric::MeanReward,
        ] {
            comparisons.push(scrl_eval::compare_paired(&other_set, &set, m, &cfg)?);
        }
    }
    let report = Report {
        title: format!("Evaluation of {label}"),
        setting: format!(
            "{} problems from {}, {} sample(s) each at T = {}, reward {}",
            problems.len(),
            a.set.data.display(),
            a.set.samples,
            a.set.temperature,
            reward_setting(&reward)
        ),
        bootstrap: cfg,
        rows,
        comparisons,
        sections: Vec::new(),
    };
    let files = scrl_eval::write_report(&a.out, &report)?;
    let summaries: Vec<_> = report.rows.iter().map(|r| r.summary.clone()).collect();
    scrl_eval::plot_metric_bars(&report.title, &summaries, &a.out.join("metrics"))?;
    println!("{}", scrl_eval::render_table3(&report.rows));
    println!(
        "records {}\nreport  {}",
        a.out.join("records.jsonl").display(),
        files.markdown.display()
    );
    Ok(0)
}

pub fn reward_setting(r: &scrl_reward::RewardModel) -> String {
    let c = r.config();
    format!(
        "R = {} R_func + {} R_sec ({:?}, T capped at {}), CPU limit {} ms",
        c.alpha,
        c.beta,
        c.kind,
        c.test_cap.map_or("none".to_string(), |t| t.to_string()),
        c.cpu_time_ms
    )
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example (Table 2):\n  securecoderl bench-models --model \
        /models/deepseek-coder-1.3b-instruct --model /models/qwen2.5-coder-0.5b-instruct --data \
        apps_plus.jsonl --device cuda"
)]
pub struct BenchModelsArgs {
    /// Model folders, zero-shot (repeat the flag).
    #[arg(long = "model", required = true)]
    models: Vec<PathBuf>,
    #[arg(long, default_value = "runs/bench-models")]
    out: PathBuf,
    #[command(flatten)]
    set: EvalSetOpts,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run_bench_models(a: BenchModelsArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let problems = a.set.problems()?;
    let reward = a.reward.build()?;
    let cfg = a.set.bootstrap();
    let mut rows = Vec::new();
    for (i, m) in a.models.iter().enumerate() {
        let label = m.file_name().map_or_else(
            || m.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let recs = evaluate_model(
            m,
            None,
            &problems,
            &a.set,
            &reward,
            &a.out.join(format!("records-{i}.jsonl")),
            &label,
        )?;
        rows.push(ReportRow {
            paper_variant: None,
            summary: scrl_eval::summarize(&EvalSet::from_records(&label, recs)?, &[], &cfg)?,
        });
    }
    let report = Report {
        title: "Zero-shot baselines (Table 2)".into(),
        setting: format!(
            "{} problems from {}, one sample each at T = {}",
            problems.len(),
            a.set.data.display(),
            a.set.temperature
        ),
        bootstrap: cfg,
        rows,
        comparisons: vec![],
        sections: Vec::new(),
    };
    let files = scrl_eval::write_report(&a.out, &report)?;
    println!("{}", scrl_eval::render_table2(&report.rows));
    println!("report {}", files.markdown.display());
    Ok(0)
}

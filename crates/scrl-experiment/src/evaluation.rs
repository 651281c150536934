//! What every evaluation shares: the evaluation section, one model's samples, the summaries, the
//! paired comparisons, and the report with its bar chart. `eval`, `bench-models` and the sweep's
//! evaluation stage all go through these functions.

use std::path::{Path, PathBuf};

use anyhow::Context;
use scrl_eval::{
    BootstrapConfig, EvalSet, Metric, PairedComparison, PlotFiles, Report, ReportFiles, ReportRow,
    SampleRecord,
};
use scrl_reward::RewardModel;
use scrl_train::PromptStyle;
use scrl_train::evaluate::{EvalOptions, generate_records, load_policy};
use serde::{Deserialize, Serialize};

use crate::progress::Progress;

/// The evaluation section: which problems, and how samples are drawn and summarised. `[eval]` in
/// an evaluation's config.toml; every field is also a flag of `eval` and `bench-models`, with this
/// text as its help.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Problems JSONL the evaluation set is drawn from.
    #[arg(long)]
    pub data: PathBuf,
    /// Size of the evaluation set (the same problems for every model).
    #[arg(long)]
    pub eval_n: usize,
    /// Seed of the evaluation-set draw.
    #[arg(long)]
    pub split_seed: u64,
    /// Evaluate every problem of `data` instead of a seeded draw.
    #[arg(long)]
    pub all: bool,
    /// Samples per problem (k); pass@k is reported when k > 1.
    #[arg(long)]
    pub samples: usize,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: f64,
    /// Longest completion, in tokens.
    #[arg(long)]
    pub max_new_tokens: usize,
    /// Sampling seed.
    #[arg(long)]
    pub seed: u64,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long)]
    pub resamples: u32,
    /// `auto` (chat when the checkpoint has a chat template), `completion` or `chat`.
    #[arg(long, value_enum)]
    pub prompt_style: PromptStyle,
    /// f32, bf16 or f16 for the base weights.
    #[arg(long)]
    pub dtype: String,
    /// cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: String,
}

impl Default for EvalConfig {
    /// The paper's Table 3 setting: 100 problems drawn with seed 42, one sample each at T = 0.7.
    fn default() -> Self {
        let split = scrl_data::SplitOptions::default();
        let sampling = EvalOptions::default();
        EvalConfig {
            data: PathBuf::new(),
            eval_n: split.eval_n,
            split_seed: split.seed,
            all: false,
            samples: sampling.samples,
            temperature: sampling.temperature,
            max_new_tokens: sampling.max_new_tokens,
            seed: sampling.seed,
            resamples: BootstrapConfig::default().resamples,
            prompt_style: PromptStyle::Auto,
            dtype: "f32".into(),
            device: "cpu".into(),
        }
    }
}

impl EvalConfig {
    pub fn problems(&self) -> anyhow::Result<Vec<scrl_data::Problem>> {
        anyhow::ensure!(
            !self.data.as_os_str().is_empty(),
            "--data is required (as a flag or in --config)"
        );
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
#[allow(clippy::too_many_arguments)]
pub fn evaluate_model(
    model: &Path,
    adapter: Option<&Path>,
    problems: &[scrl_data::Problem],
    set: &EvalConfig,
    reward: &RewardModel,
    records: &Path,
    label: &str,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<SampleRecord>> {
    let policy = load_policy(model, adapter, set.prompt_style, &set.dtype, &set.device)
        .with_context(|| format!("loading {label}"))?;
    let task = progress.task(
        (problems.len() * set.samples) as u64,
        &format!("samples {label}"),
    );
    let recs = generate_records(&policy, reward, problems, &set.sampling(), &|done, _| {
        task.position(done as u64)
    })?;
    task.finish();
    scrl_eval::write_records(records, &recs)?;
    Ok(recs)
}

/// The reward of a report's setting line.
pub fn reward_setting(r: &RewardModel) -> String {
    let c = r.config();
    format!(
        "R = {} R_func + {} R_sec ({:?}, T capped at {}), CPU limit {} ms",
        c.alpha,
        c.beta,
        c.kind,
        c.test_cap.0.map_or("none".to_string(), |t| t.to_string()),
        c.cpu_time_ms
    )
}

/// The pass@k values a report gives for `samples` samples per problem (none for one sample).
pub fn pass_at(samples: usize) -> Vec<u32> {
    if samples > 1 {
        vec![1, samples as u32]
    } else {
        vec![]
    }
}

/// The four metrics of Table 3 that the paired comparisons test.
pub const COMPARED: [Metric; 4] = [
    Metric::SyntaxValid,
    Metric::AnyTestPassed,
    Metric::AllTestsPassed,
    Metric::MeanReward,
];

/// One report row per evaluated set, with its paper variant when it has one.
pub fn summarise(
    sets: &[(&EvalSet, Option<scrl_eval::PaperVariant>)],
    pass_at: &[u32],
    boot: &BootstrapConfig,
) -> anyhow::Result<Vec<ReportRow>> {
    sets.iter()
        .map(|(set, paper)| {
            Ok(ReportRow {
                paper_variant: *paper,
                summary: scrl_eval::summarize(set, pass_at, boot)?,
            })
        })
        .collect()
}

/// Paired comparisons (B - A) of every pair, on the [`COMPARED`] metrics.
pub fn compare(
    pairs: &[(&EvalSet, &EvalSet)],
    boot: &BootstrapConfig,
) -> anyhow::Result<Vec<PairedComparison>> {
    let mut out = Vec::new();
    for (a, b) in pairs {
        for m in COMPARED {
            out.push(scrl_eval::compare_paired(a, b, m, boot)?);
        }
    }
    Ok(out)
}

/// Writes the report (Markdown, JSON, CSV) into `out` and its metric bar chart at `bars` (a path
/// without extension); returns the report's files and the chart's.
pub fn write_report(
    out: &Path,
    report: &Report,
    bars: &Path,
) -> anyhow::Result<(ReportFiles, PlotFiles)> {
    let files = scrl_eval::write_report(out, report)?;
    if let Some(dir) = bars.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let summaries: Vec<_> = report.rows.iter().map(|r| r.summary.clone()).collect();
    let chart = scrl_eval::plot_metric_bars(&report.title, &summaries, bars)?;
    Ok((files, chart))
}

/// One evaluation, as its folder's config.toml records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct EvalRun {
    /// The model folder.
    #[arg(long)]
    pub model: PathBuf,
    /// A LoRA adapter folder (PEFT layout) on top of `model`.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// The name of this model in the report.
    #[arg(long)]
    pub name: Option<String>,
    /// Records of another model on the same problems (records.jsonl of an earlier eval), for paired
    /// tests.
    #[arg(long)]
    pub compare_with: Option<PathBuf>,
    /// The output folder: records.jsonl, the report, plots, config.toml.
    #[arg(long)]
    pub out: PathBuf,
    /// The problems and the sampling: `[eval]` in TOML.
    #[command(flatten)]
    pub eval: EvalConfig,
    /// The reward the samples are scored with: `[reward]` in TOML.
    #[command(flatten)]
    pub reward: scrl_reward::RewardConfig,
    /// The sandbox: `[sandbox]` in TOML.
    #[command(flatten)]
    pub sandbox: scrl_sandbox::SandboxConfig,
}

impl Default for EvalRun {
    fn default() -> Self {
        EvalRun {
            model: PathBuf::new(),
            adapter: None,
            name: None,
            compare_with: None,
            out: PathBuf::from("runs/eval"),
            eval: EvalConfig::default(),
            reward: Default::default(),
            sandbox: Default::default(),
        }
    }
}

/// One evaluation (`securecoderl eval`): the model's samples, scored, summarised, compared with
/// `compare_with` when given, reported into `run.out` with its config.toml.
pub fn run_eval(run: &EvalRun, progress: &dyn Progress) -> anyhow::Result<(Report, ReportFiles)> {
    anyhow::ensure!(
        !run.model.as_os_str().is_empty(),
        "--model is required (as a flag or in --config)"
    );
    let out = &run.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let problems = run.eval.problems()?;
    let reward = crate::start_reward(&run.reward, &run.sandbox)?;
    scrl_eval::write_atomic(&out.join("config.toml"), toml::to_string(run)?.as_bytes())?;
    let label = run.name.clone().unwrap_or_else(|| match &run.adapter {
        Some(ad) => format!("{} + {}", run.model.display(), ad.display()),
        None => run.model.display().to_string(),
    });
    let records = evaluate_model(
        &run.model,
        run.adapter.as_deref(),
        &problems,
        &run.eval,
        &reward,
        &out.join("records.jsonl"),
        &label,
        progress,
    )?;
    let ks = pass_at(run.eval.samples);
    let boot = run.eval.bootstrap();
    let set = EvalSet::from_records(&label, records)?;
    let other = match &run.compare_with {
        Some(path) => Some(EvalSet::from_records(
            path.display().to_string(),
            scrl_eval::read_records(path)?,
        )?),
        None => None,
    };
    let mut sets = vec![(&set, None)];
    sets.extend(other.iter().map(|o| (o, None)));
    let rows = summarise(&sets, &ks, &boot)?;
    let comparisons = match &other {
        Some(o) => compare(&[(o, &set)], &boot)?,
        None => Vec::new(),
    };
    let report = Report {
        title: format!("Evaluation of {label}"),
        setting: format!(
            "{} problems from {}, {} sample(s) each at T = {}, reward {}",
            problems.len(),
            run.eval.data.display(),
            run.eval.samples,
            run.eval.temperature,
            reward_setting(&reward)
        ),
        bootstrap: boot,
        rows,
        comparisons,
        sections: Vec::new(),
    };
    let (files, _) = write_report(out, &report, &out.join("metrics"))?;
    Ok((report, files))
}

/// The paper's Table 2 (`securecoderl bench-models`): several model folders zero-shot on the same
/// problems, reported into `out` with its config.toml.
pub fn run_bench_models(
    models: &[PathBuf],
    eval: &EvalConfig,
    reward: &scrl_reward::RewardConfig,
    sandbox: &scrl_sandbox::SandboxConfig,
    out: &Path,
    progress: &dyn Progress,
) -> anyhow::Result<(Report, ReportFiles)> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let problems = eval.problems()?;
    let reward_model = crate::start_reward(reward, sandbox)?;
    #[derive(Serialize)]
    struct Record<'a> {
        models: &'a [PathBuf],
        eval: &'a EvalConfig,
        reward: &'a scrl_reward::RewardConfig,
        sandbox: &'a scrl_sandbox::SandboxConfig,
    }
    let record = Record {
        models,
        eval,
        reward,
        sandbox,
    };
    scrl_eval::write_atomic(
        &out.join("config.toml"),
        toml::to_string(&record)?.as_bytes(),
    )?;
    let boot = eval.bootstrap();
    let mut sets = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let label = m.file_name().map_or_else(
            || m.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let recs = evaluate_model(
            m,
            None,
            &problems,
            eval,
            &reward_model,
            &out.join(format!("records-{i}.jsonl")),
            &label,
            progress,
        )?;
        sets.push(EvalSet::from_records(&label, recs)?);
    }
    let rows = summarise(
        &sets.iter().map(|s| (s, None)).collect::<Vec<_>>(),
        &[],
        &boot,
    )?;
    let report = Report {
        title: "Zero-shot baselines (Table 2)".into(),
        setting: format!(
            "{} problems from {}, one sample each at T = {}",
            problems.len(),
            eval.data.display(),
            eval.temperature
        ),
        bootstrap: boot,
        rows,
        comparisons: vec![],
        sections: Vec::new(),
    };
    let (files, _) = write_report(out, &report, &out.join("metrics"))?;
    Ok((report, files))
}

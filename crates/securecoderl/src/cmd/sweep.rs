//! `securecoderl sweep` (the paper's Table 3) and `securecoderl quickstart` (the same pipeline on
//! the built-in default, on CPU, with no downloads): they read the config and flags, call
//! `scrl_experiment::run_pipeline` and print its outcome.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use scrl_experiment::{PipelineOutcome, Progress, QuickstartConfig, SweepConfig, Task};

use super::flags::Flags;

/// The pipeline's progress on stderr: a line per stage and a bar per long task.
pub struct Bars;

struct Bar(indicatif::ProgressBar);

impl Task for Bar {
    fn position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn message(&self, msg: &str) {
        self.0.set_message(msg.to_string());
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str) {
        eprintln!("==> {name}");
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
    fn task(&self, len: u64, what: &str) -> Box<dyn Task> {
        Box::new(Bar(indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(&format!(
                "    {{bar:30}} {{pos}}/{{len}} {what} {{elapsed}} eta {{eta}} {{msg}}"
            ))
            .expect("valid template"),
        )))
    }
}

fn print_outcome(o: &PipelineOutcome) -> i32 {
    for p in &o.problems {
        eprintln!("check failed: {p}");
    }
    let verdict = if o.problems.is_empty() {
        "PASS"
    } else {
        "FAIL"
    };
    println!(
        "{verdict}: every stage ran and wrote its outputs ({} problem(s)) in {:.0} s",
        o.problems.len(),
        o.seconds
    );
    println!("report: {}", o.report.display());
    i32::from(!o.problems.is_empty())
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example (the paper's setting, on a GPU):\n  securecoderl sweep --config \
        configs/paper-table3-deepseek-coder-1.3b.toml"
)]
pub struct SweepArgs {
    /// The sweep's TOML config (see configs/; a sweep's run folder keeps its own as config.toml,
    /// which repeats it). Flags given override it.
    #[arg(long)]
    config: PathBuf,
    #[command(flatten)]
    flags: Flags<SweepConfig>,
}

pub fn run_sweep(a: SweepArgs) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let cfg = SweepConfig::parse(&text, &a.config.display().to_string())?;
    let cfg = a.flags.over(cfg)?;
    anyhow::ensure!(
        !cfg.model.as_os_str().is_empty() && !cfg.data.as_os_str().is_empty(),
        "the config must set `model` and `data`"
    );
    let outcome = scrl_experiment::run_pipeline(&cfg, &Bars)?;
    Ok(print_outcome(&outcome))
}

#[derive(clap::Args, Debug)]
pub struct QuickstartArgs {
    /// The quickstart's settings (default: configs/quickstart.toml, built into this binary; with
    /// --smoke, configs/quickstart-smoke.toml). Flags given override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Smaller settings through the same code path (what CI runs).
    #[arg(long)]
    smoke: bool,
    #[command(flatten)]
    flags: Flags<QuickstartConfig>,
}

/// The committed tiny default model, if this binary runs from a checkout that has it.
fn default_model() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny");
    [PathBuf::from("models/tiny"), repo]
        .into_iter()
        .find(|p| p.join("config.json").is_file())
}

pub fn run_quickstart(a: QuickstartArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    let (qc, what) = match &a.config {
        Some(p) => (
            QuickstartConfig::parse(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
                &p.display().to_string(),
            )?,
            p.display().to_string(),
        ),
        None => (
            QuickstartConfig::builtin(a.smoke)?,
            format!(
                "configs/quickstart{}.toml",
                if a.smoke { "-smoke" } else { "" }
            ),
        ),
    };
    let mut qc = a.flags.over(qc)?;
    qc.validate(&format!("{what} and the flags"))?;
    let out = qc.sweep.out.clone();
    std::fs::create_dir_all(out.join("data"))
        .with_context(|| format!("creating {}", out.display()))?;
    Bars.stage("data: the built-in task suite");
    let suite = qc.problems();
    let data = out.join("data/suite.jsonl");
    scrl_data::write_problems(&data, &suite)?;
    let families = if qc.families.is_empty() {
        scrl_data::builtin::FAMILIES.len()
    } else {
        qc.families.len()
    };
    eprintln!(
        "    {} problems ({families} families x {}, seed {})",
        suite.len(),
        qc.per_family,
        qc.suite_seed
    );

    let given = Some(qc.sweep.model.clone()).filter(|m| !m.as_os_str().is_empty());
    let model = match given.or_else(default_model) {
        Some(m) => m,
        None => {
            Bars.stage("pretrain the tiny default model (no committed model found)");
            let dir = out.join("model");
            let exe = std::env::current_exe().context("locating this executable")?;
            let status = std::process::Command::new(exe)
                .args(["pretrain", "--out"])
                .arg(&dir)
                .args(["--steps", &qc.pretrain_steps.to_string()])
                .status()
                .context("running pretrain")?;
            anyhow::ensure!(status.success(), "pretrain failed ({status})");
            dir
        }
    };
    qc.sweep.model = model;
    qc.sweep.data = data;
    let mut outcome = scrl_experiment::run_pipeline(&qc.sweep, &Bars)?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(print_outcome(&outcome))
}

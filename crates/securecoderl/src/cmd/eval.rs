//! `securecoderl eval` (one or more models on the fixed evaluation set, with CIs and paired tests)
//! and `securecoderl bench-models` (the paper's Table 2: several model folders zero-shot, one
//! sample each): they read the config and flags, call `scrl_experiment::evaluation` and print.

use std::path::PathBuf;

use scrl_experiment::{EvalConfig, EvalRun};

use super::flags::{Flags, load_or_default};
use super::reward_opts::RewardOpts;
use super::sweep::Bars;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  securecoderl eval --model models/tiny --adapter runs/sft/adapter \
        --data eval.jsonl --all --out runs/eval-sft\n  securecoderl eval --model M --adapter A \
        --data problems.jsonl --samples 5 --compare-with runs/eval-sft/records.jsonl"
)]
pub struct EvalArgs {
    /// A TOML file with the evaluation's config: an evaluation folder's config.toml repeats it.
    /// Flags given override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    flags: Flags<EvalRun>,
}

pub fn run_eval(args: EvalArgs) -> anyhow::Result<i32> {
    let run: EvalRun = args.flags.over(load_or_default(args.config.as_deref())?)?;
    let (report, files) = scrl_experiment::evaluation::run_eval(&run, &Bars)?;
    println!("{}", scrl_eval::render_table3(&report.rows));
    println!(
        "records {}\nreport  {}",
        run.out.join("records.jsonl").display(),
        files.markdown.display()
    );
    Ok(0)
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
    eval: Flags<EvalConfig>,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run_bench_models(args: BenchModelsArgs) -> anyhow::Result<i32> {
    let eval = args.eval.over(EvalConfig::default())?;
    let (reward, sandbox) = args.reward.resolve()?;
    let (report, files) = scrl_experiment::evaluation::run_bench_models(
        &args.models,
        &eval,
        &reward,
        &sandbox,
        &args.out,
        &Bars,
    )?;
    println!("{}", scrl_eval::render_table2(&report.rows));
    println!("report {}", files.markdown.display());
    Ok(0)
}

//! The `securecoderl` command line: a thin layer over the library crates.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "securecoderl",
    version,
    about = "Partial-credit RL for reliable, secure code generation with small language models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process and matched at once: boxing the large argument structs would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// The built-in default end to end on CPU: task suite, tiny model, SFT, three PPO variants,
    /// report.
    Quickstart(cmd::sweep::QuickstartArgs),
    /// Table 3: SFT, PPO-simple, PPO-fresh and PPO-continue, all evaluated on the same problems.
    Sweep(cmd::sweep::SweepArgs),
    /// Score one program against one problem, or a batch of completions against a problems file.
    Score(cmd::score::ScoreArgs),
    /// Scan Python files for Bandit-compatible MEDIUM/HIGH security findings.
    Scan(cmd::scan::ScanArgs),
    /// Import, inspect and split problem sets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Train the tiny default model (tokenizer and weights) from scratch on local corpora.
    Pretrain(cmd::pretrain::PretrainArgs),
    /// LoRA supervised fine-tuning on reference solutions.
    Sft(cmd::train::SftArgs),
    /// PPO (value head, GAE, clipped surrogate, KL to the SFT reference), GRPO or RLOO on the
    /// reward.
    Ppo(cmd::train::PpoArgs),
    /// Print a config section's defaults as TOML (every key is also a flag of its command).
    Config(cmd::flags::ConfigArgs),
    /// Evaluate a model (and adapter) on the fixed evaluation set: metrics with CIs, taxonomy,
    /// records.
    Eval(cmd::eval::EvalArgs),
    /// Table 2: several model folders zero-shot, one sample each.
    BenchModels(cmd::eval::BenchModelsArgs),
    /// Generate completions with a checkpoint folder (and optionally a LoRA adapter).
    Generate(cmd::generate::GenerateArgs),
    /// Serve the reward and a SandboxFusion-compatible run_code over HTTP (docs/serve.md).
    Serve(cmd::serve::ServeArgs),
    /// Benchmarks that print tables.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Test executions per second: the sandbox against a fresh `python3 file.py` per test.
    Reward(cmd::bench_reward::BenchRewardArgs),
    /// Files per second: the native scanner against Bandit.
    Scan(cmd::bench_scan::BenchScanArgs),
    /// The reward server under concurrent loopback clients, against `score --batch` in the same
    /// run.
    Serve(cmd::bench_serve::BenchServeArgs),
    /// Training and decoding tokens per second.
    Model(cmd::bench_model::BenchModelArgs),
    /// Seconds per PPO episode, per phase, and an estimate for the paper's 1.3B run.
    Ppo(cmd::bench_ppo::BenchPpoArgs),
    /// The GPU check of scripts/gpu-check: CUDA vs CPU logits, decode/SFT/PPO speed at real shapes,
    /// memory.
    GpuCheck(cmd::bench_gpu::GpuCheckArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(a) => cmd::sweep::run_quickstart(a),
        Command::Sweep(a) => cmd::sweep::run_sweep(a),
        Command::Score(a) => cmd::score::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Data(c) => cmd::data::run(c),
        Command::Pretrain(a) => cmd::pretrain::run(a),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Sft(a) => cmd::train::run_sft(a),
        Command::Config(a) => cmd::flags::run_config(a),
        Command::Eval(a) => cmd::eval::run_eval(a),
        Command::BenchModels(a) => cmd::eval::run_bench_models(a),
        Command::Ppo(a) => cmd::train::run_ppo(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Bench(BenchCommand::Serve(a)) => cmd::bench_serve::run(a),
        Command::Bench(BenchCommand::Reward(a)) => cmd::bench_reward::run(a),
        Command::Bench(BenchCommand::Scan(a)) => cmd::bench_scan::run(a),
        Command::Bench(BenchCommand::Model(a)) => cmd::bench_model::run(a),
        Command::Bench(BenchCommand::Ppo(a)) => cmd::bench_ppo::run(a),
        Command::Bench(BenchCommand::GpuCheck(a)) => cmd::bench_gpu::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        // clap checks flag clashes only when a command is parsed; this checks every subcommand at
        // once.
        super::Cli::command().debug_assert();
    }
}

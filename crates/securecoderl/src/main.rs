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
    keep_freed_memory();
    no_spinning_elementwise_pool();
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

/// Runs candle's elementwise ops on the calling thread (`CANDLE_NUM_THREADS=1`) unless the user
/// chose a number.
///
/// candle 0.11 splits large elementwise ops over a pool of its own threads beside rayon's, and each
/// of them spins up to 25,000 times after every op before it sleeps. With as many threads as cores
/// that spinning takes the cores from the GEMMs and our kernels, which run on rayon: in a 2-thread
/// `perf` profile of `bench model` the pool's one thread was 14% of all samples, 10% of them
/// spinning. Without the pool `bench model` measured about 1.1-1.3x training tokens per CPU-second
/// (docs/model.md). Elementwise results do not depend on how they are split.
fn no_spinning_elementwise_pool() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

/// Lets glibc's malloc reuse freed tensor buffers instead of handing them back to the kernel.
///
/// By default a chunk over 128 KiB is its own mapping, unmapped when freed, and the heap is
/// trimmed as soon as 128 KiB at its top are free; a training step frees and allocates the same
/// activation-sized buffers hundreds of times (candle makes a fresh output per op), so every one
/// came back as fresh pages the kernel faults in and zeroes (about 15% of a CPU step in `perf`).
/// Chunks up to 32 MiB (glibc's largest heap chunk) now stay in the heap, which is trimmed only
/// past 2 GiB free; `bench model` measured 1.1-1.33x training tokens/s and the same peak RSS
/// (docs/model.md). `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` in the environment
/// keeps glibc's own handling.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_set = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !user_set {
            // SAFETY: mallopt only changes two of glibc's malloc thresholds; it runs before any
            // other thread exists.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
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

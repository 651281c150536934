//! One module per subcommand. Each exposes an `Args` type (clap) and `run(args) ->
//! anyhow::Result<i32>`, where the integer is the process exit code.

pub mod bench_gpu;
pub mod bench_model;
pub mod bench_ppo;
pub mod bench_reward;
pub mod bench_scan;
pub mod bench_serve;
pub mod bench_shape;
pub mod data;
pub mod eval;
pub mod flags;
pub mod generate;
pub mod pretrain;
pub mod reward_opts;
pub mod scan;
pub mod score;
pub mod serve;
pub mod sweep;
pub mod train;

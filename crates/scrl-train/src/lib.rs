//! Trainers: LoRA SFT, PPO with a value head and the binary-to-partial curriculum, and the
//! group-relative variants (GRPO, RLOO). The loop of each trainer reads like the algorithm in the
//! paper; the numerical pieces (advantages, losses, KL control, schedules) live in their own
//! modules and are tested alone. Every random choice derives from the run's seed and the step
//! number, so a resumed run repeats an uninterrupted one exactly.

pub mod advantages;
pub mod checkpoint;
mod config;
pub mod evaluate;
pub mod kl;
pub mod losses;
pub mod metrics;
pub mod policy;
pub mod ppo;
pub mod schedule;
pub mod seed;
pub mod sft;

use std::path::PathBuf;

pub use config::load_toml;
pub use policy::{LoraSettings, Policy, PromptStyle};
pub use ppo::{Algorithm, PpoConfig, PpoSummary, run_ppo};
pub use seed::{SeedPurpose, derive_seed};
pub use sft::{SftConfig, SftSummary, run_sft};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] scrl_model::ModelError),
    #[error(transparent)]
    Data(#[from] scrl_data::DataError),
    #[error(transparent)]
    Reward(#[from] scrl_reward::RewardError),
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
}

/// A seeded permutation of 0..n (Fisher-Yates on a ChaCha stream).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v
}

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
pub mod sft;

use std::path::PathBuf;

pub use config::load_toml;
pub use policy::{LoraSettings, Policy, PromptStyle};
pub use ppo::{Algorithm, PpoConfig, PpoSummary, run_ppo};
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

/// A seed for one purpose at one step, derived from the run's seed (SplitMix64 finaliser), so that
/// no random stream depends on how many draws came before it.
pub fn derive_seed(seed: u64, purpose: u64, step: u64) -> u64 {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

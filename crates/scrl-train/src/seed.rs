//! Named seed purposes: every random stream of the trainers, the evaluation and the sweep is
//! derived from a base seed, a [`SeedPurpose`] and an index (an episode, an epoch, a chunk), never
//! from a constant written at the call site.
//!
//! The derivation is the SplitMix64 finaliser of `seed ^ code * φ ^ index * C` (φ = 2^64 / golden
//! ratio, C another odd constant); each purpose keeps the code its call site used before the
//! purposes were named, so every run draws the numbers it drew then. For one base seed and one
//! purpose, distinct indices give distinct seeds: multiplying by an odd constant, xoring a constant
//! and the finaliser are all bijections of u64. Across purposes the codes are distinct, and the
//! unit tests check that no two (purpose, index) pairs over the index ranges runs use collide.
//! Two-level indices are packed into one without overlap ([`SeedPurpose::SftDropout`]).

/// What a derived seed is for. Each purpose is its own random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeedPurpose {
    /// The LoRA initialisation of SFT and PPO (index 0).
    LoraInit,
    /// The seeded order of the training prompts or examples (index 0) and of the validation
    /// prompts (index 1).
    PromptOrder,
    /// PPO: the order of the training prompts in each pass over them (index: the pass).
    PromptPass,
    /// PPO: sampling an episode's rollouts (index: the episode).
    Rollouts,
    /// PPO: an episode's update (index: the episode); its minibatch orders derive from it.
    Update,
    /// PPO: the minibatch order of one epoch of an update (base seed: the [`SeedPurpose::Update`]
    /// seed; index: the epoch).
    MinibatchOrder,
    /// PPO: sampling the validation rollouts (index: the chunk of validation prompts).
    ValidationRollouts,
    /// SFT: the order of the examples in an epoch (index: the epoch).
    SftEpochOrder,
    /// SFT: the LoRA dropout of one micro-batch (index: [`sft_dropout_index`]).
    SftDropout,
    /// Evaluation: sampling the completions (index 0).
    EvalSampling,
    /// The sweep: the split of the validation and training sets from what the evaluation set left
    /// (index 0).
    ValidationSplit,
    /// The sweep: the training seed of one PPO variant (index: the variant's stream).
    Variant,
}

impl SeedPurpose {
    /// Every purpose, for checks over all of them.
    pub const ALL: [SeedPurpose; 12] = [
        SeedPurpose::LoraInit,
        SeedPurpose::PromptOrder,
        SeedPurpose::PromptPass,
        SeedPurpose::Rollouts,
        SeedPurpose::Update,
        SeedPurpose::MinibatchOrder,
        SeedPurpose::ValidationRollouts,
        SeedPurpose::SftEpochOrder,
        SeedPurpose::SftDropout,
        SeedPurpose::EvalSampling,
        SeedPurpose::ValidationSplit,
        SeedPurpose::Variant,
    ];

    /// The purpose's code in the derivation (the constant its call site used before).
    fn code(self) -> u64 {
        match self {
            SeedPurpose::LoraInit => 0x10A,
            SeedPurpose::PromptOrder => 0x5F7,
            SeedPurpose::PromptPass => 0xDA7A,
            SeedPurpose::Rollouts => 0x5A3,
            SeedPurpose::Update => 0xB47D,
            SeedPurpose::MinibatchOrder => 0xB47C,
            SeedPurpose::ValidationRollouts => 0x7A1D,
            SeedPurpose::SftEpochOrder => 0xE90C,
            SeedPurpose::SftDropout => 0xD80,
            SeedPurpose::EvalSampling => 0xE7A1,
            SeedPurpose::ValidationSplit => 0x7A1,
            SeedPurpose::Variant => 0x5EED,
        }
    }
}

/// The seed for one purpose at one index, derived from a base seed (see the module docs), so that
/// no random stream depends on how many draws came before it.
pub fn derive_seed(seed: u64, purpose: SeedPurpose, index: u64) -> u64 {
    let mut z = seed
        ^ purpose.code().wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The most micro-batches one SFT step may accumulate ([`sft_dropout_index`] numbers them below
/// it).
pub const MAX_MICRO_BATCHES: u64 = 1024;

/// The [`SeedPurpose::SftDropout`] index of micro-batch `micro` of optimizer step `step`:
/// `step * 1024 + micro`, distinct for every pair with `micro < MAX_MICRO_BATCHES` (SFT's
/// configuration check keeps `grad_accum` within it).
pub fn sft_dropout_index(step: u64, micro: u64) -> u64 {
    debug_assert!(micro < MAX_MICRO_BATCHES, "micro-batch {micro} of one step");
    step * MAX_MICRO_BATCHES + micro
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn purposes_have_distinct_codes() {
        let codes: HashSet<u64> = SeedPurpose::ALL.iter().map(|p| p.code()).collect();
        assert_eq!(codes.len(), SeedPurpose::ALL.len());
    }

    /// The values are the ones the call sites derived before the purposes were named: runs and
    /// their recorded numbers repeat.
    #[test]
    fn keeps_the_values_runs_drew_before() {
        let old = |seed: u64, purpose: u64, step: u64| {
            let mut z = seed
                ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ step.wrapping_mul(0xD1B5_4A32_D192_ED03);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        for p in SeedPurpose::ALL {
            for (seed, index) in [(42, 0), (42, 7), (u64::MAX >> 1, 3)] {
                assert_eq!(derive_seed(seed, p, index), old(seed, p.code(), index));
            }
        }
    }

    /// No two (purpose, index) pairs share a seed over the first 20,000 indices of every purpose
    /// (far more episodes, epochs, passes and chunks than a run has), for a few base seeds; PPO's
    /// minibatch orders, for one, stay distinct whatever `ppo_epochs` is.
    #[test]
    fn no_two_purposes_or_indices_share_a_seed() {
        for base in [0, 42, 0x5EED, u64::MAX] {
            let mut seen = HashSet::new();
            for p in SeedPurpose::ALL {
                for i in 0..20_000 {
                    assert!(
                        seen.insert(derive_seed(base, p, i)),
                        "{p:?} index {i} repeats a seed (base {base})"
                    );
                }
            }
        }
    }

    #[test]
    fn sft_dropout_indices_do_not_overlap_across_steps() {
        let last_of_step_0 = sft_dropout_index(0, MAX_MICRO_BATCHES - 1);
        assert!(last_of_step_0 < sft_dropout_index(1, 0));
        assert_eq!(sft_dropout_index(3, 5), 3 * 1024 + 5);
    }
}

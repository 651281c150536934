//! The reward schedule of the paper's curriculum: binary reward for the first N episodes, then partial
//! credit, in one job (PPO-continue as one run) or as two jobs (`--init-from` a PPO-simple checkpoint),
//! and the learning-rate schedule.

use scrl_reward::RewardKind;

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RewardSchedule {
    /// The same reward for every episode.
    Constant { reward: RewardKind },
    /// Binary for episodes [0, binary_episodes), partial credit after.
    BinaryThenPartial { binary_episodes: u64 },
}

impl RewardSchedule {
    pub fn kind_at(&self, episode: u64) -> RewardKind {
        match self {
            RewardSchedule::Constant { reward } => *reward,
            RewardSchedule::BinaryThenPartial { binary_episodes } if episode < *binary_episodes => RewardKind::Binary,
            RewardSchedule::BinaryThenPartial { .. } => RewardKind::Partial,
        }
    }
}

/// Linear warmup to the peak rate, then cosine decay to `min_ratio` of it at `total` steps.
pub fn lr_at(step: u64, total: u64, warmup: u64, peak: f64, min_ratio: f64) -> f64 {
    if warmup > 0 && step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step.saturating_sub(warmup)) as f64 / span).min(1.0);
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    peak * (min_ratio + (1.0 - min_ratio) * cosine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((lr_at(0, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!((lr_at(9, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((lr_at(10, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((lr_at(100, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!(lr_at(50, 100, 10, 1.0, 0.1) < 1.0);
    }


    #[test]
    fn curriculum_switches_at_the_boundary() {
        let s = RewardSchedule::BinaryThenPartial { binary_episodes: 3 };
        let kinds: Vec<_> = (0..5).map(|e| s.kind_at(e)).collect();
        use RewardKind::*;
        assert_eq!(kinds, vec![Binary, Binary, Binary, Partial, Partial]);
        assert_eq!(RewardSchedule::Constant { reward: Binary }.kind_at(1000), Binary);
    }
}

//! The reward schedule of the paper's curriculum: binary reward for the first N episodes, then
//! partial credit, in one job (PPO-continue as one run) or as two jobs (`--init-from` a PPO-simple
//! checkpoint).

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
            RewardSchedule::BinaryThenPartial { binary_episodes } if episode < *binary_episodes => {
                RewardKind::Binary
            }
            RewardSchedule::BinaryThenPartial { .. } => RewardKind::Partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curriculum_switches_at_the_boundary() {
        let s = RewardSchedule::BinaryThenPartial { binary_episodes: 3 };
        let kinds: Vec<_> = (0..5).map(|e| s.kind_at(e)).collect();
        use RewardKind::*;
        assert_eq!(kinds, vec![Binary, Binary, Binary, Partial, Partial]);
        assert_eq!(
            RewardSchedule::Constant { reward: Binary }.kind_at(1000),
            Binary
        );
    }
}

//! Advantage estimators. PPO: per-token rewards (the sequence reward on the last token, minus the
//! KL penalty on every token) and a value baseline, combined by GAE (Schulman et al. 2016). GRPO
//! and RLOO: one scalar per completion, relative to the other completions of the same prompt, no
//! value function. Plain `f32` slices: these run once per rollout and are easiest to check by hand
//! this way.

/// GAE over one sequence of `rewards.len()` tokens. `values[t]` estimates the return from token t;
/// the value after the last token is 0 (the episode ends). Returns (advantages, returns).
pub fn gae(rewards: &[f32], values: &[f32], gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(rewards.len(), values.len(), "one value per token");
    let n = rewards.len();
    let mut adv = vec![0f32; n];
    let mut next_value = 0f32;
    let mut running = 0f32;
    for t in (0..n).rev() {
        let delta = rewards[t] + gamma * next_value - values[t];
        running = delta + gamma * lambda * running;
        adv[t] = running;
        next_value = values[t];
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// Whitens advantages over every token of the batch: zero mean, unit variance (a no-op shift when
/// all advantages are equal, so a batch with no signal stays without signal).
pub fn whiten(batch: &mut [Vec<f32>]) {
    let n: usize = batch.iter().map(Vec::len).sum();
    if n == 0 {
        return;
    }
    let mean = batch.iter().flatten().map(|&x| x as f64).sum::<f64>() / n as f64;
    let var = batch
        .iter()
        .flatten()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    let std = var.sqrt();
    for x in batch.iter_mut().flatten() {
        *x = if std > 1e-8 {
            ((*x as f64 - mean) / (std + 1e-8)) as f32
        } else {
            0.0
        };
    }
}

/// Per-token PPO rewards: `-kl_coef * kl[t]` on every token and the sequence reward added on the
/// last one.
pub fn token_rewards(sequence_reward: f32, kl: &[f32], kl_coef: f32) -> Vec<f32> {
    let mut r: Vec<f32> = kl.iter().map(|k| -kl_coef * k).collect();
    if let Some(last) = r.last_mut() {
        *last += sequence_reward;
    }
    r
}

/// GRPO: (r - mean of the group) / std of the group (0 when the group has no spread).
pub fn grpo(group_rewards: &[f32]) -> Vec<f32> {
    let k = group_rewards.len() as f32;
    if group_rewards.is_empty() {
        return Vec::new();
    }
    let mean = group_rewards.iter().sum::<f32>() / k;
    let std = (group_rewards
        .iter()
        .map(|r| (r - mean).powi(2))
        .sum::<f32>()
        / k)
        .sqrt();
    group_rewards
        .iter()
        .map(|r| if std > 1e-6 { (r - mean) / std } else { 0.0 })
        .collect()
}

/// RLOO: r_i minus the mean of the other k-1 rewards of the group (needs k >= 2).
pub fn rloo(group_rewards: &[f32]) -> Vec<f32> {
    let k = group_rewards.len();
    if k < 2 {
        return vec![0.0; k];
    }
    let sum: f32 = group_rewards.iter().sum();
    group_rewards
        .iter()
        .map(|r| r - (sum - r) / (k as f32 - 1.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn gae_worked_example() {
        // gamma 1, lambda 1: advantage = (sum of future rewards) - value.
        let (adv, ret) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.25, 0.0], 1.0, 1.0);
        assert!(close(&adv, &[0.5, 0.75, 1.0]));
        assert!(close(&ret, &[1.0, 1.0, 1.0]));
        // lambda 0: one-step TD errors. delta_t = r_t + gamma V_{t+1} - V_t.
        let (adv, _) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.25, 0.0], 0.9, 0.0);
        assert!(close(&adv, &[0.9 * 0.25 - 0.5, 0.0 - 0.25, 1.0]));
        // gamma 0.5, lambda 0.5 by hand: deltas = [-0.375, -0.25, 1]; A2 = 1, A1 = -0.25 + 0.25 =
        // 0, A0 = -0.375 + 0.25 * 0 = -0.375.
        let (adv, _) = gae(&[0.0, 0.0, 1.0], &[0.5, 0.25, 0.0], 0.5, 0.5);
        assert!(close(&adv, &[-0.375, 0.0, 1.0]), "{adv:?}");
    }

    #[test]
    fn lambda_one_gives_every_token_the_return_to_go_minus_its_value() {
        // Reward 1 on the last of four tokens, KL 0.1 per token at coefficient 0.5: token rewards
        // [-0.05, -0.05, -0.05, 0.95]. With gamma 1 and lambda 1, A_t = (sum of rewards from t) -
        // V_t: returns-to-go [0.8, 0.85, 0.9, 0.95], minus values [0.5, 0.5, 0.6, 0.7].
        let tr = token_rewards(1.0, &[0.1, 0.1, 0.1, 0.1], 0.5);
        let (adv, ret) = gae(&tr, &[0.5, 0.5, 0.6, 0.7], 1.0, 1.0);
        assert!(close(&adv, &[0.3, 0.35, 0.3, 0.25]), "{adv:?}");
        assert!(close(&ret, &[0.8, 0.85, 0.9, 0.95]), "{ret:?}");
        // The first token of a 300-token program gets the whole reward minus its value; with lambda
        // 0.95 and a zero value head it would get 0.95^299 of it.
        let long = token_rewards(1.0, &[0.0; 300], 0.1);
        let (a1, _) = gae(&long, &[0.0; 300], 1.0, 1.0);
        let (a95, _) = gae(&long, &[0.0; 300], 1.0, 0.95);
        assert!(
            (a1[0] - 1.0).abs() < 1e-6 && a95[0] < 1e-6,
            "{} {}",
            a1[0],
            a95[0]
        );
    }

    #[test]
    fn whitening_gives_zero_mean_unit_variance() {
        let mut b = vec![vec![1.0, 2.0], vec![3.0, 4.0, 5.0]];
        whiten(&mut b);
        let all: Vec<f32> = b.iter().flatten().copied().collect();
        let mean = all.iter().sum::<f32>() / 5.0;
        let var = all.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / 5.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4);
        let mut flat = vec![vec![0.7, 0.7]];
        whiten(&mut flat);
        assert_eq!(flat, vec![vec![0.0, 0.0]]);
    }

    #[test]
    fn token_rewards_put_the_score_on_the_last_token() {
        assert!(close(&token_rewards(1.0, &[0.1, 0.2], 0.1), &[-0.01, 0.98]));
        assert!(token_rewards(1.0, &[], 0.1).is_empty());
    }

    #[test]
    fn group_relative_advantages() {
        assert!(close(&grpo(&[1.0, 0.0]), &[1.0, -1.0]));
        assert!(close(&grpo(&[0.4, 0.4, 0.4]), &[0.0, 0.0, 0.0]));
        assert!(close(&rloo(&[1.0, 0.0, 0.5]), &[0.75, -0.75, 0.0]));
        assert!(close(&rloo(&[0.3]), &[0.0]));
    }
}

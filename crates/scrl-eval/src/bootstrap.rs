//! Seeded percentile bootstrap over problems: the resampling unit is the problem (all of its
//! samples go together), so confidence intervals reflect the choice of evaluation problems, as in
//! the paper's Table 3.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::EvalError;

/// Fewer resamples than this make the 2.5% tail rest on a couple of dozen draws.
pub const MIN_RESAMPLES: u32 = 1_000;

/// How confidence intervals are computed; recorded in every report so any number can be reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    pub resamples: u32,
    /// Two-sided coverage, e.g. 0.95 for a 95% interval.
    pub confidence: f64,
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: 2_000,
            confidence: 0.95,
            seed: 42,
        }
    }
}

impl BootstrapConfig {
    pub fn validate(&self) -> Result<(), EvalError> {
        if self.resamples < MIN_RESAMPLES {
            return Err(EvalError::InvalidConfig(format!(
                "resamples is {}, at least {MIN_RESAMPLES} are required",
                self.resamples
            )));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(EvalError::InvalidConfig(format!(
                "confidence is {}, it must lie strictly between 0 and 1",
                self.confidence
            )));
        }
        Ok(())
    }
}

/// For each column (one value per problem), the bootstrap distribution of its mean. All columns
/// share the same resampled problem indices, so the statistics of one resample are computed on the
/// same problems.
pub(crate) fn resample_means(columns: &[Vec<f64>], cfg: &BootstrapConfig) -> Vec<Vec<f64>> {
    let n = columns.first().map_or(0, Vec::len);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out: Vec<Vec<f64>> = columns
        .iter()
        .map(|_| Vec::with_capacity(cfg.resamples as usize))
        .collect();
    let mut sums = vec![0.0; columns.len()];
    for _ in 0..cfg.resamples {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for _ in 0..n {
            let i = rng.random_range(0..n);
            for (s, col) in sums.iter_mut().zip(columns) {
                *s += col[i];
            }
        }
        for (dist, s) in out.iter_mut().zip(&sums) {
            dist.push(s / n as f64);
        }
    }
    out
}

/// The percentile interval of a bootstrap distribution (linear interpolation between order
/// statistics).
pub(crate) fn percentile_interval(dist: &mut [f64], confidence: f64) -> (f64, f64) {
    dist.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    (
        quantile_sorted(dist, tail),
        quantile_sorted(dist, 1.0 - tail),
    )
}

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let mut d: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        let (lo, hi) = percentile_interval(&mut d, 0.95);
        assert!(
            (lo - 2.5).abs() < 1e-12 && (hi - 97.5).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn rejects_too_few_resamples_and_bad_confidence() {
        let e = BootstrapConfig {
            resamples: 999,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("resamples is 999"));
        let e = BootstrapConfig {
            confidence: 1.0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("confidence is 1"));
    }

    #[test]
    fn a_constant_column_has_a_degenerate_interval() {
        let cfg = BootstrapConfig::default();
        let mut d = resample_means(&[vec![0.25; 30]], &cfg).remove(0);
        assert_eq!(d.len(), cfg.resamples as usize);
        assert_eq!(percentile_interval(&mut d, 0.95), (0.25, 0.25));
    }

    #[test]
    fn interval_of_a_proportion_is_close_to_the_normal_approximation() {
        // 40 of 100 problems solved: the normal approximation gives 0.40 +- 1.96 * sqrt(0.24 / 100)
        // = +-0.096.
        let col: Vec<f64> = (0..100).map(|i| if i < 40 { 1.0 } else { 0.0 }).collect();
        let cfg = BootstrapConfig {
            resamples: 5_000,
            confidence: 0.95,
            seed: 7,
        };
        let mut d = resample_means(&[col], &cfg).remove(0);
        let (lo, hi) = percentile_interval(&mut d, cfg.confidence);
        assert!(
            (lo - 0.304).abs() < 0.02 && (hi - 0.496).abs() < 0.02,
            "[{lo}, {hi}]"
        );
    }
}

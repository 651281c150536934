//! Paired comparison of two models evaluated on the same problems: a paired bootstrap of the
//! difference of means, and the exact McNemar test when each problem has one 0/1 outcome per model.

use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, mean, percentile_interval, resample_means};
use crate::error::EvalError;
use crate::metrics::{EvalSet, Metric};

/// The exact McNemar test on the discordant pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Problems where only model A succeeded.
    pub a_only: u32,
    /// Problems where only model B succeeded.
    pub b_only: u32,
    pub p_value: f64,
}

/// Model B minus model A on one metric, over the problems both were evaluated on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    pub a: String,
    pub b: String,
    pub metric: Metric,
    pub n_problems: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// mean_b - mean_a.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided bootstrap p-value for "no difference" (the resampled differences are shifted to
    /// mean zero and compared with the observed one).
    pub bootstrap_p_value: f64,
    /// Present for 0/1 metrics when every problem has exactly one sample in both models.
    pub mcnemar: Option<McNemar>,
}

/// Two-sided exact McNemar p-value: under the null each discordant pair is equally likely to go
/// either way, so the smaller count is Binomial(n, 1/2) with n = a_only + b_only; the p-value
/// doubles its lower tail. Summed in log space so that large n does not underflow 0.5^n.
pub fn mcnemar_exact(a_only: u32, b_only: u32) -> f64 {
    let n = a_only + b_only;
    if n == 0 {
        return 1.0;
    }
    let small = a_only.min(b_only);
    let ln2 = std::f64::consts::LN_2;
    let mut log_terms = Vec::with_capacity(small as usize + 1);
    let mut log_binom = 0.0; // ln C(n, 0)
    for i in 0..=small {
        if i > 0 {
            log_binom += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        log_terms.push(log_binom - n as f64 * ln2);
    }
    let max = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = max.exp() * log_terms.iter().map(|t| (t - max).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// Compares `b` against `a` on `metric`. Both must cover exactly the same problems (the paper
/// evaluates every model on one fixed set; comparing different sets would not be paired).
pub fn compare_paired(
    a: &EvalSet,
    b: &EvalSet,
    metric: Metric,
    cfg: &BootstrapConfig,
) -> Result<PairedComparison, EvalError> {
    cfg.validate()?;
    let ids = |s: &EvalSet| {
        s.problems
            .iter()
            .map(|p| p.problem_id.clone())
            .collect::<Vec<_>>()
    };
    let (ids_a, ids_b) = (ids(a), ids(b));
    if ids_a != ids_b {
        let missing = |from: &[String], other: &[String]| {
            let v: Vec<&str> = from
                .iter()
                .filter(|id| !other.contains(id))
                .take(5)
                .map(String::as_str)
                .collect();
            v.join(", ")
        };
        return Err(EvalError::UnpairedProblems {
            a: a.label.clone(),
            b: b.label.clone(),
            detail: format!(
                "only in the first: [{}]; only in the second: [{}]",
                missing(&ids_a, &ids_b),
                missing(&ids_b, &ids_a)
            ),
        });
    }
    let col_a = a.column(metric)?;
    let col_b = b.column(metric)?;
    let diffs: Vec<f64> = col_a.iter().zip(&col_b).map(|(x, y)| y - x).collect();
    let observed = mean(&diffs);
    let mut dist = resample_means(std::slice::from_ref(&diffs), cfg).remove(0);
    // Shifting the bootstrap distribution to mean zero simulates the null of no difference.
    let extreme = dist
        .iter()
        .filter(|d| (*d - observed).abs() >= observed.abs() - 1e-12)
        .count();
    let bootstrap_p_value = (1 + extreme) as f64 / (cfg.resamples as f64 + 1.0);
    let (ci_low, ci_high) = percentile_interval(&mut dist, cfg.confidence);

    let one_sample_each = a
        .problems
        .iter()
        .chain(&b.problems)
        .all(|p| p.n_samples == 1);
    let mcnemar = (metric.is_binary() && one_sample_each).then(|| {
        let a_only = col_a
            .iter()
            .zip(&col_b)
            .filter(|(x, y)| **x == 1.0 && **y == 0.0)
            .count() as u32;
        let b_only = col_a
            .iter()
            .zip(&col_b)
            .filter(|(x, y)| **x == 0.0 && **y == 1.0)
            .count() as u32;
        McNemar {
            a_only,
            b_only,
            p_value: mcnemar_exact(a_only, b_only),
        }
    });
    Ok(PairedComparison {
        a: a.label.clone(),
        b: b.label.clone(),
        metric,
        n_problems: diffs.len(),
        mean_a: mean(&col_a),
        mean_b: mean(&col_b),
        difference: observed,
        ci_low,
        ci_high,
        bootstrap_p_value: bootstrap_p_value.min(1.0),
        mcnemar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::rec;

    #[test]
    fn mcnemar_worked_example() {
        // 1 vs 7 discordant pairs: p = 2 * (C(8,0) + C(8,1)) / 2^8 = 18/256.
        assert!((mcnemar_exact(1, 7) - 18.0 / 256.0).abs() < 1e-15);
        assert!((mcnemar_exact(7, 1) - 18.0 / 256.0).abs() < 1e-15);
        // 0 vs 10: 2 / 1024.
        assert!((mcnemar_exact(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
        // Balanced counts are capped at 1, and no discordant pairs means no evidence.
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // Large n stays finite: 2 * P(X <= 1000) for X ~ Bin(3000, 1/2) is astronomically small but
        // positive.
        let p = mcnemar_exact(1000, 2000);
        assert!(p > 0.0 && p < 1e-60, "{p}");
    }

    fn set(label: &str, syntax: &[bool]) -> EvalSet {
        let recs = syntax
            .iter()
            .enumerate()
            .map(|(i, &s)| rec(&format!("p{i:02}"), 0, s, 0, 3, if s { 0.6 } else { 0.0 }))
            .collect();
        EvalSet::from_records(label, recs).unwrap()
    }

    #[test]
    fn paired_comparison_of_syntax_validity() {
        // 40 problems: both valid on 10, only B on 14, only A on 2, neither on 14.
        let mut a = vec![false; 40];
        let mut b = vec![false; 40];
        for i in 0..10 {
            a[i] = true;
            b[i] = true;
        }
        for x in b.iter_mut().skip(10).take(14) {
            *x = true;
        }
        a[24] = true;
        a[25] = true;
        let (a, b) = (set("SFT", &a), set("PPO-continue", &b));
        let cfg = BootstrapConfig {
            resamples: 4_000,
            confidence: 0.95,
            seed: 3,
        };
        let c = compare_paired(&a, &b, Metric::SyntaxValid, &cfg).unwrap();
        assert_eq!(c.n_problems, 40);
        assert!((c.difference - 12.0 / 40.0).abs() < 1e-12);
        let m = c.mcnemar.unwrap();
        assert_eq!((m.a_only, m.b_only), (2, 14));
        // 2 * sum_{i<=2} C(16,i) / 2^16 = 2 * 137 / 65536.
        assert!((m.p_value - 274.0 / 65536.0).abs() < 1e-15);
        assert!(
            c.ci_low > 0.0 && c.ci_high < 0.6,
            "[{}, {}]",
            c.ci_low,
            c.ci_high
        );
        assert!(c.bootstrap_p_value < 0.01, "{}", c.bootstrap_p_value);

        let same = compare_paired(&a, &a, Metric::SyntaxValid, &cfg).unwrap();
        assert_eq!(same.difference, 0.0);
        assert_eq!(same.bootstrap_p_value, 1.0);
        assert_eq!(same.mcnemar.unwrap().p_value, 1.0);
        // Mean reward is not 0/1: no McNemar.
        assert!(
            compare_paired(&a, &b, Metric::MeanReward, &cfg)
                .unwrap()
                .mcnemar
                .is_none()
        );
    }

    #[test]
    fn refuses_different_problem_sets() {
        let a = set("A", &[true, false, true]);
        let b = EvalSet::from_records(
            "B",
            vec![
                rec("p00", 0, true, 0, 1, 0.6),
                rec("zz", 0, true, 0, 1, 0.6),
                rec("p02", 0, true, 0, 1, 0.6),
            ],
        )
        .unwrap();
        let e = compare_paired(&a, &b, Metric::SyntaxValid, &BootstrapConfig::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("only in the first: [p01]") && e.contains("only in the second: [zz]"),
            "{e}"
        );
    }
}

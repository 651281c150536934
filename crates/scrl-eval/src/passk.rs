//! The unbiased pass@k estimator of Chen et al. (2021): the chance that at least one of k samples,
//! drawn without replacement from n generated samples of which c are correct, is correct.

/// `1 - C(n-c, k) / C(n, k)`, computed as `1 - prod_{i=n-c+1}^{n} (1 - k/i)` so that no binomial
/// coefficient is ever formed (they overflow f64 long before n = 1,100).
///
/// Returns `None` when the estimate is undefined: `k == 0`, `k > n`, or `c > n`.
pub fn pass_at_k(n: u32, c: u32, k: u32) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    // Every k-subset then contains a correct sample.
    if n - c < k {
        return Some(1.0);
    }
    let mut all_wrong = 1.0_f64;
    for i in (n - c + 1)..=n {
        all_wrong *= 1.0 - k as f64 / i as f64;
    }
    Some(1.0 - all_wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binomial(n: u32, k: u32) -> u128 {
        if k > n {
            return 0;
        }
        (0..k).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
    }

    fn closed_form(n: u32, c: u32, k: u32) -> f64 {
        1.0 - binomial(n - c, k) as f64 / binomial(n, k) as f64
    }

    #[test]
    fn matches_the_closed_form_for_every_small_case() {
        for n in 1..=40 {
            for c in 0..=n {
                for k in 1..=n {
                    let got = pass_at_k(n, c, k).unwrap();
                    let want = closed_form(n, c, k);
                    assert!(
                        (got - want).abs() < 1e-12,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn hand_worked_values_and_edge_cases() {
        // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
        assert!((pass_at_k(5, 2, 2).unwrap() - 0.7).abs() < 1e-15);
        // pass@1 is the fraction of correct samples.
        assert!((pass_at_k(10, 3, 1).unwrap() - 0.3).abs() < 1e-15);
        // n - c < k: every draw of k contains a correct sample.
        assert_eq!(pass_at_k(5, 4, 2), Some(1.0));
        assert_eq!(pass_at_k(3, 3, 3), Some(1.0));
        assert_eq!(pass_at_k(5, 0, 3), Some(0.0));
        assert_eq!(pass_at_k(5, 1, 0), None);
        assert_eq!(pass_at_k(2, 1, 3), None);
        assert_eq!(pass_at_k(2, 3, 1), None);
    }

    #[test]
    fn stays_finite_where_binomials_overflow() {
        // C(2000, 1000) is about 1e600, beyond f64.
        let p = pass_at_k(2000, 3, 1000).unwrap();
        let want = 1.0 - (1000.0 * 999.0 * 998.0) / (2000.0 * 1999.0 * 1998.0);
        assert!((p - want).abs() < 1e-12, "{p} vs {want}");
    }
}

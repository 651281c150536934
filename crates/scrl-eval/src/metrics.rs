//! The paper's metrics over a set of records: per-problem aggregation (each problem weighs the same
//! however many samples it has), point estimates, and bootstrap confidence intervals.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bootstrap::{BootstrapConfig, mean, percentile_interval, resample_means};
use crate::error::EvalError;
use crate::passk::pass_at_k;
use crate::record::SampleRecord;
use crate::taxonomy::Taxonomy;

/// A metric of the evaluation. Rates are fractions in [0, 1] (reports print them as percentages);
/// means are in the reward's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Syn.%: the completion parses.
    SyntaxValid,
    /// >=1-P%: at least one test passed.
    AnyTestPassed,
    /// All-P%: every test passed ("Test Pass" in Table 2).
    AllTestsPassed,
    /// Mean joint reward R (the training ladder plus the security term).
    MeanReward,
    MeanRFunc,
    MeanRSec,
    /// Sec. clean %: no Bandit MEDIUM/HIGH finding.
    SecClean,
    /// Unbiased pass@k over all-tests-passed, for k samples per problem.
    PassAtK(u32),
}

impl Metric {
    /// The metrics every summary carries, in report order.
    pub const HEADLINE: [Metric; 7] = [
        Metric::SyntaxValid,
        Metric::AnyTestPassed,
        Metric::AllTestsPassed,
        Metric::MeanReward,
        Metric::MeanRFunc,
        Metric::MeanRSec,
        Metric::SecClean,
    ];

    /// Stable machine name used in JSON and CSV.
    pub fn key(&self) -> String {
        match self {
            Metric::SyntaxValid => "syntax_valid_rate".into(),
            Metric::AnyTestPassed => "any_test_passed_rate".into(),
            Metric::AllTestsPassed => "all_tests_passed_rate".into(),
            Metric::MeanReward => "mean_reward".into(),
            Metric::MeanRFunc => "mean_r_func".into(),
            Metric::MeanRSec => "mean_r_sec".into(),
            Metric::SecClean => "sec_clean_rate".into(),
            Metric::PassAtK(k) => format!("pass@{k}"),
        }
    }

    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::HEADLINE
            .into_iter()
            .find(|m| m.key() == key)
            .or_else(|| {
                key.strip_prefix("pass@")
                    .and_then(|k| k.parse().ok())
                    .filter(|&k| k > 0)
                    .map(Metric::PassAtK)
            })
    }

    /// Column heading in the paper's words.
    pub fn label(&self) -> String {
        match self {
            Metric::SyntaxValid => "Syn.%".into(),
            Metric::AnyTestPassed => "≥1-P%".into(),
            Metric::AllTestsPassed => "All-P%".into(),
            Metric::MeanReward => "mean R".into(),
            Metric::MeanRFunc => "mean R_func".into(),
            Metric::MeanRSec => "mean R_sec".into(),
            Metric::SecClean => "Sec. clean %".into(),
            Metric::PassAtK(k) => format!("pass@{k} %"),
        }
    }

    /// Whether the metric is a share of problems (printed in percent) rather than a mean reward.
    pub fn is_rate(&self) -> bool {
        !matches!(
            self,
            Metric::MeanReward | Metric::MeanRFunc | Metric::MeanRSec
        )
    }

    /// Whether one sample yields a 0/1 outcome, so that the exact McNemar test applies with one
    /// sample per problem.
    pub fn is_binary(&self) -> bool {
        self.is_rate()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        Metric::from_key(&key)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown metric {key:?}")))
    }
}

/// One problem's outcome, averaged over its samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemScores {
    pub problem_id: String,
    pub n_samples: u32,
    /// Samples that passed every test (the c of pass@k).
    pub n_all_passed: u32,
    pub syntax_valid: f64,
    pub any_passed: f64,
    pub all_passed: f64,
    pub reward: f64,
    pub r_func: f64,
    pub r_sec: f64,
    pub sec_clean: f64,
}

impl ProblemScores {
    fn from_samples(problem_id: &str, samples: &[&SampleRecord]) -> Self {
        let n = samples.len() as f64;
        let share =
            |pred: fn(&SampleRecord) -> bool| samples.iter().filter(|r| pred(r)).count() as f64 / n;
        let avg = |get: fn(&SampleRecord) -> f64| samples.iter().map(|r| get(r)).sum::<f64>() / n;
        Self {
            problem_id: problem_id.to_string(),
            n_samples: samples.len() as u32,
            n_all_passed: samples.iter().filter(|r| r.all_passed()).count() as u32,
            syntax_valid: share(|r| r.syntax_valid),
            any_passed: share(SampleRecord::any_passed),
            all_passed: share(SampleRecord::all_passed),
            reward: avg(|r| r.reward),
            r_func: avg(|r| r.r_func),
            r_sec: avg(|r| r.r_sec),
            sec_clean: share(SampleRecord::sec_clean),
        }
    }

    /// This problem's value of `metric`; pass@k is undefined (an error naming the problem) with
    /// fewer than k samples.
    pub fn value(&self, metric: Metric) -> Result<f64, EvalError> {
        Ok(match metric {
            Metric::SyntaxValid => self.syntax_valid,
            Metric::AnyTestPassed => self.any_passed,
            Metric::AllTestsPassed => self.all_passed,
            Metric::MeanReward => self.reward,
            Metric::MeanRFunc => self.r_func,
            Metric::MeanRSec => self.r_sec,
            Metric::SecClean => self.sec_clean,
            Metric::PassAtK(k) => {
                pass_at_k(self.n_samples, self.n_all_passed, k).ok_or_else(|| {
                    EvalError::TooFewSamples {
                        k,
                        n: self.n_samples,
                        problem_id: self.problem_id.clone(),
                    }
                })?
            }
        })
    }
}

/// The validated records of one model (or variant), grouped by problem, problems sorted by id so
/// that results do not depend on the order samples were written in.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub label: String,
    pub problems: Vec<ProblemScores>,
    pub records: Vec<SampleRecord>,
}

impl EvalSet {
    pub fn from_records(
        label: impl Into<String>,
        records: Vec<SampleRecord>,
    ) -> Result<Self, EvalError> {
        let label = label.into();
        if records.is_empty() {
            return Err(EvalError::Empty {
                context: format!(" for model {label:?}"),
            });
        }
        let mut by_problem: BTreeMap<&str, Vec<&SampleRecord>> = BTreeMap::new();
        for r in &records {
            r.validate()?;
            let samples = by_problem.entry(&r.problem_id).or_default();
            if samples.iter().any(|s| s.sample_index == r.sample_index) {
                return Err(EvalError::InvalidRecord {
                    problem_id: r.problem_id.clone(),
                    sample_index: r.sample_index,
                    message: "appears twice".into(),
                });
            }
            samples.push(r);
        }
        let problems = by_problem
            .iter()
            .map(|(id, s)| ProblemScores::from_samples(id, s))
            .collect();
        Ok(Self {
            label,
            problems,
            records,
        })
    }

    pub fn n_samples(&self) -> usize {
        self.records.len()
    }

    /// Per-problem values of `metric`, in problem order.
    pub fn column(&self, metric: Metric) -> Result<Vec<f64>, EvalError> {
        self.problems.iter().map(|p| p.value(metric)).collect()
    }
}

/// A point estimate with its bootstrap confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricEstimate {
    pub metric: Metric,
    pub value: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Everything a report says about one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub label: String,
    pub n_problems: usize,
    pub n_samples: usize,
    pub min_samples_per_problem: u32,
    pub max_samples_per_problem: u32,
    pub bootstrap: BootstrapConfig,
    pub estimates: Vec<MetricEstimate>,
    pub taxonomy: Taxonomy,
}

impl ModelSummary {
    pub fn get(&self, metric: Metric) -> Option<&MetricEstimate> {
        self.estimates.iter().find(|e| e.metric == metric)
    }
}

/// The headline metrics plus pass@k for each k in `pass_ks`, each with a bootstrap CI over
/// problems. Errors if a problem has fewer than k samples for a requested k.
pub fn summarize(
    set: &EvalSet,
    pass_ks: &[u32],
    cfg: &BootstrapConfig,
) -> Result<ModelSummary, EvalError> {
    cfg.validate()?;
    let mut metrics: Vec<Metric> = Metric::HEADLINE.to_vec();
    for &k in pass_ks {
        if k == 0 {
            return Err(EvalError::InvalidConfig(
                "pass@0 is not defined; k starts at 1".into(),
            ));
        }
        if !metrics.contains(&Metric::PassAtK(k)) {
            metrics.push(Metric::PassAtK(k));
        }
    }
    let columns = metrics
        .iter()
        .map(|&m| set.column(m))
        .collect::<Result<Vec<_>, _>>()?;
    let dists = resample_means(&columns, cfg);
    let estimates = metrics
        .iter()
        .zip(&columns)
        .zip(dists)
        .map(|((&metric, col), mut dist)| {
            let (ci_low, ci_high) = percentile_interval(&mut dist, cfg.confidence);
            MetricEstimate {
                metric,
                value: mean(col),
                ci_low,
                ci_high,
            }
        })
        .collect();
    let counts = set.problems.iter().map(|p| p.n_samples);
    Ok(ModelSummary {
        label: set.label.clone(),
        n_problems: set.problems.len(),
        n_samples: set.n_samples(),
        min_samples_per_problem: counts.clone().min().unwrap_or(0),
        max_samples_per_problem: counts.max().unwrap_or(0),
        bootstrap: *cfg,
        estimates,
        taxonomy: Taxonomy::from_records(&set.records),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::rec;
    use crate::record::{SecurityFinding, Severity};

    /// Four problems, one sample each, worked by hand:
    /// p1 syntax ok, 5/5 passed, R 1.0 | p2 ok, 2/5, R 0.736 | p3 ok, 0/5, R 0.76 | p4 syntax
    /// error, R 0.4.
    fn four_problems() -> Vec<SampleRecord> {
        let mut p3 = rec("p3", 0, true, 0, 5, 0.76);
        p3.security_findings.push(SecurityFinding {
            test_id: "B307".into(),
            severity: Severity::Medium,
        });
        p3.r_sec = 0.5;
        vec![
            rec("p2", 0, true, 2, 5, 0.736),
            rec("p1", 0, true, 5, 5, 1.0),
            p3,
            rec("p4", 0, false, 0, 5, 0.4),
        ]
    }

    #[test]
    fn point_estimates_match_the_hand_worked_example() {
        let set = EvalSet::from_records("m", four_problems()).unwrap();
        let s = summarize(&set, &[], &BootstrapConfig::default()).unwrap();
        let v = |m| s.get(m).unwrap().value;
        assert_eq!(v(Metric::SyntaxValid), 0.75);
        assert_eq!(v(Metric::AnyTestPassed), 0.5);
        assert_eq!(v(Metric::AllTestsPassed), 0.25);
        assert!((v(Metric::MeanReward) - (1.0 + 0.736 + 0.76 + 0.4) / 4.0).abs() < 1e-12);
        // R_func: 1.0, 0.6 + 0.4 * 2/5 = 0.76, 0.6, 0.0.
        assert!((v(Metric::MeanRFunc) - (1.0 + 0.76 + 0.6 + 0.0) / 4.0).abs() < 1e-12);
        assert!((v(Metric::MeanRSec) - 3.5 / 4.0).abs() < 1e-12);
        assert_eq!(v(Metric::SecClean), 0.75);
        assert_eq!(s.n_problems, 4);
        for e in &s.estimates {
            assert!(
                e.ci_low <= e.value + 1e-12 && e.value <= e.ci_high + 1e-12,
                "{e:?}"
            );
        }
        assert_eq!(
            set.problems[0].problem_id, "p1",
            "problems are sorted by id"
        );
    }

    #[test]
    fn several_samples_are_averaged_per_problem_before_problems_are_averaged() {
        // p1: 4 samples, 1 passes all tests; p2: 2 samples, both pass.
        let recs = vec![
            rec("p1", 0, true, 3, 3, 1.0),
            rec("p1", 1, true, 0, 3, 0.76),
            rec("p1", 2, false, 0, 3, 0.4),
            rec("p1", 3, true, 1, 3, 0.0),
            rec("p2", 0, true, 3, 3, 1.0),
            rec("p2", 1, true, 3, 3, 1.0),
        ];
        let set = EvalSet::from_records("m", recs).unwrap();
        let s = summarize(&set, &[1, 2], &BootstrapConfig::default()).unwrap();
        // Problem means 1/4 and 1, not the sample mean 3/6.
        assert!((s.get(Metric::AllTestsPassed).unwrap().value - 0.625).abs() < 1e-12);
        assert!((s.get(Metric::PassAtK(1)).unwrap().value - 0.625).abs() < 1e-12);
        // p1: 1 - C(3,2)/C(4,2) = 0.5; p2: 1.
        assert!((s.get(Metric::PassAtK(2)).unwrap().value - 0.75).abs() < 1e-12);
        assert!((s.get(Metric::SyntaxValid).unwrap().value - 0.875).abs() < 1e-12);
        assert_eq!(
            (s.min_samples_per_problem, s.max_samples_per_problem),
            (2, 4)
        );

        match summarize(&set, &[3], &BootstrapConfig::default()) {
            Err(EvalError::TooFewSamples {
                k: 3,
                n: 2,
                problem_id,
            }) => assert_eq!(problem_id, "p2"),
            other => panic!("expected TooFewSamples, got {other:?}"),
        }
    }

    #[test]
    fn bootstrap_is_deterministic_for_a_seed_and_changes_with_it() {
        let recs: Vec<_> = (0..60)
            .map(|i| {
                rec(
                    &format!("p{i:02}"),
                    0,
                    i % 3 != 0,
                    i % 4,
                    5,
                    (i % 7) as f64 / 7.0,
                )
            })
            .collect();
        let set = EvalSet::from_records("m", recs).unwrap();
        let cfg = BootstrapConfig {
            resamples: 1_000,
            confidence: 0.95,
            seed: 11,
        };
        let a = summarize(&set, &[], &cfg).unwrap();
        let b = summarize(&set, &[], &cfg).unwrap();
        assert_eq!(a, b);
        let c = summarize(&set, &[], &BootstrapConfig { seed: 12, ..cfg }).unwrap();
        assert_ne!(a.estimates, c.estimates);
        let ci = |s: &ModelSummary| {
            s.estimates
                .iter()
                .map(|e| (e.ci_low, e.ci_high))
                .collect::<Vec<_>>()
        };
        assert_ne!(ci(&a), ci(&c), "a different seed moves the intervals");
        assert_eq!(
            a.estimates.iter().map(|e| e.value).collect::<Vec<_>>(),
            c.estimates.iter().map(|e| e.value).collect::<Vec<_>>()
        );
    }

    #[test]
    fn rejects_duplicates_and_empty_sets() {
        let e = EvalSet::from_records(
            "m",
            vec![rec("p", 0, true, 1, 1, 1.0), rec("p", 0, true, 1, 1, 1.0)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        assert!(
            EvalSet::from_records("m", vec![])
                .unwrap_err()
                .to_string()
                .contains("\"m\"")
        );
    }

    #[test]
    fn metric_keys_round_trip() {
        for m in Metric::HEADLINE.into_iter().chain([Metric::PassAtK(10)]) {
            assert_eq!(Metric::from_key(&m.key()), Some(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(serde_json::from_str::<Metric>(&json).unwrap(), m);
        }
        assert_eq!(Metric::from_key("pass@0"), None);
    }
}

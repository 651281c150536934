//! Failure taxonomy: why samples failed (one primary outcome per sample) and which security tests
//! fired.
//!
//! The primary outcome of a sample that parses but does not pass every test is the verdict of its
//! first failing test, in test order, so every failed sample lands in exactly one bucket and the
//! shares sum to 1.

use std::collections::BTreeMap;

use scrl_reward::Stage;
use serde::{Deserialize, Serialize};

use crate::record::{SampleRecord, Severity};

/// The primary outcome of one sample.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureCategory {
    Passed,
    SyntaxError,
    /// Crashed; the exception type from the traceback, or "unknown" when the judge did not give
    /// one.
    RuntimeError(String),
    Timeout,
    /// Killed at the memory limit, or a `MemoryError`.
    Memory,
    WrongAnswer,
    /// Ran without crashing but printed nothing (a wrong answer from a program that reached no
    /// further than ladder stage 2 counts here).
    NoOutput,
    /// The problem has no tests, so the sample cannot pass or fail one.
    NoTests,
    /// It parses but runs none of its own code (only definitions, imports, constants): a stub.
    NoOp,
    /// A verdict string this taxonomy does not know, kept verbatim.
    Other(String),
}

impl FailureCategory {
    /// Stable key used in reports, e.g. `runtime_error:ZeroDivisionError`.
    pub fn key(&self) -> String {
        match self {
            FailureCategory::Passed => "passed".into(),
            FailureCategory::SyntaxError => "syntax_error".into(),
            FailureCategory::RuntimeError(t) => format!("runtime_error:{t}"),
            FailureCategory::Timeout => "timeout".into(),
            FailureCategory::Memory => "memory".into(),
            FailureCategory::WrongAnswer => "wrong_answer".into(),
            FailureCategory::NoOutput => "no_output".into(),
            FailureCategory::NoTests => "no_tests".into(),
            FailureCategory::NoOp => "no_op".into(),
            FailureCategory::Other(v) => format!("other:{v}"),
        }
    }
}

/// The judge's verdict strings, including the spellings other judges use for the same outcome.
fn is_pass(verdict: &str) -> bool {
    matches!(verdict, "accepted" | "ok" | "pass" | "passed")
}

/// The primary outcome of one sample (see the module docs for the rule).
pub fn classify(r: &SampleRecord) -> FailureCategory {
    if !r.syntax_valid {
        return FailureCategory::SyntaxError;
    }
    if r.all_passed() {
        return FailureCategory::Passed;
    }
    if r.no_op {
        return FailureCategory::NoOp;
    }
    if r.tests_total == 0 {
        return FailureCategory::NoTests;
    }
    let crashed = || match r.exception_type.as_deref() {
        Some("MemoryError") => FailureCategory::Memory,
        Some(t) => FailureCategory::RuntimeError(t.to_string()),
        None => FailureCategory::RuntimeError("unknown".into()),
    };
    match r.verdicts.iter().map(String::as_str).find(|v| !is_pass(v)) {
        Some("runtime_error") => crashed(),
        Some("time_limit" | "timeout" | "time_limit_exceeded") => FailureCategory::Timeout,
        Some("memory_limit" | "memory" | "memory_limit_exceeded") => FailureCategory::Memory,
        Some("no_output") => FailureCategory::NoOutput,
        Some("wrong_answer") if r.stage < Stage::ProducesOutput.number() => {
            FailureCategory::NoOutput
        }
        Some("wrong_answer") => FailureCategory::WrongAnswer,
        Some(other) => FailureCategory::Other(other.to_string()),
        // No verdicts recorded: fall back on how far up the ladder the sample got.
        None => match Stage::from_number(r.stage) {
            Some(Stage::SyntaxError | Stage::ValidSyntax) => crashed(),
            Some(Stage::Executes) => FailureCategory::NoOutput,
            _ => FailureCategory::WrongAnswer,
        },
    }
}

/// A category (or a security test id) with its count and its share of all samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaxonomyEntry {
    pub category: String,
    pub count: u32,
    pub share: f64,
}

/// Counts and shares of outcomes and security findings over a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    pub n_samples: u32,
    /// One primary outcome per sample; the shares sum to 1. Most frequent first.
    pub outcomes: Vec<TaxonomyEntry>,
    /// Samples with at least one MEDIUM/HIGH finding of each Bandit test id (a sample with two
    /// findings of different tests counts under both). LOW findings are left out, as in the paper.
    pub security: Vec<TaxonomyEntry>,
    pub samples_with_findings: u32,
}

impl Taxonomy {
    pub fn from_records(records: &[SampleRecord]) -> Self {
        let n = records.len() as u32;
        let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
        let mut security: BTreeMap<String, u32> = BTreeMap::new();
        let mut samples_with_findings = 0;
        for r in records {
            *outcomes.entry(classify(r).key()).or_default() += 1;
            let mut ids: Vec<&str> = r
                .security_findings
                .iter()
                .filter(|f| f.severity >= Severity::Medium)
                .map(|f| f.test_id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if !ids.is_empty() {
                samples_with_findings += 1;
            }
            for id in ids {
                *security.entry(id.to_string()).or_default() += 1;
            }
        }
        let entries = |m: BTreeMap<String, u32>| {
            let mut v: Vec<TaxonomyEntry> = m
                .into_iter()
                .map(|(category, count)| TaxonomyEntry {
                    category,
                    count,
                    share: if n == 0 { 0.0 } else { count as f64 / n as f64 },
                })
                .collect();
            // Stable sort keeps the alphabetical order of the map among equal counts.
            v.sort_by_key(|e| std::cmp::Reverse(e.count));
            v
        };
        Self {
            n_samples: n,
            outcomes: entries(outcomes),
            security: entries(security),
            samples_with_findings,
        }
    }

    pub fn count(&self, category: &str) -> u32 {
        self.outcomes
            .iter()
            .chain(&self.security)
            .find(|e| e.category == category)
            .map_or(0, |e| e.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SecurityFinding;
    use crate::record::tests::rec;

    fn with(verdicts: &[&str], stage: u8, exception: Option<&str>) -> SampleRecord {
        let mut r = rec("p", 0, true, 0, verdicts.len() as u32, 0.5);
        r.verdicts = verdicts.iter().map(|v| v.to_string()).collect();
        r.tests_passed = verdicts.iter().filter(|v| is_pass(v)).count() as u32;
        r.stage = stage;
        r.exception_type = exception.map(str::to_string);
        r
    }

    #[test]
    fn no_op_samples_are_counted_apart() {
        let mut r = with(&["wrong_answer"], 1, None);
        r.no_op = true;
        assert_eq!(classify(&r), FailureCategory::NoOp);
        assert_eq!(
            Taxonomy::from_records(&[r.clone(), with(&["wrong_answer"], 3, None)]).count("no_op"),
            1
        );
        r.syntax_valid = false;
        assert_eq!(classify(&r), FailureCategory::SyntaxError);
    }

    #[test]
    fn classifies_by_the_first_failing_test() {
        assert_eq!(
            classify(&rec("p", 0, false, 0, 3, 0.0)),
            FailureCategory::SyntaxError
        );
        assert_eq!(
            classify(&rec("p", 0, true, 3, 3, 1.0)),
            FailureCategory::Passed
        );
        assert_eq!(
            classify(&with(
                &["accepted", "runtime_error", "time_limit"],
                4,
                Some("IndexError")
            )),
            FailureCategory::RuntimeError("IndexError".into())
        );
        assert_eq!(
            classify(&with(&["time_limit", "runtime_error"], 3, None)),
            FailureCategory::Timeout
        );
        assert_eq!(
            classify(&with(&["runtime_error"], 1, None)),
            FailureCategory::RuntimeError("unknown".into())
        );
        assert_eq!(
            classify(&with(&["runtime_error"], 1, Some("MemoryError"))),
            FailureCategory::Memory
        );
        assert_eq!(
            classify(&with(&["memory_limit"], 1, None)),
            FailureCategory::Memory
        );
        assert_eq!(
            classify(&with(&["wrong_answer"], 3, None)),
            FailureCategory::WrongAnswer
        );
        assert_eq!(
            classify(&with(&["wrong_answer"], 2, None)),
            FailureCategory::NoOutput
        );
        assert_eq!(
            classify(&with(&["no_output"], 2, None)),
            FailureCategory::NoOutput
        );
        assert_eq!(
            classify(&with(&["sandbox_error"], 1, None)),
            FailureCategory::Other("sandbox_error".into())
        );
        assert_eq!(classify(&with(&[], 2, None)), FailureCategory::NoTests);
    }

    #[test]
    fn counts_and_shares() {
        let mut a = with(&["runtime_error"], 1, Some("ZeroDivisionError"));
        a.security_findings = vec![
            SecurityFinding {
                test_id: "B602".into(),
                severity: Severity::High,
            },
            SecurityFinding {
                test_id: "B602".into(),
                severity: Severity::High,
            },
            SecurityFinding {
                test_id: "B311".into(),
                severity: Severity::Low,
            },
        ];
        let mut b = with(&["wrong_answer"], 3, None);
        b.security_findings = vec![SecurityFinding {
            test_id: "B307".into(),
            severity: Severity::Medium,
        }];
        let recs = vec![
            a,
            b,
            with(&["runtime_error"], 1, Some("ZeroDivisionError")),
            rec("p", 0, false, 0, 1, 0.0),
        ];
        let t = Taxonomy::from_records(&recs);
        assert_eq!(t.n_samples, 4);
        assert_eq!(
            t.outcomes[0],
            TaxonomyEntry {
                category: "runtime_error:ZeroDivisionError".into(),
                count: 2,
                share: 0.5
            }
        );
        assert_eq!(t.count("syntax_error"), 1);
        assert_eq!(t.count("wrong_answer"), 1);
        assert!((t.outcomes.iter().map(|e| e.share).sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(
            t.count("B602"),
            1,
            "two findings of one test in one sample count once"
        );
        assert_eq!(t.count("B307"), 1);
        assert_eq!(t.count("B311"), 0, "LOW findings are not counted");
        assert_eq!(t.samples_with_findings, 2);
    }
}

//! R_sec = 1 - V (paper Eq. 2): each MEDIUM finding adds 0.5 to V, each HIGH finding 1.0, V capped
//! at 1. LOW findings never count (the paper scores Bandit at `-ll`), so `input()` and the like
//! cost nothing.

use scrl_pycheck::{Finding, Severity};

/// The severity weights of V. Configurable for ablations; the paper's values are the default.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityWeights {
    /// What each MEDIUM finding adds to V.
    #[arg(long = "severity-medium", id = "severity_medium")]
    pub medium: f64,
    /// What each HIGH finding adds to V.
    #[arg(long = "severity-high", id = "severity_high")]
    pub high: f64,
}

impl Default for SeverityWeights {
    fn default() -> Self {
        SeverityWeights {
            medium: 0.5,
            high: 1.0,
        }
    }
}

/// V, the capped violation mass of a set of findings.
pub fn violation(findings: &[Finding], w: SeverityWeights) -> f64 {
    let v: f64 = findings
        .iter()
        .map(|f| match f.issue_severity {
            Severity::High => w.high,
            Severity::Medium => w.medium,
            Severity::Low => 0.0,
        })
        .sum();
    v.min(1.0)
}

/// R_sec of a set of findings.
pub fn r_sec(findings: &[Finding], w: SeverityWeights) -> f64 {
    1.0 - violation(findings, w)
}

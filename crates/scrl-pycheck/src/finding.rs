//! The finding and report types shared by the native rules, the Bandit worker and the output
//! formats. Field names are Bandit's JSON field names.

use serde::{Deserialize, Serialize};

/// Bandit's severity levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// Bandit's confidence levels (`UNDEFINED` exists in Bandit's ranking but no test emits it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Confidence {
    Undefined,
    Low,
    Medium,
    High,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        })
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Confidence::Undefined => "UNDEFINED",
            Confidence::Low => "LOW",
            Confidence::Medium => "MEDIUM",
            Confidence::High => "HIGH",
        })
    }
}

/// One issue, as Bandit reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub test_id: String,
    pub test_name: String,
    pub issue_severity: Severity,
    pub issue_confidence: Confidence,
    pub line_number: u32,
    pub col_offset: u32,
    pub line_range: Vec<u32>,
    pub issue_text: String,
}

/// The MEDIUM/HIGH findings of one source. `parsed` is false when the source has syntax errors: the
/// native scanner then reports what it found in ruff's recovered partial AST, while Bandit reports
/// nothing.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub findings: Vec<Finding>,
    pub parsed: bool,
}

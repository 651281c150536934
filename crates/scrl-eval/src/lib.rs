//! Evaluation for SecureCodeRL: per-sample records, the paper's metrics (Table 2 and Table 3),
//! pass@k, seeded bootstrap confidence intervals, paired comparisons of two models on the same
//! problems, a failure taxonomy, and the reports and plots a run ends with.
//!
//! This crate is model-independent and runs nothing: it shares the reward's ladder stages, the
//! scanner's [`Severity`] and the sandbox's reading of a traceback
//! ([`exception_type_from_stderr`]); the caller fills [`SampleRecord`]s from whatever produced
//! them, and everything here is pure computation plus atomic writes.
//!
//! The path a command takes, from records to a report:
//!
//! ```
//! use scrl_eval::*;
//! # fn main() -> Result<(), EvalError> {
//! let record = |id: &str, syntax_valid: bool, tests_passed: u32| SampleRecord {
//!     problem_id: id.into(), sample_index: 0, completion: "print(input())".into(), syntax_valid,
//!     stage: if !syntax_valid { 0 } else if tests_passed > 0 { 4 } else { 3 },
//!     tests_passed, tests_total: 2, verdicts: vec![], r_func: 0.6, r_sec: 1.0, reward: 0.76,
//!     security_findings: vec![], exception_type: None, no_op: false,
//! };
//! let sft = EvalSet::from_records("SFT", vec![record("a", true, 2), record("b", false, 0)])?;
//! let ppo = vec![record("a", true, 2), record("b", true, 1)];
//! let ppo = EvalSet::from_records("PPO-continue", ppo)?;
//! let cfg = BootstrapConfig::default(); // 2,000 resamples, 95%, seed 42
//! let rows = vec![
//!     ReportRow { paper_variant: Some(PaperVariant::Sft), summary: summarize(&sft, &[], &cfg)? },
//!     ReportRow {
//!         paper_variant: Some(PaperVariant::PpoContinue),
//!         summary: summarize(&ppo, &[], &cfg)?,
//!     },
//! ];
//! let comparisons = vec![compare_paired(&sft, &ppo, Metric::SyntaxValid, &cfg)?];
//! let report = Report {
//!     title: "Evaluation".into(), setting: "two toy problems".into(), bootstrap: cfg,
//!     rows, comparisons, sections: vec![],
//! };
//! let dir = tempfile::tempdir().unwrap();
//! let files = write_report(dir.path(), &report)?;
//! assert!(std::fs::read_to_string(files.markdown).unwrap().contains("| SFT | 2 | 50.0 ["));
//! # Ok(()) }
//! ```

mod atomic;
mod bootstrap;
mod error;
mod metrics;
mod passk;
mod plot;
mod record;
mod report;
mod stats;
mod taxonomy;
mod training;

pub use atomic::write_atomic;
pub use bootstrap::{BootstrapConfig, MIN_RESAMPLES};
pub use error::EvalError;
pub use metrics::{EvalSet, Metric, MetricEstimate, ModelSummary, ProblemScores, summarize};
pub use passk::pass_at_k;
pub use plot::{
    FONT_ENV, PlotFiles, TextRendering, plot_metric_bars, plot_reward_comparison,
    plot_training_curves, read_training_rows, verify_plot,
};
pub use record::{
    SampleRecord, SecurityFinding, Severity, exception_type_from_stderr, read_records,
    write_records,
};
pub use report::{
    PAPER_TABLE3, PaperRow, PaperVariant, Report, ReportFiles, ReportRow, ReportSection,
    paper_comparison, render_csv, render_markdown, render_table2, render_table3, verify_report,
    write_report,
};
pub use stats::{McNemar, PairedComparison, compare_paired, mcnemar_exact};
pub use taxonomy::{FailureCategory, Taxonomy, TaxonomyEntry, classify};
pub use training::{PpoEpisodeRow, SftStepRow, TrainingPhase, read_rows};

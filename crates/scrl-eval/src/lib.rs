//! Evaluation for SecureCodeRL: per-sample records, the paper's metrics (Table 2 and Table 3), pass@k,
//! seeded bootstrap confidence intervals, paired comparisons of two models on the same problems, a failure
//! taxonomy, and the reports and plots a run ends with.
//!
//! This crate is model-independent and knows nothing about the sandbox or the reward code: the caller fills
//! [`SampleRecord`]s from whatever produced them, and everything here is pure computation plus atomic writes.

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

pub use atomic::write_atomic;
pub use bootstrap::{BootstrapConfig, MIN_RESAMPLES};
pub use error::EvalError;
pub use metrics::{EvalSet, Metric, MetricEstimate, ModelSummary, ProblemScores, summarize};
pub use passk::pass_at_k;
pub use plot::{
    FONT_ENV, PlotFiles, TextRendering, TrainingRow, plot_metric_bars, plot_reward_comparison, plot_training_curves,
    read_training_rows,
};
pub use record::{
    SampleRecord, SecurityFinding, Severity, exception_type_from_stderr, read_records, write_records,
};
pub use report::{
    PAPER_TABLE3, PaperRow, PaperVariant, Report, ReportFiles, ReportRow, paper_comparison, render_csv,
    render_markdown, render_table2, render_table3, write_report,
};
pub use stats::{PairedComparison, compare_paired, mcnemar_exact};
pub use taxonomy::{FailureCategory, Taxonomy, TaxonomyEntry, classify};

//! The one error type of this crate: every variant names the file, line, problem or field that is
//! wrong.

use std::path::PathBuf;

/// What went wrong while reading records, computing metrics or writing reports and plots.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("problem {problem_id:?}, sample {sample_index}: {message}")]
    InvalidRecord {
        problem_id: String,
        sample_index: u32,
        message: String,
    },
    #[error("no records to evaluate{context}")]
    Empty { context: String },
    #[error("pass@{k} needs at least {k} samples per problem, but problem {problem_id:?} has {n}")]
    TooFewSamples { k: u32, n: u32, problem_id: String },
    #[error("invalid bootstrap setting: {0}")]
    InvalidConfig(String),
    #[error("models {a:?} and {b:?} were not evaluated on the same problems: {detail}")]
    UnpairedProblems {
        a: String,
        b: String,
        detail: String,
    },
    #[error("metric {metric} is not available for model {model:?}")]
    MissingMetric { metric: String, model: String },
    #[error("exact McNemar test needs one binary outcome per problem; {0}")]
    NotBinary(String),
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EvalError {
    let path = path.into();
    move |source| EvalError::Io { path, source }
}

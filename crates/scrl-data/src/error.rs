//! The one error type of the crate. Every variant names the file and, for row-level problems, the
//! row (line of a JSON Lines file or item of a JSON array) and the field that is wrong.

use std::fmt;
use std::path::PathBuf;

/// Where a row sits in its file: JSON Lines count lines from 1, JSON arrays count items from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowAt {
    Line(usize),
    Item(usize),
}

impl fmt::Display for RowAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowAt::Line(n) => write!(f, "line {n}"),
            RowAt::Item(n) => write!(f, "item {n}"),
        }
    }
}

/// A problem with one field of one row, before the file and row are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {at}: not valid JSON: {message}")]
    Json {
        path: PathBuf,
        at: RowAt,
        message: String,
    },
    #[error("{path}: {at}: {error}")]
    Field {
        path: PathBuf,
        at: RowAt,
        error: FieldError,
    },
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    #[error("{path}: id `{id}` appears twice ({first} and {second})")]
    DuplicateId {
        path: PathBuf,
        id: String,
        first: RowAt,
        second: RowAt,
    },
    #[error("chat template: {message}")]
    Template { message: String },
    #[error("split: {message}")]
    Split { message: String },
}

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }
}

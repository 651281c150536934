//! The crate's error type: every failure names the file, field or tensor that is wrong.

use std::path::PathBuf;

/// Errors from loading, running, training and saving models.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("missing file {path}: {hint}")]
    MissingFile { path: PathBuf, hint: String },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: field `{field}`: {message}")]
    Config {
        path: PathBuf,
        field: String,
        message: String,
    },
    #[error("{path}: unsupported {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("adapter {path}: {message}")]
    Adapter { path: PathBuf, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The requested device cannot be used; the message says what is missing and what works.
    #[error("{0}")]
    Device(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.into();
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::MissingFile {
                path,
                hint: source.to_string(),
            }
        } else {
            ModelError::Io { path, source }
        }
    }
}

/// Reads and parses a JSON file, naming the file in every error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes bytes atomically with `scrl_fs::write_atomic` (a temporary file in the same folder,
/// fsync, rename over the target, fsync of the folder), so a crash never leaves a half-written
/// checkpoint behind.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    scrl_fs::write_atomic(path, bytes).map_err(io_err(path))
}

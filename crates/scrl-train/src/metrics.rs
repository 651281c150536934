//! Metrics as JSON Lines, one object per step, appended and flushed as training goes, so a crash
//! loses at most the line being written. On resume the log is cut back to the checkpoint's step
//! first, so the file of a resumed run equals that of an uninterrupted one.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::TrainError;

pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `path` for appending, first dropping every row whose `key` is >= `keep_below` (rows
    /// written after the checkpoint being resumed from). A fresh run passes `keep_below = 0`.
    pub fn open(path: &Path, key: &str, keep_below: u64) -> Result<MetricsLog, TrainError> {
        let io = |e: std::io::Error| TrainError::Io {
            path: path.to_path_buf(),
            error: e,
        };
        let kept: Vec<String> = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .ok()
                        .and_then(|v| v.get(key).and_then(|s| s.as_u64()))
                        .is_some_and(|s| s < keep_below)
                })
                .map(str::to_string)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let mut body = kept.join("\n");
        if !body.is_empty() {
            body.push('\n');
        }
        crate::checkpoint::write_atomic(path, body.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write(&mut self, row: &serde_json::Value) -> Result<(), TrainError> {
        let line = serde_json::to_string(row).expect("a json value serialises");
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::Io {
                path: self.path.clone(),
                error: e,
            })
    }
}

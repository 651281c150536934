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
        scrl_fs::cut_jsonl(path, key, keep_below).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one typed row (`scrl_eval::PpoEpisodeRow`, `scrl_eval::SftStepRow`) and flushes.
    pub fn write<T: serde::Serialize>(&mut self, row: &T) -> Result<(), TrainError> {
        let line = serde_json::to_string(row).expect("a metrics row serialises");
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::Io {
                path: self.path.clone(),
                error: e,
            })
    }
}

//! Importers for the upstream layouts users download (APPS+ `data.json`, Hugging Face
//! `codeparrot/apps`, `deepmind/code_contests`, HumanEval, MBPP) and our own JSON Lines. Each turns
//! rows into `Problem`s and says which rows it skipped and why; converting upstream rows is all
//! they do (no splitting, no prompts).

mod apps;
mod codecontests;
mod humaneval;
mod mbpp;
mod pyliteral;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use indicatif::ProgressBar;
use serde_json::Value;

use crate::error::{DataError, FieldError, RowAt};
use crate::problem::{Problem, load_problems_with_progress};
use crate::progress::ProgressReader;

/// The upstream layouts `securecoderl data import --format` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Hugging Face `codeparrot/apps` rows (JSON Lines or a JSON array).
    Apps,
    /// APPS+ `data.json` (github.com/Ablustrund/APPS_Plus): one JSON array.
    AppsPlus,
    /// `deepmind/code_contests` rows as JSON (Hugging Face `to_json` output or a JSON array).
    CodeContests,
    /// HumanEval `.jsonl` or `.jsonl.gz`.
    HumanEval,
    /// MBPP JSON Lines (original `text`/`code` rows or the sanitized `prompt`/`code` rows).
    Mbpp,
    /// Our own JSON Lines (the format of ../shared/data).
    Jsonl,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Apps,
        Format::AppsPlus,
        Format::CodeContests,
        Format::HumanEval,
        Format::Mbpp,
        Format::Jsonl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Apps => "apps",
            Format::AppsPlus => "apps-plus",
            Format::CodeContests => "codecontests",
            Format::HumanEval => "humaneval",
            Format::Mbpp => "mbpp",
            Format::Jsonl => "jsonl",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format `{s}`; expected one of apps, apps-plus, \
                     codecontests, humaneval, mbpp, jsonl"
                )
            })
    }
}

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Fail on the first malformed row instead of skipping it.
    pub strict: bool,
    /// Skip function-call problems, so that a set meant to be stdin-only really is (function-call
    /// tests are never fed as stdin).
    pub stdin_only: bool,
    /// Skip problems without a reference solution.
    pub require_reference: bool,
}

/// One row that did not become a problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub at: RowAt,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub problems: Vec<Problem>,
    pub skipped: Vec<Skipped>,
}

impl ImportReport {
    /// Skipped rows counted by reason (malformed rows are grouped by their field), largest first.
    pub fn skip_summary(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in &self.skipped {
            *counts.entry(summary_key(&s.reason)).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Malformed-row reasons carry per-row detail ("tests[3].output: ..."); the summary groups them by
/// field.
fn summary_key(reason: &str) -> String {
    match reason.strip_prefix("malformed: field `") {
        Some(rest) => {
            let field: String = rest.chars().take_while(|c| *c != '`').collect();
            let field: String = field.split('[').next().unwrap_or(&field).to_string();
            format!("malformed field `{field}`")
        }
        None => reason.to_string(),
    }
}

/// Why a row was not imported: it is broken (an error in strict mode) or merely unusable (always
/// skipped).
pub(crate) enum RowOutcome {
    Problem(Box<Problem>),
    Unusable { id: Option<String>, reason: String },
}

pub(crate) fn unusable(id: &str, reason: impl Into<String>) -> RowOutcome {
    RowOutcome::Unusable {
        id: Some(id.to_string()),
        reason: reason.into(),
    }
}

/// Reads `path` in the given layout.
pub fn import_file(
    format: Format,
    path: &Path,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<ImportReport, DataError> {
    let convert: fn(&Value, usize) -> Result<RowOutcome, FieldError> = match format {
        Format::Apps => apps::convert_hf,
        Format::AppsPlus => apps::convert_plus,
        Format::CodeContests => codecontests::convert,
        Format::HumanEval => humaneval::convert,
        Format::Mbpp => mbpp::convert,
        Format::Jsonl => {
            let problems = load_problems_with_progress(path, progress)?;
            let mut report = ImportReport::default();
            for (i, p) in problems.into_iter().enumerate() {
                admit(
                    &mut report,
                    RowAt::Item(i),
                    RowOutcome::Problem(Box::new(p)),
                    opts,
                );
            }
            return Ok(report);
        }
    };
    let mut report = ImportReport::default();
    for_each_row(path, progress, |at, value| {
        let index = match at {
            RowAt::Line(n) => n - 1,
            RowAt::Item(n) => n,
        };
        let outcome = match value {
            Err(message) if opts.strict => {
                return Err(DataError::Json {
                    path: path.to_path_buf(),
                    at,
                    message,
                });
            }
            Err(message) => RowOutcome::Unusable {
                id: None,
                reason: format!("not valid JSON: {message}"),
            },
            Ok(v) => match convert(&v, index) {
                Ok(o) => o,
                Err(error) if opts.strict => {
                    return Err(DataError::Field {
                        path: path.to_path_buf(),
                        at,
                        error,
                    });
                }
                Err(error) => {
                    // APPS+ rows are named by their position, as the authors' id files do.
                    let id = row_id(&v).or_else(|| {
                        (format == Format::AppsPlus).then(|| format!("apps_plus_{index}"))
                    });
                    RowOutcome::Unusable {
                        id,
                        reason: format!("malformed: {error}"),
                    }
                }
            },
        };
        admit(&mut report, at, outcome, opts);
        Ok(())
    })?;
    Ok(report)
}

fn admit(report: &mut ImportReport, at: RowAt, outcome: RowOutcome, opts: &ImportOptions) {
    let skip = |id: &str, reason: &str| Skipped {
        at,
        id: Some(id.to_string()),
        reason: reason.to_string(),
    };
    match outcome {
        RowOutcome::Problem(p) if opts.stdin_only && !p.is_stdin() => report
            .skipped
            .push(skip(&p.id, "function-call problem (stdin-only import)")),
        RowOutcome::Problem(p) if opts.require_reference && p.reference_solution.is_none() => {
            report.skipped.push(skip(&p.id, "no reference solution"))
        }
        RowOutcome::Problem(mut p) => {
            p.mark_statement_examples();
            report.problems.push(*p)
        }
        RowOutcome::Unusable { id, reason } => report.skipped.push(Skipped { at, id, reason }),
    }
}

fn row_id(v: &Value) -> Option<String> {
    ["id", "problem_id", "task_id", "name"]
        .iter()
        .find_map(|k| match v.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
}

/// Calls `f` for each row of a JSON array file (rows counted as items) or a JSON Lines file (rows
/// counted as lines), gzip-compressed or not. A row that is not valid JSON comes as `Err(message)`.
fn for_each_row(
    path: &Path,
    progress: &ProgressBar,
    mut f: impl FnMut(RowAt, Result<Value, String>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let counted = ProgressReader::new(file, progress.clone());
    let raw: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(counted))
    } else {
        Box::new(counted)
    };
    let mut reader = BufReader::new(raw);
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| DataError::io(path, e))?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => break Some(buf[i]),
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    if first == Some(b'[') {
        let rows: Vec<Value> = serde_json::from_reader(reader).map_err(|e| DataError::Layout {
            path: path.to_path_buf(),
            message: format!("not a valid JSON array: {e}"),
        })?;
        for (i, v) in rows.into_iter().enumerate() {
            f(RowAt::Item(i), Ok(v))?;
        }
        return Ok(());
    }
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| DataError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        f(
            RowAt::Line(i + 1),
            serde_json::from_str(&line).map_err(|e| e.to_string()),
        )?;
    }
    Ok(())
}

/// A lower-case id made of letters, digits and `_` (CodeContests names are titles like "1041_E.
/// Tree ...").
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::{slug, summary_key};

    #[test]
    fn slugs_and_summary_keys() {
        assert_eq!(
            slug("1041_E. Tree Reconstruction"),
            "1041_e_tree_reconstruction"
        );
        assert_eq!(
            summary_key("malformed: field `tests[3].output`: missing"),
            "malformed field `tests`"
        );
        assert_eq!(summary_key("no tests"), "no tests");
    }
}

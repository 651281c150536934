//! The problem schema shared by every crate (stdin/stdout problems and function-call problems), and
//! our own JSON Lines format: loading with errors that name file, line and field, and atomic
//! writing. Rows of the files in ../shared/data load directly; their extra fields are kept in
//! `extra`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DataError, FieldError, RowAt};
use crate::fields::{Row, kind_of};
use crate::progress::ProgressReader;

/// One stdin/stdout test: the program reads `input` and must print `output`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StdinTest {
    pub input: String,
    pub output: String,
}

/// How a candidate is run: as a whole program on stdin, or as code defining a function that assert
/// lines call.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProblemKind {
    Stdin,
    FunctionCall { entry_point: Option<String> },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(try_from = "Value")]
pub struct Problem {
    pub id: String,
    /// Provenance: upstream repository and file, or `builtin:<family>`; optional, so that a problem
    /// written by hand needs none (absent stays absent when the file is written back).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub statement: String,
    pub kind: ProblemKind,
    pub tests: Vec<StdinTest>,
    /// Function-call problems: Python `assert` lines (MBPP `test_list`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub assert_tests: Vec<String>,
    /// Runs after the candidate code and before the asserts (MBPP's convention).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_setup_code: Option<String>,
    pub reference_solution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<String>,
    /// Marks for problems an exact-match checker cannot judge, e.g. `multiple_answers_possible`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starter_code: Option<String>,
    /// Indices into `tests` of the stdin tests whose input and output both appear verbatim in the
    /// statement (its worked examples): a program that prints a memorised example passes them. Set
    /// by the importers ([`statement_example_tests`]); absent in older files, which then load with
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statement_example_tests: Vec<usize>,
    /// Every other field of the row, kept so that a load/write round trip loses nothing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Problem {
    /// A stdin problem with nothing but the required fields; importers and the built-in suite fill
    /// the rest.
    pub fn stdin(
        id: impl Into<String>,
        source: impl Into<String>,
        statement: impl Into<String>,
    ) -> Self {
        Problem {
            id: id.into(),
            source: Some(source.into()),
            statement: statement.into(),
            kind: ProblemKind::Stdin,
            tests: Vec::new(),
            assert_tests: Vec::new(),
            test_setup_code: None,
            reference_solution: None,
            difficulty: None,
            flags: Vec::new(),
            starter_code: None,
            statement_example_tests: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Records which stdin tests are statement examples (see [`statement_example_tests`]).
    pub fn mark_statement_examples(&mut self) {
        self.statement_example_tests = statement_example_tests(&self.statement, &self.tests);
    }

    /// The stdin tests that are not statement examples, in order.
    pub fn hidden_tests(&self) -> impl Iterator<Item = &StdinTest> {
        self.tests
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.statement_example_tests.contains(i))
            .map(|(_, t)| t)
    }

    pub fn is_stdin(&self) -> bool {
        self.kind == ProblemKind::Stdin
    }

    /// The first `cap` stdin tests: the paper grades each prompt on at most 5.
    pub fn capped_tests(&self, cap: usize) -> &[StdinTest] {
        &self.tests[..self.tests.len().min(cap)]
    }

    /// The first `cap` assert lines of a function-call problem.
    pub fn capped_assert_tests(&self, cap: usize) -> &[String] {
        &self.assert_tests[..self.assert_tests.len().min(cap)]
    }

    /// How many tests the problem has, whichever kind.
    pub fn test_count(&self) -> usize {
        self.tests.len() + self.assert_tests.len()
    }

    /// Reads one row of our JSON Lines format (or of the ../shared/data files).
    pub fn from_value(value: &Value) -> Result<Problem, FieldError> {
        let row = Row::new(value)?;
        let id = row
            .opt_text("id")?
            .ok_or_else(|| FieldError::new("id", "missing"))?;
        let source = row.opt_str("source")?.map(str::to_string);
        let statement = row.str("statement")?.to_string();
        let tests = match row.map().get("tests") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => parse_tests(v, "tests")?,
        };
        let assert_tests = match row.opt_str_list("assert_tests")? {
            Some(list) => list,
            None => row.opt_str_list("test_list")?.unwrap_or_default(),
        };
        let kind = match row.map().get("kind") {
            None | Some(Value::Null) => infer_kind(&row, &tests, &assert_tests)?,
            Some(v) => serde_json::from_value::<ProblemKind>(v.clone()).map_err(|e| {
                FieldError::new(
                    "kind",
                    format!(
                        "{e} (expected {{\"type\":\"stdin\"}} \
                         or {{\"type\":\"function_call\",\"entry_point\":...}})"
                    ),
                )
            })?,
        };
        let difficulty = match row.opt_text("difficulty")? {
            Some(d) => Some(d),
            None => meta_difficulty(&row)?,
        };
        let flags = row.opt_str_list("flags")?.unwrap_or_default();
        let statement_example_tests: Vec<usize> = match row.map().get("statement_example_tests") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
                FieldError::new(
                    "statement_example_tests",
                    format!("{e} (expected test indices)"),
                )
            })?,
        };
        if let Some(bad) = statement_example_tests.iter().find(|&&i| i >= tests.len()) {
            return Err(FieldError::new(
                "statement_example_tests",
                format!(
                    "index {bad} is out of range: the problem has {} stdin tests",
                    tests.len()
                ),
            ));
        }
        let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
        let known = [
            "id",
            "source",
            "statement",
            "kind",
            "tests",
            "assert_tests",
            "test_list",
            "test_setup_code",
            "reference_solution",
            "difficulty",
            "flags",
            "starter_code",
            "statement_example_tests",
        ];
        let extra = row
            .map()
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Problem {
            id,
            source,
            statement,
            kind,
            tests,
            assert_tests,
            test_setup_code: non_empty(row.opt_str("test_setup_code")?),
            reference_solution: row.opt_str("reference_solution")?.map(str::to_string),
            difficulty,
            flags,
            starter_code: non_empty(row.opt_str("starter_code")?),
            statement_example_tests,
            extra,
        })
    }
}

impl TryFrom<Value> for Problem {
    type Error = FieldError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Problem::from_value(&value)
    }
}

/// `[{input, output}, ...]`, naming the element and key that is wrong.
pub(crate) fn parse_tests(v: &Value, field: &str) -> Result<Vec<StdinTest>, FieldError> {
    let Value::Array(items) = v else {
        return Err(FieldError::new(
            field,
            format!("expected a list of {{input, output}}, found {}", kind_of(v)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let get = |key: &str| match t.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(FieldError::new(
                    format!("{field}[{i}].{key}"),
                    format!("expected a string, found {}", kind_of(other)),
                )),
                None => Err(FieldError::new(format!("{field}[{i}].{key}"), "missing")),
            };
            Ok(StdinTest {
                input: get("input")?,
                output: get("output")?,
            })
        })
        .collect()
}

/// Rows of ../shared/data carry no `kind`: stdin tests make a stdin problem, assert lines (or
/// MBPP's `style: function_call`) a function-call problem.
fn infer_kind(
    row: &Row<'_>,
    tests: &[StdinTest],
    asserts: &[String],
) -> Result<ProblemKind, FieldError> {
    let declared_call = row.opt_str("style")? == Some("function_call");
    if !declared_call && (!tests.is_empty() || asserts.is_empty()) {
        return Ok(ProblemKind::Stdin);
    }
    let entry_point = match row.opt_str("entry_point")? {
        Some(e) => Some(e.to_string()),
        None => asserts.iter().find_map(|a| called_function(a)),
    };
    Ok(ProblemKind::FunctionCall { entry_point })
}

/// The function an assert line calls first: `assert min_cost([[1]], 0, 0) == 1` gives `min_cost`.
pub(crate) fn called_function(assert_line: &str) -> Option<String> {
    let rest = assert_line
        .trim_start()
        .strip_prefix("assert")?
        .trim_start();
    let rest = rest
        .strip_prefix("not ")
        .map(str::trim_start)
        .unwrap_or(rest);
    let rest = rest.trim_start_matches(['(', ' ']);
    let rest = [
        "math.isclose(",
        "set(",
        "sorted(",
        "abs(",
        "round(",
        "float(",
        "int(",
        "str(",
        "list(",
        "tuple(",
    ]
    .iter()
    .find_map(|w| rest.strip_prefix(w))
    .unwrap_or(rest);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let after = &rest[name.len()..];
    (!name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && after.trim_start().starts_with('('))
    .then_some(name)
}

/// CodeContests rows of ../shared/data keep the difficulty under `meta`.
fn meta_difficulty(row: &Row<'_>) -> Result<Option<String>, FieldError> {
    match row.map().get("meta") {
        Some(meta @ Value::Object(_)) => Row::new(meta)?
            .opt_text("difficulty")
            .map_err(|e| FieldError::new(format!("meta.{}", e.field), e.message)),
        _ => Ok(None),
    }
}

/// Loads our JSON Lines format. Blank lines are allowed; duplicate ids are an error.
pub fn load_problems(path: &Path) -> Result<Vec<Problem>, DataError> {
    load_problems_with_progress(path, &ProgressBar::hidden())
}

/// `load_problems`, advancing `progress` by the bytes read.
pub fn load_problems_with_progress(
    path: &Path,
    progress: &ProgressBar,
) -> Result<Vec<Problem>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = BufReader::new(ProgressReader::new(file, progress.clone()));
    let mut problems = Vec::new();
    let mut seen: HashMap<String, RowAt> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let at = RowAt::Line(i + 1);
        let line = line.map_err(|e| DataError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| DataError::Json {
            path: path.to_path_buf(),
            at,
            message: e.to_string(),
        })?;
        let problem = Problem::from_value(&value).map_err(|error| DataError::Field {
            path: path.to_path_buf(),
            at,
            error,
        })?;
        if let Some(first) = seen.insert(problem.id.clone(), at) {
            return Err(DataError::DuplicateId {
                path: path.to_path_buf(),
                id: problem.id,
                first,
                second: at,
            });
        }
        problems.push(problem);
    }
    Ok(problems)
}

/// Writes one problem a line, atomically (`scrl_fs::write_atomic_with`: a temporary file in the
/// same folder, fsync, rename, fsync of the folder), so a reader never sees half a file.
pub fn write_problems(path: &Path, problems: &[Problem]) -> Result<(), DataError> {
    scrl_fs::write_atomic_with(path, |file| {
        let mut w = BufWriter::new(file);
        for p in problems {
            serde_json::to_writer(&mut w, p)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    })
    .map_err(|e| DataError::io(path, e))
}

/// The indices of the tests whose input and output, each with surrounding whitespace trimmed and
/// line endings as `\n`, both occur verbatim in the statement. An empty input or output never
/// counts (it occurs in every statement).
pub fn statement_example_tests(statement: &str, tests: &[StdinTest]) -> Vec<usize> {
    let norm = |s: &str| s.replace("\r\n", "\n");
    let statement = norm(statement);
    let occurs = |text: &str| {
        let text = norm(text);
        let text = text.trim();
        !text.is_empty() && statement.contains(text)
    };
    tests
        .iter()
        .enumerate()
        .filter(|(_, t)| occurs(&t.input) && occurs(&t.output))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::called_function;

    #[test]
    fn entry_point_from_assert_line() {
        assert_eq!(
            called_function("assert min_cost([[1]], 0, 0) == 1").as_deref(),
            Some("min_cost")
        );
        assert_eq!(
            called_function("assert math.isclose(area(2), 4.0)").as_deref(),
            Some("area")
        );
        assert_eq!(
            called_function("assert set(f(1)) == {1}").as_deref(),
            Some("f")
        );
        assert_eq!(
            called_function("assert not is_odd(2)").as_deref(),
            Some("is_odd")
        );
        assert_eq!(called_function("assert x == 1"), None);
    }
}

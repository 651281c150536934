//! MBPP rows: the original layout (`task_id`, `text`, `code`, `test_list`, `test_setup_code`,
//! `challenge_test_list`) and the sanitized one (`prompt` instead of `text`, `test_imports`).
//! Function-call problems; the entry point is the function the first assert calls. The standard
//! split is kept under `extra.split` (prompt 1-10, test 11-510, validation 511-600, train 601-974).

use serde_json::Value;

use super::{RowOutcome, unusable};
use crate::error::FieldError;
use crate::fields::Row;
use crate::problem::{Problem, ProblemKind, called_function};

const SOURCE: &str = "github.com/google-research/google-research:mbpp/mbpp.jsonl";

pub(crate) fn convert(v: &Value, _index: usize) -> Result<RowOutcome, FieldError> {
    let row = Row::new(v)?;
    let task_id = row
        .opt_i64("task_id")?
        .ok_or_else(|| FieldError::new("task_id", "missing"))?;
    let id = format!("mbpp_{task_id}");
    let (tname, text) = row
        .first_present(&["text", "prompt"])
        .ok_or_else(|| FieldError::new("text", "missing"))?;
    let text = text
        .as_str()
        .ok_or_else(|| FieldError::new(tname, "expected a string"))?;
    let asserts = row.opt_str_list("test_list")?.unwrap_or_default();
    if asserts.is_empty() {
        return Ok(unusable(&id, "no tests"));
    }
    let mut p = Problem::stdin(&id, format!("{SOURCE} (task_id {task_id})"), text.trim());
    p.kind = ProblemKind::FunctionCall {
        entry_point: asserts.iter().find_map(|a| called_function(a)),
    };
    p.reference_solution = row.opt_str("code")?.map(str::to_string);
    let mut setup = row
        .opt_str_list("test_imports")?
        .unwrap_or_default()
        .join("\n");
    if let Some(s) = row
        .opt_str("test_setup_code")?
        .filter(|s| !s.trim().is_empty())
    {
        if !setup.is_empty() {
            setup.push('\n');
        }
        setup.push_str(s);
    }
    p.test_setup_code = (!setup.is_empty()).then_some(setup);
    p.assert_tests = asserts;
    let challenge = row.opt_str_list("challenge_test_list")?.unwrap_or_default();
    if !challenge.is_empty() {
        p.extra
            .insert("challenge_test_list".into(), challenge.into());
    }
    p.extra.insert(
        "split".into(),
        Value::String(standard_split(task_id).into()),
    );
    Ok(RowOutcome::Problem(Box::new(p)))
}

/// The split of the MBPP paper by task id.
fn standard_split(task_id: i64) -> &'static str {
    match task_id {
        1..=10 => "prompt",
        11..=510 => "test",
        511..=600 => "validation",
        _ => "train",
    }
}

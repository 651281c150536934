//! `deepmind/code_contests` rows (the Hugging Face layout written as JSON): tests come from
//! `public_tests`, `private_tests` and `generated_tests` in that order, each `{input: [...],
//! output: [...]}`; the reference is the first solution whose `language` is 3 (PYTHON3).

use serde_json::Value;

use super::{RowOutcome, slug, unusable};
use crate::error::FieldError;
use crate::fields::{Row, kind_of, str_list};
use crate::problem::{Problem, StdinTest};

const SOURCE: &str = "huggingface.co/datasets/deepmind/code_contests";
/// `Solution.Language` in the dataset's protocol buffer: 0 UNKNOWN, 1 PYTHON (2), 2 CPP, 3 PYTHON3,
/// 4 JAVA.
const PYTHON3: i64 = 3;
const TEST_GROUPS: [&str; 3] = ["public_tests", "private_tests", "generated_tests"];

pub(crate) fn convert(v: &Value, _index: usize) -> Result<RowOutcome, FieldError> {
    let row = Row::new(v)?;
    let name = row.str("name")?;
    let id = format!("cc_{}", slug(name));
    let statement = row.str("description")?;
    let mut p = Problem::stdin(&id, format!("{SOURCE} ({name})"), statement.trim());
    for group in TEST_GROUPS {
        p.tests.extend(test_group(&row, group)?);
    }
    p.reference_solution = python3_solution(&row)?;
    p.difficulty = row.opt_text("difficulty")?;
    if let Some(tags) = row.opt_str_list("cf_tags")? {
        p.extra.insert("cf_tags".into(), tags.into());
    }
    for key in ["cf_rating", "memory_limit_bytes"] {
        if let Some(n) = row.opt_i64(key)? {
            p.extra.insert(key.into(), n.into());
        }
    }
    let reads_file = row
        .opt_str("input_file")?
        .is_some_and(|f| !f.trim().is_empty());
    let writes_file = row
        .opt_str("output_file")?
        .is_some_and(|f| !f.trim().is_empty());
    Ok(if p.tests.is_empty() {
        unusable(&id, "no tests")
    } else if reads_file || writes_file {
        unusable(&id, "reads or writes a named file instead of stdin/stdout")
    } else {
        RowOutcome::Problem(Box::new(p))
    })
}

fn test_group(row: &Row<'_>, group: &str) -> Result<Vec<StdinTest>, FieldError> {
    let Some(v) = row.map().get(group).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let g = Row::new(v).map_err(|e| FieldError::new(group, e.message))?;
    let list = |key: &str| match g.map().get(key) {
        Some(v) => str_list(v).map_err(|m| FieldError::new(format!("{group}.{key}"), m)),
        None => Err(FieldError::new(format!("{group}.{key}"), "missing")),
    };
    let (inputs, outputs) = (list("input")?, list("output")?);
    if inputs.len() != outputs.len() {
        return Err(FieldError::new(
            group,
            format!("{} inputs but {} outputs", inputs.len(), outputs.len()),
        ));
    }
    Ok(inputs
        .into_iter()
        .zip(outputs)
        .map(|(input, output)| StdinTest { input, output })
        .collect())
}

fn python3_solution(row: &Row<'_>) -> Result<Option<String>, FieldError> {
    let Some(v) = row.map().get("solutions").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = Row::new(v).map_err(|e| FieldError::new("solutions", e.message))?;
    let languages = match s.map().get("language") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(FieldError::new(
                "solutions.language",
                format!("expected a list, found {}", kind_of(other)),
            ));
        }
        None => return Err(FieldError::new("solutions.language", "missing")),
    };
    let code = match s.map().get("solution") {
        Some(v) => str_list(v).map_err(|m| FieldError::new("solutions.solution", m))?,
        None => return Err(FieldError::new("solutions.solution", "missing")),
    };
    if languages.len() != code.len() {
        return Err(FieldError::new(
            "solutions",
            format!("{} languages but {} solutions", languages.len(), code.len()),
        ));
    }
    for (i, (lang, src)) in languages.iter().zip(code).enumerate() {
        match lang.as_i64() {
            Some(PYTHON3) => return Ok(Some(src)),
            Some(_) => {}
            None => {
                return Err(FieldError::new(
                    format!("solutions.language[{i}]"),
                    format!("expected an integer, found {}", kind_of(lang)),
                ));
            }
        }
    }
    Ok(None)
}

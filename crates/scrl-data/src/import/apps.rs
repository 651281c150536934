//! APPS in two layouts: Hugging Face `codeparrot/apps` (tests and solutions as JSON strings,
//! `fn_name` marks a function-call problem) and APPS+ `data.json` (tests as lists; the type of the
//! inputs tells a stdin problem, whose inputs are strings, from a function-call one, and the
//! question is wrapped in a stub).

use serde_json::Value;

use super::pyliteral::py_literal;
use super::{RowOutcome, unusable};
use crate::error::FieldError;
use crate::fields::{Row, kind_of};
use crate::problem::{Problem, ProblemKind, StdinTest};

const HF_SOURCE: &str = "huggingface.co/datasets/codeparrot/apps";
const PLUS_SOURCE: &str = "github.com/Ablustrund/APPS_Plus:data/v1/data.json";

pub(crate) fn convert_hf(v: &Value, _index: usize) -> Result<RowOutcome, FieldError> {
    let row = Row::new(v)?;
    let id = format!(
        "apps_{}",
        row.opt_text("problem_id")?
            .ok_or_else(|| FieldError::new("problem_id", "missing"))?
    );
    let question = row.str("question")?;
    let io_text = row.opt_str("input_output")?.unwrap_or("");
    if io_text.trim().is_empty() {
        return Ok(unusable(&id, "no tests"));
    }
    let io: Value = serde_json::from_str(io_text)
        .map_err(|e| FieldError::new("input_output", format!("not valid JSON: {e}")))?;
    let io_row = Row::new(&io).map_err(|e| FieldError::new("input_output", e.message))?;
    let inputs = list_field(&io_row, "inputs", "input_output.inputs")?;
    let outputs = list_field(&io_row, "outputs", "input_output.outputs")?;
    let fn_name = io_row
        .opt_str("fn_name")
        .map_err(|e| FieldError::new("input_output.fn_name", e.message))?;
    let solutions: Vec<String> = match row.opt_str("solutions")? {
        Some(s) if !s.trim().is_empty() => {
            let v: Value = serde_json::from_str(s)
                .map_err(|e| FieldError::new("solutions", format!("not valid JSON: {e}")))?;
            crate::fields::str_list(&v).map_err(|m| FieldError::new("solutions", m))?
        }
        _ => Vec::new(),
    };
    let starter = row
        .opt_str("starter_code")?
        .filter(|s| !s.trim().is_empty())
        .map(with_typing_import);
    let mut p = Problem::stdin(
        &id,
        format!("{HF_SOURCE} (problem_id {})", &id[5..]),
        question.trim(),
    );
    p.difficulty = row.opt_text("difficulty")?;
    p.reference_solution = solutions.into_iter().next();
    p.starter_code = starter;
    if let Some(url) = row.opt_str("url")? {
        p.extra.insert("url".into(), Value::String(url.into()));
    }
    fill_tests(&mut p, fn_name, inputs, outputs, "input_output")?;
    Ok(if p.test_count() == 0 {
        unusable(&id, "no tests")
    } else {
        RowOutcome::Problem(Box::new(p))
    })
}

pub(crate) fn convert_plus(v: &Value, index: usize) -> Result<RowOutcome, FieldError> {
    let row = Row::new(v)?;
    let id = match row.first_present(&["id", "problem_id"]) {
        Some((_, Value::String(s))) => s.clone(),
        Some((_, Value::Number(n))) => format!("apps_plus_{n}"),
        Some((name, other)) => {
            return Err(FieldError::new(
                name,
                format!("expected a string or number, found {}", kind_of(other)),
            ));
        }
        None => format!("apps_plus_{index}"),
    };
    let (qname, question) = row
        .first_present(&["question", "prompt", "description"])
        .ok_or_else(|| FieldError::new("question", "missing"))?;
    let question = question.as_str().ok_or_else(|| {
        FieldError::new(
            qname,
            format!("expected a string, found {}", kind_of(question)),
        )
    })?;
    let inputs = plus_list(&row, &["inputs", "input"])?;
    let outputs = plus_list(&row, &["outputs", "output"])?;
    if inputs.is_empty() || outputs.is_empty() {
        return Ok(unusable(&id, "no tests"));
    }
    let is_stdin = inputs.iter().all(Value::is_string);
    let fn_name = if is_stdin {
        None
    } else {
        Some(
            row.opt_str("fn_name")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    FieldError::new(
                        "fn_name",
                        "missing on a function-call problem (inputs are not strings)",
                    )
                })?,
        )
    };
    let mut p = Problem::stdin(
        &id,
        format!("{PLUS_SOURCE} (item {index})"),
        unwrap_stub(question),
    );
    p.difficulty = row.opt_text("difficulty")?;
    p.reference_solution = match row.first_present(&["solutions", "canonical_solution", "solution"])
    {
        Some((_, Value::String(s))) => Some(s.clone()),
        Some((_, Value::Array(a))) => a.iter().find_map(|x| x.as_str().map(str::to_string)),
        Some((name, other)) => {
            return Err(FieldError::new(
                name,
                format!(
                    "expected a string or a list of strings, found {}",
                    kind_of(other)
                ),
            ));
        }
        None => None,
    };
    // A stdin problem's starter code is only the random stub; keeping it would invite a function
    // answer.
    if !is_stdin {
        p.starter_code = row
            .opt_str("starter_code")?
            .filter(|s| !s.trim().is_empty())
            .map(with_typing_import);
    }
    fill_tests(&mut p, fn_name, inputs, outputs, "")?;
    Ok(RowOutcome::Problem(Box::new(p)))
}

fn list_field(row: &Row<'_>, name: &str, label: &str) -> Result<Vec<Value>, FieldError> {
    match row.map().get(name) {
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(other) => Err(FieldError::new(
            label,
            format!("expected a list, found {}", kind_of(other)),
        )),
        None => Err(FieldError::new(label, "missing")),
    }
}

/// APPS+ tolerates a bare string where a list is meant (the authors' loader wraps it).
fn plus_list(row: &Row<'_>, names: &[&'static str]) -> Result<Vec<Value>, FieldError> {
    match row.first_present(names) {
        Some((_, Value::Array(a))) => Ok(a.clone()),
        Some((_, s @ Value::String(_))) => Ok(vec![s.clone()]),
        Some((name, other)) => Err(FieldError::new(
            name,
            format!("expected a list, found {}", kind_of(other)),
        )),
        None => Ok(Vec::new()),
    }
}

/// Stdin tests from string inputs, or assert lines calling `fn_name` from argument lists.
fn fill_tests(
    p: &mut Problem,
    fn_name: Option<&str>,
    inputs: Vec<Value>,
    outputs: Vec<Value>,
    prefix: &str,
) -> Result<(), FieldError> {
    let label = |name: &str, i: usize| {
        if prefix.is_empty() {
            format!("{name}[{i}]")
        } else {
            format!("{prefix}.{name}[{i}]")
        }
    };
    if inputs.len() != outputs.len() {
        return Err(FieldError::new(
            label("outputs", outputs.len()),
            format!("{} inputs but {} outputs", inputs.len(), outputs.len()),
        ));
    }
    match fn_name {
        None => {
            for (i, (inp, out)) in inputs.iter().zip(&outputs).enumerate() {
                let input = stdin_text(inp).map_err(|m| FieldError::new(label("inputs", i), m))?;
                let output =
                    stdin_text(out).map_err(|m| FieldError::new(label("outputs", i), m))?;
                p.tests.push(StdinTest { input, output });
            }
        }
        Some(name) => {
            // LeetCode-style problems put the function in `class Solution`; the APPS harness calls
            // it on an instance.
            let callee = match &p.starter_code {
                Some(s) if s.contains("class Solution") => format!("Solution().{name}"),
                _ => name.to_string(),
            };
            for (inp, out) in inputs.iter().zip(&outputs) {
                let args = match inp {
                    Value::Array(a) => a.iter().map(py_literal).collect::<Vec<_>>().join(", "),
                    other => py_literal(other),
                };
                let call = format!("{callee}({args})");
                // The APPS harness also accepts the single element of a one-element expected list.
                let line = match out {
                    Value::Array(a) if a.len() == 1 => format!(
                        "assert {call} in ({}, {})",
                        py_literal(out),
                        py_literal(&a[0])
                    ),
                    _ => format!("assert {call} == {}", py_literal(out)),
                };
                p.assert_tests.push(line);
            }
            p.kind = ProblemKind::FunctionCall {
                entry_point: Some(name.to_string()),
            };
        }
    }
    Ok(())
}

/// LeetCode-style starter code annotates with `List[int]` and the like, which the APPS harness
/// imports before running the answer; starter code that says so itself runs anywhere.
fn with_typing_import(starter: &str) -> String {
    let names: Vec<&str> = ["List", "Dict", "Tuple", "Set", "Optional"]
        .into_iter()
        .filter(|n| starter.contains(&format!("{n}[")))
        .collect();
    if names.is_empty() || starter.contains("from typing import") {
        return starter.to_string();
    }
    format!("from typing import {}\n{starter}", names.join(", "))
}

/// A stdin input or output: a string, a list of lines (some APPS rows split them), or a bare
/// number, which the authors' loader wrote out with `str()`.
fn stdin_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(format!("{n}\n")),
        Value::Array(lines) => {
            let parts = crate::fields::str_list(v)?;
            let mut s = parts.join("\n");
            if !lines.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            Ok(s)
        }
        other => Err(format!(
            "expected a string or a list of lines, found {}",
            kind_of(other)
        )),
    }
}

/// APPS+ questions are `def xxxxx():\n    """<statement>\n    """`; the statement is the
/// docstring's text. Anything else is returned trimmed, as it is.
pub(crate) fn unwrap_stub(question: &str) -> String {
    let t = question.trim();
    let Some(rest) = t.strip_prefix("def ") else {
        return t.to_string();
    };
    let Some(open) = rest.find("\"\"\"") else {
        return t.to_string();
    };
    let header = &rest[..open];
    if !header.trim_end().ends_with(':') || !rest.ends_with("\"\"\"") || open + 3 > rest.len() - 3 {
        return t.to_string();
    }
    let body = &rest[open + 3..rest.len() - 3];
    body.lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::unwrap_stub;

    #[test]
    fn stub_is_unwrapped_and_plain_text_kept() {
        assert_eq!(
            unwrap_stub("\ndef vQzwx():\n    \"\"\"Line one.\n\n    Line two.\n    \"\"\"\n"),
            "Line one.\n\nLine two."
        );
        assert_eq!(unwrap_stub("Print the sum."), "Print the sum.");
        assert_eq!(
            unwrap_stub("def f():\n    \"\"\"unterminated"),
            "def f():\n    \"\"\"unterminated"
        );
    }
}

//! HumanEval rows (`task_id`, `prompt`, `canonical_solution`, `test`, `entry_point`). The prompt is
//! a signature and docstring, so it is both the statement and the starter code. When
//! `check(candidate)` is nothing but one-line asserts, each becomes its own test (partial credit
//! per assert); otherwise the whole `check` is one test.

use serde_json::Value;

use super::RowOutcome;
use crate::error::FieldError;
use crate::fields::Row;
use crate::problem::{Problem, ProblemKind};

const SOURCE: &str = "github.com/openai/human-eval:data/HumanEval.jsonl.gz";

pub(crate) fn convert(v: &Value, _index: usize) -> Result<RowOutcome, FieldError> {
    let row = Row::new(v)?;
    let task_id = row.str("task_id")?;
    let prompt = row.str("prompt")?;
    let solution = row.str("canonical_solution")?;
    let test = row.str("test")?;
    let entry = row.str("entry_point")?;
    let id = task_id.replace('/', "_").to_lowercase();
    let mut p = Problem::stdin(&id, format!("{SOURCE} ({task_id})"), prompt.trim_end());
    p.kind = ProblemKind::FunctionCall {
        entry_point: Some(entry.to_string()),
    };
    p.starter_code = Some(prompt.to_string());
    p.reference_solution = Some(format!("{prompt}{solution}"));
    match single_line_asserts(test) {
        Some(asserts) => {
            p.test_setup_code = Some(format!("{}\ncandidate = {entry}\n", test.trim_end()));
            p.assert_tests = asserts;
        }
        None => {
            p.test_setup_code = Some(test.to_string());
            p.assert_tests = vec![format!("check({entry})")];
        }
    }
    Ok(RowOutcome::Problem(Box::new(p)))
}

/// The asserts of `def check(candidate):` when its body has only one-line asserts, blank lines and
/// comments.
fn single_line_asserts(test: &str) -> Option<Vec<String>> {
    let mut lines = test.lines().skip_while(|l| !l.starts_with("def check("));
    lines.next()?;
    let mut asserts = Vec::new();
    for line in lines {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            break;
        }
        if !t.starts_with("assert ") || !balanced(t) || t.ends_with('\\') {
            return None;
        }
        // HumanEval's `assert True, "..."` lines are debugging markers, not tests.
        if !t.starts_with("assert True") {
            asserts.push(t.to_string());
        }
    }
    (!asserts.is_empty()).then_some(asserts)
}

/// Brackets balance outside string literals, so the line is a complete statement on its own.
fn balanced(line: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(_) if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '#' => break,
                _ => {}
            },
        }
    }
    depth == 0 && quote.is_none()
}

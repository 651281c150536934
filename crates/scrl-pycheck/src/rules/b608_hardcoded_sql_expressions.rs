//! B608 `hardcoded_sql_expressions` (MEDIUM severity; MEDIUM confidence when the string is built
//! right inside an `execute`/`executemany` call without `.replace`, else LOW).
//!
//! ## What it does
//! Flags SQL-looking strings (`select ... from`, `delete from`, `insert into ... values`, `update
//! ... set`) that are being assembled: an operand of `+`/`%` (with the other string pieces of the
//! chain), the receiver of `.format(...)`/`.replace(...)`, or the literal text of an f-string.
//!
//! ## Why is this bad?
//! SQL built by string formatting is the classic SQL injection; use query parameters.
//!
//! ## Example
//! ```python
//! cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
//! ```

use ruff_python_ast::Expr;

use crate::checker::{Issue, Parent, StrContext, StrNode};
use crate::finding::{Confidence, Severity};

/// Case-insensitive
/// `select\s.*from\s|delete\s+from\s|insert\s+into\s.*values[\s(]|update\s.*set\s`, with `.`
/// matching newlines too (Bandit compiles it with DOTALL). Each alternative is "keyword A, then
/// keyword B later", so it holds iff the earliest A is followed somewhere by B.
fn looks_like_sql(text: &str) -> bool {
    let lower = text.to_lowercase();
    let ws = |c: char| c.is_whitespace();
    // Ends of the matches of `a\s` (or `a\s+b\s` when `b` is given), in order.
    let ends = |a: &str, b: Option<&str>| -> Vec<usize> {
        lower
            .match_indices(a)
            .filter_map(|(i, _)| {
                let rest = &lower[i + a.len()..];
                let trimmed = rest.trim_start_matches(ws);
                if trimmed.len() == rest.len() {
                    return None;
                }
                match b {
                    None => Some(i + a.len() + rest.chars().next().map_or(0, char::len_utf8)),
                    Some(b) => {
                        let after = trimmed.strip_prefix(b)?;
                        let c = after.chars().next().filter(|c| c.is_whitespace())?;
                        Some(lower.len() - after.len() + c.len_utf8())
                    }
                }
            })
            .collect()
    };
    let followed_by = |from: usize, b: &str, follow: &dyn Fn(char) -> bool| -> bool {
        lower[from..].match_indices(b).any(|(i, _)| {
            lower[from + i + b.len()..]
                .chars()
                .next()
                .is_some_and(follow)
        })
    };
    if ends("select", None)
        .first()
        .is_some_and(|&e| followed_by(e, "from", &ws))
    {
        return true;
    }
    if !ends("delete", Some("from")).is_empty() {
        return true;
    }
    if ends("insert", Some("into"))
        .first()
        .is_some_and(|&e| followed_by(e, "values", &|c| c.is_whitespace() || c == '('))
    {
        return true;
    }
    ends("update", None)
        .first()
        .is_some_and(|&e| followed_by(e, "set", &ws))
}

/// The string values Bandit's `concat_string` collects: the string itself, then the constants of
/// the `+`/`%` chain above it, except those under the string's own parent operation.
fn concat_statement(node: &Expr, chain: &[&Expr]) -> String {
    fn collect<'e>(expr: &'e Expr, stop: &Expr, bits: &mut Vec<&'e Expr>) {
        if std::ptr::eq(expr, stop) {
            return;
        }
        if let Expr::BinOp(binop) = expr {
            for side in [binop.left.as_ref(), binop.right.as_ref()] {
                if matches!(side, Expr::BinOp(_)) {
                    collect(side, stop, bits);
                } else {
                    bits.push(side);
                }
            }
        }
    }
    let mut bits = vec![node];
    if let (Some(stop), Some(top)) = (chain.first(), chain.last()) {
        collect(top, stop, &mut bits);
    }
    bits.iter()
        .filter_map(|e| match e {
            Expr::StringLiteral(s) => Some(s.value.to_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_execute_call(parent: Option<&Parent>) -> bool {
    let Some(Parent::Expr(Expr::Call(call))) = parent else {
        return false;
    };
    let name = match call.func.as_ref() {
        Expr::Attribute(a) => a.attr.as_str(),
        Expr::Name(n) => n.id.as_str(),
        _ => "",
    };
    name == "execute" || name == "executemany"
}

pub(crate) fn check(ctx: &StrContext) -> Option<Issue> {
    let parents = ctx.parents;
    let n = parents.len();
    let (statement, wrapper, replace) = match &ctx.node {
        StrNode::Constant(node) => match parents.last() {
            Some(Parent::Expr(Expr::BinOp(_))) => {
                let mut chain = Vec::new();
                let mut i = n;
                while i > 0 {
                    match parents[i - 1] {
                        Parent::Expr(e @ Expr::BinOp(_)) => chain.push(e),
                        _ => break,
                    }
                    i -= 1;
                }
                (
                    concat_statement(node, &chain),
                    i.checked_sub(1).map(|w| &parents[w]),
                    false,
                )
            }
            Some(Parent::Expr(Expr::Attribute(attribute)))
                if matches!(attribute.attr.as_str(), "format" | "replace") =>
            {
                let wrapper = n.checked_sub(3).map(|w| &parents[w]);
                (
                    ctx.value.to_string(),
                    wrapper,
                    attribute.attr.as_str() == "replace",
                )
            }
            _ => return None,
        },
        StrNode::JoinedPart {
            first,
            all_constants,
        } => {
            if !first {
                return None;
            }
            (
                all_constants.clone(),
                n.checked_sub(2).map(|w| &parents[w]),
                false,
            )
        }
    };
    if !looks_like_sql(&statement) {
        return None;
    }
    let confidence = if is_execute_call(wrapper) && !replace {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    Some(Issue::new(
        Severity::Medium,
        confidence,
        "Possible SQL injection through string-based query construction.",
    ))
}

#[cfg(test)]
mod tests {
    use super::looks_like_sql;

    #[test]
    fn sql_pattern_matches_bandits_regex() {
        assert!(looks_like_sql("SELECT * FROM t WHERE a=%s"));
        assert!(looks_like_sql("select a\nfrom b "));
        assert!(looks_like_sql("DELETE   FROM t "));
        assert!(looks_like_sql("insert into t values(1)"));
        assert!(looks_like_sql("UPDATE t SET a=1"));
        assert!(!looks_like_sql("selection from"));
        assert!(!looks_like_sql("select x from"));
        assert!(!looks_like_sql("please update the settings"));
        assert!(looks_like_sql("please update the set "));
    }
}

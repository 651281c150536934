//! B202 `tarfile_unsafe_members` (HIGH/HIGH without `members=`, MEDIUM/MEDIUM with an unrecognised
//! `members=`, LOW with a filter function).
//!
//! ## What it does
//! After `import tarfile`, flags `*extractall*` calls unless they pass `filter="data"`.
//!
//! ## Why is this bad?
//! Archive members can carry absolute paths or `..` and overwrite files outside the target
//! directory.
//!
//! ## Example
//! ```python
//! tarfile.open(path).extractall(dest)
//! ```

use ruff_python_ast::Expr;

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_exact("tarfile") || !ctx.name.contains("extractall") {
        return None;
    }
    if let Some(filter) = ctx.keyword("filter")
        && matches!(&filter.value, Expr::StringLiteral(s) if s.value.to_str() == "data")
    {
        return None;
    }
    let first_members = ctx
        .keywords()
        .iter()
        .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "members"));
    match (ctx.has_keyword("members"), first_members) {
        (true, Some(members)) => match &members.value {
            // Bandit reads `members=f(...)` as a filter function by `f`'s name; a dotted `f` makes
            // it error out.
            Expr::Call(call) => match call.func.as_ref() {
                Expr::Name(_) => Some(Issue::new(
                    Severity::Low,
                    Confidence::Low,
                    "extractall with a members filter function",
                )),
                _ => None,
            },
            _ => Some(Issue::new(
                Severity::Medium,
                Confidence::Medium,
                "tarfile.extractall(members=...) with members of unknown type; check they are \
                 validated.",
            )),
        },
        _ => Some(Issue::new(
            Severity::High,
            Confidence::High,
            "tarfile.extractall used without validating members.",
        )),
    }
}

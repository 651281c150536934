//! B611 `django_rawsql_used` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! In a module that imports `django.db.models`, flags `RawSQL(...)` whose SQL is not a string
//! literal.
//!
//! ## Why is this bad?
//! Raw SQL built from variables is the classic SQL injection.
//!
//! ## Example
//! ```python
//! RawSQL("select id from t where name = '%s'" % name, ())
//! ```

use crate::checker::{CallContext, Issue, is_str_constant};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_like("django.db.models") || ctx.name != "RawSQL" {
        return None;
    }
    // Without positional SQL Bandit reads the `sql=` keyword, and errors out (no finding) when it
    // is absent.
    let sql = match ctx.args().first() {
        Some(first) => first,
        None => &ctx.keyword("sql")?.value,
    };
    (!is_str_constant(sql)).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::Medium,
            "Use of RawSQL: potential SQL injection vector.",
        )
    })
}

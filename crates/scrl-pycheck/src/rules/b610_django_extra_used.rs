//! B610 `django_extra_used` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags every `.extra(...)` call whose `where`/`tables` are not lists of string literals or whose
//! `select` is not a dict of string literals (positional arguments count in Django's order).
//!
//! ## Why is this bad?
//! `QuerySet.extra` pastes raw SQL into the query.
//!
//! ## Example
//! ```python
//! User.objects.extra(where=["id = %s" % uid])
//! ```

use std::collections::HashMap;

use ruff_python_ast::Expr;

use crate::checker::{CallContext, Issue, is_str_constant};
use crate::finding::{Confidence, Severity};

const POSITIONS: &[&str] = &[
    "select",
    "where",
    "params",
    "tables",
    "order_by",
    "select_params",
];

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if ctx.name != "extra" {
        return None;
    }
    let mut kwargs: HashMap<&str, &Expr> = HashMap::new();
    for keyword in ctx.keywords() {
        if let Some(arg) = &keyword.arg {
            kwargs.insert(arg.as_str(), &keyword.value);
        }
    }
    for (name, arg) in POSITIONS.iter().zip(ctx.args()) {
        kwargs.insert(name, arg);
    }
    let mut insecure = false;
    for key in ["where", "tables"] {
        if let Some(value) = kwargs.get(key) {
            match value {
                Expr::List(list) => {
                    if list.elts.iter().any(|e| !is_str_constant(e)) {
                        insecure = true;
                    }
                }
                _ => {
                    insecure = true;
                    break;
                }
            }
        }
    }
    if !insecure && let Some(select) = kwargs.get("select") {
        insecure = match select {
            Expr::Dict(dict) => dict.items.iter().any(|item| {
                !item.key.as_ref().is_some_and(is_str_constant) || !is_str_constant(&item.value)
            }),
            _ => true,
        };
    }
    insecure.then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::Medium,
            "Use of extra: potential SQL injection vector.",
        )
    })
}

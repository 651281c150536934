//! B507 `ssh_no_host_key_verification` (HIGH severity, MEDIUM confidence).
//!
//! ## What it does
//! In a module that imports paramiko, flags `set_missing_host_key_policy(AutoAddPolicy)` or
//! `WarningPolicy` (as a name, attribute or call).
//!
//! ## Why is this bad?
//! Unknown host keys are accepted, so a machine in the middle can impersonate the server.
//!
//! ## Example
//! ```python
//! client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
//! ```

use ruff_python_ast::Expr;

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

fn policy_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Attribute(a) => Some(a.attr.as_str()),
        Expr::Name(n) => Some(n.id.as_str()),
        Expr::Call(call) => match call.func.as_ref() {
            Expr::Attribute(a) => Some(a.attr.as_str()),
            Expr::Name(n) => Some(n.id.as_str()),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_like("paramiko") || ctx.name != "set_missing_host_key_policy" {
        return None;
    }
    let policy = policy_name(ctx.args().first()?)?;
    matches!(policy, "AutoAddPolicy" | "WarningPolicy").then(|| {
        Issue::new(
            Severity::High,
            Confidence::Medium,
            "Paramiko trusts unknown host keys automatically.",
        )
    })
}

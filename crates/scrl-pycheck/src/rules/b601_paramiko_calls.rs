//! B601 `paramiko_calls` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! In a module that imports paramiko, flags every `exec_command` call.
//!
//! ## Why is this bad?
//! The command runs in a remote shell; unsanitised input there is shell injection.
//!
//! ## Example
//! ```python
//! client.exec_command("ls " + path)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    (ctx.imports.imported_like("paramiko") && ctx.name == "exec_command").then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::Medium,
            "Possible shell injection through a paramiko call.",
        )
    })
}

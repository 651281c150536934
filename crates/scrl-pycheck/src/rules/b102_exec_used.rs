//! B102 `exec_used` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags calls of the builtin `exec`.
//!
//! ## Why is this bad?
//! `exec` runs any Python code it is given; if the text can be influenced by a user, so can the
//! program.
//!
//! ## Example
//! ```python
//! exec(code)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    (ctx.qualname == "exec").then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "exec runs arbitrary code.",
        )
    })
}

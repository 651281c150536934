//! B702 `use_of_mako_templates` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `mako...Template(...)` calls.
//!
//! ## Why is this bad?
//! Mako does not escape HTML by default, so templates are open to cross-site scripting.
//!
//! ## Example
//! ```python
//! from mako.template import Template
//! Template("<p>${name}</p>")
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let parts: Vec<&str> = ctx.qualname.split('.').collect();
    (parts.contains(&"mako") && parts.last() == Some(&"Template")).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "Mako templates do not escape HTML by default (XSS).",
        )
    })
}

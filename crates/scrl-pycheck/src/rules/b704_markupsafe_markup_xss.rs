//! B704 `markupsafe_markup_xss` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `markupsafe.Markup(x)` / `flask.Markup(x)` where `x` is not a constant.
//!
//! ## Why is this bad?
//! `Markup` marks text as safe HTML; wrapping untrusted data in it is cross-site scripting.
//!
//! ## Example
//! ```python
//! Markup(f"<b>{name}</b>")
//! ```

use crate::checker::{CallContext, Issue, is_constant};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if ctx.qualname != "markupsafe.Markup" && ctx.qualname != "flask.Markup" {
        return None;
    }
    let first = ctx.args().first()?;
    (!is_constant(first)).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            format!("Potential XSS with {} on untrusted data.", ctx.qualname),
        )
    })
}

//! B201 `flask_debug_true` (HIGH severity, MEDIUM confidence).
//!
//! ## What it does
//! In a module that imports Flask, flags `*.run(debug=True)`; reported at the `debug=` value's
//! line.
//!
//! ## Why is this bad?
//! Flask's debug mode serves the Werkzeug debugger, which executes arbitrary code sent by any
//! client.
//!
//! ## Example
//! ```python
//! app.run(debug=True)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if ctx.imports.imported_like("flask")
        && ctx.qualname.ends_with(".run")
        && ctx.keyword_is("debug", &["True"]) == Some(true)
    {
        return Some(
            Issue::new(
                Severity::High,
                Confidence::Medium,
                "A Flask app is run with debug=True, exposing the Werkzeug debugger.",
            )
            .at_line(ctx.keyword_line("debug")),
        );
    }
    None
}

//! B104 `hardcoded_bind_all_interfaces` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags the string `"0.0.0.0"` anywhere except as an expression statement.
//!
//! ## Why is this bad?
//! A server bound to all interfaces is reachable from every network the machine is on.
//!
//! ## Example
//! ```python
//! server.bind(("0.0.0.0", 8080))
//! ```

use crate::checker::{Issue, StrContext};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &StrContext) -> Option<Issue> {
    (ctx.value == "0.0.0.0").then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::Medium,
            "Possible binding to all interfaces.",
        )
    })
}

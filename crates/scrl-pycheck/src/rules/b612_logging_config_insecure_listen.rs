//! B612 `logging_config_insecure_listen` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `logging.config.listen(...)` without a `verify=` callable.
//!
//! ## Why is this bad?
//! The listener accepts logging configurations from the network, and configurations can run code.
//!
//! ## Example
//! ```python
//! logging.config.listen(9999)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    (ctx.qualname == "logging.config.listen" && !ctx.has_keyword("verify")).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "Use of insecure logging.config.listen.",
        )
    })
}

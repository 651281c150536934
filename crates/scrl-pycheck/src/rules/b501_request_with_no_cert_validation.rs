//! B501 `request_with_no_cert_validation` (HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags `requests`/`httpx` calls with `verify=False`, reported at the `verify=` value's line.
//!
//! ## Why is this bad?
//! Without certificate checks any machine in the middle can impersonate the server.
//!
//! ## Example
//! ```python
//! requests.get(url, verify=False)
//! ```

use super::b113_request_without_timeout::is_http_call;
use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let module = ctx.qualname.split('.').next().unwrap_or_default();
    if is_http_call(ctx, module) && ctx.keyword_is("verify", &["False"]) == Some(true) {
        return Some(
            Issue::new(
                Severity::High,
                Confidence::High,
                format!("Call to {module} with verify=False disables certificate checks."),
            )
            .at_line(ctx.keyword_line("verify")),
        );
    }
    None
}

//! B113 `request_without_timeout` (MEDIUM severity, LOW confidence).
//!
//! ## What it does
//! Flags `requests` HTTP calls without a literal `timeout=` (a computed timeout counts as missing,
//! as in Bandit), and `requests`/`httpx` calls with `timeout=None`.
//!
//! ## Why is this bad?
//! Without a timeout a stalled server blocks the program forever.
//!
//! ## Example
//! ```python
//! requests.get(url)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) const HTTP_VERBS: &[&str] =
    &["get", "options", "head", "post", "put", "patch", "delete"];
pub(crate) const HTTPX_EXTRA: &[&str] = &["request", "stream", "Client", "AsyncClient"];

/// Whether the call is a `requests` verb or an `httpx` verb/client (shared with B501).
pub(crate) fn is_http_call(ctx: &CallContext, module: &str) -> bool {
    let verb = HTTP_VERBS.contains(&ctx.name.as_str());
    (module == "requests" && verb)
        || (module == "httpx" && (verb || HTTPX_EXTRA.contains(&ctx.name.as_str())))
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let module = ctx.qualname.split('.').next().unwrap_or_default();
    if module == "requests"
        && HTTP_VERBS.contains(&ctx.name.as_str())
        && ctx.keyword_is("timeout", &[]).is_none()
    {
        return Some(Issue::new(
            Severity::Medium,
            Confidence::Low,
            format!("Call to {module} without timeout"),
        ));
    }
    if is_http_call(ctx, module) && ctx.keyword_is("timeout", &["None"]) == Some(true) {
        return Some(Issue::new(
            Severity::Medium,
            Confidence::Low,
            format!("Call to {module} with timeout set to None"),
        ));
    }
    None
}

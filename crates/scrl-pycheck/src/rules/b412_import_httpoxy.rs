//! B412 `import_httpoxy` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of CGI handlers that copy the `Proxy` header into `HTTP_PROXY`.
//!
//! ## Why is this bad?
//! An attacker's `Proxy:` request header redirects the application's outgoing HTTP traffic.
//!
//! ## Example
//! ```python
//! from wsgiref.handlers import CGIHandler
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B412",
    severity: Severity::High,
    qualnames: &[
        "wsgiref.handlers.CGIHandler",
        "twisted.web.twcgi.CGIScript",
        "twisted.web.twcgi.CGIDirectory",
    ],
    message: "{name} is exposed to the httpoxy vulnerability.",
};

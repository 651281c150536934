//! B503 `ssl_with_bad_defaults` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags a (non-async) function whose positional parameter defaults name an insecure SSL/TLS
//! protocol constant, e.g. `ssl.PROTOCOL_SSLv3`. Reported at the `def` line.
//!
//! ## Why is this bad?
//! Callers that rely on the default silently get a broken protocol version.
//!
//! ## Example
//! ```python
//! def connect(version=ssl.PROTOCOL_TLSv1): ...
//! ```

use ruff_python_ast::StmtFunctionDef;

use super::b502_ssl_with_bad_version::BAD_PROTOCOL_VERSIONS;
use crate::checker::Issue;
use crate::finding::{Confidence, Severity};
use crate::semantic::Imports;

pub(crate) fn check(def: &StmtFunctionDef, imports: &Imports) -> Option<Issue> {
    let parameters = &def.parameters;
    let defaults = parameters
        .posonlyargs
        .iter()
        .chain(&parameters.args)
        .filter_map(|p| p.default());
    for default in defaults {
        let qualname = imports.default_qualname(default);
        let last = qualname.rsplit('.').next().unwrap_or_default();
        if BAD_PROTOCOL_VERSIONS.contains(&last) {
            return Some(Issue::new(
                Severity::Medium,
                Confidence::Medium,
                "Function definition with an insecure SSL/TLS protocol version as default.",
            ));
        }
    }
    None
}

//! B502 `ssl_with_bad_version` (HIGH/HIGH for `ssl.wrap_socket` and `pyOpenSSL.SSL.Context`,
//! MEDIUM/MEDIUM for any other call).
//!
//! ## What it does
//! Flags `ssl_version=`/`method=` keywords naming SSLv2, SSLv3, TLSv1 or TLSv1.1 protocol
//! constants.
//!
//! ## Why is this bad?
//! These protocol versions have practical attacks (DROWN, POODLE, BEAST).
//!
//! ## Example
//! ```python
//! ssl.wrap_socket(sock, ssl_version=ssl.PROTOCOL_SSLv3)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

/// Bandit's default `bad_protocol_versions` (shared with B503).
pub(crate) const BAD_PROTOCOL_VERSIONS: &[&str] = &[
    "PROTOCOL_SSLv2",
    "SSLv2_METHOD",
    "SSLv23_METHOD",
    "PROTOCOL_SSLv3",
    "PROTOCOL_TLSv1",
    "SSLv3_METHOD",
    "TLSv1_METHOD",
    "PROTOCOL_TLSv1_1",
    "TLSv1_1_METHOD",
];

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let bad = |keyword: &str| ctx.keyword_is(keyword, BAD_PROTOCOL_VERSIONS) == Some(true);
    match ctx.qualname.as_str() {
        "ssl.wrap_socket" => bad("ssl_version").then(|| {
            Issue::new(
                Severity::High,
                Confidence::High,
                "ssl.wrap_socket with an insecure SSL/TLS protocol version.",
            )
            .at_line(ctx.keyword_line("ssl_version"))
        }),
        "pyOpenSSL.SSL.Context" => bad("method").then(|| {
            Issue::new(
                Severity::High,
                Confidence::High,
                "SSL.Context with an insecure SSL/TLS protocol version.",
            )
            .at_line(ctx.keyword_line("method"))
        }),
        _ => (bad("method") || bad("ssl_version")).then(|| {
            Issue::new(
                Severity::Medium,
                Confidence::Medium,
                "Call with an insecure SSL/TLS protocol version.",
            )
            .at_line(
                ctx.keyword_line("method")
                    .or_else(|| ctx.keyword_line("ssl_version")),
            )
        }),
    }
}

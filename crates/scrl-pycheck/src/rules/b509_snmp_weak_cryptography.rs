//! B509 `snmp_weak_cryptography` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `pysnmp.hlapi.UsmUserData` with fewer than three positional arguments (no privacy key).
//!
//! ## Why is this bad?
//! SNMPv3 without encryption (noAuthNoPriv / authNoPriv) sends data in clear text.
//!
//! ## Example
//! ```python
//! UsmUserData("user", "authkey")
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    (ctx.qualname == "pysnmp.hlapi.UsmUserData" && ctx.args().len() < 3).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "SNMPv3 without encryption is insecure.",
        )
    })
}

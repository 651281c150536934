//! B508 `snmp_insecure_version` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `pysnmp.hlapi.CommunityData(..., mpModel=0)` or `mpModel=1` (SNMPv1 / SNMPv2c).
//!
//! ## Why is this bad?
//! SNMPv1 and v2c authenticate with a clear-text community string.
//!
//! ## Example
//! ```python
//! CommunityData("public", mpModel=0)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if ctx.qualname != "pysnmp.hlapi.CommunityData" {
        return None;
    }
    let model = ctx.keyword_value("mpModel");
    (model.eq_int(0) || model.eq_int(1)).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "SNMPv1 and SNMPv2 are insecure; use SNMPv3.",
        )
    })
}

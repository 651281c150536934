//! B323 `unverified_context` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `ssl._create_unverified_context`.
//!
//! ## Why is this bad?
//! A context that does not verify certificates accepts any server, including an attacker in the
//! middle.
//!
//! ## Example
//! ```python
//! import ssl
//! ctx = ssl._create_unverified_context()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B323",
    severity: Severity::Medium,
    qualnames: &["ssl._create_unverified_context"],
    message: "ssl._create_unverified_context disables certificate and host name checks.",
};

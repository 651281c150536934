//! B312 `telnetlib` (blacklisted call, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags `telnetlib.Telnet`.
//!
//! ## Why is this bad?
//! Telnet has no encryption, so credentials and data can be read on the wire.
//!
//! ## Example
//! ```python
//! import telnetlib
//! conn = telnetlib.Telnet(host)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B312",
    severity: Severity::High,
    qualnames: &["telnetlib.Telnet"],
    message: "Telnet sends everything in clear text; use SSH.",
};

//! B302 `marshal` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `marshal.load` and `marshal.loads`.
//!
//! ## Why is this bad?
//! `marshal` is an internal format with no protection against malicious input.
//!
//! ## Example
//! ```python
//! import marshal
//! code = marshal.loads(blob)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B302",
    severity: Severity::Medium,
    qualnames: &["marshal.load", "marshal.loads"],
    message: "Deserializing with marshal ({name}) is unsafe on untrusted data.",
};

//! B306 `mktemp_q` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `tempfile.mktemp`.
//!
//! ## Why is this bad?
//! Between choosing the name and creating the file another process can create it first.
//!
//! ## Example
//! ```python
//! import tempfile
//! path = tempfile.mktemp()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B306",
    severity: Severity::Medium,
    qualnames: &["tempfile.mktemp"],
    message: "tempfile.mktemp is deprecated and racy; use mkstemp or NamedTemporaryFile.",
};

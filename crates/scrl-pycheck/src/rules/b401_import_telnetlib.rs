//! B401 `import_telnetlib` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of `telnetlib` (and `__import__`/`importlib.import_module` of it).
//!
//! ## Why is this bad?
//! Telnet has no encryption, so credentials and data can be read on the wire.
//!
//! ## Example
//! ```python
//! import telnetlib
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B401",
    severity: Severity::High,
    qualnames: &["telnetlib"],
    message: "The telnet module ({name}) is imported; telnet is unencrypted, use SSH.",
};

//! B415 `import_pyghmi` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of `pyghmi`.
//!
//! ## Why is this bad?
//! IPMI has weak authentication and is unencrypted by design.
//!
//! ## Example
//! ```python
//! import pyghmi
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B415",
    severity: Severity::High,
    qualnames: &["pyghmi"],
    message: "The IPMI module ({name}) is imported; IPMI is insecure.",
};

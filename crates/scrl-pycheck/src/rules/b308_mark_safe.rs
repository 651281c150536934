//! B308 `mark_safe` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `django.utils.safestring.mark_safe`.
//!
//! ## Why is this bad?
//! Text marked safe is inserted into pages unescaped.
//!
//! ## Example
//! ```python
//! from django.utils.safestring import mark_safe
//! html = mark_safe(user_text)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B308",
    severity: Severity::Medium,
    qualnames: &["django.utils.safestring.mark_safe"],
    message: "mark_safe turns off HTML escaping and can open a cross-site scripting hole.",
};

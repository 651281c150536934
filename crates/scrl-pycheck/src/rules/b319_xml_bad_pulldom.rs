//! B319 `xml_bad_pulldom` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags parsing functions of `xml.dom.pulldom`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! from xml.dom import pulldom
//! events = pulldom.parseString(text)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B319",
    severity: Severity::Medium,
    qualnames: &["xml.dom.pulldom.parse", "xml.dom.pulldom.parseString"],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

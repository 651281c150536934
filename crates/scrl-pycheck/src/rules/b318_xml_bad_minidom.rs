//! B318 `xml_bad_minidom` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags parsing functions of `xml.dom.minidom`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! from xml.dom import minidom
//! doc = minidom.parseString(text)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B318",
    severity: Severity::Medium,
    qualnames: &["xml.dom.minidom.parse", "xml.dom.minidom.parseString"],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

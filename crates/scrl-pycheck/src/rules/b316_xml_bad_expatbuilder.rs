//! B316 `xml_bad_expatbuilder` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags parsing functions of `xml.dom.expatbuilder`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! import xml.dom.expatbuilder
//! doc = xml.dom.expatbuilder.parseString(text)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B316",
    severity: Severity::Medium,
    qualnames: &[
        "xml.dom.expatbuilder.parse",
        "xml.dom.expatbuilder.parseString",
    ],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

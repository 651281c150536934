//! B317 `xml_bad_sax` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags parsing functions of `xml.sax`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! import xml.sax
//! xml.sax.parseString(text, handler)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B317",
    severity: Severity::Medium,
    qualnames: &[
        "xml.sax.parse",
        "xml.sax.parseString",
        "xml.sax.make_parser",
    ],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

//! B314 `xml_bad_ElementTree` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags XML parsing functions of `xml.etree.ElementTree`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! import xml.etree.ElementTree as ET
//! root = ET.fromstring(text)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B314",
    severity: Severity::Medium,
    qualnames: &[
        "xml.etree.ElementTree.parse",
        "xml.etree.ElementTree.iterparse",
        "xml.etree.ElementTree.fromstring",
        "xml.etree.ElementTree.XMLParser",
    ],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

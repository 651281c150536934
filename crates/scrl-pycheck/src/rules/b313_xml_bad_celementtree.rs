//! B313 `xml_bad_cElementTree` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags XML parsing functions of `xml.etree.cElementTree`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! import xml.etree.cElementTree as ET
//! tree = ET.parse(path)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B313",
    severity: Severity::Medium,
    qualnames: &[
        "xml.etree.cElementTree.parse",
        "xml.etree.cElementTree.iterparse",
        "xml.etree.cElementTree.fromstring",
        "xml.etree.cElementTree.XMLParser",
    ],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

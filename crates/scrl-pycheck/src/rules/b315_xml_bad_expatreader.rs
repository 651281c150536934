//! B315 `xml_bad_expatreader` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `xml.sax.expatreader.create_parser`.
//!
//! ## Why is this bad?
//! The standard XML parsers expand entities, which allows billion-laughs and similar attacks.
//!
//! ## Example
//! ```python
//! import xml.sax.expatreader
//! parser = xml.sax.expatreader.create_parser()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B315",
    severity: Severity::Medium,
    qualnames: &["xml.sax.expatreader.create_parser"],
    message: "{name} is open to XML attacks on untrusted data; use defusedxml.",
};

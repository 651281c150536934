//! B411 `import_xmlrpclib` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of the `xmlrpc` package.
//!
//! ## Why is this bad?
//! XML-RPC parses XML with the standard, entity-expanding parsers.
//!
//! ## Example
//! ```python
//! import xmlrpc.client
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B411",
    severity: Severity::High,
    qualnames: &["xmlrpc"],
    message: "{name} parses untrusted XML unsafely; call defusedxml.xmlrpc.monkey_patch().",
};

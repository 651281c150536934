//! B402 `import_ftplib` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of `ftplib`.
//!
//! ## Why is this bad?
//! FTP has no encryption, so credentials and files can be read on the wire.
//!
//! ## Example
//! ```python
//! from ftplib import FTP
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B402",
    severity: Severity::High,
    qualnames: &["ftplib"],
    message: "The FTP module ({name}) is imported; FTP is unencrypted, use SFTP or SCP.",
};

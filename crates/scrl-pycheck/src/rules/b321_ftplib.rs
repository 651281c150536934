//! B321 `ftplib` (blacklisted call, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags `ftplib.FTP`.
//!
//! ## Why is this bad?
//! FTP has no encryption, so credentials and files can be read on the wire.
//!
//! ## Example
//! ```python
//! import ftplib
//! ftp = ftplib.FTP(host)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B321",
    severity: Severity::High,
    qualnames: &["ftplib.FTP"],
    message: "FTP sends everything in clear text; use SFTP or SCP.",
};

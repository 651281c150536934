//! B310 `urllib_urlopen` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags `urllib.request` URL openers (also through `six.moves`).
//!
//! ## Why is this bad?
//! They accept `file:` and other schemes, so a user-chosen URL can read local files.
//!
//! ## Example
//! ```python
//! import urllib.request
//! data = urllib.request.urlopen(url).read()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B310",
    severity: Severity::Medium,
    qualnames: &[
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.request.URLopener",
        "urllib.request.FancyURLopener",
        "six.moves.urllib.request.urlopen",
        "six.moves.urllib.request.urlretrieve",
        "six.moves.urllib.request.URLopener",
        "six.moves.urllib.request.FancyURLopener",
    ],
    message: "{name} opens any URL scheme, including file:// and custom ones; check the scheme.",
};

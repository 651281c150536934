//! B305 `cipher_modes` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags the ECB block cipher mode of `cryptography`.
//!
//! ## Why is this bad?
//! ECB encrypts equal blocks to equal ciphertext, which leaks the structure of the plaintext.
//!
//! ## Example
//! ```python
//! from cryptography.hazmat.primitives.ciphers import modes
//! mode = modes.ECB()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B305",
    severity: Severity::Medium,
    qualnames: &["cryptography.hazmat.primitives.ciphers.modes.ECB"],
    message: "{name} is an insecure cipher mode.",
};

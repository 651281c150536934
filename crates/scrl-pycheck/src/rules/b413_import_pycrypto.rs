//! B413 `import_pycrypto` (blacklisted import, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags imports of the unmaintained pyCrypto package.
//!
//! ## Why is this bad?
//! pyCrypto has known vulnerabilities that will not be fixed.
//!
//! ## Example
//! ```python
//! from Crypto.Cipher import AES
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B413",
    severity: Severity::High,
    qualnames: &[
        "Crypto.Cipher",
        "Crypto.Hash",
        "Crypto.IO",
        "Crypto.Protocol",
        "Crypto.PublicKey",
        "Crypto.Random",
        "Crypto.Signature",
        "Crypto.Util",
    ],
    message: "pyCrypto ({name}) is unmaintained; use pyca/cryptography.",
};

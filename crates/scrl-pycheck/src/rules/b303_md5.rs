//! B303 `md5` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags constructors of MD2, MD4, MD5 and SHA1 hashes in pycrypto, pycryptodome and cryptography.
//!
//! ## Why is this bad?
//! Collisions for these hashes can be computed, so they do not protect integrity.
//!
//! ## Example
//! ```python
//! from cryptography.hazmat.primitives import hashes
//! h = hashes.MD5()
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B303",
    severity: Severity::Medium,
    qualnames: &[
        "Crypto.Hash.MD2.new",
        "Crypto.Hash.MD4.new",
        "Crypto.Hash.MD5.new",
        "Crypto.Hash.SHA.new",
        "Cryptodome.Hash.MD2.new",
        "Cryptodome.Hash.MD4.new",
        "Cryptodome.Hash.MD5.new",
        "Cryptodome.Hash.SHA.new",
        "cryptography.hazmat.primitives.hashes.MD5",
        "cryptography.hazmat.primitives.hashes.SHA1",
    ],
    message: "{name} is a broken hash function (MD2, MD4, MD5 or SHA1).",
};

//! B304 `ciphers` (blacklisted call, HIGH severity, HIGH confidence).
//!
//! ## What it does
//! Flags constructors of weak ciphers (ARC2, ARC4, Blowfish, DES, XOR, CAST5, IDEA, SEED,
//! TripleDES).
//!
//! ## Why is this bad?
//! These ciphers have small keys or blocks, or known practical attacks.
//!
//! ## Example
//! ```python
//! from Crypto.Cipher import DES
//! cipher = DES.new(key)
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B304",
    severity: Severity::High,
    qualnames: &[
        "Crypto.Cipher.ARC2.new",
        "Crypto.Cipher.ARC4.new",
        "Crypto.Cipher.Blowfish.new",
        "Crypto.Cipher.DES.new",
        "Crypto.Cipher.XOR.new",
        "Cryptodome.Cipher.ARC2.new",
        "Cryptodome.Cipher.ARC4.new",
        "Cryptodome.Cipher.Blowfish.new",
        "Cryptodome.Cipher.DES.new",
        "Cryptodome.Cipher.XOR.new",
        "cryptography.hazmat.primitives.ciphers.algorithms.ARC4",
        "cryptography.hazmat.primitives.ciphers.algorithms.Blowfish",
        "cryptography.hazmat.primitives.ciphers.algorithms.CAST5",
        "cryptography.hazmat.primitives.ciphers.algorithms.IDEA",
        "cryptography.hazmat.primitives.ciphers.algorithms.SEED",
        "cryptography.hazmat.primitives.ciphers.algorithms.TripleDES",
    ],
    message: "{name} is a weak cipher; use AES.",
};

//! B505 `weak_cryptographic_key` (HIGH below 1024 bits for RSA/DSA or 160 for EC, MEDIUM below
//! 2048/224; HIGH confidence).
//!
//! ## What it does
//! Flags key generation in `cryptography` (`rsa`/`dsa`/`ec.generate_private_key`) and pycrypto /
//! pycryptodome (`RSA`/`DSA.generate`) with a literal key size (or EC curve) below the thresholds.
//!
//! ## Why is this bad?
//! Short keys can be broken with affordable computation.
//!
//! ## Example
//! ```python
//! rsa.generate_private_key(public_exponent=65537, key_size=1024)
//! ```

use crate::checker::{CallContext, Issue, Lit};
use crate::finding::{Confidence, Severity};

#[derive(Clone, Copy)]
enum KeyType {
    Dsa,
    Rsa,
    Ec,
}

fn thresholds(key_type: KeyType) -> (&'static str, [(f64, Severity); 2]) {
    match key_type {
        KeyType::Dsa => (
            "DSA",
            [(1024.0, Severity::High), (2048.0, Severity::Medium)],
        ),
        KeyType::Rsa => (
            "RSA",
            [(1024.0, Severity::High), (2048.0, Severity::Medium)],
        ),
        KeyType::Ec => ("EC", [(160.0, Severity::High), (224.0, Severity::Medium)]),
    }
}

const EC_CURVES: &[(&str, i128)] = &[
    ("SECT571K1", 571),
    ("SECT571R1", 570),
    ("SECP521R1", 521),
    ("BrainpoolP512R1", 512),
    ("SECT409K1", 409),
    ("SECT409R1", 409),
    ("BrainpoolP384R1", 384),
    ("SECP384R1", 384),
    ("SECT283K1", 283),
    ("SECT283R1", 283),
    ("BrainpoolP256R1", 256),
    ("SECP256K1", 256),
    ("SECP256R1", 256),
    ("SECT233K1", 233),
    ("SECT233R1", 233),
    ("SECP224R1", 224),
    ("SECP192R1", 192),
    ("SECT163K1", 163),
    ("SECT163R2", 163),
];

fn classify(key_type: KeyType, size: &Lit) -> Option<Issue> {
    // Only numbers compare with the thresholds; anything else makes Bandit's comparison fail (no
    // finding).
    let size = match size {
        Lit::Int(Some(i)) => *i as f64,
        Lit::Float(f) => *f,
        _ => return None,
    };
    let (name, levels) = thresholds(key_type);
    levels
        .iter()
        .find(|(limit, _)| size < *limit)
        .map(|(limit, severity)| {
            Issue::new(
                *severity,
                Confidence::High,
                format!("{name} key sizes below {limit} bits are considered breakable."),
            )
        })
}

/// Python's `a or b or default`.
fn first_truthy(candidates: [Lit; 2], default: Lit) -> Lit {
    candidates.into_iter().find(Lit::truthy).unwrap_or(default)
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let cryptography = match ctx.qualname.as_str() {
        "cryptography.hazmat.primitives.asymmetric.dsa.generate_private_key" => {
            Some((KeyType::Dsa, 0))
        }
        "cryptography.hazmat.primitives.asymmetric.rsa.generate_private_key" => {
            Some((KeyType::Rsa, 1))
        }
        "cryptography.hazmat.primitives.asymmetric.ec.generate_private_key" => {
            Some((KeyType::Ec, 0))
        }
        _ => None,
    };
    match cryptography {
        Some((KeyType::Ec, position)) => {
            let positional = if ctx.args().len() > position {
                ctx.arg_at(position)
            } else {
                Lit::Unknown
            };
            let curve = first_truthy([ctx.keyword_value("curve"), positional], Lit::Unknown);
            let size = match curve {
                Lit::Str(name) => EC_CURVES
                    .iter()
                    .find(|(c, _)| *c == name)
                    .map_or(224, |(_, s)| *s),
                _ => 224,
            };
            return classify(KeyType::Ec, &Lit::Int(Some(size)));
        }
        Some((key_type, position)) => {
            let size = first_truthy(
                [ctx.keyword_value("key_size"), ctx.arg_at(position)],
                Lit::Int(Some(2048)),
            );
            return classify(key_type, &size);
        }
        None => {}
    }
    let key_type = match ctx.qualname.as_str() {
        "Crypto.PublicKey.DSA.generate" | "Cryptodome.PublicKey.DSA.generate" => KeyType::Dsa,
        "Crypto.PublicKey.RSA.generate" | "Cryptodome.PublicKey.RSA.generate" => KeyType::Rsa,
        _ => return None,
    };
    let size = first_truthy(
        [ctx.keyword_value("bits"), ctx.arg_at(0)],
        Lit::Int(Some(2048)),
    );
    classify(key_type, &size)
}

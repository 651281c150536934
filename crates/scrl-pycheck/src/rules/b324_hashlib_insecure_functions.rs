//! B324 `hashlib_insecure_functions` (HIGH for md4/md5/sha/sha1 in `hashlib`, MEDIUM for weak
//! `crypt` methods; HIGH confidence).
//!
//! ## What it does
//! Flags `hashlib.md5()`-style constructors and `hashlib.new("md5")` unless `usedforsecurity=False`
//! is passed, and `crypt.crypt`/`crypt.mksalt` with `METHOD_CRYPT`, `METHOD_MD5` or
//! `METHOD_BLOWFISH`.
//!
//! ## Why is this bad?
//! These hashes are broken for security purposes (collisions, fast brute force).
//!
//! ## Example
//! ```python
//! digest = hashlib.md5(password).hexdigest()
//! ```

use crate::checker::{CallContext, Issue, Lit};
use crate::finding::{Confidence, Severity};

const WEAK_HASHES: &[&str] = &["md4", "md5", "sha", "sha1"];
const WEAK_CRYPT_METHODS: &[&str] = &["METHOD_CRYPT", "METHOD_MD5", "METHOD_BLOWFISH"];

fn used_for_security(ctx: &CallContext) -> bool {
    // A missing keyword defaults to "True"; a computed value is not "True".
    match ctx.keyword("usedforsecurity") {
        None => true,
        Some(_) => ctx.keyword_value("usedforsecurity").as_str() == Some("True"),
    }
}

/// `call_args[i]` if given positionally, else the keyword's value.
fn arg_or_keyword(ctx: &CallContext, position: usize, keyword: &str) -> Lit {
    if ctx.args().len() > position {
        ctx.arg_at(position)
    } else {
        ctx.keyword_value(keyword)
    }
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let parts: Vec<&str> = ctx.qualname.split('.').collect();
    let func = *parts.last()?;
    if parts.contains(&"hashlib") {
        if WEAK_HASHES.contains(&func) {
            return used_for_security(ctx).then(|| {
                Issue::new(
                    Severity::High,
                    Confidence::High,
                    format!("Use of weak {} hash for security.", func.to_uppercase()),
                )
            });
        }
        if func == "new" {
            let name = if ctx.args().is_empty() {
                ctx.keyword_value("name")
            } else {
                ctx.arg_at(0)
            };
            let Lit::Str(name) = name else { return None };
            if WEAK_HASHES.contains(&name.to_lowercase().as_str()) && used_for_security(ctx) {
                return Some(Issue::new(
                    Severity::High,
                    Confidence::High,
                    format!("Use of weak {} hash for security.", name.to_uppercase()),
                ));
            }
        }
        return None;
    }
    if parts.contains(&"crypt") && (func == "crypt" || func == "mksalt") {
        let method = if func == "crypt" {
            arg_or_keyword(ctx, 1, "salt")
        } else {
            arg_or_keyword(ctx, 0, "method")
        };
        let Lit::Str(method) = method else {
            return None;
        };
        if WEAK_CRYPT_METHODS.contains(&method.as_str()) {
            return Some(Issue::new(
                Severity::Medium,
                Confidence::High,
                format!("Use of insecure crypt.{method} hash method."),
            ));
        }
    }
    None
}

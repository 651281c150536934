//! B103 `set_bad_file_permissions` (HIGH if world-writable, else MEDIUM; HIGH confidence).
//!
//! ## What it does
//! Flags `chmod`-like calls (any function whose name contains `chmod`) with exactly two arguments
//! whose literal mode grants group or other write or execute permission.
//!
//! ## Why is this bad?
//! Other users of the machine can modify (or run) the file.
//!
//! ## Example
//! ```python
//! os.chmod(path, 0o777)
//! ```

use crate::checker::{CallContext, Issue, Lit};
use crate::finding::{Confidence, Severity};

const S_IWOTH: i128 = 0o2;
const S_IXOTH: i128 = 0o1;
const S_IWGRP: i128 = 0o20;
const S_IXGRP: i128 = 0o10;

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.name.contains("chmod") || ctx.args().len() != 2 {
        return None;
    }
    let Lit::Int(Some(mode)) = ctx.arg_at(1) else {
        return None;
    };
    if mode & (S_IWOTH | S_IWGRP | S_IXGRP | S_IXOTH) == 0 {
        return None;
    }
    let severity = if mode & S_IWOTH != 0 {
        Severity::High
    } else {
        Severity::Medium
    };
    let file = match ctx.arg_at(0) {
        Lit::Unknown => "NOT PARSED".to_string(),
        other => other.py_str(),
    };
    Some(Issue::new(
        severity,
        Confidence::High,
        format!("chmod sets the permissive mode {mode:#o} on {file}."),
    ))
}

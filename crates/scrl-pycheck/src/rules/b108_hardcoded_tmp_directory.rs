//! B108 `hardcoded_tmp_directory` (MEDIUM severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags strings that start with `/tmp`, `/var/tmp` or `/dev/shm` (Bandit's default list).
//!
//! ## Why is this bad?
//! Shared temporary directories invite symlink and race attacks on predictable names; use
//! `tempfile`.
//!
//! ## Example
//! ```python
//! open("/tmp/out.txt", "w")
//! ```

use crate::checker::{Issue, StrContext};
use crate::finding::{Confidence, Severity};

const TMP_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

pub(crate) fn check(ctx: &StrContext) -> Option<Issue> {
    TMP_DIRS
        .iter()
        .any(|dir| ctx.value.starts_with(dir))
        .then(|| {
            Issue::new(
                Severity::Medium,
                Confidence::Medium,
                "Probable insecure use of a shared temporary directory.",
            )
        })
}

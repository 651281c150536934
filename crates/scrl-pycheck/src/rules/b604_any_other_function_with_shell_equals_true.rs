//! B604 `any_other_function_with_shell_equals_true` (MEDIUM severity, LOW confidence).
//!
//! ## What it does
//! Flags any call other than the `subprocess` process starters that passes a true `shell=`
//! argument, reported at the line of the `shell=` value.
//!
//! ## Why is this bad?
//! A wrapper with `shell=True` most likely hands its command to a shell.
//!
//! ## Example
//! ```python
//! run_command(cmd, shell=True)
//! ```

use super::shell::{SUBPROCESS, has_shell};
use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    (!SUBPROCESS.contains(&ctx.qualname.as_str()) && has_shell(ctx)).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::Low,
            "Function call with shell=True, possible security issue.",
        )
        .at_line(ctx.keyword_line("shell"))
    })
}

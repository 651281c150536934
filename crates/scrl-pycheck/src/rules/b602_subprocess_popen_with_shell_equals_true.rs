//! B602 `subprocess_popen_with_shell_equals_true` (HIGH/HIGH when the command is not a string
//! literal; LOW for a literal command, which is not reported).
//!
//! ## What it does
//! Flags `subprocess.Popen/call/check_call/check_output/run` with a true `shell=` argument and a
//! command that is not a plain string literal. Reported at the line of the `shell=` value, like
//! Bandit.
//!
//! ## Why is this bad?
//! The shell interprets metacharacters in the command, so user input becomes shell code.
//!
//! ## Example
//! ```python
//! subprocess.Popen("ls " + user_dir, shell=True)
//! ```

use super::shell::{SUBPROCESS, command_is_literal, has_shell};
use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !SUBPROCESS.contains(&ctx.qualname.as_str()) || !has_shell(ctx) || ctx.args().is_empty() {
        return None;
    }
    let issue = if command_is_literal(ctx) {
        Issue::new(
            Severity::Low,
            Confidence::High,
            "subprocess call with shell=True and a literal command.",
        )
    } else {
        Issue::new(
            Severity::High,
            Confidence::High,
            "subprocess call with shell=True identified, security issue.",
        )
    };
    Some(issue.at_line(ctx.keyword_line("shell")))
}

//! B605 `start_process_with_a_shell` (HIGH/HIGH when the command is not a string literal; LOW for a
//! literal command, which is not reported).
//!
//! ## What it does
//! Flags `os.system`, `os.popen*`, `popen2.*`, `commands.*` and `subprocess.getoutput`-style calls
//! whose command is not a plain string literal.
//!
//! ## Why is this bad?
//! These functions always run the command through a shell, so user input becomes shell code.
//!
//! ## Example
//! ```python
//! os.system("rm " + name)
//! ```

use super::shell::{SHELL, command_is_literal};
use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !SHELL.contains(&ctx.qualname.as_str()) || ctx.args().is_empty() {
        return None;
    }
    Some(if command_is_literal(ctx) {
        Issue::new(
            Severity::Low,
            Confidence::High,
            "Starting a process with a shell and a literal command.",
        )
    } else {
        Issue::new(
            Severity::High,
            Confidence::High,
            "Starting a process with a shell, possible injection detected.",
        )
    })
}

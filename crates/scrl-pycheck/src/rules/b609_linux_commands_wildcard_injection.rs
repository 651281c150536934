//! B609 `linux_commands_wildcard_injection` (HIGH severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags shell commands (through a shell function, or `subprocess` with `shell=True`) whose literal
//! first argument runs `chown`, `chmod`, `tar` or `rsync` with a `*` wildcard.
//!
//! ## Why is this bad?
//! File names matched by the wildcard can start with `-` and be read as options
//! (`--checkpoint-action=`).
//!
//! ## Example
//! ```python
//! os.system("tar cf backup.tar *")
//! ```

use super::shell::{SHELL, SUBPROCESS};
use crate::checker::{CallContext, Issue, Lit};
use crate::finding::{Confidence, Severity};

const VULNERABLE: &[&str] = &["chown", "chmod", "tar", "rsync"];

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let qualname = ctx.qualname.as_str();
    let shell_call = SHELL.contains(&qualname)
        || (SUBPROCESS.contains(&qualname) && ctx.keyword_is("shell", &["True"]) == Some(true));
    if !shell_call || ctx.args().is_empty() {
        return None;
    }
    let command = match ctx.arg_at(0) {
        Lit::List(items) => items
            .iter()
            .map(|item| format!(" {}", item.py_str()))
            .collect(),
        Lit::Str(s) => s,
        _ => String::new(),
    };
    (!command.is_empty() && command.contains('*') && VULNERABLE.iter().any(|v| command.contains(v)))
        .then(|| {
            Issue::new(
                Severity::High,
                Confidence::Medium,
                format!("Possible wildcard injection in call: {qualname}"),
            )
            .at_line(ctx.keyword_line("shell"))
        })
}

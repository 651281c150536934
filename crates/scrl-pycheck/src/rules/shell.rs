//! What the shell-injection rules (B602, B604, B605, B609) share: Bandit's default
//! `shell_injection` configuration and its reading of a `shell=` keyword.

use ruff_python_ast::{Expr, Number};

use crate::checker::CallContext;

/// Functions that start a process and take `shell=`.
pub(crate) const SUBPROCESS: &[&str] = &[
    "subprocess.Popen",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.run",
];

/// Functions that always run their command through a shell.
pub(crate) const SHELL: &[&str] = &[
    "os.system",
    "os.popen",
    "os.popen2",
    "os.popen3",
    "os.popen4",
    "popen2.popen2",
    "popen2.popen3",
    "popen2.popen4",
    "popen2.Popen3",
    "popen2.Popen4",
    "commands.getoutput",
    "commands.getstatusoutput",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
];

/// Whether the call passes a true `shell=` value: a number or constant by its truth value, a list
/// or dict display by being non-empty, anything computed counts as true.
pub(crate) fn has_shell(ctx: &CallContext) -> bool {
    let Some(keyword) = ctx.keyword("shell") else {
        return false;
    };
    match &keyword.value {
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => i.as_u8() != Some(0),
            Number::Float(f) => *f != 0.0,
            Number::Complex { real, imag } => *real != 0.0 || *imag != 0.0,
        },
        Expr::BooleanLiteral(b) => b.value,
        Expr::NoneLiteral(_) => false,
        Expr::StringLiteral(s) => !s.value.is_empty(),
        Expr::BytesLiteral(b) => !b.value.is_empty(),
        Expr::List(l) => !l.elts.is_empty(),
        Expr::Dict(d) => !d.items.is_empty(),
        _ => true,
    }
}

/// Bandit's command severity: a plain string literal as first argument "seems safe" (LOW), anything
/// else may carry user input (HIGH).
pub(crate) fn command_is_literal(ctx: &CallContext) -> bool {
    matches!(ctx.args().first(), Some(Expr::StringLiteral(_)))
}

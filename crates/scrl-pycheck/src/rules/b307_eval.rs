//! B307 `eval` (blacklisted call, MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! Flags calls of the builtin `eval`.
//!
//! ## Why is this bad?
//! Evaluating text that an attacker can influence executes their code.
//!
//! ## Example
//! ```python
//! value = eval(input())
//! ```

use super::blacklist::Entry;
use crate::finding::Severity;

pub(crate) const ENTRY: Entry = Entry {
    id: "B307",
    severity: Severity::Medium,
    qualnames: &["eval"],
    message: "eval runs arbitrary code; ast.literal_eval is the safe way to read literals.",
};

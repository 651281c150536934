//! B614 `pytorch_load` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! After `import torch`, flags `torch.load` / `torch.serialization.load` unless
//! `weights_only=True`.
//!
//! ## Why is this bad?
//! `torch.load` unpickles the file, which can execute arbitrary code.
//!
//! ## Example
//! ```python
//! model = torch.load(path)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_exact("torch") {
        return None;
    }
    if ctx.qualname != "torch.load" && ctx.qualname != "torch.serialization.load" {
        return None;
    }
    if ctx.keyword_value("weights_only").as_str() == Some("True") {
        return None;
    }
    Some(Issue::new(
        Severity::Medium,
        Confidence::High,
        "Use of unsafe PyTorch load.",
    ))
}

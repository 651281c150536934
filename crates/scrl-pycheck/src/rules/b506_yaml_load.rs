//! B506 `yaml_load` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! After `import yaml`, flags `yaml.load` unless the loader is `SafeLoader` or `CSafeLoader`.
//!
//! ## Why is this bad?
//! The full loader constructs arbitrary Python objects named in the document.
//!
//! ## Example
//! ```python
//! data = yaml.load(text)
//! ```

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

const SAFE_LOADERS: &[&str] = &["SafeLoader", "CSafeLoader"];

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_exact("yaml") {
        return None;
    }
    let parts: Vec<&str> = ctx.qualname.split('.').collect();
    if !parts.contains(&"yaml") || parts.last() != Some(&"load") {
        return None;
    }
    let safe_keyword = ctx.keyword_is("Loader", SAFE_LOADERS) == Some(true);
    let safe_positional = ctx
        .arg_at(1)
        .as_str()
        .is_some_and(|s| SAFE_LOADERS.contains(&s));
    (!safe_keyword && !safe_positional).then(|| {
        Issue::new(
            Severity::Medium,
            Confidence::High,
            "Unsafe yaml load; use yaml.safe_load().",
        )
    })
}

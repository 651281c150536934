//! B615 `huggingface_unsafe_download` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! In a module importing `transformers`, `datasets` or `huggingface_hub`, flags `from_pretrained`,
//! `load_dataset`, `hf_hub_download`, `snapshot_download` and `repository_id` calls that pin no
//! revision (a literal `revision=`/`commit_id=` of at least 7 hex digits) and do not load a local
//! path.
//!
//! ## Why is this bad?
//! An unpinned download fetches whatever the repository holds today, which its owner can change.
//!
//! ## Example
//! ```python
//! AutoModel.from_pretrained("org/model")
//! ```

use crate::checker::{CallContext, Issue, Lit, is_constant};
use crate::finding::{Confidence, Severity};

const PATTERNS: &[(&str, &str)] = &[
    ("from_pretrained", "transformers"),
    ("load_dataset", "datasets"),
    ("hf_hub_download", "huggingface_hub"),
    ("snapshot_download", "huggingface_hub"),
    ("repository_id", "huggingface_hub"),
];

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !["transformers", "datasets", "huggingface_hub"]
        .iter()
        .any(|m| ctx.imports.imported_like(m))
    {
        return None;
    }
    let parts: Vec<&str> = ctx.qualname.split('.').collect();
    let func = *parts.last()?;
    let (_, module) = PATTERNS.iter().find(|(f, _)| *f == func)?;
    if !parts.contains(module) {
        return None;
    }
    let computed_revision = ctx.keywords().iter().any(|k| {
        k.arg
            .as_ref()
            .is_some_and(|a| a.as_str() == "revision" || a.as_str() == "commit_id")
            && !is_constant(&k.value)
    });
    if computed_revision {
        return None;
    }
    let revision = [
        ctx.keyword_value("revision"),
        ctx.keyword_value("commit_id"),
    ]
    .into_iter()
    .find(Lit::truthy);
    if let Some(Lit::Str(revision)) = revision {
        let revision = revision.trim_matches(|c| c == '"' || c == '\'');
        if revision.len() >= 7 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
    }
    if let Lit::Str(first) = ctx.arg_at(0)
        && ["./", "/", "../"].iter().any(|p| first.starts_with(p))
    {
        return None;
    }
    Some(Issue::new(
        Severity::Medium,
        Confidence::High,
        format!("Unsafe Hugging Face Hub download without revision pinning in {func}()"),
    ))
}

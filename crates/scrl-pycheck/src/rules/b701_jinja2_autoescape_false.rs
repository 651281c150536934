//! B701 `jinja2_autoescape_false` (HIGH severity; HIGH confidence for a missing or literal-false
//! `autoescape`, MEDIUM for a computed one).
//!
//! ## What it does
//! Flags `jinja2...Environment(...)` unless `autoescape` is `True` or a `select_autoescape(...)`
//! call. The first `autoescape=` keyword anywhere in the call, in breadth-first order, decides.
//!
//! ## Why is this bad?
//! Jinja2 does not escape HTML by default, so templates are open to cross-site scripting.
//!
//! ## Example
//! ```python
//! env = jinja2.Environment(loader=loader)
//! ```

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, Keyword};

use crate::checker::{CallContext, Issue};
use crate::finding::{Confidence, Severity};

/// Collects `autoescape=` keywords with their depth, so the shallowest (breadth-first first) can be
/// taken.
struct AutoescapeKeywords<'a> {
    depth: usize,
    found: Vec<(usize, &'a Keyword)>,
}

impl<'a> Visitor<'a> for AutoescapeKeywords<'a> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        self.depth += 1;
        visitor::walk_expr(self, expr);
        self.depth -= 1;
    }

    fn visit_keyword(&mut self, keyword: &'a Keyword) {
        self.depth += 1;
        if keyword
            .arg
            .as_ref()
            .is_some_and(|a| a.as_str() == "autoescape")
        {
            self.found.push((self.depth, keyword));
        }
        visitor::walk_keyword(self, keyword);
        self.depth -= 1;
    }
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    let parts: Vec<&str> = ctx.qualname.split('.').collect();
    if !parts.contains(&"jinja2") || parts.last() != Some(&"Environment") {
        return None;
    }
    let mut keywords = AutoescapeKeywords {
        depth: 0,
        found: Vec::new(),
    };
    for arg in ctx.args() {
        keywords.visit_expr(arg);
    }
    for keyword in ctx.keywords() {
        keywords.visit_keyword(keyword);
    }
    let first = keywords
        .found
        .iter()
        .min_by_key(|(depth, _)| *depth)
        .map(|(_, k)| *k);
    let Some(keyword) = first else {
        return Some(Issue::new(
            Severity::High,
            Confidence::High,
            "jinja2 autoescapes nothing by default; pass autoescape=True.",
        ));
    };
    match &keyword.value {
        Expr::BooleanLiteral(b) if !b.value => Some(Issue::new(
            Severity::High,
            Confidence::High,
            "jinja2 with autoescape=False is open to XSS.",
        )),
        Expr::Name(n) if n.id.as_str() == "False" => Some(Issue::new(
            Severity::High,
            Confidence::High,
            "jinja2 with autoescape=False is open to XSS.",
        )),
        Expr::BooleanLiteral(_) => None,
        Expr::Name(n) if n.id.as_str() == "True" => None,
        Expr::Call(call)
            if matches!(call.func.as_ref(),
                    Expr::Attribute(a) if a.attr.as_str() == "select_autoescape")
                || matches!(call.func.as_ref(),
                    Expr::Name(n) if n.id.as_str() == "select_autoescape") =>
        {
            None
        }
        _ => Some(Issue::new(
            Severity::High,
            Confidence::Medium,
            "jinja2 autoescape may be off; use True or select_autoescape().",
        )),
    }
}

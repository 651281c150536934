//! Walks a module the way Bandit's node visitor does and hands each node to the rules that check
//! its kind: calls, strings (including the literal parts of f-strings, which CPython 3.11 merges
//! into `Constant` nodes of a `JoinedStr`), imports, function definitions and the file as a whole.
//! It also provides the rule contexts: Bandit's view of a call (resolved name, literal values of
//! arguments and keywords) and of a string (its parents, for the SQL rule). Knows the rules only
//! through `crate::rules`.

use ruff_python_ast::Mod;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{
    self as ast, Expr, ExprCall, InterpolatedStringElement, Keyword, Number, Stmt,
};
use ruff_python_parser::{Mode, ParseOptions, Parsed};
use ruff_text_size::{Ranged, TextRange};

use crate::PyCheckError;
use crate::finding::{Confidence, Finding, ScanReport, Severity};
use crate::parse_thread::run_guarded;
use crate::rules;
use crate::semantic::Imports;
use crate::source::LineIndex;
use crate::syntax::MAX_AST_DEPTH;

/// What a rule reports; the position defaults to the checked node's, as in Bandit.
pub(crate) struct Issue {
    pub severity: Severity,
    pub confidence: Confidence,
    pub text: String,
    pub line: Option<u32>,
    pub col: Option<u32>,
    pub line_range: Option<Vec<u32>>,
}

impl Issue {
    pub(crate) fn new(severity: Severity, confidence: Confidence, text: impl Into<String>) -> Self {
        Self {
            severity,
            confidence,
            text: text.into(),
            line: None,
            col: None,
            line_range: None,
        }
    }

    /// Reports at `line` instead of the node's first line (Bandit does so for keyword-triggered
    /// rules).
    pub(crate) fn at_line(mut self, line: Option<u32>) -> Self {
        self.line = line;
        self
    }
}

/// Parses (on the guarded thread) and scans.
pub(crate) fn scan_guarded(source: &str) -> Result<ScanReport, PyCheckError> {
    run_guarded(source, || scan_on_this_thread(source))
}

fn scan_on_this_thread(source: &str) -> ScanReport {
    scan_parsed(
        source,
        &ruff_python_parser::parse_unchecked(source, ParseOptions::from(Mode::Module)),
    )
}

/// Scans an already parsed source (with any target version: the tree does not depend on it).
pub(crate) fn scan_parsed(source: &str, parsed: &Parsed<Mod>) -> ScanReport {
    let parsed_ok = parsed.errors().is_empty();
    let Some(module) = parsed.syntax().as_module() else {
        return ScanReport {
            findings: Vec::new(),
            parsed: false,
        };
    };
    let index = LineIndex::new(source);
    let mut checker = Checker {
        index: &index,
        imports: Imports::default(),
        parents: Vec::new(),
        module_body: &module.body,
        findings: Vec::new(),
        too_deep: false,
    };
    checker.visit_body(&module.body);
    for rule in rules::FILE_RULES {
        if let Some(issue) = (rule.check)(source) {
            checker.push(rule.id, rule.name, issue, (0, 0, vec![0, 1]));
        }
    }
    // A tree deeper than CPython compiles is not parsed by Bandit either; it was scanned only
    // partially.
    ScanReport {
        findings: checker.findings,
        parsed: parsed_ok && !checker.too_deep,
    }
}

/// A node on the path from the module to the node being checked (Bandit's `_bandit_parent` chain).
#[derive(Clone, Copy)]
pub(crate) enum Parent<'a> {
    Stmt(&'a Stmt),
    Expr(&'a Expr),
    Keyword(&'a Keyword),
    /// A node that CPython has but that no rule looks at (comprehension, withitem, arguments, ...).
    Other,
}

struct Checker<'a, 'i> {
    index: &'i LineIndex,
    imports: Imports,
    parents: Vec<Parent<'a>>,
    module_body: &'a [Stmt],
    findings: Vec<Finding>,
    /// Set when nodes deeper than [`MAX_AST_DEPTH`] were skipped (which also bounds the recursion).
    too_deep: bool,
}

impl<'a> Checker<'a, '_> {
    /// Adds an issue unless it is LOW (never counted at `-ll`); `default` is the node's (line, col,
    /// range).
    fn push(&mut self, id: &str, name: &str, issue: Issue, default: (u32, u32, Vec<u32>)) {
        if issue.severity == Severity::Low {
            return;
        }
        let (line, col, range) = default;
        self.findings.push(Finding {
            test_id: id.to_string(),
            test_name: name.to_string(),
            issue_severity: issue.severity,
            issue_confidence: issue.confidence,
            line_number: issue.line.unwrap_or(line),
            col_offset: issue.col.unwrap_or(col),
            line_range: issue.line_range.unwrap_or(range),
            issue_text: issue.text,
        });
    }

    fn position(&self, range: TextRange) -> (u32, u32, Vec<u32>) {
        let start = self.index.line(range.start().to_u32());
        let end = self.index.line(range.end().to_u32());
        (
            start,
            self.index.column(range.start().to_u32()),
            (start..=end).collect(),
        )
    }

    fn check_call(&mut self, call: &'a ExprCall) {
        let qualname = self.imports.call_qualname(&call.func);
        let ctx = CallContext {
            call,
            name: qualname.rsplit('.').next().unwrap_or_default().to_string(),
            qualname,
            imports: &self.imports,
            index: self.index,
            parents: &self.parents,
            module_body: self.module_body,
        };
        let mut issues = Vec::new();
        for rule in rules::CALL_RULES {
            if let Some(issue) = (rule.check)(&ctx) {
                issues.push((rule.id, rule.name, issue));
            }
        }
        if let Some((id, name, issue)) = rules::blacklist::check_call(&ctx) {
            issues.push((id, name, issue));
        }
        let position = self.position(call.range());
        for (id, name, issue) in issues {
            self.push(id, name, issue, position.clone());
        }
    }

    fn check_string(&mut self, value: &str, node: StrNode<'a>, range: TextRange) {
        let ctx = StrContext {
            value,
            node,
            parents: &self.parents,
        };
        let mut issues = Vec::new();
        for rule in rules::STR_RULES {
            if let Some(issue) = (rule.check)(&ctx) {
                issues.push((rule.id, rule.name, issue));
            }
        }
        if issues.is_empty() {
            return;
        }
        let (line, col, _) = self.position(range);
        // Bandit gives a string finding the line range of the string's parent.
        let parent_range = match self.parents.last() {
            Some(Parent::Stmt(s)) => self.position(s.range()).2,
            Some(Parent::Expr(e)) => self.position(e.range()).2,
            Some(Parent::Keyword(k)) => self.position(k.range()).2,
            _ => vec![line],
        };
        for (id, name, issue) in issues {
            self.push(id, name, issue, (line, col, parent_range.clone()));
        }
    }

    /// CPython 3.11's `JoinedStr` for an f-string: consecutive literal text (across implicitly
    /// concatenated parts) merges into one `Constant`; a format spec is a nested `JoinedStr`. All
    /// these constants carry the position of the whole f-string expression.
    fn check_fstring(&mut self, fstring: &'a ast::ExprFString, expr: &'a Expr) {
        let mut top = Vec::new();
        let mut current = String::new();
        for part in &fstring.value {
            match part {
                ast::FStringPart::Literal(literal) => current.push_str(&literal.value),
                ast::FStringPart::FString(f) => {
                    for element in &f.elements {
                        match element {
                            InterpolatedStringElement::Literal(literal) => {
                                current.push_str(&literal.value)
                            }
                            InterpolatedStringElement::Interpolation(interpolation) => {
                                if !current.is_empty() {
                                    top.push(std::mem::take(&mut current));
                                }
                                top.push(String::new());
                                if let Some(spec) = &interpolation.format_spec {
                                    self.check_format_spec(spec, expr);
                                }
                            }
                        }
                    }
                }
            }
        }
        if !current.is_empty() {
            top.push(current);
        }
        // Empty entries stand for the interpolations; only literal text is a Constant.
        let constants: Vec<&str> = top
            .iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect();
        self.parents.push(Parent::Expr(expr));
        for (i, value) in constants.iter().enumerate() {
            let node = StrNode::JoinedPart {
                first: i == 0,
                all_constants: constants.join(""),
            };
            self.check_string(value, node, expr.range());
        }
        self.parents.pop();
    }

    fn check_format_spec(&mut self, spec: &'a ast::InterpolatedStringFormatSpec, expr: &'a Expr) {
        let mut pieces = Vec::new();
        let mut current = String::new();
        for element in &spec.elements {
            match element {
                InterpolatedStringElement::Literal(literal) => current.push_str(&literal.value),
                InterpolatedStringElement::Interpolation(_) => {
                    if !current.is_empty() {
                        pieces.push(std::mem::take(&mut current));
                    }
                }
            }
        }
        if !current.is_empty() {
            pieces.push(current);
        }
        // The spec's own JoinedStr is a parent no rule inspects beyond "not an expression
        // statement".
        self.parents.push(Parent::Other);
        for (i, value) in pieces.iter().enumerate() {
            let node = StrNode::JoinedPart {
                first: i == 0,
                all_constants: pieces.concat(),
            };
            self.check_string(value, node, expr.range());
        }
        self.parents.pop();
    }

    fn stmt_position(&self, stmt: &Stmt) -> (u32, u32, Vec<u32>) {
        let (_, _, range) = self.position(stmt.range());
        let start = stmt_start(stmt);
        let line = self.index.line(start);
        (
            line,
            self.index.column(start),
            range.into_iter().filter(|l| *l >= line).collect(),
        )
    }
}

/// Where CPython puts a statement's `lineno`: a decorated `def`/`class` starts at its keyword,
/// which ruff's range does not (it includes the decorators). The name is on the keyword's line.
pub(crate) fn stmt_start(stmt: &Stmt) -> u32 {
    match stmt {
        Stmt::FunctionDef(def) if !def.decorator_list.is_empty() => {
            def.name.range().start().to_u32()
        }
        Stmt::ClassDef(class) if !class.decorator_list.is_empty() => {
            class.name.range().start().to_u32()
        }
        _ => stmt.range().start().to_u32(),
    }
}

impl<'a> Visitor<'a> for Checker<'a, '_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.parents.len() >= MAX_AST_DEPTH {
            self.too_deep = true;
            return;
        }
        match stmt {
            Stmt::Import(import) => {
                self.imports.record_import(import);
                if let Some((id, name, issue)) = rules::blacklist::check_import(&import.names, "") {
                    let position = self.position(stmt.range());
                    self.push(id, name, issue, position);
                }
            }
            Stmt::ImportFrom(import) => {
                self.imports.record_import_from(import);
                let prefix = import
                    .module
                    .as_ref()
                    .map(|m| format!("{m}."))
                    .unwrap_or_default();
                if let Some((id, name, issue)) =
                    rules::blacklist::check_import(&import.names, &prefix)
                {
                    let position = self.position(stmt.range());
                    self.push(id, name, issue, position);
                }
            }
            Stmt::FunctionDef(def) if !def.is_async => {
                let position = self.stmt_position(stmt);
                for rule in rules::FUNCTION_DEF_RULES {
                    if let Some(issue) = (rule.check)(def, &self.imports) {
                        self.push(rule.id, rule.name, issue, position.clone());
                    }
                }
            }
            _ => {}
        }
        self.parents.push(Parent::Stmt(stmt));
        // Bandit visits CPython's fields in order, so a definition's body comes before its
        // decorators; that order decides which imports a decorator's call sees.
        match stmt {
            Stmt::FunctionDef(def) => {
                self.visit_parameters(&def.parameters);
                if let Some(returns) = &def.returns {
                    self.visit_annotation(returns);
                }
                self.visit_body(&def.body);
                for decorator in &def.decorator_list {
                    self.visit_decorator(decorator);
                }
            }
            Stmt::ClassDef(class) => {
                if let Some(arguments) = &class.arguments {
                    self.visit_arguments(arguments);
                }
                self.visit_body(&class.body);
                for decorator in &class.decorator_list {
                    self.visit_decorator(decorator);
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.parents.pop();
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.parents.len() >= MAX_AST_DEPTH {
            self.too_deep = true;
            return;
        }
        match expr {
            Expr::Call(call) => self.check_call(call),
            Expr::StringLiteral(string)
                // Bandit skips a string whose parent is an expression statement (docstrings and the
                // like).
                if !matches!(self.parents.last(), Some(Parent::Stmt(Stmt::Expr(_)))) => {
                    self.check_string(string.value.to_str(), StrNode::Constant(expr), expr.range());
                }
            Expr::FString(fstring) => self.check_fstring(fstring, expr),
            _ => {}
        }
        self.parents.push(Parent::Expr(expr));
        visitor::walk_expr(self, expr);
        self.parents.pop();
    }

    fn visit_keyword(&mut self, keyword: &'a Keyword) {
        self.parents.push(Parent::Keyword(keyword));
        visitor::walk_keyword(self, keyword);
        self.parents.pop();
    }

    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        self.parents.push(Parent::Other);
        visitor::walk_comprehension(self, comprehension);
        self.parents.pop();
    }

    fn visit_with_item(&mut self, item: &'a ast::WithItem) {
        self.parents.push(Parent::Other);
        visitor::walk_with_item(self, item);
        self.parents.pop();
    }

    fn visit_parameters(&mut self, parameters: &'a ast::Parameters) {
        self.parents.push(Parent::Other);
        visitor::walk_parameters(self, parameters);
        self.parents.pop();
    }

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        self.parents.push(Parent::Other);
        visitor::walk_except_handler(self, handler);
        self.parents.pop();
    }

    fn visit_match_case(&mut self, case: &'a ast::MatchCase) {
        self.parents.push(Parent::Other);
        visitor::walk_match_case(self, case);
        self.parents.pop();
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        self.parents.push(Parent::Other);
        visitor::walk_pattern(self, pattern);
        self.parents.pop();
    }

    fn visit_elif_else_clause(&mut self, clause: &'a ast::ElifElseClause) {
        // CPython nests `elif` as an `If` statement in `orelse`; no rule needs more than "a
        // statement".
        self.parents.push(Parent::Other);
        visitor::walk_elif_else_clause(self, clause);
        self.parents.pop();
    }
}

/// A value as Bandit's `_get_literal_value` sees it: `True`/`False`/`None` and names become
/// strings, attributes are taken by their last name (`ssl.PROTOCOL_SSLv2` is `"PROTOCOL_SSLv2"`),
/// anything else that is not a literal is `Unknown` (Python's `None`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    /// An int; `None` when it does not fit in 128 bits.
    Int(Option<i128>),
    Float(f64),
    List(Vec<Lit>),
    Tuple(Vec<Lit>),
    Set(Vec<Lit>),
    /// A dict literal with its number of entries.
    Dict(usize),
    /// Bytes, complex numbers and `...`: literals no rule compares, all truthy unless empty bytes.
    Other {
        truthy: bool,
    },
    Unknown,
}

impl Lit {
    /// Python truthiness.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Lit::Str(s) => !s.is_empty(),
            Lit::Int(i) => *i != Some(0),
            Lit::Float(f) => *f != 0.0,
            Lit::List(v) | Lit::Tuple(v) | Lit::Set(v) => !v.is_empty(),
            Lit::Dict(n) => *n > 0,
            Lit::Other { truthy } => *truthy,
            Lit::Unknown => false,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Lit::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python `==` against an int.
    pub(crate) fn eq_int(&self, value: i128) -> bool {
        match self {
            Lit::Int(Some(i)) => *i == value,
            Lit::Float(f) => *f == value as f64,
            _ => false,
        }
    }

    /// Python's `str()` of the value, close enough for the substring tests Bandit applies to it.
    pub(crate) fn py_str(&self) -> String {
        match self {
            Lit::Str(s) => s.clone(),
            _ => self.py_repr(),
        }
    }

    fn py_repr(&self) -> String {
        let join = |v: &[Lit]| v.iter().map(Lit::py_repr).collect::<Vec<_>>().join(", ");
        match self {
            Lit::Str(s) => format!("'{s}'"),
            Lit::Int(Some(i)) => i.to_string(),
            Lit::Int(None) => "<int>".to_string(),
            Lit::Float(f) => f.to_string(),
            Lit::List(v) => format!("[{}]", join(v)),
            Lit::Tuple(v) => format!("({})", join(v)),
            Lit::Set(v) => format!("{{{}}}", join(v)),
            Lit::Dict(_) => "{...}".to_string(),
            Lit::Other { .. } => "...".to_string(),
            Lit::Unknown => "None".to_string(),
        }
    }
}

/// Bandit's `_get_literal_value`.
pub(crate) fn literal_value(expr: &Expr) -> Lit {
    match expr {
        Expr::StringLiteral(s) => Lit::Str(s.value.to_str().to_string()),
        Expr::BooleanLiteral(b) => Lit::Str(if b.value { "True" } else { "False" }.to_string()),
        Expr::NoneLiteral(_) => Lit::Str("None".to_string()),
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => Lit::Int(
                i.as_i64()
                    .map(i128::from)
                    .or_else(|| i.to_string().parse().ok()),
            ),
            Number::Float(f) => Lit::Float(*f),
            Number::Complex { real, imag } => Lit::Other {
                truthy: *real != 0.0 || *imag != 0.0,
            },
        },
        Expr::BytesLiteral(b) => Lit::Other {
            truthy: b.value.bytes().next().is_some(),
        },
        Expr::EllipsisLiteral(_) => Lit::Other { truthy: true },
        Expr::List(l) => Lit::List(l.elts.iter().map(literal_value).collect()),
        Expr::Tuple(t) => Lit::Tuple(t.elts.iter().map(literal_value).collect()),
        Expr::Set(s) => Lit::Set(s.elts.iter().map(literal_value).collect()),
        Expr::Dict(d) => Lit::Dict(d.items.len()),
        Expr::Name(n) => Lit::Str(n.id.to_string()),
        _ => Lit::Unknown,
    }
}

/// Bandit's view of an argument: an attribute's last name, else its literal value.
pub(crate) fn argument_value(expr: &Expr) -> Lit {
    match expr {
        Expr::Attribute(a) => Lit::Str(a.attr.to_string()),
        _ => literal_value(expr),
    }
}

/// Whether `expr` is a `str` constant (`isinstance(x, ast.Constant) and isinstance(x.value, str)`).
pub(crate) fn is_str_constant(expr: &Expr) -> bool {
    matches!(expr, Expr::StringLiteral(_))
}

/// Whether `expr` is any `ast.Constant` (string, bytes, number, bool, None, ...).
pub(crate) fn is_constant(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::StringLiteral(_)
            | Expr::BytesLiteral(_)
            | Expr::NumberLiteral(_)
            | Expr::BooleanLiteral(_)
            | Expr::NoneLiteral(_)
            | Expr::EllipsisLiteral(_)
    )
}

/// A call as the call rules see it.
pub(crate) struct CallContext<'a, 'c> {
    pub call: &'a ExprCall,
    /// The resolved dotted name (`context.call_function_name_qual`).
    pub qualname: String,
    /// Its last component (`context.call_function_name`).
    pub name: String,
    pub imports: &'c Imports,
    index: &'c LineIndex,
    pub parents: &'c [Parent<'a>],
    pub module_body: &'a [Stmt],
}

impl<'a> CallContext<'a, '_> {
    pub(crate) fn args(&self) -> &'a [Expr] {
        &self.call.arguments.args
    }

    pub(crate) fn keywords(&self) -> &'a [Keyword] {
        &self.call.arguments.keywords
    }

    /// `name in context.call_keywords`.
    pub(crate) fn has_keyword(&self, name: &str) -> bool {
        self.keyword(name).is_some()
    }

    /// The last keyword argument called `name` (a later duplicate overwrote earlier ones in
    /// Bandit's dict).
    pub(crate) fn keyword(&self, name: &str) -> Option<&'a Keyword> {
        self.keywords()
            .iter()
            .rev()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
    }

    /// `context.get_call_arg_value(name)`: `Unknown` when absent or not a literal.
    pub(crate) fn keyword_value(&self, name: &str) -> Lit {
        self.keyword(name)
            .map_or(Lit::Unknown, |k| argument_value(&k.value))
    }

    /// `context.check_call_arg_value(name, values)`: `None` when absent or not a literal.
    pub(crate) fn keyword_is(&self, name: &str, values: &[&str]) -> Option<bool> {
        match self.keyword_value(name) {
            Lit::Unknown => None,
            Lit::Str(s) => Some(values.contains(&s.as_str())),
            _ => Some(false),
        }
    }

    /// `context.get_call_arg_at_position(i)`.
    pub(crate) fn arg_at(&self, i: usize) -> Lit {
        match self.args().get(i) {
            Some(Expr::Attribute(a)) => Lit::Str(a.attr.to_string()),
            Some(expr) => literal_value(expr),
            None => Lit::Unknown,
        }
    }

    /// `context.get_lineno_for_call_arg(name)`: the line of the first such keyword's value.
    pub(crate) fn keyword_line(&self, name: &str) -> Option<u32> {
        self.keywords()
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
            .map(|k| self.line_of(k.value.range()))
    }

    pub(crate) fn line_of(&self, range: TextRange) -> u32 {
        self.index.line(range.start().to_u32())
    }

    pub(crate) fn line_of_stmt(&self, stmt: &Stmt) -> u32 {
        self.index.line(stmt_start(stmt))
    }
}

/// Which kind of `str` constant a string rule is looking at.
#[derive(Clone)]
pub(crate) enum StrNode<'a> {
    /// A plain (possibly implicitly concatenated) string literal.
    Constant(&'a Expr),
    /// Literal text of an f-string: `first` marks the first constant of its `JoinedStr`, and
    /// `all_constants` is the concatenation of all of them.
    JoinedPart { first: bool, all_constants: String },
}

/// A string as the string rules see it.
pub(crate) struct StrContext<'a, 'c> {
    pub value: &'c str,
    pub node: StrNode<'a>,
    /// Parents from the module down; the last is the string's parent.
    pub parents: &'c [Parent<'a>],
}

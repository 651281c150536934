//! The syntax check of the reward's first stages: does CPython `compile()` (of the sandbox's
//! interpreter version) accept this source? Three layers of ruff's parser are combined: parse
//! errors, syntax the target version does not support yet, and the compile-time "semantic" errors
//! CPython raises from its symbol table and compiler (return outside function, duplicate
//! parameters, ...), which ruff's `SemanticSyntaxChecker` reports when driven by the scope-tracking
//! visitor below. Knows nothing about execution or security rules.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ruff_python_ast::Mod;
use ruff_python_ast::token::TokenKind;
use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_python_parser::semantic_errors::{
    LazyImportContext, SemanticSyntaxChecker, SemanticSyntaxContext, SemanticSyntaxError,
};
use ruff_python_parser::{Mode, ParseOptions, Parsed};
use ruff_text_size::{Ranged, TextRange};
use serde::Serialize;

use crate::parse_thread::run_guarded;
use crate::source::LineIndex;

/// A CPython version, e.g. 3.11: the version of the interpreter the sandbox runs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub struct PythonVersion {
    pub major: u32,
    pub minor: u32,
}

impl Default for PythonVersion {
    fn default() -> Self {
        Self {
            major: 3,
            minor: 11,
        }
    }
}

impl std::fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for PythonVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) = s
            .split_once('.')
            .ok_or_else(|| format!("expected MAJOR.MINOR, got {s:?}"))?;
        let parse = |part: &str| {
            part.parse::<u32>()
                .map_err(|_| format!("expected MAJOR.MINOR, got {s:?}"))
        };
        Ok(Self {
            major: parse(major)?,
            minor: parse(minor)?,
        })
    }
}

impl PythonVersion {
    fn to_ruff(self) -> ast::PythonVersion {
        ast::PythonVersion {
            major: u8::try_from(self.major).unwrap_or(u8::MAX),
            minor: u8::try_from(self.minor).unwrap_or(u8::MAX),
        }
    }
}

/// Why a source is rejected: the first error in source order. `line` is 1-based, `column` is the
/// 1-based byte column (what CPython's `SyntaxError.offset` approximates). `line` and `column` are
/// 0 when the error is not tied to a position (source over the size cap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyntaxError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// CPython's tokenizer refuses more than 200 open brackets at once ("too many nested parentheses").
const MAX_BRACKET_DEPTH: usize = 200;

/// CPython 3.11's compiler raises `RecursionError` beyond about 3,000 nested AST nodes (measured: a
/// chain of 2,989 unary minus, `+` terms, `not`s or attributes compiles, one more does not). Deeper
/// trees are rejected here too, which also bounds the recursion of the visitors below.
pub(crate) const MAX_AST_DEPTH: usize = 2_995;

/// Accepts `source` iff CPython `target`'s `compile(source, "<string>", "exec")` is expected to
/// accept it. The symbol-table checks (`global` after use, `nonlocal` without a binding) use a
/// per-scope summary of declarations and bindings (see [`Frame`]), not CPython's full symbol table.
/// A NUL byte is rejected (CPython raises `ValueError`, which is a rejection too). Some
/// compile-time rules are not checked here (e.g. more than 20 statically nested blocks); the
/// sandbox compiles every program before it runs and reports CPython's refusal itself, so the
/// reward's verdict is the interpreter's.
pub fn check_syntax(source: &str, target: PythonVersion) -> Result<(), SyntaxError> {
    match run_guarded(source, || check_on_this_thread(source, target)) {
        Ok(result) => result,
        Err(err) => Err(SyntaxError {
            message: err.to_string(),
            line: 0,
            column: 0,
        }),
    }
}

/// Parses `source` for `target` (the tree is the same for every target; the version only decides
/// which newer syntax is reported as unsupported).
pub(crate) fn parse(source: &str, target: PythonVersion) -> Parsed<Mod> {
    let options = ParseOptions::from(Mode::Module).with_target_version(target.to_ruff());
    ruff_python_parser::parse_unchecked(source, options)
}

fn check_on_this_thread(source: &str, target: PythonVersion) -> Result<(), SyntaxError> {
    check_parsed(source, &parse(source, target), target)
}

pub(crate) fn check_parsed(
    source: &str,
    parsed: &Parsed<Mod>,
    target: PythonVersion,
) -> Result<(), SyntaxError> {
    let mut errors: Vec<(TextRange, String)> = Vec::new();
    errors.extend(
        parsed
            .errors()
            .iter()
            .map(|e| (e.location, e.error.to_string())),
    );
    errors.extend(
        parsed
            .unsupported_syntax_errors()
            .iter()
            .map(|e| (e.range(), e.to_string())),
    );
    if let Some(range) = bracket_depth_error(parsed.tokens(), target) {
        errors.push((range, "too many nested parentheses".to_string()));
    }
    errors.extend(token_limit_errors(source, parsed.tokens()));
    if let Some(module) = parsed.syntax().as_module() {
        let mut visitor = ScopeVisitor::new(source, target.to_ruff(), &module.body);
        visitor.visit_body(&module.body);
        if let Some(range) = visitor.too_deep {
            errors.push((
                range,
                "too deeply nested: CPython's compiler raises RecursionError".to_string(),
            ));
        }
        errors.extend(std::mem::take(&mut visitor.own_errors));
        errors.extend(
            visitor
                .errors
                .into_inner()
                .into_iter()
                .map(|e| (e.range, e.to_string())),
        );
    }
    match errors.into_iter().min_by_key(|(range, _)| range.start()) {
        None => Ok(()),
        Some((range, message)) => {
            let index = LineIndex::new(source);
            let start = range.start().to_u32();
            Err(SyntaxError {
                message,
                line: index.line(start),
                column: index.column(start) + 1,
            })
        }
    }
}

/// CPython's tokenizer refuses a 100th indentation level ("too many levels of indentation").
const MAX_INDENT_LEVELS: usize = 100;

/// CPython 3.11 converts a decimal integer literal with `int(text)`, which refuses more than 4,300
/// digits (`sys.int_info.default_max_str_digits`); binary, octal and hexadecimal literals have no
/// limit.
const MAX_INT_LITERAL_DIGITS: usize = 4_300;

/// The compile-time limits of CPython's tokenizer and literal conversion that ruff's parser does
/// not enforce: a NUL byte anywhere (`ValueError: source code string cannot contain null bytes`),
/// the 100th indentation level, and a decimal integer literal of more than 4,300 digits (also
/// inside an f-string's replacement field, which ruff tokenizes as code).
fn token_limit_errors(source: &str, tokens: &ast::token::Tokens) -> Vec<(TextRange, String)> {
    let mut errors = Vec::new();
    if let Some(at) = source.find('\0') {
        let at = ruff_text_size::TextSize::try_from(at).unwrap_or_default();
        errors.push((
            TextRange::empty(at),
            "source code cannot contain null bytes".to_string(),
        ));
    }
    let mut indent = 0usize;
    let mut indent_reported = false;
    for token in tokens {
        match token.kind() {
            TokenKind::Indent => {
                indent += 1;
                if indent >= MAX_INDENT_LEVELS && !indent_reported {
                    indent_reported = true;
                    errors.push((token.range(), "too many levels of indentation".to_string()));
                }
            }
            TokenKind::Dedent => indent = indent.saturating_sub(1),
            TokenKind::Int => {
                let text = &source[token.range()];
                let decimal = !text.starts_with("0x")
                    && !text.starts_with("0X")
                    && !text.starts_with("0o")
                    && !text.starts_with("0O")
                    && !text.starts_with("0b")
                    && !text.starts_with("0B");
                let digits = text.bytes().filter(u8::is_ascii_digit).count();
                if decimal && digits > MAX_INT_LITERAL_DIGITS {
                    errors.push((
                        token.range(),
                        format!(
                            "Exceeds the limit ({MAX_INT_LITERAL_DIGITS} digits) for integer \
                             string conversion: value has {digits} digits"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    errors
}

/// The range of the first bracket that opens level 201. Before 3.12 an f-string is one token whose
/// replacement fields are parsed separately, so brackets inside f-strings do not count there.
fn bracket_depth_error(tokens: &ast::token::Tokens, target: PythonVersion) -> Option<TextRange> {
    let fstrings_are_tokens = target
        < PythonVersion {
            major: 3,
            minor: 12,
        };
    let mut depth = 0usize;
    let mut fstring_depth = 0usize;
    for token in tokens {
        match token.kind() {
            TokenKind::FStringStart | TokenKind::TStringStart => fstring_depth += 1,
            TokenKind::FStringEnd | TokenKind::TStringEnd => {
                fstring_depth = fstring_depth.saturating_sub(1)
            }
            _ if fstrings_are_tokens && fstring_depth > 0 => {}
            TokenKind::Lpar | TokenKind::Lsqb | TokenKind::Lbrace => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some(token.range());
                }
            }
            TokenKind::Rpar | TokenKind::Rsqb | TokenKind::Rbrace => {
                depth = depth.saturating_sub(1)
            }
            _ => {}
        }
    }
    None
}

#[derive(Clone, Copy, Debug)]
enum Scope {
    Module,
    Class,
    Function { is_async: bool },
    Lambda,
    Comprehension { is_async: bool },
    Generator { is_async: bool },
}

/// Tracks the scopes and loops CPython's compiler tracks, and answers the questions ruff's
/// `SemanticSyntaxChecker` asks about them.
struct ScopeVisitor<'s> {
    checker: SemanticSyntaxChecker,
    errors: RefCell<Vec<SemanticSyntaxError>>,
    source: &'s str,
    version: ast::PythonVersion,
    scopes: Vec<Scope>,
    /// What each scope in `scopes` declares and binds, innermost last.
    frames: Vec<Frame>,
    /// Loop nesting inside the current function body; saved and reset at every function or class.
    loop_depth: usize,
    in_try: bool,
    /// Current AST nesting, and the first node found deeper than [`MAX_AST_DEPTH`].
    depth: usize,
    too_deep: Option<TextRange>,
    /// CPython compile-time errors ruff's checker does not report (`x.__debug__ = 1`,
    /// `f(__debug__=1)`).
    own_errors: Vec<(TextRange, String)>,
}

impl<'s> ScopeVisitor<'s> {
    fn new(source: &'s str, version: ast::PythonVersion, module_body: &[Stmt]) -> Self {
        Self {
            checker: SemanticSyntaxChecker::new(),
            errors: RefCell::default(),
            source,
            version,
            scopes: vec![Scope::Module],
            frames: vec![Frame {
                globals: ScopeFacts::of(module_body).globals,
                ..Frame::default()
            }],
            loop_depth: 0,
            in_try: false,
            depth: 0,
            too_deep: None,
            own_errors: Vec::new(),
        }
    }

    /// Enters one AST level; false (and the node recorded) when that is deeper than CPython
    /// compiles.
    fn descend(&mut self, range: TextRange) -> bool {
        if self.depth >= MAX_AST_DEPTH {
            self.too_deep.get_or_insert(range);
            return false;
        }
        self.depth += 1;
        true
    }

    fn check_stmt(&mut self, stmt: &Stmt) {
        let mut checker = std::mem::take(&mut self.checker);
        checker.visit_stmt(stmt, self);
        self.checker = checker;
    }

    fn check_expr(&mut self, expr: &Expr) {
        let mut checker = std::mem::take(&mut self.checker);
        checker.visit_expr(expr, self);
        self.checker = checker;
    }

    fn in_new_scope(&mut self, scope: Scope, frame: Frame, f: impl FnOnce(&mut Self)) {
        let saved_loops = std::mem::take(&mut self.loop_depth);
        self.scopes.push(scope);
        self.frames.push(frame);
        f(self);
        self.frames.pop();
        self.scopes.pop();
        self.loop_depth = saved_loops;
    }

    fn visit_loop_body(&mut self, body: &[Stmt]) {
        self.loop_depth += 1;
        self.visit_body(body);
        self.loop_depth -= 1;
    }

    fn visit_comprehension_scope(
        &mut self,
        generators: &[ast::Comprehension],
        scope: Scope,
        elts: &[&Expr],
    ) {
        // The first iterable is evaluated in the enclosing scope; everything else inside the new
        // one.
        if let Some(first) = generators.first() {
            self.visit_expr(&first.iter);
        }
        self.in_new_scope(scope, Frame::default(), |this| {
            for (i, generator) in generators.iter().enumerate() {
                this.visit_expr(&generator.target);
                if i > 0 {
                    this.visit_expr(&generator.iter);
                }
                for condition in &generator.ifs {
                    this.visit_expr(condition);
                }
            }
            for elt in elts {
                this.visit_expr(elt);
            }
        });
    }
}

/// What one scope declares and binds: enough of CPython's symbol table for `global` after use and
/// `nonlocal` without a binding.
#[derive(Default)]
struct Frame {
    /// Parameters of a function or lambda.
    parameters: Vec<String>,
    /// Names declared `global` anywhere in the scope's own body, with the first declaration.
    globals: HashMap<String, TextRange>,
    /// Names bound in a function scope (parameters included, globals excluded); `None` for other
    /// scopes.
    bound: Option<HashSet<String>>,
}

impl Frame {
    fn function(body: &[Stmt], parameters: Option<&ast::Parameters>) -> Self {
        let facts = ScopeFacts::of(body);
        let parameters: Vec<String> = parameters
            .map(|p| p.iter().map(|p| p.name().to_string()).collect())
            .unwrap_or_default();
        let mut bound = facts.bound;
        bound.extend(parameters.iter().cloned());
        bound.retain(|name| !facts.globals.contains_key(name));
        Self {
            parameters,
            globals: facts.globals,
            bound: Some(bound),
        }
    }
}

/// Collects the `global` declarations and the bound names of one scope's body, without entering
/// nested scopes (whose names are bound here, but not their contents). Comprehension variables
/// belong to the comprehension, but a walrus inside a comprehension binds in the enclosing scope.
#[derive(Default)]
struct ScopeFacts {
    globals: HashMap<String, TextRange>,
    bound: HashSet<String>,
    in_comprehension: usize,
    /// Nesting depth, bounded like [`ScopeVisitor`]'s (deeper trees are rejected there).
    depth: usize,
}

impl ScopeFacts {
    fn of(body: &[Stmt]) -> Self {
        let mut facts = Self::default();
        facts.visit_body(body);
        facts
    }
}

impl<'a> Visitor<'a> for ScopeFacts {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if self.depth >= MAX_AST_DEPTH {
            return;
        }
        self.depth += 1;
        match stmt {
            Stmt::FunctionDef(def) => {
                self.bound.insert(def.name.to_string());
            }
            Stmt::ClassDef(class) => {
                self.bound.insert(class.name.to_string());
            }
            Stmt::Global(global) => {
                for name in &global.names {
                    self.globals.entry(name.to_string()).or_insert(name.range);
                }
            }
            Stmt::Import(import) => {
                for alias in &import.names {
                    let local = match &alias.asname {
                        Some(asname) => asname.to_string(),
                        None => alias.name.split('.').next().unwrap_or_default().to_string(),
                    };
                    self.bound.insert(local);
                }
            }
            Stmt::ImportFrom(import) => {
                for alias in &import.names {
                    self.bound
                        .insert(alias.asname.as_ref().unwrap_or(&alias.name).to_string());
                }
            }
            _ => visitor::walk_stmt(self, stmt),
        }
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.depth >= MAX_AST_DEPTH {
            return;
        }
        self.depth += 1;
        match expr {
            Expr::Name(name) if self.in_comprehension == 0 && !name.ctx.is_load() => {
                self.bound.insert(name.id.to_string());
            }
            Expr::Named(named) => {
                if let Expr::Name(target) = named.target.as_ref() {
                    self.bound.insert(target.id.to_string());
                }
                self.visit_expr(&named.value);
            }
            Expr::Lambda(_) => {}
            Expr::ListComp(_) | Expr::SetComp(_) | Expr::DictComp(_) | Expr::Generator(_) => {
                self.in_comprehension += 1;
                visitor::walk_expr(self, expr);
                self.in_comprehension -= 1;
            }
            _ => visitor::walk_expr(self, expr),
        }
        self.depth -= 1;
    }

    fn visit_pattern(&mut self, pattern: &'a ast::Pattern) {
        let name = match pattern {
            ast::Pattern::MatchAs(p) => p.name.as_ref(),
            ast::Pattern::MatchStar(p) => p.name.as_ref(),
            ast::Pattern::MatchMapping(p) => p.rest.as_ref(),
            _ => None,
        };
        if let Some(name) = name {
            self.bound.insert(name.to_string());
        }
        visitor::walk_pattern(self, pattern);
    }

    fn visit_except_handler(&mut self, handler: &'a ast::ExceptHandler) {
        let ast::ExceptHandler::ExceptHandler(h) = handler;
        if let Some(name) = &h.name {
            self.bound.insert(name.to_string());
        }
        visitor::walk_except_handler(self, handler);
    }
}

impl SemanticSyntaxContext for ScopeVisitor<'_> {
    fn future_annotations_or_stub(&self) -> bool {
        false
    }

    fn lazy_import_context(&self) -> Option<LazyImportContext> {
        match self.scopes.last() {
            Some(Scope::Function { .. } | Scope::Lambda) => Some(LazyImportContext::Function),
            Some(Scope::Class) => Some(LazyImportContext::Class),
            _ if self.in_try => Some(LazyImportContext::TryExceptBlocks),
            _ => None,
        }
    }

    fn python_version(&self) -> ast::PythonVersion {
        self.version
    }

    fn source(&self) -> &str {
        self.source
    }

    fn global(&self, name: &str) -> Option<TextRange> {
        self.frames
            .last()
            .and_then(|frame| frame.globals.get(name).copied())
    }

    fn has_nonlocal_binding(&self, name: &str) -> bool {
        // CPython looks for a binding in the enclosing function scopes only (not classes, not the
        // module).
        let enclosing = &self.frames[..self.frames.len().saturating_sub(1)];
        enclosing.iter().rev().any(|frame| {
            frame
                .bound
                .as_ref()
                .is_some_and(|bound| bound.contains(name))
        })
    }

    fn in_async_context(&self) -> bool {
        for scope in self.scopes.iter().rev() {
            match scope {
                Scope::Module | Scope::Class | Scope::Lambda => return false,
                Scope::Function { is_async } => return *is_async,
                Scope::Comprehension { is_async } | Scope::Generator { is_async } => {
                    if *is_async {
                        return true;
                    }
                }
            }
        }
        false
    }

    fn in_await_allowed_context(&self) -> bool {
        for scope in self.scopes.iter().rev() {
            match scope {
                Scope::Function { .. } | Scope::Lambda => return true,
                Scope::Module | Scope::Class => return false,
                Scope::Comprehension { .. } | Scope::Generator { .. } => {}
            }
        }
        false
    }

    fn in_yield_allowed_context(&self) -> bool {
        matches!(
            self.scopes.last(),
            Some(Scope::Function { .. } | Scope::Lambda)
        )
    }

    fn in_sync_comprehension(&self) -> bool {
        self.scopes.iter().any(|s| {
            matches!(
                s,
                Scope::Comprehension { is_async: false } | Scope::Generator { is_async: false }
            )
        })
    }

    fn in_class_body_comprehension(&self) -> bool {
        for scope in self.scopes.iter().rev() {
            match scope {
                Scope::Comprehension { .. } | Scope::Generator { .. } => {}
                Scope::Class => return true,
                _ => return false,
            }
        }
        false
    }

    fn in_module_scope(&self) -> bool {
        matches!(self.scopes.last(), Some(Scope::Module))
    }

    fn in_function_scope(&self) -> bool {
        matches!(
            self.scopes.last(),
            Some(Scope::Function { .. } | Scope::Lambda)
        )
    }

    fn in_generator_context(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| matches!(s, Scope::Generator { .. }))
    }

    fn in_notebook(&self) -> bool {
        false
    }

    fn report_semantic_error(&self, error: SemanticSyntaxError) {
        self.errors.borrow_mut().push(error);
    }

    fn in_loop_context(&self) -> bool {
        self.loop_depth > 0
    }

    fn is_bound_parameter(&self, name: &str) -> bool {
        self.frames
            .last()
            .is_some_and(|frame| frame.parameters.iter().any(|n| n == name))
    }
}

impl<'a> Visitor<'a> for ScopeVisitor<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        if !self.descend(stmt.range()) {
            return;
        }
        self.visit_stmt_inner(stmt);
        self.depth -= 1;
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if !self.descend(expr.range()) {
            return;
        }
        self.visit_expr_inner(expr);
        self.depth -= 1;
    }
}

impl<'a> ScopeVisitor<'_> {
    fn visit_stmt_inner(&mut self, stmt: &'a Stmt) {
        self.check_stmt(stmt);
        match stmt {
            Stmt::FunctionDef(def) => {
                for decorator in &def.decorator_list {
                    self.visit_decorator(decorator);
                }
                if let Some(type_params) = &def.type_params {
                    self.visit_type_params(type_params);
                }
                // Defaults and annotations are evaluated in the enclosing scope.
                self.visit_parameters(&def.parameters);
                if let Some(returns) = &def.returns {
                    self.visit_annotation(returns);
                }
                let scope = Scope::Function {
                    is_async: def.is_async,
                };
                let frame = Frame::function(&def.body, Some(&def.parameters));
                self.in_new_scope(scope, frame, |this| this.visit_body(&def.body));
            }
            Stmt::ClassDef(class) => {
                for decorator in &class.decorator_list {
                    self.visit_decorator(decorator);
                }
                if let Some(type_params) = &class.type_params {
                    self.visit_type_params(type_params);
                }
                if let Some(arguments) = &class.arguments {
                    self.visit_arguments(arguments);
                }
                let frame = Frame {
                    globals: ScopeFacts::of(&class.body).globals,
                    ..Frame::default()
                };
                self.in_new_scope(Scope::Class, frame, |this| this.visit_body(&class.body));
            }
            Stmt::For(stmt_for) => {
                self.visit_expr(&stmt_for.target);
                self.visit_expr(&stmt_for.iter);
                self.visit_loop_body(&stmt_for.body);
                self.visit_body(&stmt_for.orelse);
            }
            Stmt::While(stmt_while) => {
                self.visit_expr(&stmt_while.test);
                self.visit_loop_body(&stmt_while.body);
                self.visit_body(&stmt_while.orelse);
            }
            Stmt::Try(_) => {
                let was_in_try = std::mem::replace(&mut self.in_try, true);
                visitor::walk_stmt(self, stmt);
                self.in_try = was_in_try;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr_inner(&mut self, expr: &'a Expr) {
        self.check_expr(expr);
        match expr {
            // CPython 3.11 refuses `__debug__` as an attribute store target and as a keyword
            // argument.
            Expr::Attribute(attr) if attr.attr.as_str() == "__debug__" && attr.ctx.is_store() => {
                self.own_errors
                    .push((attr.attr.range, "cannot assign to __debug__".to_string()));
                visitor::walk_expr(self, expr);
            }
            Expr::Call(call)
                if call
                    .arguments
                    .keywords
                    .iter()
                    .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "__debug__")) =>
            {
                for keyword in call.arguments.keywords.iter() {
                    if keyword
                        .arg
                        .as_ref()
                        .is_some_and(|a| a.as_str() == "__debug__")
                    {
                        self.own_errors
                            .push((keyword.range, "cannot assign to __debug__".to_string()));
                    }
                }
                visitor::walk_expr(self, expr);
            }
            Expr::Lambda(lambda) => {
                if let Some(parameters) = &lambda.parameters {
                    self.visit_parameters(parameters);
                }
                let frame = Frame::function(&[], lambda.parameters.as_deref());
                self.in_new_scope(Scope::Lambda, frame, |this| this.visit_expr(&lambda.body));
            }
            Expr::ListComp(ast::ExprListComp {
                elt, generators, ..
            })
            | Expr::SetComp(ast::ExprSetComp {
                elt, generators, ..
            }) => {
                let scope = Scope::Comprehension {
                    is_async: generators.iter().any(|g| g.is_async),
                };
                self.visit_comprehension_scope(generators, scope, &[elt]);
            }
            Expr::Generator(ast::ExprGenerator {
                elt, generators, ..
            }) => {
                let scope = Scope::Generator {
                    is_async: generators.iter().any(|g| g.is_async),
                };
                self.visit_comprehension_scope(generators, scope, &[elt]);
            }
            Expr::DictComp(ast::ExprDictComp {
                key,
                value,
                generators,
                ..
            }) => {
                let scope = Scope::Comprehension {
                    is_async: generators.iter().any(|g| g.is_async),
                };
                match key {
                    Some(key) => self.visit_comprehension_scope(generators, scope, &[key, value]),
                    None => self.visit_comprehension_scope(generators, scope, &[value]),
                }
            }
            _ => visitor::walk_expr(self, expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> bool {
        check_syntax(src, PythonVersion::default()).is_ok()
    }

    #[test]
    fn accepts_and_rejects_basic_programs() {
        assert!(ok(
            "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"
        ));
        assert!(!ok("print 'x'\n"));
        assert!(!ok("return 1\n"));
        assert!(!ok("for x in y:\n    pass\nelse:\n    break\n"));
        assert!(ok("for x in y:\n    def f():\n        pass\n    break\n"));
    }

    #[test]
    fn target_version_gates_new_syntax() {
        let src = "type X = int\n";
        assert!(
            check_syntax(
                src,
                PythonVersion {
                    major: 3,
                    minor: 11
                }
            )
            .is_err()
        );
        assert!(
            check_syntax(
                src,
                PythonVersion {
                    major: 3,
                    minor: 12
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn bracket_depth_follows_the_tokenizer_limit() {
        let nested = |n: usize| format!("x = {}1{}\n", "(".repeat(n), ")".repeat(n));
        assert!(ok(&nested(200)));
        let err = check_syntax(&nested(201), PythonVersion::default()).unwrap_err();
        assert_eq!(err.message, "too many nested parentheses");
        assert_eq!((err.line, err.column), (1, 205));
    }

    #[test]
    fn compile_time_limits_of_the_tokenizer_and_int_conversion() {
        assert!(!ok("x = 1  # \0\n"));
        assert!(ok(&format!("x = {}\n", "9".repeat(4300))));
        assert!(!ok(&format!("x = {}\n", "9".repeat(4301))));
        assert!(!ok(&format!("x = {}\n", vec!["9"; 4301].join("_"))));
        assert!(ok(&format!("x = 0x{}\n", "f".repeat(5000))));
        let nested = |n: usize| {
            let mut s: String = (0..n)
                .map(|i| format!("{}if x:\n", " ".repeat(i)))
                .collect();
            s.push_str(&format!("{}pass\n", " ".repeat(n)));
            s
        };
        assert!(ok(&nested(99)));
        let err = check_syntax(&nested(100), PythonVersion::default()).unwrap_err();
        assert_eq!(
            (err.message.as_str(), err.line),
            ("too many levels of indentation", 101)
        );
        assert!(!ok("import os\nos.__debug__ = 1\n"));
        assert!(!ok("f(__debug__=1)\n"));
        assert!(ok("del x.__debug__\nprint(x.__debug__)\n"));
    }

    #[test]
    fn oversized_source_is_rejected_with_a_clear_error() {
        let big = "x = 1\n".repeat(crate::MAX_SOURCE_BYTES / 6 + 1);
        let err = check_syntax(&big, PythonVersion::default()).unwrap_err();
        assert!(err.message.contains("bytes"), "{err}");
    }

    #[test]
    fn error_position_is_the_first_error() {
        let err = check_syntax("x = 1\nreturn 2\n", PythonVersion::default()).unwrap_err();
        assert_eq!((err.line, err.column), (2, 1));
    }
}

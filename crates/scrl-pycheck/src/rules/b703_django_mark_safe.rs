//! B703 `django_mark_safe` (MEDIUM severity, HIGH confidence).
//!
//! ## What it does
//! In a module that imports `django.utils.safestring`, flags
//! `mark_safe`/`SafeText`/`SafeString`/... calls whose argument is not provably built from string
//! literals. Like Bandit, it follows a variable back through the assignments earlier in the same
//! function (or module), and accepts `"...".format(...)` and `"..." % (...)` whose arguments are
//! themselves literal.
//!
//! ## Why is this bad?
//! Marked-safe text is inserted into HTML unescaped, so user data in it is cross-site scripting.
//!
//! ## Example
//! ```python
//! mark_safe("<b>%s</b>" % request.GET["name"])
//! ```

use ruff_python_ast::{Expr, ExprName, Operator, Stmt, StmtFunctionDef};
use ruff_text_size::Ranged;

use crate::checker::{CallContext, Issue, Parent, is_constant, is_str_constant};
use crate::finding::{Confidence, Severity};

const AFFECTED: &[&str] = &[
    "mark_safe",
    "SafeText",
    "SafeUnicode",
    "SafeString",
    "SafeBytes",
];

/// Bandit's analysis raises (and so reports nothing) on some shapes and on runaway recursion.
struct Abort;

/// Deeper chains make Bandit's recursive analysis hit Python's recursion limit, which also reports
/// nothing.
const MAX_DEPTH: usize = 200;

#[derive(Clone, Copy)]
enum Scope<'a> {
    Module(&'a [Stmt]),
    Function(&'a StmtFunctionDef),
}

impl<'a> Scope<'a> {
    fn body(self) -> &'a [Stmt] {
        match self {
            Scope::Module(body) => body,
            Scope::Function(def) => &def.body,
        }
    }

    /// Whether `name` is one of the function's plain positional parameters (`args.args` only).
    fn is_parameter(self, name: &str) -> bool {
        match self {
            Scope::Module(_) => false,
            Scope::Function(def) => def
                .parameters
                .args
                .iter()
                .any(|p| p.name().as_str() == name),
        }
    }
}

/// What `DeepAssignation.is_assigned` returns.
enum Assigned<'a> {
    Nothing,
    Value(&'a Expr),
    /// A `with` statement binding the name: never secure.
    With,
    List(Vec<Assigned<'a>>),
}

impl Assigned<'_> {
    fn truthy(&self) -> bool {
        match self {
            Assigned::Nothing => false,
            Assigned::List(items) => !items.is_empty(),
            _ => true,
        }
    }
}

struct Analysis<'a, 'c, 'x> {
    ctx: &'c CallContext<'a, 'x>,
    scope: Scope<'a>,
    depth: usize,
}

impl<'a> Analysis<'a, '_, '_> {
    fn line(&self, expr: &Expr) -> u32 {
        self.ctx.line_of(expr.range())
    }

    fn assigned_in(&self, stmts: &'a [Stmt], var: &str) -> Result<Vec<Assigned<'a>>, Abort> {
        let mut out = Vec::new();
        for stmt in stmts {
            match self.assigned(stmt, var)? {
                Assigned::List(items) => out.extend(items),
                a if a.truthy() => out.push(a),
                _ => {}
            }
        }
        Ok(out)
    }

    fn assigned(&self, stmt: &'a Stmt, var: &str) -> Result<Assigned<'a>, Abort> {
        Ok(match stmt {
            Stmt::FunctionDef(def) if !def.is_async => {
                Assigned::List(self.assigned_in(&def.body, var)?)
            }
            Stmt::With(with) if !with.is_async => {
                let mut result = Assigned::Nothing;
                for item in &with.items {
                    let binds = matches!(item.optional_vars.as_deref(),
                        Some(Expr::Name(n)) if n.id.as_str() == var);
                    result = if binds {
                        Assigned::With
                    } else {
                        Assigned::List(self.assigned_in(&with.body, var)?)
                    };
                }
                result
            }
            Stmt::Try(try_stmt) if !try_stmt.is_star => {
                let mut items = self.assigned_in(&try_stmt.body, var)?;
                for handler in &try_stmt.handlers {
                    let ruff_python_ast::ExceptHandler::ExceptHandler(h) = handler;
                    items.extend(self.assigned_in(&h.body, var)?);
                }
                items.extend(self.assigned_in(&try_stmt.orelse, var)?);
                items.extend(self.assigned_in(&try_stmt.finalbody, var)?);
                Assigned::List(items)
            }
            Stmt::If(if_stmt) => {
                let mut items = self.assigned_in(&if_stmt.body, var)?;
                for clause in &if_stmt.elif_else_clauses {
                    items.extend(self.assigned_in(&clause.body, var)?);
                }
                Assigned::List(items)
            }
            Stmt::For(for_stmt) if !for_stmt.is_async => {
                let mut items = self.assigned_in(&for_stmt.body, var)?;
                items.extend(self.assigned_in(&for_stmt.orelse, var)?);
                Assigned::List(items)
            }
            Stmt::While(while_stmt) => {
                let mut items = self.assigned_in(&while_stmt.body, var)?;
                items.extend(self.assigned_in(&while_stmt.orelse, var)?);
                Assigned::List(items)
            }
            Stmt::AugAssign(aug) => match aug.target.as_ref() {
                Expr::Name(n) if n.id.as_str() == var => Assigned::Value(&aug.value),
                _ => Assigned::Nothing,
            },
            Stmt::Assign(assign) => match (assign.targets.first(), assign.value.as_ref()) {
                (Some(Expr::Name(n)), _) if n.id.as_str() == var => Assigned::Value(&assign.value),
                (Some(Expr::Tuple(targets)), Expr::Tuple(values)) => {
                    let mut result = Assigned::Nothing;
                    for (pos, target) in targets.elts.iter().enumerate() {
                        let Expr::Name(name) = target else {
                            return Err(Abort);
                        };
                        if name.id.as_str() == var {
                            result = Assigned::Value(values.elts.get(pos).ok_or(Abort)?);
                            break;
                        }
                    }
                    result
                }
                _ => Assigned::Nothing,
            },
            _ => Assigned::Nothing,
        })
    }

    fn evaluate_var(&mut self, var: &ExprName, until: u32) -> Result<bool, Abort> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Abort);
        }
        let result = self.evaluate_var_inner(var, until);
        self.depth -= 1;
        result
    }

    fn evaluate_var_inner(&mut self, var: &ExprName, until: u32) -> Result<bool, Abort> {
        let name = var.id.as_str();
        if self.scope.is_parameter(name) {
            return Ok(false);
        }
        let mut secure = false;
        for stmt in self.scope.body() {
            if self.ctx.line_of_stmt(stmt) >= until {
                break;
            }
            let to = self.assigned(stmt, name)?;
            if !to.truthy() {
                continue;
            }
            match to {
                Assigned::Value(value) if is_str_constant(value) => secure = true,
                Assigned::Value(Expr::Name(other)) => {
                    secure = self.evaluate_var(other, self.ctx.line_of(other.range()))?
                }
                Assigned::Value(call @ Expr::Call(_)) => secure = self.evaluate_call(call)?,
                Assigned::List(items) => {
                    let mut num_secure = 0;
                    for item in &items {
                        match item {
                            Assigned::Value(value) if is_str_constant(value) => num_secure += 1,
                            Assigned::Value(Expr::Name(other)) => {
                                if self.evaluate_var(other, self.ctx.line_of_stmt(stmt))? {
                                    num_secure += 1;
                                } else {
                                    break;
                                }
                            }
                            _ => break,
                        }
                    }
                    secure = num_secure == items.len();
                    if !secure {
                        break;
                    }
                }
                _ => {
                    secure = false;
                    break;
                }
            }
        }
        Ok(secure)
    }

    /// `"...".format(args)` (a constant receiver, no keywords) whose arguments are all secure.
    fn evaluate_call(&mut self, call: &'a Expr) -> Result<bool, Abort> {
        let Expr::Call(call_expr) = call else {
            return Ok(false);
        };
        let formats_constant = matches!(
            call_expr.func.as_ref(),
            Expr::Attribute(a) if a.attr.as_str() == "format" && is_constant(&a.value)
        );
        if !formats_constant || !call_expr.arguments.keywords.is_empty() {
            return Ok(false);
        }
        let args: Vec<&Expr> = call_expr.arguments.args.iter().collect();
        self.evaluate_format_args(args, self.line(call))
    }

    fn evaluate_format_args(
        &mut self,
        mut args: Vec<&'a Expr>,
        call_line: u32,
    ) -> Result<bool, Abort> {
        let mut num_secure = 0;
        let mut i = 0;
        while i < args.len() {
            let arg = args[i];
            match arg {
                a if is_str_constant(a) => num_secure += 1,
                Expr::Name(name) => {
                    if self.evaluate_var(name, call_line)? {
                        num_secure += 1;
                    } else {
                        break;
                    }
                }
                Expr::Call(_) => {
                    if self.evaluate_call(arg)? {
                        num_secure += 1;
                    } else {
                        break;
                    }
                }
                Expr::Starred(starred) => match starred.value.as_ref() {
                    Expr::List(l) => {
                        args.extend(l.elts.iter());
                        num_secure += 1;
                    }
                    Expr::Tuple(t) => {
                        args.extend(t.elts.iter());
                        num_secure += 1;
                    }
                    _ => break,
                },
                _ => break,
            }
            i += 1;
        }
        Ok(num_secure == args.len())
    }
}

/// The nearest enclosing (non-async) function, else the module.
fn enclosing_scope<'a>(ctx: &CallContext<'a, '_>) -> Scope<'a> {
    for parent in ctx.parents.iter().rev() {
        if let Parent::Stmt(Stmt::FunctionDef(def)) = parent
            && !def.is_async
        {
            return Scope::Function(def);
        }
    }
    Scope::Module(ctx.module_body)
}

pub(crate) fn check(ctx: &CallContext) -> Option<Issue> {
    if !ctx.imports.imported_like("django.utils.safestring")
        || !AFFECTED.contains(&ctx.name.as_str())
    {
        return None;
    }
    let xss = ctx.args().first()?;
    if is_str_constant(xss) {
        return None;
    }
    let mut analysis = Analysis {
        ctx,
        scope: enclosing_scope(ctx),
        depth: 0,
    };
    let call_line = ctx.line_of(ctx.call.range());
    let secure = match xss {
        Expr::Name(name) => {
            if analysis.scope.is_parameter(name.id.as_str()) {
                Ok(false)
            } else {
                analysis.evaluate_var(name, call_line)
            }
        }
        Expr::Call(_) => analysis.evaluate_call(xss),
        Expr::BinOp(binop) if binop.op == Operator::Mod && is_str_constant(&binop.left) => {
            let args: Vec<&Expr> = match binop.right.as_ref() {
                Expr::Tuple(t) => t.elts.iter().collect(),
                other => vec![other],
            };
            analysis.evaluate_format_args(args, ctx.line_of(xss.range()))
        }
        _ => Ok(false),
    };
    match secure {
        Ok(false) => Some(Issue::new(
            Severity::Medium,
            Confidence::High,
            "Potential XSS on mark_safe function.",
        )),
        Ok(true) | Err(Abort) => None,
    }
}

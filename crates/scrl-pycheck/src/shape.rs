//! What a parsed program does at module level, for the reward's "no program" and "no-op" rules
//! (docs/reward.md): a module of nothing but comments, docstrings, `pass` and `...` is no program
//! at all; a module of nothing but definitions, imports, constant assignments and those is a
//! program that runs none of its own code when executed (its function bodies are never called).
//! Anything else runs. Knows nothing about execution or rewards.

use ruff_python_ast::{self as ast, Expr, Stmt};
use serde::Serialize;

use crate::checker::is_constant;
use crate::parse_thread::run_guarded;
use crate::syntax::{PythonVersion, parse};

/// The module-level shape of a program (meaningful for a program that parses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramShape {
    /// No statement but docstrings and other constants, `pass` or `...` (empty, whitespace or
    /// comment-only text included).
    Empty,
    /// Only definitions (functions, classes whose bodies are themselves inert), imports,
    /// assignments of constants, docstrings and `pass`: running it executes none of its code.
    NoOp,
    /// Some statement runs when the module is executed.
    Runs,
}

/// The shape of `source` (its own parse, on a guarded thread). A source the parser cannot handle at
/// all (over the size cap) is reported as [`ProgramShape::Runs`], the shape that claims nothing.
pub fn program_shape(source: &str, target: PythonVersion) -> ProgramShape {
    run_guarded(source, || {
        let parsed = parse(source, target);
        shape_of(parsed.syntax().as_module().map_or(&[][..], |m| &m.body[..]))
    })
    .unwrap_or(ProgramShape::Runs)
}

pub(crate) fn shape_of(body: &[Stmt]) -> ProgramShape {
    if body.iter().all(is_nothing) {
        ProgramShape::Empty
    } else if body.iter().all(|s| is_nothing(s) || is_definition(s, 0)) {
        ProgramShape::NoOp
    } else {
        ProgramShape::Runs
    }
}

fn is_nothing(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Pass(_) => true,
        Stmt::Expr(e) => is_constant(&e.value),
        _ => false,
    }
}

/// Expressions whose evaluation runs nothing of the program's: constants, names, attribute chains,
/// subscripts and `|` of those (annotations like `list[int] | None`), and literal containers of
/// them.
fn is_inert(expr: &Expr) -> bool {
    match expr {
        e if is_constant(e) => true,
        Expr::Name(_) => true,
        Expr::Attribute(a) => is_inert(&a.value),
        Expr::Subscript(s) => is_inert(&s.value) && is_inert(&s.slice),
        Expr::BinOp(b) => b.op == ast::Operator::BitOr && is_inert(&b.left) && is_inert(&b.right),
        Expr::UnaryOp(u) => is_inert(&u.operand),
        Expr::Tuple(t) => t.elts.iter().all(is_inert),
        Expr::List(l) => l.elts.iter().all(is_inert),
        Expr::Set(s) => s.elts.iter().all(is_inert),
        Expr::Dict(d) => d
            .items
            .iter()
            .all(|i| i.key.as_ref().is_none_or(is_inert) && is_inert(&i.value)),
        _ => false,
    }
}

/// Nested classes deeper than this count as running code (bounds the recursion).
const MAX_CLASS_NESTING: usize = 50;

fn is_definition(stmt: &Stmt, depth: usize) -> bool {
    match stmt {
        Stmt::Import(_) | Stmt::ImportFrom(_) => true,
        Stmt::FunctionDef(def) => {
            def.decorator_list.is_empty()
                && def.returns.as_deref().is_none_or(is_inert)
                && def.parameters.iter().all(|p| {
                    p.default().is_none_or(is_inert) && p.annotation().is_none_or(is_inert)
                })
        }
        Stmt::ClassDef(class) => {
            depth < MAX_CLASS_NESTING
                && class.decorator_list.is_empty()
                && class.arguments.as_deref().is_none_or(|a| {
                    a.args.iter().all(is_inert) && a.keywords.iter().all(|k| is_inert(&k.value))
                })
                && class
                    .body
                    .iter()
                    .all(|s| is_nothing(s) || is_definition(s, depth + 1))
        }
        Stmt::Assign(a) => {
            a.targets.iter().all(|t| matches!(t, Expr::Name(_))) && is_inert(&a.value)
        }
        Stmt::AnnAssign(a) => {
            matches!(*a.target, Expr::Name(_))
                && is_inert(&a.annotation)
                && a.value.as_deref().is_none_or(is_inert)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> ProgramShape {
        program_shape(src, PythonVersion::default())
    }

    #[test]
    fn nothing_at_all_is_empty() {
        for src in [
            "",
            "   \n\t\n",
            "# TODO\n",
            "pass\n",
            "...\n",
            "\"\"\"doc\"\"\"\n",
            "'''a'''\npass\n# x\n",
        ] {
            assert_eq!(shape(src), ProgramShape::Empty, "{src:?}");
        }
    }

    #[test]
    fn definitions_only_are_no_ops() {
        for src in [
            "def solve():\n    \"\"\"Read n and print it.\"\"\"\n",
            "import sys\nfrom math import gcd\nR = 3\ndef f(a: int = 2) -> list[int] | None:\n    \
             print(a)\n",
            "class A(object):\n    x = 1\n    def m(self):\n        return input()\n",
        ] {
            assert_eq!(shape(src), ProgramShape::NoOp, "{src:?}");
        }
    }

    #[test]
    fn anything_that_runs_is_runs() {
        for src in [
            "print(1)\n",
            "x = input()\n",
            "def main():\n    print(1)\nif __name__ == '__main__':\n    main()\n",
            "def f(x=print('hi')):\n    pass\n",
            "@dec\ndef f():\n    pass\n",
            "class A:\n    print(input())\n",
            "a.b = 1\n",
            "for i in []:\n    pass\n",
        ] {
            assert_eq!(shape(src), ProgramShape::Runs, "{src:?}");
        }
    }
}

//! The one shared name resolver the rules ask "what does this call resolve to?". It reproduces
//! Bandit's model exactly, quirks included, because matching Bandit is the point: one file-wide
//! alias table filled in visiting order (`import a.b as c` maps `c` to `a.b`; `from a import b as
//! c` maps `c` to `a.b`, and a relative `from .a import b` maps `b` to `a.b`), a set of imported
//! names, and dotted names built from `Name`/`Attribute` chains. Knows nothing about individual
//! rules.

use std::collections::{HashMap, HashSet};

use ruff_python_ast::{Expr, StmtImport, StmtImportFrom};

/// Imports seen so far in visiting order.
#[derive(Default)]
pub(crate) struct Imports {
    aliases: HashMap<String, String>,
    imported: HashSet<String>,
}

impl Imports {
    /// Records `import a, b.c as d`.
    pub(crate) fn record_import(&mut self, stmt: &StmtImport) {
        for alias in &stmt.names {
            if let Some(asname) = &alias.asname {
                self.aliases
                    .insert(asname.to_string(), alias.name.to_string());
            }
            self.imported.insert(alias.name.to_string());
        }
    }

    /// Records `from m import a as b`; without a module name (`from . import x`) it is an `import
    /// x`.
    pub(crate) fn record_import_from(&mut self, stmt: &StmtImportFrom) {
        let Some(module) = &stmt.module else {
            for alias in &stmt.names {
                if let Some(asname) = &alias.asname {
                    self.aliases
                        .insert(asname.to_string(), alias.name.to_string());
                }
                self.imported.insert(alias.name.to_string());
            }
            return;
        };
        for alias in &stmt.names {
            let full = format!("{module}.{}", alias.name);
            let local = alias.asname.as_ref().unwrap_or(&alias.name);
            self.aliases.insert(local.to_string(), full.clone());
            self.imported.insert(full);
        }
    }

    /// The dotted name a call's function resolves to: `subprocess.Popen` for `sp.Popen(...)` after
    /// `import subprocess as sp`. Anything but a `Name`/`Attribute` chain gives an empty part, so
    /// `f().run` resolves to `.run` and `a[0]()` to the empty string, as in Bandit.
    pub(crate) fn call_qualname(&self, func: &Expr) -> String {
        match func {
            Expr::Name(name) => self.resolve_alias(name.id.as_str()),
            Expr::Attribute(_) => self.attribute_qualname(func),
            _ => String::new(),
        }
    }

    fn attribute_qualname(&self, expr: &Expr) -> String {
        match expr {
            Expr::Name(name) => self.resolve_alias(name.id.as_str()),
            Expr::Attribute(attribute) => {
                let dotted = format!(
                    "{}.{}",
                    self.attribute_qualname(&attribute.value),
                    attribute.attr
                );
                self.aliases.get(&dotted).cloned().unwrap_or(dotted)
            }
            _ => String::new(),
        }
    }

    fn resolve_alias(&self, name: &str) -> String {
        self.aliases
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    /// Bandit's `get_qual_attr`, used for function defaults: `prefix.attr` for an attribute whose
    /// value is a (possibly aliased) name, `.attr` for any other attribute, empty for anything
    /// else.
    pub(crate) fn default_qualname(&self, expr: &Expr) -> String {
        match expr {
            Expr::Attribute(attribute) => {
                let prefix = match attribute.value.as_ref() {
                    Expr::Name(name) => self.resolve_alias(name.id.as_str()),
                    _ => String::new(),
                };
                format!("{prefix}.{}", attribute.attr)
            }
            _ => String::new(),
        }
    }

    /// Whether exactly `module` was imported (`import module`, or `from x import y` for `x.y`).
    pub(crate) fn imported_exact(&self, module: &str) -> bool {
        self.imported.contains(module)
    }

    /// Whether any imported name contains `module` as a substring (Bandit's
    /// `is_module_imported_like`).
    pub(crate) fn imported_like(&self, module: &str) -> bool {
        self.imported.iter().any(|name| name.contains(module))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruff_python_ast::Stmt;

    fn resolve(src: &str) -> String {
        let parsed = ruff_python_parser::parse_module(src).expect("test source parses");
        let mut imports = Imports::default();
        let mut last = String::new();
        for stmt in &parsed.syntax().body {
            match stmt {
                Stmt::Import(s) => imports.record_import(s),
                Stmt::ImportFrom(s) => imports.record_import_from(s),
                Stmt::Expr(e) => {
                    if let Expr::Call(call) = e.value.as_ref() {
                        last = imports.call_qualname(&call.func);
                    }
                }
                _ => {}
            }
        }
        last
    }

    #[test]
    fn aliases_and_from_imports_resolve() {
        assert_eq!(
            resolve("import subprocess as sp\nsp.Popen(x)\n"),
            "subprocess.Popen"
        );
        assert_eq!(
            resolve("from subprocess import Popen as P\nP(x)\n"),
            "subprocess.Popen"
        );
        assert_eq!(resolve("from os import system\nsystem(x)\n"), "os.system");
        assert_eq!(resolve("import os.path as p\np.join(x)\n"), "os.path.join");
        assert_eq!(resolve("from .pkg import run\nrun(x)\n"), "pkg.run");
        assert_eq!(resolve("from . import tool as t\nt.go(x)\n"), "tool.go");
    }

    #[test]
    fn non_name_bases_give_bandits_partial_names() {
        assert_eq!(resolve("f().run(x)\n"), ".run");
        assert_eq!(resolve("a[0](x)\n"), "");
        assert_eq!(resolve("x.y.z(1)\n"), "x.y.z");
    }

    #[test]
    fn an_alias_applies_only_after_its_import() {
        assert_eq!(
            resolve("sp.Popen(x)\nimport subprocess as sp\n"),
            "sp.Popen"
        );
    }
}

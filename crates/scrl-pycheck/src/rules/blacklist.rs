//! Bandit's blacklist test: one test that checks calls and imports against ordered tables of dotted
//! names and reports at most one entry per node, the first that matches. Entries live one per file
//! (`b301_pickle`, `b401_import_telnetlib`, ...). LOW-only entries (B311, B403-B409) are never
//! reported, but they are kept here because they still win the first-match race: `import pickle,
//! telnetlib` reports only B403 in Bandit, so it reports nothing at `-ll`.

use ruff_python_ast::{Alias, Expr};

use crate::checker::{CallContext, Issue, Lit, argument_value};
use crate::finding::{Confidence, Severity};

/// One blacklist entry.
pub(crate) struct Entry {
    pub id: &'static str,
    pub severity: Severity,
    pub qualnames: &'static [&'static str],
    /// Issue text; `{name}` is replaced by the matched name.
    pub message: &'static str,
}

const B311_RANDOM: Entry = Entry {
    id: "B311",

    severity: Severity::Low,
    qualnames: &[
        "random.Random",
        "random.random",
        "random.randrange",
        "random.randint",
        "random.choice",
        "random.choices",
        "random.uniform",
        "random.triangular",
        "random.randbytes",
        "random.sample",
        "random.getrandbits",
    ],
    message: "Standard pseudo-random generators are not for cryptography.",
};

const LOW_IMPORTS: &[Entry] = &[
    Entry {
        id: "B403",
        severity: Severity::Low,
        qualnames: &["pickle", "cPickle", "dill", "shelve"],
        message: "",
    },
    Entry {
        id: "B404",
        severity: Severity::Low,
        qualnames: &["subprocess"],
        message: "",
    },
    Entry {
        id: "B405",
        severity: Severity::Low,
        qualnames: &["xml.etree.cElementTree", "xml.etree.ElementTree"],
        message: "",
    },
    Entry {
        id: "B406",
        severity: Severity::Low,
        qualnames: &["xml.sax"],
        message: "",
    },
    Entry {
        id: "B407",
        severity: Severity::Low,
        qualnames: &["xml.dom.expatbuilder"],
        message: "",
    },
    Entry {
        id: "B408",
        severity: Severity::Low,
        qualnames: &["xml.dom.minidom"],
        message: "",
    },
    Entry {
        id: "B409",
        severity: Severity::Low,
        qualnames: &["xml.dom.pulldom"],
        message: "",
    },
];

/// Call entries in Bandit's order: the call blacklist, then the import blacklist (which also
/// applies to `__import__("x")` and `importlib.import_module("x")`).
fn call_entries() -> impl Iterator<Item = &'static Entry> {
    use super::*;
    [
        &b301_pickle::ENTRY,
        &b302_marshal::ENTRY,
        &b303_md5::ENTRY,
        &b304_ciphers::ENTRY,
        &b305_cipher_modes::ENTRY,
        &b306_mktemp_q::ENTRY,
        &b307_eval::ENTRY,
        &b308_mark_safe::ENTRY,
        &b310_urllib_urlopen::ENTRY,
        &B311_RANDOM,
        &b312_telnetlib::ENTRY,
        &b313_xml_bad_celementtree::ENTRY,
        &b314_xml_bad_elementtree::ENTRY,
        &b315_xml_bad_expatreader::ENTRY,
        &b316_xml_bad_expatbuilder::ENTRY,
        &b317_xml_bad_sax::ENTRY,
        &b318_xml_bad_minidom::ENTRY,
        &b319_xml_bad_pulldom::ENTRY,
        &b321_ftplib::ENTRY,
        &b323_unverified_context::ENTRY,
    ]
    .into_iter()
    .chain(import_entries())
}

fn import_entries() -> impl Iterator<Item = &'static Entry> {
    use super::*;
    [&b401_import_telnetlib::ENTRY, &b402_import_ftplib::ENTRY]
        .into_iter()
        .chain(LOW_IMPORTS.iter())
        .chain([
            &b411_import_xmlrpclib::ENTRY,
            &b412_import_httpoxy::ENTRY,
            &b413_import_pycrypto::ENTRY,
            &b415_import_pyghmi::ENTRY,
        ])
}

fn report(entry: &'static Entry, matched: &str) -> (&'static str, &'static str, Issue) {
    let text = entry.message.replace("{name}", matched);
    // Bandit reports every blacklist hit under the test name "blacklist".
    (
        entry.id,
        "blacklist",
        Issue::new(entry.severity, Confidence::High, text),
    )
}

/// The name a call is matched under: the resolved function name, or the module named by the first
/// argument of `__import__` / `importlib.import_module` / `importlib.__import__`.
fn blacklisted_call_name(ctx: &CallContext) -> Option<String> {
    if let Expr::Name(name) = ctx.call.func.as_ref()
        && name.id.as_str() == "__import__"
    {
        return Some(match ctx.args().first() {
            Some(Expr::StringLiteral(s)) => s.value.to_str().to_string(),
            Some(_) => "UNKNOWN".to_string(),
            None => String::new(),
        });
    }
    if ctx.qualname == "importlib.import_module" || ctx.qualname == "importlib.__import__" {
        let value = match ctx.args().first() {
            Some(first) => argument_value(first),
            // Bandit indexes the keywords with "name"; without one its test errors out and reports
            // nothing.
            None => ctx.keyword("name").map(|k| argument_value(&k.value))?,
        };
        return match value {
            Lit::Str(s) => Some(s),
            _ => None,
        };
    }
    Some(ctx.qualname.clone())
}

/// The blacklist entry a call hits, if any.
pub(crate) fn check_call(ctx: &CallContext) -> Option<(&'static str, &'static str, Issue)> {
    let name = blacklisted_call_name(ctx)?;
    call_entries()
        .find(|entry| entry.qualnames.contains(&name.as_str()))
        .map(|entry| report(entry, &name))
}

/// The blacklist entry an `import` (prefix "") or `from module import` (prefix "module.") hits: a
/// prefix match on the full dotted name, entries outermost, names inner.
pub(crate) fn check_import(
    names: &[Alias],
    prefix: &str,
) -> Option<(&'static str, &'static str, Issue)> {
    for entry in import_entries() {
        for alias in names {
            let full = format!("{prefix}{}", alias.name);
            if entry.qualnames.iter().any(|q| full.starts_with(q)) {
                return Some(report(entry, alias.name.as_str()));
            }
        }
    }
    None
}

/// Ids of the blacklist entries that can be reported (MEDIUM/HIGH).
pub(crate) fn reported_ids() -> Vec<&'static str> {
    call_entries()
        .filter(|e| e.severity != Severity::Low)
        .map(|e| e.id)
        .collect()
}

//! B613 `trojansource` (HIGH severity, MEDIUM confidence).
//!
//! ## What it does
//! Flags the first line (numbered like Python's `str.splitlines`) that contains a Unicode
//! bidirectional control character; the column is the 1-based character index of the first such
//! character, checked in Bandit's order of characters.
//!
//! ## Why is this bad?
//! Bidirectional overrides make code display differently from how it runs (CVE-2021-42574).
//!
//! ## Example
//! ```python
//! access = "user\u202e \u2066# admin\u2069\u2066"
//! ```

use crate::checker::Issue;
use crate::finding::{Confidence, Severity};
use crate::source::python_splitlines;

const BIDI_CHARACTERS: &[char] = &[
    '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200f}',
];

pub(crate) fn check(source: &str) -> Option<Issue> {
    for (i, line) in python_splitlines(source).into_iter().enumerate() {
        for bidi in BIDI_CHARACTERS {
            if let Some(byte) = line.find(*bidi) {
                let lineno = i as u32 + 1;
                let column = line[..byte].chars().count() as u32 + 1;
                let mut issue = Issue::new(
                    Severity::High,
                    Confidence::Medium,
                    format!(
                        "The source contains the bidirectional control character U+{:04X}.",
                        *bidi as u32
                    ),
                );
                issue.line = Some(lineno);
                issue.col = Some(column);
                issue.line_range = Some(vec![lineno]);
                return Some(issue);
            }
        }
    }
    None
}

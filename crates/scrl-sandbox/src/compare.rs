//! Output comparison shared by the reward and the evaluation: is a program's stdout the expected
//! answer? It knows nothing about processes or verdicts; it only compares bytes with the expected
//! text.
//!
//! Two modes:
//!
//! * [`CompareMode::Apps`] (default) follows the tolerant part of the APPS checker's cascade
//!   (hendrycks/apps `testing_util.py`). A match needs:
//!   1. **Lines**: both texts are split on `\n`; every line is stripped of surrounding whitespace
//!      (so `\r`, tabs, trailing and leading spaces never matter) — APPS steps 1 and 3.
//!   2. **Blank lines** are dropped before comparing, wherever they are — APPS step 3.
//!   3. **Tokens**: each remaining line is split on runs of whitespace; the two texts must have the
//!      same number of lines and each pair of lines the same number of tokens — APPS step 5 (token
//!      lists).
//!   4. **Token equality**: two tokens match when they are the same string, or when the expected
//!      token is a non-integer number (it has a `.` or an exponent), the actual token is a plain
//!      number as a number, and `|a - b| <= 1e-8 + 1e-5 * |b|` (`b` expected), numpy `allclose`'s
//!      default tolerances — APPS step 4. APPS applies the float rule only when every line (or
//!      every token of the first line) is a number; here it applies per token, so `YES 0.3333333`
//!      matches `YES 0.33333334` too. APPS also applies it to integer answers, which accepts
//!      `1000001` for `1000000`; here an integer expected token must match exactly. Numerically NaN
//!      equals nothing, as in numpy (the identical text `nan` still matches by rule 4's first
//!      clause).
//!
//!   Deliberately left out: APPS steps 6 and 7 compare *sets* of per-line token sets, which accept
//!   permuted, duplicated or dropped lines (`NO\nYES` matches `YES\nYES\nNO`); as a reward signal
//!   that is a hack, so order and multiplicity always matter here. Case always matters, as in APPS.
//!
//! * [`CompareMode::Exact`]: both texts are split on `\n`, each line has trailing whitespace
//!   removed (`rstrip`), and trailing empty lines are ignored. Leading whitespace, inner spaces and
//!   blank lines in the middle all matter.
//!
//! Program output that is not valid UTF-8 is decoded lossily (invalid bytes become U+FFFD), so it
//! can only match an expected text that contains U+FFFD at the same place.
//!
//! Hardening, both modes (a program must not pass by output that only *looks* right):
//! * **Whitespace is ASCII only**: space, `\t`, `\r`, `\x0b`, `\x0c` separate tokens and are
//!   stripped; `\n` alone ends a line. Unicode spaces and line separators (U+00A0, U+2028, U+3000,
//!   ...) are characters like any other, so `3\u{2028}4` is one token, not two lines or two tokens.
//! * **Control characters are characters**: a NUL byte, an ANSI escape (`\x1b[2K`) or a backspace
//!   inside a line makes it differ from a line without it; only the ASCII whitespace above is ever
//!   ignored.
//! * **Numbers** (APPS mode's float rule): the program's token must be a plain decimal number
//!   (`[+-]digits[.digits][e[+-]digits]`, at most 400 exponent digits' worth of magnitude:
//!   |exponent| <= 400) to get tolerance; `inf`, `nan`, `infinity` and friends match only as
//!   identical text, never numerically, and a number whose magnitude overflows to infinity matches
//!   nothing numerically.

use serde::{Deserialize, Serialize};

/// How a program's output is compared with the expected output.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum CompareMode {
    /// APPS-style tolerance: per-line strip, blank lines ignored, whitespace tokens, float
    /// tolerance.
    #[default]
    Apps,
    /// Per-line rstrip, trailing blank lines ignored; everything else must be identical.
    Exact,
}

/// Relative tolerance of the float rule (numpy `allclose` default).
pub const FLOAT_RTOL: f64 = 1e-5;
/// Absolute tolerance of the float rule (numpy `allclose` default).
pub const FLOAT_ATOL: f64 = 1e-8;

/// True when `actual` (raw program stdout) is an acceptable answer for `expected` under `mode`.
pub fn outputs_match(actual: &[u8], expected: &str, mode: CompareMode) -> bool {
    let actual = String::from_utf8_lossy(actual);
    match mode {
        CompareMode::Apps => apps_match(&actual, expected),
        CompareMode::Exact => exact_lines(&actual) == exact_lines(expected),
    }
}

/// ASCII whitespace other than `\n`, which ends lines.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

fn exact_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches(is_blank))
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

fn token_lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.split('\n')
        .map(|l| {
            l.split(is_blank)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
}

fn apps_match(actual: &str, expected: &str) -> bool {
    let mut a = token_lines(actual);
    let mut e = token_lines(expected);
    loop {
        match (a.next(), e.next()) {
            (None, None) => return true,
            (Some(la), Some(le)) => {
                if la.len() != le.len() || !la.iter().zip(&le).all(|(x, y)| tokens_match(x, y)) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn tokens_match(actual: &str, expected: &str) -> bool {
    if actual == expected {
        return true;
    }
    if !is_non_integer_number(expected) {
        return false;
    }
    match (plain_number(actual), plain_number(expected)) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() => {
            (a - b).abs() <= FLOAT_ATOL + FLOAT_RTOL * b.abs()
        }
        _ => false,
    }
}

/// The value of a token written as a plain decimal number (`[+-]digits[.digits][e[+-]digits]`, or
/// `.digits`), with an exponent of at most 400 in magnitude. `inf`, `nan`, hex and `_` are refused.
fn plain_number(token: &str) -> Option<f64> {
    let body = token.strip_prefix(['+', '-']).unwrap_or(token);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    if let Some(e) = exponent {
        let e_digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e_digits.is_empty() || !digits(e_digits) || e_digits.trim_start_matches('0').len() > 3 {
            return None;
        }
        if e_digits.parse::<u32>().ok()? > 400 {
            return None;
        }
    }
    token.parse::<f64>().ok()
}

fn is_non_integer_number(token: &str) -> bool {
    plain_number(token).is_some() && token.contains(['.', 'e', 'E'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps(a: &str, e: &str) -> bool {
        outputs_match(a.as_bytes(), e, CompareMode::Apps)
    }
    fn exact(a: &str, e: &str) -> bool {
        outputs_match(a.as_bytes(), e, CompareMode::Exact)
    }

    #[test]
    fn apps_identical_and_outer_whitespace() {
        assert!(apps("3\n", "3"));
        assert!(apps("  3  \n\n", "3\n"));
        assert!(!apps("4\n", "3\n"));
    }

    #[test]
    fn apps_per_line_strip_and_crlf() {
        assert!(apps("1 2\r\n 3 4 \r\n", "1 2\n3 4\n"));
        assert!(apps("\t1\t2", "1 2"));
    }

    #[test]
    fn apps_blank_lines_anywhere_are_ignored() {
        assert!(apps("1\n\n\n2\n", "1\n2"));
        assert!(apps("\n\n1\n2", "1\n\n2\n\n"));
    }

    #[test]
    fn apps_whitespace_tokens_but_line_structure_kept() {
        assert!(apps("1    2  3", "1 2 3"));
        assert!(
            !apps("1 2\n3", "1\n2 3"),
            "tokens may not move across lines"
        );
        assert!(!apps("1 2 3", "1 2"));
        assert!(!apps("1 2", "1 2\n3"));
    }

    #[test]
    fn apps_float_tolerance() {
        assert!(apps("0.3333333", "0.33333334"));
        assert!(apps("1", "1.0"));
        assert!(apps("100000", "1e5"));
        assert!(
            !apps("1.0", "1"),
            "an integer answer must be printed as an integer"
        );
        assert!(apps("YES 2.0000001", "YES 2.0"));
        assert!(!apps("0.334", "0.333"));
        assert!(
            !apps("1000001", "1000000"),
            "no float tolerance on integer answers"
        );
        assert!(
            apps("1000001", "1000000.0"),
            "relative tolerance on a float answer"
        );
        assert!(apps("nan", "nan"), "identical text always matches");
        assert!(
            !apps("NaN", "nan"),
            "numerically, NaN never matches, as with numpy"
        );
        assert!(apps("inf", "inf"));
        assert!(!apps("inf", "1e308"));
    }

    #[test]
    fn hostile_outputs_do_not_match() {
        for mode in [CompareMode::Apps, CompareMode::Exact] {
            let m = |a: &str, e: &str| outputs_match(a.as_bytes(), e, mode);
            assert!(!m("3\0", "3"), "NUL is a character ({mode:?})");
            assert!(!m("\x003", "3"));
            assert!(
                !m("4\r3", "3"),
                "a carriage return does not erase ({mode:?})"
            );
            assert!(
                !m("\x1b[2K3", "3"),
                "ANSI escapes are characters ({mode:?})"
            );
            assert!(!m("\x1b[31m3\x1b[0m", "3"));
            assert!(!m("4\x083", "3"), "backspace");
            assert!(
                !m("3\u{2028}4", "3\n4"),
                "U+2028 does not end a line ({mode:?})"
            );
            assert!(
                !m("3\u{a0}4", "3 4"),
                "NBSP does not separate tokens ({mode:?})"
            );
            assert!(
                !m("3\u{3000}", "3"),
                "ideographic space is not stripped ({mode:?})"
            );
            assert!(!m("3\u{85}", "3"), "NEL is not stripped ({mode:?})");
            assert!(m("3\r\n", "3\n"), "CRLF line ends still match ({mode:?})");
        }
        assert!(!apps("nan", "0.5"));
        assert!(
            !apps("INFINITY", "inf"),
            "inf matches only as identical text"
        );
        assert!(!apps("inf", "1e999"));
        assert!(
            !apps("1e999", "1e998"),
            "overflowing numbers match only as identical text"
        );
        assert!(!apps("1e-99999", "0.0"), "huge exponents get no tolerance");
        assert!(!apps("0e99999999999999999999", "0.0"));
        assert!(!apps("0x1p3", "8.0"), "hex floats are not plain numbers");
        assert!(apps("1e-400", "0.0"), "exponent 400 is still a number");
        assert!(apps("+0.5", "0.5") && apps(".5", "0.5") && apps("5e-1", "0.5"));
        assert!(
            apps("  3\t\x0b\x0c", "3"),
            "ASCII whitespace is still whitespace"
        );
    }

    #[test]
    fn apps_float_tolerance_is_relative_to_expected() {
        // 1e-5 relative on 1e9 is 1e4: a large absolute difference that allclose accepts.
        assert!(apps("1000005000", "1000000000.0"));
        assert!(!apps("1000020000", "1000000000.0"));
    }

    #[test]
    fn apps_case_and_order_matter() {
        assert!(!apps("yes", "YES"));
        assert!(!apps("NO\nYES", "YES\nNO"));
        assert!(
            !apps("NO\nYES", "YES\nYES\nNO"),
            "APPS set rules (6, 7) are not applied"
        );
    }

    #[test]
    fn apps_empty_outputs() {
        assert!(apps("", ""));
        assert!(apps("\n \n", ""));
        assert!(!apps("", "0"));
        assert!(!apps("0", ""));
    }

    #[test]
    fn exact_rstrip_and_trailing_blank_lines() {
        assert!(exact("1 2  \n3\n\n\n", "1 2\n3"));
        assert!(exact("1\r\n2\r\n", "1\n2\n"));
    }

    #[test]
    fn exact_keeps_leading_space_inner_space_and_inner_blank_lines() {
        assert!(!exact(" 1", "1"));
        assert!(!exact("1  2", "1 2"));
        assert!(!exact("1\n\n2", "1\n2"));
        assert!(!exact("\n1", "1"));
    }

    #[test]
    fn exact_has_no_float_tolerance() {
        assert!(!exact("1.0", "1"));
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        assert!(!outputs_match(b"\xff", "x", CompareMode::Exact));
        assert!(outputs_match(b"\xff", "\u{fffd}", CompareMode::Exact));
        assert!(outputs_match(
            b"\xffa 1",
            "\u{fffd}a 1.0",
            CompareMode::Apps
        ));
    }

    #[test]
    fn default_mode_is_apps_and_serializes_snake_case() {
        assert_eq!(CompareMode::default(), CompareMode::Apps);
        assert_eq!(
            serde_json::to_string(&CompareMode::Exact).unwrap(),
            "\"exact\""
        );
        assert_eq!(
            serde_json::from_str::<CompareMode>("\"apps\"").unwrap(),
            CompareMode::Apps
        );
    }
}

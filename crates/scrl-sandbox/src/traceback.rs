//! Reading a Python traceback on stderr: the one classifier the sandbox's memory verdict, the
//! reward's per-test exception type and the evaluation's failure taxonomy all use.

/// The exception type named on the last line of a Python traceback on stderr, e.g.
/// `ZeroDivisionError` from `ZeroDivisionError: division by zero`, `KeyboardInterrupt` from a bare
/// name, or `json.decoder.JSONDecodeError` for a qualified name.
///
/// The rule: stderr must look like a traceback (a `Traceback (most recent call last):` header, or
/// a `File "...", line N` frame, which a SyntaxError report has without the header); its last
/// non-blank line must start in column 0; the name is what precedes the first `:` (or the whole
/// line), and it must be a dotted identifier. Anything else is `None`, so that a program that
/// merely prints a word to stderr (`sys.exit("Error")`, `print("MemoryError", file=sys.stderr)`) is
/// not mistaken for a crash.
pub fn exception_type(stderr: &str) -> Option<&str> {
    let looks_like_traceback = stderr.contains("Traceback (most recent call last):")
        || stderr
            .lines()
            .any(|l| l.trim_start().starts_with("File \"") && l.contains(", line "));
    if !looks_like_traceback {
        return None;
    }
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty())?;
    if last.starts_with(char::is_whitespace) {
        return None;
    }
    let name = last
        .split_once(':')
        .map_or(last, |(head, _)| head)
        .trim_end();
    let is_dotted_identifier = !name.is_empty()
        && name.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && chars.all(|c| c.is_alphanumeric() || c == '_')
        });
    is_dotted_identifier.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_exception_of_real_tracebacks() {
        let zde = "Traceback (most recent call last):\n  File \"/tmp/s.py\", line 3, in \
            <module>\n    print(1/0)\n          ~^~\nZeroDivisionError: division by zero\n";
        assert_eq!(exception_type(zde), Some("ZeroDivisionError"));
        let mem = "Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n";
        assert_eq!(exception_type(mem), Some("MemoryError"));
        let syn = "  File \"main.py\", line 1\n    def f(\n         ^\nSyntaxError: '(' was \
            never closed\n";
        assert_eq!(exception_type(syn), Some("SyntaxError"));
    }

    /// The cases where the three former readers (the sandbox's `MemoryError` test, the reward's
    /// `TestRun::exception_type` and the evaluation's `exception_type_from_stderr`) disagreed; the
    /// evaluation's rule, the one its tests pinned, is the rule now used by all three.
    #[test]
    fn cases_the_former_readers_disagreed_on() {
        // Words on stderr without a traceback: the sandbox took a last line starting with
        // `MemoryError` for a memory error and the reward took a bare word for an exception type;
        // neither is a crash report.
        assert_eq!(exception_type("MemoryError\n"), None);
        assert_eq!(exception_type("Error\n"), None);
        assert_eq!(exception_type("Error: bad input\n"), None);
        // The end of a long message cut out of a traceback's tail, without a frame in view: the
        // reward took `xxxx` for the type.
        assert_eq!(exception_type(&"x".repeat(600)), None);
        // A name that only starts with `MemoryError`: the sandbox counted it as one.
        let longer = "Traceback (most recent call last):\n  File \"main.py\", line 1\n\
            MemoryErrorish: no\n";
        assert_eq!(exception_type(longer), Some("MemoryErrorish"));
        // An indented last line (an exception group's box): the reward trimmed it and read
        // `ValueError`.
        let group = "Traceback (most recent call last):\n  File \"main.py\", line 1\n  | \
            ValueError: x\n  ValueError: y\n";
        assert_eq!(exception_type(group), None);
        // Names that are not dotted identifiers: the reward allowed any ASCII letters, digits,
        // `_` and `.` in any order.
        let frame = "Traceback (most recent call last):\n  File \"main.py\", line 1\n";
        assert_eq!(exception_type(&format!("{frame}1Error: x\n")), None);
        assert_eq!(exception_type(&format!("{frame}a..b: x\n")), None);
        assert_eq!(exception_type(&format!("{frame}.Error: x\n")), None);
        // Non-ASCII identifiers are identifiers to Python: the reward refused them.
        assert_eq!(
            exception_type(&format!("{frame}FehlerÄ: x\n")),
            Some("FehlerÄ")
        );
    }

    #[test]
    fn only_the_last_non_blank_line_names_the_type() {
        let tb = "Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n\
            \nDuring handling of the above exception, another exception occurred:\n\n\
            Traceback (most recent call last):\n  File \"main.py\", line 3\nValueError: bad\n\n";
        assert_eq!(exception_type(tb), Some("ValueError"));
        assert_eq!(exception_type(""), None);
        assert_eq!(
            exception_type("Traceback (most recent call last):\n\n"),
            None
        );
    }
}

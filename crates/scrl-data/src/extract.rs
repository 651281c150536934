//! Code extraction from model output: the first Python fenced block if there is a fence, otherwise
//! the text with leading and trailing prose removed. A line counts as prose only if it cannot be
//! Python where it stands (outside strings and brackets, at column 0, e.g. two plain words in a
//! row), so valid code without fences comes back unchanged. Knows nothing about problems or models.

/// The program in a model's reply.
pub fn extract_code(output: &str) -> String {
    if let Some(block) = fenced_block(output) {
        return block;
    }
    strip_prose(output)
}

/// The first fenced block tagged python/py/python3, else the first untagged one, else the first
/// block. An unclosed fence (generation cut off) runs to the end of the text.
fn fenced_block(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks: Vec<(String, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let start = i + 1;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .unwrap_or(lines.len());
        blocks.push((info.trim().to_ascii_lowercase(), start, end));
        i = end + 1;
    }
    let is_python = |tag: &str| matches!(tag, "python" | "py" | "python3" | "py3");
    let (_, start, end) = blocks
        .iter()
        .find(|b| is_python(&b.0))
        .or_else(|| blocks.iter().find(|b| b.0.is_empty()))
        .or_else(|| blocks.first())?;
    let mut code = lines[*start..*end].join("\n");
    if !code.is_empty() {
        code.push('\n');
    }
    Some(code)
}

fn strip_prose(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let prose = prose_lines(&lines);
    if !prose.iter().any(|p| *p) {
        return text.to_string();
    }
    let Some(first_code) = (0..lines.len()).find(|&i| !prose[i] && !lines[i].trim().is_empty())
    else {
        return String::new();
    };
    let end = (first_code..lines.len())
        .find(|&i| prose[i])
        .unwrap_or(lines.len());
    let mut code: String = lines[first_code..end].concat();
    let trimmed = code.trim_end().len();
    code.truncate(trimmed);
    code.push('\n');
    code
}

/// For each line, whether it is prose. Tracks Python's lexical state (triple-quoted strings,
/// brackets, backslash continuations) so that text inside a docstring is never taken for prose.
fn prose_lines(lines: &[&str]) -> Vec<bool> {
    let mut lexer = Lexer::default();
    lines
        .iter()
        .map(|line| {
            let at_statement_start = lexer.at_statement_start();
            lexer.feed_line(line);
            at_statement_start && is_prose(line)
        })
        .collect()
}

#[derive(Default)]
struct Lexer {
    triple: Option<char>,
    depth: i32,
    continued: bool,
}

impl Lexer {
    fn at_statement_start(&self) -> bool {
        self.triple.is_none() && self.depth <= 0 && !self.continued
    }

    fn feed_line(&mut self, line: &str) {
        let chars: Vec<char> = line.trim_end_matches(['\n', '\r']).chars().collect();
        let mut single: Option<char> = None;
        let mut i = 0;
        self.continued = false;
        while i < chars.len() {
            let c = chars[i];
            if let Some(q) = self.triple {
                if c == '\\' {
                    i += 2;
                    continue;
                }
                if c == q && chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q) {
                    self.triple = None;
                    i += 3;
                    continue;
                }
            } else if let Some(q) = single {
                if c == '\\' {
                    if i + 1 == chars.len() {
                        self.continued = true;
                    }
                    i += 2;
                    continue;
                }
                if c == q {
                    single = None;
                }
            } else {
                match c {
                    '#' => break,
                    '\'' | '"' => {
                        if chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c) {
                            self.triple = Some(c);
                            i += 3;
                            continue;
                        }
                        single = Some(c);
                    }
                    '(' | '[' | '{' => self.depth += 1,
                    ')' | ']' | '}' => self.depth -= 1,
                    '\\' if i + 1 == chars.len() => self.continued = true,
                    _ => {}
                }
            }
            i += 1;
        }
        // An unclosed bracket in prose ("(see below") must not swallow the code that follows for
        // ever.
        if self.depth < 0 {
            self.depth = 0;
        }
    }
}

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];
const SOFT_KEYWORDS: [&str; 4] = ["match", "case", "type", "_"];

/// A line at statement start that no Python statement can begin with.
fn is_prose(line: &str) -> bool {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with(char::is_whitespace) {
        return false;
    }
    if ["**", "`", "$", "?", "!", "|", ">", "<", "=", "\u{2022}"]
        .iter()
        .any(|p| line.starts_with(p))
    {
        return true;
    }
    // Markdown bullets: `- x` alone is valid Python, `- The answer` is not.
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return adjacent_names(rest.trim_start());
    }
    let (first, rest) = take_word(line);
    if first.is_empty() {
        return numbered_item(line);
    }
    if SOFT_KEYWORDS.contains(&first) {
        return false;
    }
    // A name followed by a quote is a string prefix (f"", rb'') or else a syntax error ("Here's").
    if rest.starts_with(['\'', '"']) {
        let prefix = first.to_ascii_lowercase();
        return !KEYWORDS.contains(&first)
            && !matches!(
                prefix.as_str(),
                "r" | "u" | "f" | "b" | "br" | "rb" | "fr" | "rf"
            );
    }
    // `Word:` alone, or `Note: two words`: an annotation needs one expression after the colon.
    if !KEYWORDS.contains(&first)
        && let Some(after) = rest.strip_prefix(':')
    {
        let after = after.trim_start();
        return after.is_empty() || adjacent_names(after);
    }
    adjacent_names(line)
}

/// The words at the start of `s` (up to the first character that is not a letter, digit, `_` or
/// space) contain two neighbours that are both plain names, which Python's grammar never allows.
fn adjacent_names(s: &str) -> bool {
    let mut rest = s;
    let mut prev: Option<&str> = None;
    loop {
        let (word, after) = take_word(rest);
        if word.is_empty() {
            return false;
        }
        let plain = !KEYWORDS.contains(&word);
        if plain && prev.is_some_and(|p| !KEYWORDS.contains(&p)) {
            return true;
        }
        let trimmed = after.trim_start_matches([' ', '\t']);
        if trimmed.len() == after.len() {
            return false;
        }
        prev = Some(word);
        rest = trimmed;
    }
}

/// `1. Read the input` or `2) Then`: a number then a plain word.
fn numbered_item(line: &str) -> bool {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let rest = line[digits..]
        .strip_prefix(['.', ')'])
        .unwrap_or(&line[digits..]);
    let after = rest.trim_start();
    if after.len() == rest.len() {
        return false;
    }
    let (word, _) = take_word(after);
    !word.is_empty() && !KEYWORDS.contains(&word)
}

/// The identifier at the start of `s` (may be empty) and the rest.
fn take_word(s: &str) -> (&str, &str) {
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let ok = if i == 0 {
            c.is_alphabetic() || c == '_'
        } else {
            c.is_alphanumeric() || c == '_'
        };
        if !ok {
            break;
        }
        end = i + c.len_utf8();
    }
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::is_prose;

    #[test]
    fn prose_lines_are_those_python_rejects() {
        for line in [
            "Here is the code:",
            "Explanation:",
            "This works because x is sorted.",
            "Note: the input may be empty.",
            "Here's the solution",
            "1. Read n.",
            "- The loop runs n times",
            "**Output**",
            "<|EOT|>",
            "print hello",
        ] {
            assert!(is_prose(line), "{line:?} should be prose");
        }
        for line in [
            "x = 1",
            "print(x)",
            "import sys",
            "from a import b as c",
            "match x:",
            "type X = int",
            "f'{x}'",
            "return x if y else z",
            "x: int = 1",
            "not done",
            "a is not None",
            "- x",
            "*a, b = c",
            "1 if x else 2",
            "    This is indented",
            "else:",
            "rb'abc'",
            "lambda: 0",
            "async def f(): pass",
        ] {
            assert!(!is_prose(line), "{line:?} is Python");
        }
    }
}

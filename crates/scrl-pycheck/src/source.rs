//! Maps byte offsets of a source text to CPython-style positions: 1-based line numbers and 0-based
//! UTF-8 byte columns (what `ast` reports as `lineno` / `col_offset`). Knows nothing about the AST.

/// Line start offsets of one source text.
pub(crate) struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `source`; `\n`, `\r\n` and a lone `\r` each end a line, as in CPython's tokenizer.
    pub(crate) fn new(source: &str) -> Self {
        let bytes = source.as_bytes();
        let mut starts = vec![0u32];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i as u32 + 1),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i as u32 + 1);
                }
                _ => {}
            }
            i += 1;
        }
        Self { starts }
    }

    /// 1-based line of `offset`.
    pub(crate) fn line(&self, offset: u32) -> u32 {
        match self.starts.binary_search(&offset) {
            Ok(i) => i as u32 + 1,
            Err(i) => i as u32,
        }
    }

    /// 0-based byte column of `offset` on its line.
    pub(crate) fn column(&self, offset: u32) -> u32 {
        let line = self.line(offset);
        offset - self.starts[line as usize - 1]
    }
}

/// Splits like Python's `str.splitlines()`: besides `\n`, `\r\n` and `\r` it breaks at `\x0b`,
/// `\x0c`, `\x1c`-`\x1e`, `\x85`, U+2028 and U+2029. Bandit's trojan-source test numbers lines this
/// way, so B613's line must too.
pub(crate) fn python_splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if is_break {
            lines.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && chars.peek().map(|&(_, n)| n) == Some('\n') {
                chars.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_follow_cpython() {
        let index = LineIndex::new("a\nbc\r\nd\re");
        assert_eq!((index.line(0), index.column(0)), (1, 0));
        assert_eq!((index.line(3), index.column(3)), (2, 1));
        assert_eq!(index.line(6), 3);
        assert_eq!(index.line(8), 4);
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(
            python_splitlines("a\x0cb\r\nc\u{2028}d\n"),
            vec!["a", "b", "c", "d"]
        );
        assert_eq!(python_splitlines(""), Vec::<&str>::new());
    }
}

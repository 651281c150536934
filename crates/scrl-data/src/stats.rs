//! Summary counts of a problem set, for `securecoderl data stats`: kinds, tests, references, flags,
//! difficulties and sources. Pure counting; printing is the CLI's job except for the plain-text
//! table.

use std::collections::BTreeMap;
use std::fmt;

use crate::problem::Problem;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub problems: usize,
    pub stdin: usize,
    pub function_call: usize,
    pub with_reference: usize,
    pub without_tests: usize,
    pub tests_total: usize,
    pub tests_min: usize,
    pub tests_median: usize,
    pub tests_max: usize,
    /// Stdin tests whose input and output appear verbatim in the statement, and the problems with
    /// any.
    pub statement_example_tests: usize,
    pub problems_with_statement_examples: usize,
    /// Problems with at least `cap` tests, for the given cap.
    pub at_least_cap: usize,
    pub cap: usize,
    pub by_difficulty: BTreeMap<String, usize>,
    pub by_flag: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
}

/// Counts over `problems`; `cap` is the per-problem test cap (5 in the paper).
pub fn stats(problems: &[Problem], cap: usize) -> Stats {
    let mut counts: Vec<usize> = problems.iter().map(Problem::test_count).collect();
    counts.sort_unstable();
    let mut s = Stats {
        problems: problems.len(),
        tests_total: counts.iter().sum(),
        tests_min: counts.first().copied().unwrap_or(0),
        tests_median: counts.get(counts.len() / 2).copied().unwrap_or(0),
        tests_max: counts.last().copied().unwrap_or(0),
        cap,
        ..Stats::default()
    };
    for p in problems {
        if p.is_stdin() {
            s.stdin += 1;
        } else {
            s.function_call += 1;
        }
        s.with_reference += usize::from(p.reference_solution.is_some());
        s.statement_example_tests += p.statement_example_tests.len();
        s.problems_with_statement_examples += usize::from(!p.statement_example_tests.is_empty());
        s.without_tests += usize::from(p.test_count() == 0);
        s.at_least_cap += usize::from(p.test_count() >= cap);
        *s.by_difficulty
            .entry(p.difficulty.clone().unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
        for f in &p.flags {
            *s.by_flag.entry(f.clone()).or_default() += 1;
        }
        let family = p
            .source
            .as_deref()
            .map_or_else(|| "(none)".into(), source_family);
        *s.by_source.entry(family).or_default() += 1;
    }
    s
}

/// Sources name a file and a row; counting by the part before the first space groups them by file.
fn source_family(source: &str) -> String {
    source.split(' ').next().unwrap_or(source).to_string()
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| measure | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| problems | {} |", self.problems)?;
        writeln!(
            f,
            "| stdin / function-call | {} / {} |",
            self.stdin, self.function_call
        )?;
        writeln!(f, "| with reference solution | {} |", self.with_reference)?;
        writeln!(f, "| tests total | {} |", self.tests_total)?;
        writeln!(
            f,
            "| tests per problem min / median / max | {} / {} / {} |",
            self.tests_min, self.tests_median, self.tests_max
        )?;
        writeln!(f, "| problems without tests | {} |", self.without_tests)?;
        writeln!(
            f,
            "| statement-example tests (problems) | {} ({}) |",
            self.statement_example_tests, self.problems_with_statement_examples
        )?;
        writeln!(
            f,
            "| problems with >= {} tests (the cap) | {} |",
            self.cap, self.at_least_cap
        )?;
        for (title, map) in [
            ("difficulty", &self.by_difficulty),
            ("flag", &self.by_flag),
            ("source", &self.by_source),
        ] {
            for (k, v) in map {
                writeln!(f, "| {title} {k} | {v} |")?;
            }
        }
        Ok(())
    }
}

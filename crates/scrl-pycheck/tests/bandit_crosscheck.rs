//! The cross-check: the native rules and real Bandit 1.9.4 (`bandit -ll --ignore-nosec`, in the
//! warm worker) must report identical (test id, line) sets of MEDIUM/HIGH findings on the same
//! corpus (and we also require the same severity and confidence for each): the
//! trigger programs in tests/fixtures/triggers, every Python file of the local CPython 3.11
//! standard library, and the reference solutions in ../shared/data. Disagreements are printed.
//! Needs `$SCRL_BANDIT`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use scrl_pycheck::{BANDIT_ENV, BanditWorker, ScanReport, scan};

const STDLIB: &str = "/usr/lib/python3.11";

fn worker() -> BanditWorker {
    if std::env::var_os(BANDIT_ENV).is_none() {
        panic!(
            "{BANDIT_ENV} is not set. Run `bash scripts/setup-test-env` (creates .venv with \
             bandit==1.9.4), then `export {BANDIT_ENV}=$PWD/.venv/bin/bandit` from the repository \
             root, and rerun the tests."
        );
    }
    BanditWorker::start(None).unwrap_or_else(|e| panic!("{e}"))
}

/// What must agree: test id and line (the brief's criterion), and also severity and confidence.
type Key = (String, u32, String, String);

fn keys(report: &ScanReport) -> BTreeSet<Key> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.test_id.clone(),
                f.line_number,
                f.issue_severity.to_string(),
                f.issue_confidence.to_string(),
            )
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    files: usize,
    skipped_unparsable: usize,
    findings: usize,
    /// Test ids Bandit reported, to prove the triggers exercise every rule.
    ids: BTreeSet<String>,
    disagreements: Vec<String>,
}

impl Tally {
    fn compare(&mut self, worker: &BanditWorker, name: &str, source: &str) {
        let reference = worker
            .scan(source)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if !reference.parsed {
            // Bandit reports nothing for a file it cannot parse; the native scanner's partial-AST
            // findings are documented as a deliberate difference.
            self.skipped_unparsable += 1;
            return;
        }
        self.files += 1;
        let native = keys(&scan(source));
        let bandit = keys(&reference);
        self.findings += bandit.len();
        self.ids.extend(bandit.iter().map(|(id, ..)| id.clone()));
        for (id, line, severity, confidence) in bandit.difference(&native) {
            self.disagreements.push(format!(
                "{name}:{line}: {id} {severity}/{confidence} only in Bandit"
            ));
        }
        for (id, line, severity, confidence) in native.difference(&bandit) {
            self.disagreements.push(format!(
                "{name}:{line}: {id} {severity}/{confidence} only native"
            ));
        }
    }

    fn finish(self, corpus: &str) {
        println!(
            "{corpus}: {} files compared, {} Bandit findings, {} unparsable by Bandit skipped, {} \
             disagreements",
            self.files,
            self.findings,
            self.skipped_unparsable,
            self.disagreements.len()
        );
        for d in &self.disagreements {
            println!("  {d}");
        }
        assert!(
            self.disagreements.is_empty(),
            "{corpus}: {} disagreements (listed above)",
            self.disagreements.len()
        );
    }
}

fn python_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() && !path.is_symlink() {
            python_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(path);
        }
    }
}

#[test]
fn trigger_programs_agree_with_bandit() {
    let worker = worker();
    let mut files = Vec::new();
    python_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triggers"),
        &mut files,
    );
    assert!(
        files.len() >= 57,
        "expected a trigger file per rule, found {}",
        files.len()
    );
    let mut tally = Tally::default();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("trigger files are UTF-8");
        tally.compare(&worker, &path.display().to_string(), &source);
    }
    let missing: Vec<&str> = scrl_pycheck::implemented_test_ids()
        .into_iter()
        .filter(|id| !tally.ids.contains(*id))
        .collect();
    assert_eq!(
        scrl_pycheck::implemented_test_ids().len(),
        57,
        "one native rule per MEDIUM/HIGH Bandit test"
    );
    assert!(
        missing.is_empty(),
        "the triggers do not make Bandit report {missing:?}"
    );
    tally.finish("triggers");
}

/// Edge cases of name resolution and visiting order (aliases before/after imports, imports inside
/// bodies seen by decorators, relative imports), strings in patterns, annotations and f-string
/// specs, SQL chains, and the assignment analysis of B703.
#[test]
fn edge_cases_agree_with_bandit() {
    let worker = worker();
    let mut files = Vec::new();
    python_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edge_cases"),
        &mut files,
    );
    assert!(!files.is_empty(), "edge case fixtures missing");
    let mut tally = Tally::default();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("edge case files are UTF-8");
        tally.compare(&worker, &path.display().to_string(), &source);
    }
    tally.finish("edge cases");
}

#[test]
fn cpython_stdlib_agrees_with_bandit() {
    let worker = worker();
    let mut files = Vec::new();
    python_files(Path::new(STDLIB), &mut files);
    assert!(
        files.len() > 100,
        "the CPython 3.11 standard library is expected under {STDLIB}"
    );
    let mut tally = Tally::default();
    for path in &files {
        // A few test files are deliberately not UTF-8; Bandit's worker takes text, so they are
        // skipped.
        let Ok(source) = std::fs::read_to_string(path) else {
            continue;
        };
        if source.len() > scrl_pycheck::MAX_SOURCE_BYTES {
            continue;
        }
        tally.compare(&worker, &path.display().to_string(), &source);
    }
    tally.finish("stdlib");
}

#[test]
fn reference_solutions_agree_with_bandit() {
    let worker = worker();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let mut tally = Tally::default();
    for file in [
        "codecontests_cc300.jsonl",
        "mbpp.jsonl",
        "apps_plus_examples.jsonl",
    ] {
        let path = data.join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (i, line) in text.lines().enumerate() {
            let row: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1));
            if let Some(solution) = row.get("reference_solution").and_then(|s| s.as_str()) {
                tally.compare(&worker, &format!("{file}:{}", i + 1), solution);
            }
        }
    }
    assert!(
        tally.files > 300,
        "expected the reference solutions of ../shared/data, compared {}",
        tally.files
    );
    tally.finish("reference solutions");
}

/// More corpora on demand: `SCRL_CROSSCHECK_EXTRA=dir1:dir2` cross-checks every `*.py` under them
/// too (e.g. a virtual environment's site-packages). Without the variable this test checks nothing.
#[test]
fn extra_corpora_agree_with_bandit() {
    let Some(dirs) = std::env::var_os("SCRL_CROSSCHECK_EXTRA") else {
        return;
    };
    let worker = worker();
    let mut tally = Tally::default();
    for dir in std::env::split_paths(&dirs) {
        let mut files = Vec::new();
        python_files(&dir, &mut files);
        for path in &files {
            let Ok(source) = std::fs::read_to_string(path) else {
                continue;
            };
            if source.len() > scrl_pycheck::MAX_SOURCE_BYTES {
                continue;
            }
            tally.compare(&worker, &path.display().to_string(), &source);
        }
    }
    tally.finish("extra corpora");
}

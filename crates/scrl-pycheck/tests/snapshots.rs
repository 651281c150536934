//! Snapshot tests in ruff's manner: for every trigger program (one per rule, with positive,
//! negative and evasion cases), the native findings must equal the stored diagnostics, test id,
//! line, severity and confidence. `fixtures/triggers.expected.json` was produced by real Bandit
//! 1.9.4 (`bandit -ll --ignore-nosec -f json -r triggers`); this test runs without Bandit, the
//! cross-check (`bandit_crosscheck.rs`) keeps the snapshot honest against it.

use std::collections::BTreeMap;
use std::path::Path;

use scrl_pycheck::scan;

type Row = (String, u32, String, String);

#[test]
fn every_trigger_matches_its_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("triggers.expected.json")).expect("snapshot file");
    let expected: BTreeMap<String, Vec<Row>> = serde_json::from_str(&text).expect("snapshot JSON");
    assert_eq!(
        expected.len(),
        57,
        "one trigger file per MEDIUM/HIGH Bandit test"
    );
    let mut failures = Vec::new();
    for (file, want) in &expected {
        let source =
            std::fs::read_to_string(dir.join("triggers").join(file)).expect("trigger file");
        let mut got: Vec<Row> = scan(&source)
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
            .collect();
        got.sort();
        let mut want = want.clone();
        want.sort();
        if got != want {
            failures.push(format!("{file}:\n  expected {want:?}\n  got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn scanner_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<scrl_pycheck::Scanner>();
}

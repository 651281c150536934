//! The exactly checkable CodeContests references of ../shared/data/codecontests_cc300.jsonl, and
//! the CPU time each needs (tests/data/cc300_reference_cpu_ms.tsv, measured once and committed), so
//! that a test whose verdict depends on a CPU limit keeps only the references far below that limit.
//!
//! Shared by scrl-sandbox's and scrl-reward's cc300 tests (the latter includes this file by path).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct Reference {
    pub id: String,
    pub code: String,
    /// (input, expected output) of every test.
    pub tests: Vec<(String, String)>,
}

fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/codecontests_cc300.jsonl")
}

/// The committed measurement, in scrl-sandbox's tests (the path holds from either crate's manifest
/// folder).
pub fn cpu_table_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scrl-sandbox/tests/data/cc300_reference_cpu_ms.tsv")
}

/// Every reference whose data row says it passes all its tests with exact comparison.
pub fn load() -> Vec<Reference> {
    let path = shared_data();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared data must sit beside the repo)",
            path.display()
        )
    });
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1));
        if v["ref_passes_exact_all"] != serde_json::Value::Bool(true) {
            continue;
        }
        let tests = v["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .map(|t| {
                (
                    t["input"].as_str().unwrap().to_string(),
                    t["output"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        out.push(Reference {
            id: v["id"].as_str().unwrap().to_string(),
            code: v["reference_solution"].as_str().unwrap().to_string(),
            tests,
        });
    }
    out
}

/// The most CPU time (ms) any one test of each reference took when measured.
pub fn max_cpu_ms() -> HashMap<String, u64> {
    let path = cpu_table_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[2].parse()
                    .unwrap_or_else(|e| panic!("{}: bad row {l:?}: {e}", path.display())),
            )
        })
        .collect()
}

/// The margin every CPU-limited verdict keeps: a reference takes part only if its measured CPU time
/// is at most 1/MARGIN of the test's limit, since contention on a loaded machine slows a process's
/// own CPU time.
pub const MARGIN: u64 = 3;

/// Splits `refs` into those whose every test ran within `limit_ms / MARGIN` when measured, and the
/// ids of those left out (printed by the caller, so the count is seen in every run). A reference
/// missing from the table is an error: the table must be regenerated when the data changes.
pub fn within_margin(refs: Vec<Reference>, limit_ms: u64) -> (Vec<Reference>, Vec<String>) {
    let table = max_cpu_ms();
    let (mut kept, mut left) = (Vec::new(), Vec::new());
    for r in refs {
        let ms = *table.get(&r.id).unwrap_or_else(|| {
            panic!(
                "{} is not in {}: regenerate it (see its header)",
                r.id,
                cpu_table_path().display()
            )
        });
        if ms * MARGIN <= limit_ms {
            kept.push(r);
        } else {
            left.push(format!("{} ({ms} ms)", r.id));
        }
    }
    (kept, left)
}

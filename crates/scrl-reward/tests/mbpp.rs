//! Function-call references through the harness: every MBPP canonical solution in ../shared/data
//! that the data marks as passing scores R_func 1.0 on all its asserts; copies broken two ways do
//! not (one whose functions all return None, and the hack: the reference followed by
//! `os._exit(0)`, which now leaves no report).

use std::path::Path;
use std::sync::Arc;

use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardModel, TestSpec};
use scrl_sandbox::{Sandbox, SandboxConfig};

const BREAK_FUNCTIONS: &str = "\n_scrl_names = [n for n, f in list(globals().items()) if \
    callable(f) and not isinstance(f, type) and getattr(f, '__module__', '') == '__main__']\nfor \
    _n in _scrl_names:\n    globals()[_n] = lambda *a, **k: None\n";

#[test]
fn mbpp_references_score_one_and_broken_copies_do_not() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mbpp.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut items: Vec<(String, String, TestSpec)> = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        if row["reference_passes"] != true {
            continue;
        }
        let asserts = row["test_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let setup = row["test_setup_code"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        items.push((
            row["id"].as_str().unwrap().into(),
            row["reference_solution"].as_str().unwrap().into(),
            TestSpec::Asserts { setup, asserts },
        ));
    }
    assert!(items.len() > 900, "{} MBPP references", items.len());
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).unwrap());
    let config = RewardConfig {
        test_cap: scrl_reward::TestCap(None),
        cpu_time_ms: 5000,
        wall_time_ms: 20_000,
        ..RewardConfig::default()
    };
    let model = RewardModel::new(config, sandbox, Scanner::Native).unwrap();
    let broken: Vec<String> = items
        .iter()
        .map(|(_, code, _)| format!("{code}\n{BREAK_FUNCTIONS}"))
        .collect();
    let exiting: Vec<String> = items
        .iter()
        .map(|(_, code, _)| format!("{code}\nimport os\nos._exit(0)\n"))
        .collect();
    let mut pairs: Vec<(&str, &TestSpec)> = items
        .iter()
        .map(|(_, code, t)| (code.as_str(), t))
        .collect();
    pairs.extend(
        broken
            .iter()
            .zip(&items)
            .map(|(b, (_, _, t))| (b.as_str(), t)),
    );
    pairs.extend(
        exiting
            .iter()
            .zip(&items)
            .map(|(b, (_, _, t))| (b.as_str(), t)),
    );
    let n = items.len();
    let mut failures = Vec::new();
    for (i, r) in model.score_batch(&pairs).into_iter().enumerate() {
        let b = r.unwrap();
        let (id, _, t) = &items[i % n];
        match i / n {
            0 if b.r_func != 1.0 || b.tests_total != t.len() => failures.push(format!(
                "{id}: reference scored R_func {} ({}/{}): {:?}",
                b.r_func,
                b.tests_passed,
                b.tests_total,
                b.tests
                    .iter()
                    .map(|t| t.stderr_tail.clone())
                    .collect::<Vec<_>>()
            )),
            1 if b.r_func >= 1.0 => {
                failures.push(format!("{id}: the copy returning None scored {}", b.r_func))
            }
            2 if b.tests_passed > 0 => {
                failures.push(format!("{id}: the os._exit copy passed {}", b.tests_passed))
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        n,
        failures.join("\n")
    );
}

//! Every accepted CodeContests reference whose output the data marks as exactly checkable scores
//! R_func = 1.0 on all its tests through the full reward; a deliberately broken copy of each does not.

use std::path::Path;
use std::sync::Arc;

use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardModel, StdinCase, TestSpec};
use scrl_sandbox::{Sandbox, SandboxConfig};

#[test]
fn references_score_full_functional_reward_and_broken_copies_do_not() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/codecontests_cc300.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (the shared data must sit beside the repo)", path.display()));
    let mut items: Vec<(String, String, TestSpec)> = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        if row["ref_passes_exact_all"] != true {
            continue;
        }
        let tests = row["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| StdinCase { input: t["input"].as_str().unwrap().into(), output: t["output"].as_str().unwrap().into() })
            .collect();
        items.push((row["id"].as_str().unwrap().into(), row["reference_solution"].as_str().unwrap().into(), TestSpec::Stdin(tests)));
    }
    assert!(items.len() > 150, "{} exactly checkable references", items.len());
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).unwrap());
    let model = RewardModel::new(
        RewardConfig { test_cap: None, cpu_time_ms: 5000, wall_time_ms: 20_000, ..RewardConfig::default() },
        sandbox,
        Scanner::Native,
    )
    .unwrap();
    let broken: Vec<String> = items.iter().map(|(_, code, _)| format!("print('BROKEN')\n{code}")).collect();
    let mut pairs: Vec<(&str, &TestSpec)> = items.iter().map(|(_, code, t)| (code.as_str(), t)).collect();
    pairs.extend(broken.iter().zip(&items).map(|(b, (_, _, t))| (b.as_str(), t)));
    let results = model.score_batch(&pairs);
    let n = items.len();
    let mut failures = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let b = r.unwrap();
        let (id, _, t) = &items[i % n];
        if i < n && (b.r_func != 1.0 || b.tests_total != t.len()) {
            failures.push(format!("{id}: reference scored R_func {} ({}/{})", b.r_func, b.tests_passed, b.tests_total));
        }
        if i >= n && b.r_func >= 1.0 {
            failures.push(format!("{id}: the broken copy scored R_func {}", b.r_func));
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), n, failures.join("\n"));
}

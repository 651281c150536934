//! Every accepted CodeContests reference whose output the data marks as exactly checkable scores
//! R_func = 1.0 on all its tests through the full reward; a deliberately broken copy of each does
//! not. References whose measured CPU time comes within a factor of `MARGIN` of the CPU limit are
//! left out (and counted), so a loaded machine cannot turn a slow reference's tests into time
//! limits.

#[path = "../../scrl-sandbox/tests/common/cc300.rs"]
mod cc300;

use std::sync::Arc;

use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardModel, StdinCase, TestSpec};
use scrl_sandbox::{Sandbox, SandboxConfig};

const CPU_LIMIT_MS: u64 = 5000;

#[test]
fn references_score_full_functional_reward_and_broken_copies_do_not() {
    let (refs, left_out) = cc300::within_margin(cc300::load(), CPU_LIMIT_MS);
    println!(
        "{} references within {}x of the {CPU_LIMIT_MS} ms CPU limit left out: {left_out:?}",
        left_out.len(),
        cc300::MARGIN
    );
    let items: Vec<(String, String, TestSpec)> = refs
        .into_iter()
        .map(|r| {
            let tests = r
                .tests
                .into_iter()
                .map(|(input, output)| StdinCase { input, output })
                .collect();
            (r.id, r.code, TestSpec::Stdin(tests))
        })
        .collect();
    assert!(
        items.len() > 150,
        "{} exactly checkable references",
        items.len()
    );
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).unwrap());
    let model = RewardModel::new(
        RewardConfig {
            test_cap: scrl_reward::TestCap(None),
            cpu_time_ms: CPU_LIMIT_MS,
            wall_time_ms: 20_000,
            ..RewardConfig::default()
        },
        sandbox,
        Scanner::Native,
    )
    .unwrap();
    let broken: Vec<String> = items
        .iter()
        .map(|(_, code, _)| format!("print('BROKEN')\n{code}"))
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
    let results = model.score_batch(&pairs);
    let n = items.len();
    let mut failures = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        let b = r.unwrap();
        let (id, _, t) = &items[i % n];
        if i < n && (b.r_func != 1.0 || b.tests_total != t.len()) {
            failures.push(format!(
                "{id}: reference scored R_func {} ({}/{})",
                b.r_func, b.tests_passed, b.tests_total
            ));
        }
        if i >= n && b.r_func >= 1.0 {
            failures.push(format!("{id}: the broken copy scored R_func {}", b.r_func));
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

//! The reward end to end: real sandboxed Python, the real scanner, every rung of the ladder, the
//! binary variant, the no-test rule, R_sec, function-call problems and the cache.

use std::sync::{Arc, OnceLock};

use scrl_pycheck::Scanner;
use scrl_reward::{
    RewardConfig, RewardKind, RewardModel, Stage, StdinCase, TestSpec, UnparseableSecurity,
};
use scrl_sandbox::{Sandbox, SandboxConfig};

fn sandbox() -> Arc<Sandbox> {
    static SB: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SB.get_or_init(|| Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox starts")))
        .clone()
}

fn model(config: RewardConfig) -> RewardModel {
    RewardModel::new(config, sandbox(), Scanner::Native).unwrap()
}

fn sum_tests() -> TestSpec {
    let cases = [
        ("1 2\n", "3\n"),
        ("2 2\n", "4\n"),
        ("0 5\n", "5\n"),
        ("-1 1\n", "0\n"),
        ("10 20\n", "30\n"),
    ];
    TestSpec::Stdin(
        cases
            .iter()
            .map(|(i, o)| StdinCase {
                input: i.to_string(),
                output: o.to_string(),
            })
            .collect(),
    )
}

fn score(program: &str) -> scrl_reward::RewardBreakdown {
    model(RewardConfig::default())
        .score(program, &sum_tests())
        .unwrap()
}

const CORRECT: &str = "a, b = map(int, input().split())\nprint(a + b)\n";

#[test]
fn every_rung_of_the_ladder_with_real_programs() {
    let cases: [(&str, Stage, f64); 6] = [
        ("print('unclosed'\n", Stage::SyntaxError, 0.0),
        ("raise SystemExit(input() and 3)\n", Stage::ValidSyntax, 0.2),
        ("x = input()\n", Stage::Executes, 0.4),
        ("print('\\n')\n", Stage::Executes, 0.4),
        ("print('hello')\n", Stage::ProducesOutput, 0.6),
        (CORRECT, Stage::PassesTests, 1.0),
    ];
    for (program, stage, r_func) in cases {
        let b = score(program);
        assert_eq!(b.stage, stage, "{program:?}");
        assert!(
            (b.r_func - r_func).abs() < 1e-12,
            "{program:?}: {}",
            b.r_func
        );
        assert!((b.reward - (0.6 * b.r_func + 0.4 * b.r_sec)).abs() < 1e-12);
    }
}

#[test]
fn passing_k_of_t_gives_point_six_plus_point_four_k_over_t() {
    // Right only when a is 1 or 2: passes tests 1 and 2 of 5.
    let b = score("a, b = map(int, input().split())\nprint(a + b if a in (1, 2) else -999)\n");
    assert_eq!(
        (b.stage, b.tests_passed, b.tests_total),
        (Stage::PassesTests, 2, 5)
    );
    assert!((b.r_func - (0.6 + 0.4 * 2.0 / 5.0)).abs() < 1e-12);
}

#[test]
fn crashes_timeouts_and_hogs_stay_at_stage_1() {
    for program in [
        "print(1 // 0)\n",
        "while True: pass\n",
        "x = bytearray(4 << 30)\nprint(1)\n",
    ] {
        let b = model(RewardConfig {
            cpu_time_ms: 300,
            ..RewardConfig::default()
        })
        .score(program, &sum_tests())
        .unwrap();
        assert_eq!(b.stage, Stage::ValidSyntax, "{program}");
    }
}

#[test]
fn binary_reward_is_all_or_nothing() {
    let m = model(RewardConfig {
        kind: RewardKind::Binary,
        ..RewardConfig::default()
    });
    assert_eq!(m.score(CORRECT, &sum_tests()).unwrap().r_func, 1.0);
    let partial = m
        .score(
            "a, b = map(int, input().split())\nprint(a + b if a < 5 else 0)\n",
            &sum_tests(),
        )
        .unwrap();
    assert_eq!((partial.r_func, partial.tests_passed), (0.0, 4));
    // Rescoring the partial-credit result as binary gives what the binary model computed.
    let as_partial = model(RewardConfig::default())
        .score(
            "a, b = map(int, input().split())\nprint(a + b if a < 5 else 0)\n",
            &sum_tests(),
        )
        .unwrap();
    assert!((as_partial.r_func - (0.6 + 0.4 * 4.0 / 5.0)).abs() < 1e-12);
    let rescored = as_partial.with_kind(RewardKind::Binary);
    assert_eq!(
        (rescored.r_func, rescored.reward, rescored.kind),
        (partial.r_func, partial.reward, RewardKind::Binary)
    );
    assert_eq!(rescored.with_kind(RewardKind::Partial), as_partial);
}

#[test]
fn a_problem_without_tests_gets_no_credit_above_stage_3() {
    let b = model(RewardConfig::default())
        .score("print(42)\n", &TestSpec::Stdin(vec![]))
        .unwrap();
    assert_eq!(
        (b.stage, b.r_func, b.tests_total),
        (Stage::ProducesOutput, 0.6, 0)
    );
}

#[test]
fn security_findings_lower_r_sec_and_nosec_does_not_hide_them() {
    let medium = score("a, b = eval(input().replace(' ', ','))  # nosec\nprint(a + b)\n");
    assert_eq!(medium.r_func, 1.0);
    assert_eq!(medium.r_sec, 0.5);
    assert!(medium.findings.iter().any(|f| f.test_id == "B307"));
    assert!((medium.reward - 0.8).abs() < 1e-12);
    // Two MEDIUM findings plus a HIGH one: V is capped at 1.
    let many = score("import os\nx = input()\neval(x)\neval(x)\nos.system(x)\nprint(3)\n");
    assert_eq!(many.r_sec, 0.0);
    // input() is not penalised.
    assert_eq!(score(CORRECT).r_sec, 1.0);
}

#[test]
fn unparseable_code_is_scanned_or_zeroed_as_configured() {
    let program = "import os\nos.system(input())\nprint('unclosed'\n";
    let analysed = score(program);
    assert_eq!(analysed.stage, Stage::SyntaxError);
    assert!(!analysed.security_parsed);
    assert!(analysed.syntax_error.is_some());
    assert!(
        analysed.tests.is_empty(),
        "a program that does not parse is never run"
    );
    let zero = model(RewardConfig {
        unparseable_security: UnparseableSecurity::Zero,
        ..RewardConfig::default()
    })
    .score("print('unclosed'\n", &sum_tests())
    .unwrap();
    assert_eq!((zero.r_sec, zero.reward), (0.0, 0.0));
}

#[test]
fn function_call_problems_run_their_asserts() {
    let spec = TestSpec::Asserts {
        setup: Some("import math".into()),
        asserts: vec![
            "assert add(1, 2) == 3".into(),
            "assert add(2, 2) == 4".into(),
            "assert add(0, 0) == 1".into(),
        ],
    };
    let b = model(RewardConfig::default())
        .score("def add(a, b):\n    return a + b\n", &spec)
        .unwrap();
    assert_eq!(
        (b.stage, b.tests_passed, b.tests_total),
        (Stage::PassesTests, 2, 3)
    );
    let wrong = model(RewardConfig::default())
        .score("def add(a, b):\n    return a - b\n", &spec)
        .unwrap();
    // A failing assert is a wrong answer of a program that ran: stage 2, not a crash.
    assert_eq!(wrong.stage, Stage::Executes);
    let crash = model(RewardConfig::default())
        .score("def add(a, b):\n    return a / 0\n", &spec)
        .unwrap();
    assert_eq!(crash.stage, Stage::ValidSyntax);
}

#[test]
fn the_test_cap_limits_t() {
    let m = model(RewardConfig {
        test_cap: scrl_reward::TestCap(Some(2)),
        ..RewardConfig::default()
    });
    let b = m.score(CORRECT, &sum_tests()).unwrap();
    assert_eq!((b.tests_passed, b.tests_total), (2, 2));
}

#[test]
fn identical_programs_are_scored_once() {
    let m = model(RewardConfig::default());
    let program = "a, b = map(int, input().split())\nprint(b + a)\n";
    let tests = sum_tests();
    let first = m.score(program, &tests).unwrap();
    let again = m.score(program, &tests).unwrap();
    assert_eq!(first, again);
    assert_eq!(m.cache_stats(), (1, 1));
    // A different configuration is a different key.
    let binary = model(RewardConfig {
        kind: RewardKind::Binary,
        ..RewardConfig::default()
    });
    assert_eq!(
        binary.score(program, &tests).unwrap().kind,
        RewardKind::Binary
    );
}

#[test]
fn invalid_configurations_are_rejected_with_the_reason() {
    let bad = RewardConfig {
        alpha: -1.0,
        ..RewardConfig::default()
    };
    let err = RewardModel::new(bad, sandbox(), Scanner::Native)
        .err()
        .expect("rejected")
        .to_string();
    assert!(err.contains("alpha"), "{err}");
    let bad = RewardConfig {
        test_cap: scrl_reward::TestCap(Some(0)),
        ..RewardConfig::default()
    };
    assert!(RewardModel::new(bad, sandbox(), Scanner::Native).is_err());
}

#[test]
fn batches_keep_input_order() {
    let m = model(RewardConfig::default());
    let tests = sum_tests();
    let programs = ["print('x')\n", CORRECT, "print(1/0)\n", "x = (\n"];
    let items: Vec<(&str, &TestSpec)> = programs.iter().map(|p| (*p, &tests)).collect();
    let stages: Vec<Stage> = m
        .score_batch(&items)
        .into_iter()
        .map(|r| r.unwrap().stage)
        .collect();
    assert_eq!(
        stages,
        vec![
            Stage::ProducesOutput,
            Stage::PassesTests,
            Stage::ValidSyntax,
            Stage::SyntaxError
        ]
    );
}

#[test]
fn a_cancelled_batch_runs_nothing_more_and_gives_no_score() {
    let m = model(RewardConfig::default());
    let tests = sum_tests();
    let programs = [CORRECT, "print(3)\n"];
    let items: Vec<(&str, &TestSpec)> = programs.iter().map(|p| (*p, &tests)).collect();
    let cancelled = std::sync::atomic::AtomicBool::new(true);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let out = m.score_batch_with(&items, &cancelled, &|| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(
        out.iter()
            .all(|r| matches!(r, Err(scrl_reward::RewardError::Cancelled))),
        "{out:?}"
    );
    assert_eq!(
        (done.into_inner(), m.cache_stats()),
        (0, (0, 0)),
        "a cancelled program was scored"
    );
    let live = m.score_batch_with(&items, &std::sync::atomic::AtomicBool::new(false), &|| {});
    assert_eq!(
        live.into_iter()
            .map(|r| r.unwrap().stage)
            .collect::<Vec<_>>(),
        vec![Stage::PassesTests, Stage::PassesTests]
    );
}

//! The three real problem files of ../shared/data load directly with the documented counts and the
//! right stdin/function-call split, and survive a round trip through our JSON Lines writer.

mod common;

use common::shared;
use scrl_data::{Problem, ProblemKind, load_problems, write_problems};

fn count_flag(ps: &[Problem], flag: &str) -> usize {
    ps.iter()
        .filter(|p| p.flags.iter().any(|f| f == flag))
        .count()
}

#[test]
fn apps_plus_examples_are_392_stdin_problems_with_730_tests() {
    let ps = load_problems(&shared("apps_plus_examples.jsonl")).unwrap();
    assert_eq!(ps.len(), 392);
    assert!(ps.iter().all(Problem::is_stdin));
    assert_eq!(ps.iter().map(|p| p.tests.len()).sum::<usize>(), 730);
    assert!(ps.iter().all(|p| p.reference_solution.is_none()));
    assert_eq!(count_flag(&ps, "multiple_answers_possible"), 32);
    assert_eq!(count_flag(&ps, "float_tolerance_possible"), 12);
    assert_eq!(count_flag(&ps, "blank_lines_in_example"), 8);
    assert_eq!(ps[0].id, "apps_plus_2792");
    assert!(
        ps[0].extra.contains_key("upstream"),
        "per-file extras are kept"
    );
    // Two problems have 6 tests; the cap keeps 5.
    let long = ps.iter().find(|p| p.tests.len() == 6).unwrap();
    assert_eq!(long.capped_tests(5), &long.tests[..5]);
    assert_eq!(ps[0].capped_tests(5).len(), ps[0].tests.len());
}

#[test]
fn codecontests_are_300_stdin_problems_with_references_and_10_tests_mostly() {
    let ps = load_problems(&shared("codecontests_cc300.jsonl")).unwrap();
    assert_eq!(ps.len(), 300);
    assert!(ps.iter().all(Problem::is_stdin));
    assert_eq!(ps.iter().map(|p| p.tests.len()).sum::<usize>(), 2999);
    assert!(ps.iter().all(|p| p.reference_solution.is_some()));
    assert_eq!(
        ps[0].difficulty.as_deref(),
        Some("11"),
        "difficulty lifted from meta"
    );
    assert!(
        ps.iter()
            .all(|p| p.extra.contains_key("ref_passes_exact_all"))
    );
    assert!(ps.iter().all(|p| p.capped_tests(5).len() == 5));
}

#[test]
fn mbpp_is_974_function_call_problems_with_entry_points() {
    let ps = load_problems(&shared("mbpp.jsonl")).unwrap();
    assert_eq!(ps.len(), 974);
    assert!(ps.iter().all(|p| !p.is_stdin() && p.tests.is_empty()));
    assert_eq!(
        ps[0].kind,
        ProblemKind::FunctionCall {
            entry_point: Some("min_cost".into())
        }
    );
    assert_eq!(ps[0].assert_tests.len(), 3);
    let with_entry = ps
        .iter()
        .filter(|p| {
            matches!(
                &p.kind,
                ProblemKind::FunctionCall {
                    entry_point: Some(_)
                }
            )
        })
        .count();
    assert_eq!(
        with_entry, 974,
        "every MBPP assert names the function it calls"
    );
    // Each entry point is defined by the reference solution.
    for p in &ps {
        let ProblemKind::FunctionCall {
            entry_point: Some(e),
        } = &p.kind
        else {
            unreachable!()
        };
        assert!(
            p.reference_solution
                .as_deref()
                .unwrap()
                .contains(&format!("def {e}")),
            "{}: {e}",
            p.id
        );
    }
    let splits = |s: &str| {
        ps.iter()
            .filter(|p| p.extra.get("split").and_then(|v| v.as_str()) == Some(s))
            .count()
    };
    assert_eq!(
        (
            splits("prompt"),
            splits("test"),
            splits("validation"),
            splits("train")
        ),
        (10, 500, 90, 374)
    );
    assert_eq!(ps.iter().filter(|p| p.test_setup_code.is_some()).count(), 2);
}

#[test]
fn shared_files_round_trip_through_our_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "apps_plus_examples.jsonl",
        "codecontests_cc300.jsonl",
        "mbpp.jsonl",
    ] {
        let ps = load_problems(&shared(name)).unwrap();
        let out = dir.path().join(name);
        write_problems(&out, &ps).unwrap();
        let back = load_problems(&out).unwrap();
        assert_eq!(back, ps, "{name}");
        // Serde's own path (try_from) gives the same problems as the loader.
        let first: Problem = serde_json::from_str(
            std::fs::read_to_string(&out)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(first, ps[0]);
    }
}

/// Statement examples in the real files: tests whose input and output both appear verbatim in the
/// statement (what the importers mark, `statement_example_tests`). Counted on the rows as stored,
/// so the numbers are those of the files, not of an earlier import.
#[test]
fn statement_examples_in_the_shared_files_are_counted() {
    let count = |name: &str| {
        let ps = load_problems(&shared(name)).unwrap();
        let marked: Vec<Vec<usize>> = ps
            .iter()
            .map(|p| scrl_data::statement_example_tests(&p.statement, &p.tests))
            .collect();
        let tests = marked.iter().map(Vec::len).sum::<usize>();
        let problems = marked.iter().filter(|m| !m.is_empty()).count();
        println!(
            "{name}: {tests} statement-example tests in {problems} of {} problems",
            ps.len()
        );
        (tests, problems)
    };
    // The APPS+ file holds the statements' own examples: all but 12 of its 730 tests.
    assert_eq!(count("apps_plus_examples.jsonl"), (718, 381));
    assert_eq!(count("codecontests_cc300.jsonl"), (646, 277));
    // Importing marks them, loading keeps the marks, and `data stats` counts them.
    let mut p = Problem::stdin("x", "test", "Example\nInput\n1 2\nOutput\n3\n");
    p.tests = vec![
        scrl_data::StdinTest {
            input: "1 2\n".into(),
            output: "3\n".into(),
        },
        scrl_data::StdinTest {
            input: "5 5\n".into(),
            output: "10\n".into(),
        },
    ];
    p.mark_statement_examples();
    assert_eq!(p.statement_example_tests, vec![0]);
    assert_eq!(p.hidden_tests().count(), 1);
    let dir = std::env::temp_dir().join(format!("scrl-stmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.jsonl");
    write_problems(&path, std::slice::from_ref(&p)).unwrap();
    let back = load_problems(&path).unwrap();
    assert_eq!(back[0].statement_example_tests, vec![0]);
    let stats = scrl_data::stats::stats(&back, 5);
    assert_eq!(
        (
            stats.statement_example_tests,
            stats.problems_with_statement_examples
        ),
        (1, 1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

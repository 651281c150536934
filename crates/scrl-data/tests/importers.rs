//! Importers on fixtures written in each upstream layout: what becomes a problem, what is skipped
//! and why, and that malformed rows are reported with file, row and field.

mod common;

use std::io::Write;

use common::{fixture, python_parse_failures};
use indicatif::ProgressBar;
use scrl_data::{
    DataError, Format, ImportOptions, ImportReport, ProblemKind, StdinTest, import_file,
    load_problems, write_problems,
};

fn import(format: Format, name: &str, opts: &ImportOptions) -> Result<ImportReport, DataError> {
    import_file(format, &fixture(name), opts, &ProgressBar::hidden())
}

fn test(input: &str, output: &str) -> StdinTest {
    StdinTest {
        input: input.into(),
        output: output.into(),
    }
}

#[test]
fn apps_plus_tells_stdin_from_function_call_by_the_inputs() {
    let r = import(
        Format::AppsPlus,
        "apps_plus_data.json",
        &ImportOptions::default(),
    )
    .unwrap();
    let ids: Vec<&str> = r.problems.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["apps_plus_0", "apps_plus_1", "apps_plus_4", "apps_plus_5"]
    );
    let sum = &r.problems[0];
    assert!(sum.is_stdin());
    assert_eq!(sum.tests, [test("1 2\n", "3\n"), test("5 7\n", "12\n")]);
    // The stub (def + docstring) is gone: the statement is the docstring's text, dedented.
    assert!(
        sum.statement
            .starts_with("Given two integers a and b, print their sum.\n\n-----Input-----"),
        "{}",
        sum.statement
    );
    assert!(!sum.statement.contains("def ") && !sum.statement.contains("\"\"\""));
    assert_eq!(
        sum.starter_code, None,
        "a stdin problem's stub is not starter code"
    );
    assert_eq!(sum.difficulty.as_deref(), Some("introductory"));

    let double = &r.problems[1];
    assert_eq!(
        double.kind,
        ProblemKind::FunctionCall {
            entry_point: Some("double_all".into())
        }
    );
    assert!(
        double.tests.is_empty(),
        "function-call tests never become stdin reprs (docs/data.md)"
    );
    assert_eq!(
        double.assert_tests[0],
        "assert double_all([1, 2]) in ([[2, 4]], [2, 4])"
    );
    let is_even = &r.problems[2];
    assert_eq!(
        is_even.assert_tests,
        [
            "assert is_even(4) == True",
            "assert is_even(0) == None",
            "assert is_even(3) == False"
        ]
    );

    assert_eq!(
        r.problems[3].tests,
        [test("abc\n", "3\n"), test("hello\n", "5\n")],
        "bare numbers are written as str() does"
    );

    let reasons: Vec<(&str, &str)> = r
        .skipped
        .iter()
        .map(|s| (s.id.as_deref().unwrap(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons[0], ("apps_plus_2", "no tests"));
    assert_eq!(reasons[1].0, "apps_plus_3");
    assert!(
        reasons[1].1.contains("field `outputs`") && reasons[1].1.contains("expected a list"),
        "{}",
        reasons[1].1
    );
    assert_eq!(
        r.skip_summary(),
        [
            ("malformed field `outputs`".to_string(), 1),
            ("no tests".to_string(), 1)
        ]
    );

    let stdin_only = import(
        Format::AppsPlus,
        "apps_plus_data.json",
        &ImportOptions {
            stdin_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(stdin_only.problems.len(), 2);
    assert!(stdin_only.problems.iter().all(|p| p.is_stdin()));
    assert_eq!(
        stdin_only.skip_summary()[0],
        ("function-call problem (stdin-only import)".to_string(), 2)
    );
}

#[test]
fn generated_asserts_pass_with_the_reference_in_real_python() {
    let r = import(
        Format::AppsPlus,
        "apps_plus_data.json",
        &ImportOptions::default(),
    )
    .unwrap();
    let hf = import(
        Format::Apps,
        "codeparrot_apps.jsonl",
        &ImportOptions::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for p in r
        .problems
        .iter()
        .chain(&hf.problems)
        .filter(|p| !p.is_stdin())
    {
        let program = format!(
            "{}\n{}\n",
            p.reference_solution.as_deref().unwrap(),
            p.assert_tests.join("\n")
        );
        let path = dir.path().join(format!("{}.py", p.id));
        std::fs::write(&path, program).unwrap();
        common::run_python_file(&path, "").unwrap_or_else(|e| panic!("{}: {e}", p.id));
    }
}

#[test]
fn codeparrot_apps_reads_json_strings_and_fn_name() {
    let r = import(
        Format::Apps,
        "codeparrot_apps.jsonl",
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(r.problems.len(), 3);
    let max3 = &r.problems[0];
    assert_eq!((max3.id.as_str(), max3.is_stdin()), ("apps_4000", true));
    assert_eq!(max3.tests[1], test("-1 -5 -2\n", "-1\n"));
    assert_eq!(
        max3.reference_solution.as_deref(),
        Some("print(max(map(int, input().split())))\n")
    );
    let neg = &r.problems[1];
    assert_eq!(
        neg.kind,
        ProblemKind::FunctionCall {
            entry_point: Some("countNegatives".into())
        }
    );
    assert_eq!(
        neg.assert_tests[0],
        "assert Solution().countNegatives([1, -2, -3]) in ([2], 2)"
    );
    let starter = neg.starter_code.as_deref().unwrap();
    assert!(
        starter.starts_with("from typing import List\nclass Solution:"),
        "{starter}"
    );
    let lines = &r.problems[2];
    assert_eq!(
        lines.tests,
        [test("2\n3 4\n", "7\n")],
        "tests given as lists of lines are joined"
    );
    let skipped: Vec<_> = r
        .skipped
        .iter()
        .map(|s| (s.at.to_string(), s.reason.clone()))
        .collect();
    assert_eq!(skipped[0], ("line 3".to_string(), "no tests".to_string()));
    assert_eq!(skipped[1].0, "line 5");
    assert!(
        skipped[1]
            .1
            .starts_with("malformed: field `input_output`: not valid JSON"),
        "{}",
        skipped[1].1
    );
}

#[test]
fn strict_mode_names_file_line_and_field() {
    let strict = ImportOptions {
        strict: true,
        ..Default::default()
    };
    let e = import(Format::Apps, "codeparrot_apps.jsonl", &strict)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("codeparrot_apps.jsonl: line 5: field `input_output`: not valid JSON"),
        "{e}"
    );
    let e = import(Format::CodeContests, "code_contests.jsonl", &strict)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "code_contests.jsonl: line 5: field `private_tests.input`: element 1: \
             expected a string, found a number"
        ),
        "{e}"
    );
    let e = import(Format::Mbpp, "mbpp.jsonl", &strict)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("mbpp.jsonl: line 5: field `task_id`: expected an integer, found a string"),
        "{e}"
    );
    let e = import(Format::AppsPlus, "apps_plus_data.json", &strict)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("apps_plus_data.json: item 3: field `outputs`"),
        "{e}"
    );
}

#[test]
fn codecontests_takes_all_three_test_groups_and_the_first_python3_solution() {
    let r = import(
        Format::CodeContests,
        "code_contests.jsonl",
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(r.problems.len(), 2);
    let p = &r.problems[0];
    assert_eq!(p.id, "cc_1_a_sum_game");
    assert_eq!(
        p.tests,
        [
            test("1\n", "2\n"),
            test("5\n", "10\n"),
            test("0\n", "0\n"),
            test("7\n", "14\n")
        ]
    );
    assert_eq!(
        p.reference_solution.as_deref(),
        Some("print(2 * int(input()))\n"),
        "language 3 is PYTHON3, not 1 (Python 2)"
    );
    assert_eq!(p.difficulty.as_deref(), Some("7"));
    assert_eq!(
        r.problems[1].reference_solution, None,
        "no Python 3 solution"
    );
    let with_ref = import(
        Format::CodeContests,
        "code_contests.jsonl",
        &ImportOptions {
            require_reference: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(with_ref.problems.len(), 1);
    let summary = r.skip_summary();
    assert!(
        summary.contains(&("no tests".to_string(), 1)),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(
            "reads or writes a named file instead of stdin/stdout".to_string(),
            1
        )),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("malformed field `private_tests.input`".to_string(), 1)),
        "{summary:?}"
    );
}

#[test]
fn humaneval_plain_and_gzip_give_the_same_problems() {
    let plain = import(
        Format::HumanEval,
        "humaneval.jsonl",
        &ImportOptions::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("HumanEval.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(fixture("humaneval.jsonl")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    let zipped = import_file(
        Format::HumanEval,
        &gz,
        &ImportOptions::default(),
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(plain.problems, zipped.problems);
    let add = &plain.problems[0];
    assert_eq!(add.id, "humaneval_900");
    assert_eq!(
        add.kind,
        ProblemKind::FunctionCall {
            entry_point: Some("add_three".into())
        }
    );
    assert_eq!(
        add.assert_tests,
        [
            "assert candidate(1, 2, 3) == 6",
            "assert candidate(0, 0, 0) == 0",
            "assert candidate(-1, 1, (2)) == 2"
        ]
    );
    let squares = &plain.problems[1];
    assert_eq!(
        squares.assert_tests,
        ["check(squares)"],
        "a check with a loop stays one test"
    );
    // Reference, then setup, then each assert: every one passes in real Python.
    for p in &plain.problems {
        for (i, a) in p.assert_tests.iter().enumerate() {
            let program = format!(
                "{}\n{}\n{a}\n",
                p.reference_solution.as_deref().unwrap(),
                p.test_setup_code.as_deref().unwrap()
            );
            let path = dir.path().join(format!("{}_{i}.py", p.id));
            std::fs::write(&path, program).unwrap();
            common::run_python_file(&path, "").unwrap_or_else(|e| panic!("{} {a}: {e}", p.id));
        }
    }
}

#[test]
fn mbpp_reads_original_and_sanitized_rows() {
    let r = import(Format::Mbpp, "mbpp.jsonl", &ImportOptions::default()).unwrap();
    let ids: Vec<&str> = r.problems.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["mbpp_5", "mbpp_700", "mbpp_512"]);
    assert_eq!(
        r.problems[0].kind,
        ProblemKind::FunctionCall {
            entry_point: Some("last_digit".into())
        }
    );
    assert_eq!(
        r.problems[2].kind,
        ProblemKind::FunctionCall {
            entry_point: Some("square_area".into())
        }
    );
    assert_eq!(
        r.problems[1].test_setup_code.as_deref(),
        Some("SAMPLE = 'a b c'")
    );
    assert_eq!(
        r.problems[2].test_setup_code.as_deref(),
        Some("import math")
    );
    let split = |i: usize| r.problems[i].extra["split"].as_str().unwrap().to_string();
    assert_eq!(
        (split(0), split(1), split(2)),
        ("prompt".into(), "train".into(), "validation".into())
    );
    assert_eq!(
        r.problems[1].extra["challenge_test_list"][0],
        "assert count_spaces('') == 0"
    );
    let summary = r.skip_summary();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(
        summary
            .iter()
            .any(|(k, n)| k.starts_with("not valid JSON") && *n == 1),
        "{summary:?}"
    );
    // Every reference passes its asserts (setup runs after the candidate code).
    let dir = tempfile::tempdir().unwrap();
    for p in &r.problems {
        let program = format!(
            "{}\n{}\n{}\n",
            p.reference_solution.as_deref().unwrap(),
            p.test_setup_code.as_deref().unwrap_or(""),
            p.assert_tests.join("\n")
        );
        let path = dir.path().join(format!("{}.py", p.id));
        std::fs::write(&path, program).unwrap();
        common::run_python_file(&path, "").unwrap_or_else(|e| panic!("{}: {e}", p.id));
    }
}

#[test]
fn imported_problems_round_trip_through_our_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [
        (Format::AppsPlus, "apps_plus_data.json"),
        (Format::Apps, "codeparrot_apps.jsonl"),
        (Format::CodeContests, "code_contests.jsonl"),
        (Format::HumanEval, "humaneval.jsonl"),
        (Format::Mbpp, "mbpp.jsonl"),
    ] {
        let r = import(format, name, &ImportOptions::default()).unwrap();
        let out = dir.path().join(format!("{name}.out.jsonl"));
        write_problems(&out, &r.problems).unwrap();
        assert_eq!(load_problems(&out).unwrap(), r.problems, "{name}");
        let again = import_file(
            Format::Jsonl,
            &out,
            &ImportOptions::default(),
            &ProgressBar::hidden(),
        )
        .unwrap();
        assert_eq!(again.problems, r.problems);
        assert!(again.skipped.is_empty());
    }
}

#[test]
fn a_row_without_source_loads_and_stays_without_one() {
    // A problem written by hand needs an id, a statement and tests; provenance is optional.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.jsonl");
    std::fs::write(
        &path,
        r#"{"id":"a","statement":"echo","tests":[{"input":"1\n","output":"1\n"}]}"#,
    )
    .unwrap();
    let problems = load_problems(&path).unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].source, None);
    assert_eq!(problems[0].kind, ProblemKind::Stdin);
    assert_eq!(problems[0].tests, vec![test("1\n", "1\n")]);
    let out = dir.path().join("out.jsonl");
    write_problems(&out, &problems).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("source"), "{text}");
    assert_eq!(load_problems(&out).unwrap(), problems);
    // A row that has one keeps it.
    std::fs::write(&path, r#"{"id":"b","source":"s","statement":"x"}"#).unwrap();
    let problems = load_problems(&path).unwrap();
    assert_eq!(problems[0].source.as_deref(), Some("s"));
    write_problems(&out, &problems).unwrap();
    assert_eq!(load_problems(&out).unwrap(), problems);
}

#[test]
fn our_jsonl_errors_name_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let good =
        r#"{"id":"a","source":"s","statement":"x","tests":[{"input":"1\n","output":"1\n"}]}"#;
    let cases = [
        (
            format!(
                "{good}\n{{\"id\":\"b\",\"source\":\"s\",\"statement\":\"x\",\
                 \"tests\":[{{\"input\":\"1\"}}]}}\n"
            ),
            "line 2: field `tests[0].output`: missing",
        ),
        (
            format!("{good}\n\n{good}\n"),
            "id `a` appears twice (line 1 and line 3)",
        ),
        (
            format!("{good}\n{{\"id\":\"c\",\"source\":\"s\"}}\n"),
            "line 2: field `statement`: missing",
        ),
        (
            format!(
                "{good}\n{{\"id\":\"c\",\"source\":\"s\",\"statement\":\"x\",\
                 \"kind\":{{\"type\":\"repl\"}}}}\n"
            ),
            "line 2: field `kind`: unknown variant `repl`",
        ),
        ("{\"id\": 1,\n".to_string(), "line 1: not valid JSON"),
    ];
    for (text, want) in cases {
        std::fs::write(&path, text).unwrap();
        let e = load_problems(&path).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("bad.jsonl"),
            "{e}\n  wanted: {want}"
        );
    }
    // Numeric ids are accepted as their text; a missing folder is an I/O error naming the path.
    std::fs::write(&path, r#"{"id":7,"source":"s","statement":"x"}"#).unwrap();
    assert_eq!(load_problems(&path).unwrap()[0].id, "7");
    let missing = dir.path().join("nope/x.jsonl");
    assert!(
        write_problems(&missing, &[])
            .unwrap_err()
            .to_string()
            .contains("nope")
    );
    assert!(python_parse_failures(&["x = 1".into()]).is_empty());
}

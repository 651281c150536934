//! End to end on real data: the accepted human solutions of
//! ../shared/data/codecontests_cc300.jsonl, judged two ways (exact per-line match vs token match,
//! as recorded with the data), syntax-checked by real CPython, scanned by real Bandit (-ll
//! --ignore-nosec), and crashes re-run to read their exception type. The metrics, the paired test
//! between the two judges, the report and the plots must agree with counts taken straight from the
//! data file.
//!
//! Set SCRL_EVAL_KEEP=<dir> to keep the report and plots for inspection.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use scrl_eval::*;
use serde_json::Value;

const PYTHON: &str = "/usr/bin/python3";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bandit() -> PathBuf {
    let path = std::env::var_os("SCRL_BANDIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/bandit"));
    assert!(
        path.exists(),
        "Bandit not found at {}: run scripts/setup-test-env",
        path.display()
    );
    path
}

/// Which sources CPython compiles, from one interpreter process.
fn syntax_valid(sources: &[&str]) -> Vec<bool> {
    let script = "import json, sys\nout = []\nfor s in json.load(sys.stdin):\n    try:\n        \
        compile(s, '<sample>', 'exec')\n        out.append(True)\n    except (SyntaxError, \
        ValueError):\n        out.append(False)\nprint(json.dumps(out))\n";
    let mut child = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("Debian's python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(sources).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Bandit findings per file name, MEDIUM and HIGH only, `# nosec` ignored.
fn bandit_findings(dir: &Path) -> HashMap<String, Vec<SecurityFinding>> {
    let out = Command::new(bandit())
        .args(["-q", "-r", "-ll", "--ignore-nosec", "-f", "json"])
        .arg(dir)
        .output()
        .unwrap();
    // Bandit exits 1 when it found something; anything else beyond 0 is a failure to scan.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_file: HashMap<String, Vec<SecurityFinding>> = HashMap::new();
    for r in report["results"].as_array().unwrap() {
        let file = Path::new(r["filename"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let severity = match r["issue_severity"].as_str().unwrap() {
            "HIGH" => Severity::High,
            "MEDIUM" => Severity::Medium,
            other => panic!("-ll reported severity {other}"),
        };
        by_file.entry(file).or_default().push(SecurityFinding {
            test_id: r["test_id"].as_str().unwrap().into(),
            severity,
        });
    }
    by_file
}

/// Runs a program on one input (as a regular file: some references need one), returning (crashed,
/// stdout non-empty, stderr).
fn run_once(program: &Path, input: &str, scratch: &Path) -> (bool, bool, String) {
    let input_path = scratch.join("stdin.txt");
    fs::write(&input_path, input).unwrap();
    let out = Command::new("timeout")
        .args(["10", PYTHON, "-S", "-I", "-E", "-B"])
        .arg(program)
        .stdin(fs::File::open(&input_path).unwrap())
        .output()
        .unwrap();
    (
        !out.status.success(),
        !out.stdout.is_empty(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ladder_r_func(stage: u8, passed: u32, total: u32) -> f64 {
    match stage {
        0 => 0.0,
        1 => 0.2,
        2 => 0.4,
        3 => 0.6,
        _ => 0.6 + 0.4 * passed as f64 / total as f64,
    }
}

struct Judged {
    exact: Vec<SampleRecord>,
    token: Vec<SampleRecord>,
    passes_all: usize,
    passes_exact_all: usize,
    files_with_findings: usize,
}

fn judge(dir: &Path) -> Judged {
    let data = repo_root().join("../shared/data/codecontests_cc300.jsonl");
    let text = fs::read_to_string(&data).unwrap_or_else(|e| panic!("{}: {e}", data.display()));
    let problems: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(problems.len(), 300);
    let sources: Vec<&str> = problems
        .iter()
        .map(|p| p["reference_solution"].as_str().unwrap())
        .collect();
    let valid = syntax_valid(&sources);
    let programs: Vec<PathBuf> = (0..problems.len())
        .map(|i| dir.join(format!("p{i:03}.py")))
        .collect();
    for (p, s) in programs.iter().zip(&sources) {
        fs::write(p, s).unwrap();
    }
    let findings = bandit_findings(dir);
    let scratch = tempfile::tempdir().unwrap();

    let mut judged = Judged {
        exact: vec![],
        token: vec![],
        passes_all: 0,
        passes_exact_all: 0,
        files_with_findings: findings.len(),
    };
    for (i, p) in problems.iter().enumerate() {
        let per_test: Vec<&str> = p["ref_check_per_test"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let tests = p["tests"].as_array().unwrap();
        judged.passes_all += usize::from(p["ref_passes_all"].as_bool().unwrap());
        judged.passes_exact_all += usize::from(p["ref_passes_exact_all"].as_bool().unwrap());
        let file_findings = findings
            .get(&format!("p{i:03}.py"))
            .cloned()
            .unwrap_or_default();
        let v = file_findings
            .iter()
            .map(|f| {
                if f.severity == Severity::High {
                    1.0
                } else {
                    0.5
                }
            })
            .sum::<f64>()
            .min(1.0);
        // The exception type of the first crashing test, read from a real re-run of that test.
        let exception_type = per_test.iter().position(|v| *v == "error").and_then(|t| {
            let (_, _, stderr) = run_once(
                &programs[i],
                tests[t]["input"].as_str().unwrap(),
                scratch.path(),
            );
            exception_type_from_stderr(&stderr)
        });
        for (token_judge, out) in [(false, &mut judged.exact), (true, &mut judged.token)] {
            let verdicts: Vec<String> = per_test
                .iter()
                .map(|v| match *v {
                    "exact" => "accepted",
                    "token" if token_judge => "accepted",
                    "token" | "wrong" => "wrong_answer",
                    "error" => "runtime_error",
                    "timeout" => "time_limit",
                    other => panic!("unknown recorded verdict {other}"),
                })
                .map(str::to_string)
                .collect();
            let passed = verdicts.iter().filter(|v| *v == "accepted").count() as u32;
            let total = verdicts.len() as u32;
            let stage = if !valid[i] {
                0
            } else if passed > 0 {
                4
            } else {
                // No test passed: how far the program gets is observed on the first test.
                match run_once(
                    &programs[i],
                    tests[0]["input"].as_str().unwrap(),
                    scratch.path(),
                ) {
                    (true, _, _) => 1,
                    (false, false, _) => 2,
                    (false, true, _) => 3,
                }
            };
            let r_func = ladder_r_func(stage, passed, total);
            let r_sec = 1.0 - v;
            out.push(SampleRecord {
                problem_id: p["id"].as_str().unwrap().into(),
                sample_index: 0,
                completion: sources[i].into(),
                syntax_valid: valid[i],
                stage,
                tests_passed: passed,
                tests_total: total,
                verdicts,
                r_func,
                r_sec,
                reward: 0.6 * r_func + 0.4 * r_sec,
                security_findings: file_findings.clone(),
                exception_type: exception_type.clone(),
                no_op: false,
            });
        }
    }
    judged
}

#[test]
fn reference_solutions_under_two_judges() {
    let code_dir = tempfile::tempdir().unwrap();
    let j = judge(code_dir.path());
    let cfg = BootstrapConfig {
        resamples: 2_000,
        confidence: 0.95,
        seed: 42,
    };

    // The JSONL round trip is how the CLI hands records over.
    let out_dir = match std::env::var_os("SCRL_EVAL_KEEP") {
        Some(d) => PathBuf::from(d),
        None => code_dir.path().join("out"),
    };
    write_records(&out_dir.join("exact.jsonl"), &j.exact).unwrap();
    let exact = EvalSet::from_records(
        "reference, exact match",
        read_records(&out_dir.join("exact.jsonl")).unwrap(),
    )
    .unwrap();
    let token = EvalSet::from_records("reference, token match", j.token).unwrap();
    let se = summarize(&exact, &[1], &cfg).unwrap();
    let st = summarize(&token, &[1], &cfg).unwrap();

    assert_eq!(se.n_problems, 300);
    let all_pass = |s: &ModelSummary| s.get(Metric::AllTestsPassed).unwrap().value;
    assert!((all_pass(&se) - j.passes_exact_all as f64 / 300.0).abs() < 1e-12);
    assert!((all_pass(&st) - j.passes_all as f64 / 300.0).abs() < 1e-12);
    assert_eq!(se.get(Metric::PassAtK(1)).unwrap().value, all_pass(&se));
    let sec_clean = 1.0 - j.files_with_findings as f64 / 300.0;
    assert!((se.get(Metric::SecClean).unwrap().value - sec_clean).abs() < 1e-12);
    assert_eq!(
        se.taxonomy.samples_with_findings as usize,
        j.files_with_findings
    );
    assert!(
        se.taxonomy
            .outcomes
            .iter()
            .any(|e| e.category.starts_with("runtime_error:") && e.category.ends_with("Error")),
        "{:?}",
        se.taxonomy.outcomes
    );
    assert_eq!(se.taxonomy.count("passed") as usize, j.passes_exact_all);

    // Token matching can only accept more: every discordant pair goes one way.
    let c = compare_paired(&exact, &token, Metric::AllTestsPassed, &cfg).unwrap();
    let m = c.mcnemar.unwrap();
    assert_eq!(
        (m.a_only as usize, m.b_only as usize),
        (0, j.passes_all - j.passes_exact_all)
    );
    assert!((m.p_value - mcnemar_exact(0, m.b_only)).abs() < 1e-15);
    assert!(
        c.ci_low > 0.0,
        "token matching passes significantly more: {c:?}"
    );

    let report = Report {
        title: "Accepted CodeContests solutions under two output judges".into(),
        setting: "300 accepted human Python 3 solutions from \
            ../shared/data/codecontests_cc300.jsonl, one per problem, 10 tests each, \
            verdicts as recorded with the data, syntax by CPython 3.11, security by Bandit \
            -ll --ignore-nosec"
            .into(),
        bootstrap: cfg,
        rows: vec![
            ReportRow {
                paper_variant: None,
                summary: se.clone(),
            },
            ReportRow {
                paper_variant: None,
                summary: st.clone(),
            },
        ],
        comparisons: vec![c],
        sections: Vec::new(),
    };
    let files = write_report(&out_dir, &report).unwrap();
    let md = fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("| reference, exact match | 300 |") && md.contains("## Failure taxonomy"));
    let json: Value = serde_json::from_str(&fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(json["rows"][1]["summary"]["n_problems"], 300);
    assert_eq!(
        verify_report(
            &out_dir,
            &["reference, exact match", "reference, token match"]
        ),
        Vec::<String>::new()
    );
    let csv = fs::read_to_string(&files.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 8);

    let plot = plot_metric_bars(
        "Accepted CodeContests solutions",
        &[se, st],
        &out_dir.join("metrics"),
    )
    .unwrap();
    assert!(
        fs::read(&plot.png)
            .unwrap()
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );
    assert!(fs::read_to_string(&plot.svg).unwrap().starts_with("<svg"));
    assert_eq!(verify_plot(&plot), Vec::<String>::new());
}

//! The syntax check against the real interpreter: every snippet in tests/fixtures/syntax is
//! compiled by Debian's CPython 3.11 (`compile(bytes, name, "exec")` as for a file, run in this
//! test) and by `check_syntax` with target 3.11; accept/reject must agree. The same holds for every
//! file of the CPython standard library and every reference solution in ../shared/data. Also:
//! adversarial inputs must not crash the process.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use scrl_pycheck::{PythonVersion, check_syntax, scan};

const PYTHON: &str = "/usr/bin/python3";

const COMPILE_ALL: &str = r#"
import json, os, sys, warnings
warnings.simplefilter("ignore")
out = {}
for name in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], name), "rb") as f:
        text = f.read()
    try:
        compile(text, name, "exec")
        out[name[:-3]] = None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        out[name[:-3]] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"#;

/// CPython's verdict on every snippet of `dir`: `None` when it compiles, else the error.
fn cpython_verdicts(dir: &Path) -> BTreeMap<String, Option<String>> {
    let output = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B", "-c", COMPILE_ALL])
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON}: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from python")
}

#[test]
fn acceptance_matches_cpython_311() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntax");
    let cpython = cpython_verdicts(&dir);
    assert!(
        cpython.len() >= 60,
        "expected the snippet corpus, got {}",
        cpython.len()
    );

    let version = PythonVersion {
        major: 3,
        minor: 11,
    };
    let mut agree = 0;
    let mut disagreements = Vec::new();
    println!("{:<40} {:<8} {:<8} notes", "snippet", "cpython", "ruff");
    for (name, verdict) in &cpython {
        let source =
            std::fs::read_to_string(dir.join(format!("{name}.py"))).expect("UTF-8 snippet");
        let ours = check_syntax(&source, version);
        let (theirs_ok, ours_ok) = (verdict.is_none(), ours.is_ok());
        let note = match (&ours, verdict) {
            (Err(e), _) => e.to_string(),
            (Ok(()), Some(v)) => v.clone(),
            (Ok(()), None) => String::new(),
        };
        println!(
            "{name:<40} {:<8} {:<8} {note}",
            if theirs_ok { "ok" } else { "reject" },
            if ours_ok { "ok" } else { "reject" }
        );
        if theirs_ok == ours_ok {
            agree += 1;
        } else {
            disagreements.push(name.clone());
        }
    }
    println!(
        "agreement with CPython 3.11 compile(): {agree}/{}",
        cpython.len()
    );
    assert!(
        disagreements.is_empty(),
        "unexpected disagreements with CPython: {disagreements:?}"
    );
}

/// Compile-time rules the static check does not enforce (more than 20 statically nested blocks, the
/// symbol table's `nonlocal` ordering rules, `except*` bodies, ...): every snippet in
/// tests/fixtures/compile_time is refused by CPython, and the reward still gives each stage 0
/// because the sandbox compiles every program before running it (scrl-reward's red-team suite
/// asserts that end to end). The table shows which of them the static check catches too.
#[test]
fn compile_time_rules_left_to_the_interpreter_are_refused_by_cpython() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compile_time");
    let cpython = cpython_verdicts(&dir);
    assert!(
        cpython.len() >= 20,
        "expected the compile-time corpus, got {}",
        cpython.len()
    );
    let mut caught = 0;
    for (name, verdict) in &cpython {
        let source =
            std::fs::read_to_string(dir.join(format!("{name}.py"))).expect("UTF-8 snippet");
        let verdict = verdict.as_deref().unwrap_or_else(|| {
            panic!("{name}: CPython 3.11 compiles it; it belongs in fixtures/syntax")
        });
        let ours = check_syntax(&source, PythonVersion::default());
        caught += usize::from(ours.is_err());
        println!(
            "{name:<40} static {:<7} {verdict}",
            if ours.is_ok() { "misses" } else { "rejects" }
        );
    }
    println!("the static check catches {caught} of {}", cpython.len());
}

#[test]
fn newer_syntax_is_accepted_for_a_newer_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/syntax");
    for name in [
        "type_alias_312",
        "generic_def_312",
        "fstring_nested_same_quotes_312",
        "fstring_backslash_in_expr_312",
    ] {
        let source = std::fs::read_to_string(dir.join(format!("{name}.py"))).expect("snippet");
        assert!(
            check_syntax(
                &source,
                PythonVersion {
                    major: 3,
                    minor: 11
                }
            )
            .is_err(),
            "{name} on 3.11"
        );
        assert!(
            check_syntax(
                &source,
                PythonVersion {
                    major: 3,
                    minor: 12
                }
            )
            .is_ok(),
            "{name} on 3.12"
        );
    }
}

#[test]
fn adversarial_inputs_do_not_crash() {
    let inputs = [
        (
            "1M unary minus",
            format!("x = {}1\n", "-".repeat(1_000_000)),
        ),
        (
            "300k-term + chain",
            format!("x = {}1\n", "1+".repeat(300_000)),
        ),
        ("100k nested [", format!("x = {}\n", "[".repeat(100_000))),
        (
            "100k nested [ closed",
            format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
        ),
    ];
    for (name, source) in &inputs {
        // CPython rejects all of these (nesting limits); what matters is that we answer at all.
        let verdict = check_syntax(source, PythonVersion::default());
        assert!(verdict.is_err(), "{name}: CPython rejects it, so must we");
        let report = scan(source);
        println!(
            "{name}: {} bytes, syntax: {}, scan parsed: {}",
            source.len(),
            verdict.unwrap_err(),
            report.parsed
        );
    }
    let huge = "x = 1\n".repeat(scrl_pycheck::MAX_SOURCE_BYTES / 6 + 1);
    assert!(
        check_syntax(&huge, PythonVersion::default())
            .unwrap_err()
            .message
            .contains("cap")
    );
    assert!(!scan(&huge).parsed);
}

const COMPILE_JSONL: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
verdicts = []
for line in sys.stdin:
    try:
        compile(json.loads(line), "<solution>", "exec")
        verdicts.append(True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        verdicts.append(False)
print(json.dumps(verdicts))
"#;

/// Real programs: every reference solution in ../shared/data must get CPython's verdict.
#[test]
fn reference_solutions_get_cpythons_verdict() {
    use std::io::Write;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let mut solutions = Vec::new();
    for file in [
        "codecontests_cc300.jsonl",
        "mbpp.jsonl",
        "apps_plus_examples.jsonl",
    ] {
        let text =
            std::fs::read_to_string(data.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line).expect("JSONL row");
            if let Some(s) = row.get("reference_solution").and_then(|s| s.as_str()) {
                solutions.push(s.to_string());
            }
        }
    }
    assert!(
        solutions.len() > 300,
        "expected the reference solutions, found {}",
        solutions.len()
    );
    let mut child = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B", "-c", COMPILE_JSONL])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for s in &solutions {
            writeln!(stdin, "{}", serde_json::Value::String(s.clone())).expect("write");
        }
    }
    let output = child.wait_with_output().expect("python finishes");
    let cpython: Vec<bool> = serde_json::from_slice(&output.stdout).expect("JSON verdicts");
    let mismatches: Vec<usize> = (0..solutions.len())
        .filter(|&i| check_syntax(&solutions[i], PythonVersion::default()).is_ok() != cpython[i])
        .collect();
    println!(
        "{} reference solutions, {} rejected by CPython, {} mismatches",
        solutions.len(),
        cpython.iter().filter(|v| !**v).count(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "check_syntax disagrees with CPython on solutions {mismatches:?}"
    );
}

const COMPILE_PATHS: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
verdicts = []
for line in sys.stdin:
    with open(line.rstrip("\n"), "rb") as f:
        data = f.read()
    try:
        compile(data, "<file>", "exec")
        verdicts.append(True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        verdicts.append(False)
print(json.dumps(verdicts))
"#;

fn python_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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

/// Real code at scale: every UTF-8 file of the local CPython 3.11 standard library.
#[test]
fn stdlib_files_get_cpythons_verdict() {
    use std::io::Write;
    let mut files = Vec::new();
    python_files(Path::new("/usr/lib/python3.11"), &mut files);
    let files: Vec<(std::path::PathBuf, String)> = files
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, s)))
        .collect();
    assert!(
        files.len() > 100,
        "expected the CPython 3.11 standard library under /usr/lib/python3.11"
    );
    let mut child = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B", "-c", COMPILE_PATHS])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for (path, _) in &files {
            writeln!(stdin, "{}", path.display()).expect("write");
        }
    }
    let output = child.wait_with_output().expect("python finishes");
    let cpython: Vec<bool> = serde_json::from_slice(&output.stdout).expect("JSON verdicts");
    let mismatches: Vec<String> = files
        .iter()
        .zip(&cpython)
        .filter(|((_, source), verdict)| {
            check_syntax(source, PythonVersion::default()).is_ok() != **verdict
        })
        .map(|((path, source), _)| {
            format!(
                "{}: {:?}",
                path.display(),
                check_syntax(source, PythonVersion::default())
            )
        })
        .collect();
    println!(
        "{} stdlib files, {} mismatches",
        files.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "check_syntax disagrees with CPython on {mismatches:#?}"
    );
}

//! Every reference solution of ../shared/data/codecontests_cc300.jsonl whose reference passes all its
//! tests with exact comparison must be Accepted on every test through the sandbox (under both compare
//! modes); a deliberately broken copy of each must not be.

use std::sync::Mutex;

use scrl_sandbox::{CompareMode, Limits, Sandbox, SandboxConfig, Verdict, judge};

struct Problem {
    id: String,
    reference: String,
    tests: Vec<(String, String)>,
}

fn load() -> Vec<Problem> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/codecontests_cc300.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
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
        out.push(Problem {
            id: v["id"].as_str().unwrap().to_string(),
            reference: v["reference_solution"].as_str().unwrap().to_string(),
            tests,
        });
    }
    out
}

#[test]
fn references_pass_and_broken_copies_fail() {
    let problems = load();
    assert_eq!(problems.len(), 232, "problems with ref_passes_exact_all");
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let limits = Limits {
        cpu_time_ms: 10_000,
        wall_time_ms: 30_000,
        memory_bytes: 1 << 30,
        output_bytes: 8 << 20,
    };
    let failures = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let executions = std::sync::atomic::AtomicUsize::new(0);
    // As many driver threads as zygotes: the sandbox dispatches each call to an idle one.
    std::thread::scope(|s| {
        for _ in 0..SandboxConfig::default().workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = problems.get(i) else { break };
                    // Printing first changes every output (or, before a __future__ import, breaks the program).
                    let broken = format!("print('BROKEN')\n{}", p.reference);
                    for (t, (input, output)) in p.tests.iter().enumerate() {
                        let e = sandbox.run(&p.reference, input.as_bytes(), &limits).expect("run");
                        executions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        for mode in [CompareMode::Exact, CompareMode::Apps] {
                            let v = judge(&e, output, mode);
                            if v != Verdict::Accepted {
                                failures.lock().unwrap().push(format!(
                                    "{} test {t} ({mode:?}): {v:?}, {:?} exit {:?} cpu {} ms; stderr {:?}",
                                    p.id,
                                    e.outcome,
                                    e.exit_code,
                                    e.cpu_time_ms,
                                    String::from_utf8_lossy(&e.stderr[..e.stderr.len().min(300)])
                                ));
                            }
                        }
                        if t == 0 {
                            let b = sandbox.run(&broken, input.as_bytes(), &limits).expect("run broken");
                            executions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if judge(&b, output, CompareMode::Apps) == Verdict::Accepted {
                                failures.lock().unwrap().push(format!("{}: the broken copy was accepted", p.id));
                            }
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures over {} executions:\n{}",
        failures.len(),
        executions.into_inner(),
        failures.join("\n")
    );
}

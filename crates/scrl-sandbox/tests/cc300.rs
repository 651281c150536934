//! Every reference solution of ../shared/data/codecontests_cc300.jsonl whose reference passes all
//! its tests with exact comparison must be Accepted on every test through the sandbox (under both
//! compare modes); a deliberately broken copy of each must not be. References whose measured CPU
//! time comes within a factor of `MARGIN` of the CPU limit are left out (and counted), so a loaded
//! machine cannot turn a slow reference's verdict into a time limit.

#[path = "common/cc300.rs"]
mod cc300;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use scrl_sandbox::{CompareMode, Limits, Sandbox, SandboxConfig, Verdict, judge};

const LIMITS: Limits = Limits {
    cpu_time_ms: 10_000,
    wall_time_ms: 30_000,
    memory_bytes: 1 << 30,
    output_bytes: 8 << 20,
};

/// Runs `work` on every reference from as many driver threads as zygotes (the sandbox dispatches
/// each call to an idle one).
fn each_reference(
    sandbox: &Sandbox,
    refs: &[cc300::Reference],
    work: &(dyn Fn(&cc300::Reference) + Sync),
) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..sandbox.uids().len() {
            s.spawn(|| {
                while let Some(r) = refs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    work(r);
                }
            });
        }
    });
}

#[test]
fn references_pass_and_broken_copies_fail() {
    let all = cc300::load();
    assert_eq!(all.len(), 232, "problems with ref_passes_exact_all");
    let (problems, left_out) = cc300::within_margin(all, LIMITS.cpu_time_ms);
    println!(
        "{} references within {}x of the {} ms CPU limit left out: {left_out:?}",
        left_out.len(),
        cc300::MARGIN,
        LIMITS.cpu_time_ms
    );
    assert!(
        problems.len() >= 220,
        "only {} references kept",
        problems.len()
    );
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let failures = Mutex::new(Vec::new());
    let executions = AtomicUsize::new(0);
    each_reference(&sandbox, &problems, &|p| {
        // Printing first changes every output (or, before a __future__ import, breaks the program).
        let broken = format!("print('BROKEN')\n{}", p.code);
        for (t, (input, output)) in p.tests.iter().enumerate() {
            let e = sandbox
                .run(&p.code, input.as_bytes(), &LIMITS)
                .expect("run");
            executions.fetch_add(1, Ordering::Relaxed);
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
                let b = sandbox
                    .run(&broken, input.as_bytes(), &LIMITS)
                    .expect("run broken");
                executions.fetch_add(1, Ordering::Relaxed);
                if judge(&b, output, CompareMode::Apps) == Verdict::Accepted {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{}: the broken copy was accepted", p.id));
                }
            }
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

/// Regenerates tests/data/cc300_reference_cpu_ms.tsv (run on a quiet machine, then commit the
/// file): `cargo test -p scrl-sandbox --test cc300 -- --ignored measure_reference_cpu_times
/// --nocapture`.
#[test]
#[ignore = "writes the committed CPU-time table; run by hand when the data or the sandbox changes"]
fn measure_reference_cpu_times() {
    let refs = cc300::load();
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let generous = Limits {
        cpu_time_ms: 120_000,
        wall_time_ms: 300_000,
        ..LIMITS
    };
    let rows = Mutex::new(Vec::new());
    each_reference(&sandbox, &refs, &|r| {
        let cpu: Vec<u64> = r
            .tests
            .iter()
            .map(|(input, _)| {
                sandbox
                    .run(&r.code, input.as_bytes(), &generous)
                    .expect("run")
                    .cpu_time_ms
            })
            .collect();
        rows.lock().unwrap().push(format!(
            "{}\t{}\t{}\t{}",
            r.id,
            cpu.len(),
            cpu.iter().max().unwrap_or(&0),
            cpu.iter().sum::<u64>()
        ));
    });
    let mut rows = rows.into_inner().unwrap();
    rows.sort();
    let header = format!(
        "# CPU time of each exactly checkable cc300 reference on each of its tests, through the \
         sandbox ({} zygotes).\n# Regenerate: cargo test -p scrl-sandbox --test cc300 -- --ignored \
         measure_reference_cpu_times\nid\ttests\tmax_cpu_ms\ttotal_cpu_ms\n",
        sandbox.uids().len()
    );
    std::fs::write(cc300::cpu_table_path(), header + &rows.join("\n") + "\n")
        .expect("write the table");
}

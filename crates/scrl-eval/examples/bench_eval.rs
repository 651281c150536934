//! Benchmark of the evaluation maths: how long metrics, bootstrap intervals and a paired comparison
//! take for the paper's evaluation size (100 problems) and for k = 10 samples per problem with
//! pass@k, as ratios against grouping the records and computing point estimates only (the
//! baseline).
//!
//! Run: `cargo run --release -p scrl-eval --example bench_eval`

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scrl_eval::{BootstrapConfig, EvalSet, Metric, SampleRecord, compare_paired, summarize};

/// Seeded synthetic records with the shape of real ones (the maths does not look at the text).
fn records(problems: usize, k: u32, p_valid: f64, seed: u64) -> Vec<SampleRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for p in 0..problems {
        for s in 0..k {
            let valid = rng.random_bool(p_valid);
            let passed = if valid { rng.random_range(0..=5) } else { 0 };
            let stage = if !valid {
                0
            } else if passed > 0 {
                4
            } else {
                3
            };
            let r_func = [0.0, 0.2, 0.4, 0.6, 0.6 + 0.08 * passed as f64][stage as usize];
            out.push(SampleRecord {
                problem_id: format!("p{p:04}"),
                sample_index: s,
                completion: String::new(),
                syntax_valid: valid,
                stage,
                tests_passed: passed,
                tests_total: 5,
                verdicts: vec![],
                r_func,
                r_sec: 1.0,
                reward: 0.6 * r_func + 0.4,
                no_op: false,
                security_findings: vec![],
                exception_type: None,
            });
        }
    }
    out
}

/// Median wall time of `f` over `reps` runs, in milliseconds.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    println!("| setting | operation | median ms | x baseline |");
    println!("|---|---|---:|---:|");
    for (problems, k) in [(100usize, 1u32), (100, 10), (1000, 1)] {
        let a = records(problems, k, 0.45, 1);
        let b = records(problems, k, 0.60, 2);
        let ks: Vec<u32> = if k > 1 { vec![1, k] } else { vec![] };
        let setting = format!("{problems} problems x {k}");
        let base = median_ms(21, || {
            let set = EvalSet::from_records("a", a.clone()).unwrap();
            let means: Vec<f64> = Metric::HEADLINE
                .iter()
                .map(|m| set.column(*m).unwrap().iter().sum::<f64>() / set.problems.len() as f64)
                .collect();
            std::hint::black_box(means);
        });
        println!("| {setting} | group + point estimates (baseline) | {base:.3} | 1.0 |");
        let set_a = EvalSet::from_records("a", a.clone()).unwrap();
        let set_b = EvalSet::from_records("b", b.clone()).unwrap();
        for resamples in [1_000u32, 2_000, 10_000] {
            let cfg = BootstrapConfig {
                resamples,
                confidence: 0.95,
                seed: 42,
            };
            let t = median_ms(11, || {
                let set = EvalSet::from_records("a", a.clone()).unwrap();
                std::hint::black_box(summarize(&set, &ks, &cfg).unwrap());
            });
            println!(
                "| {setting} | summarize, {resamples} resamples, {} metrics | {t:.3} | {:.1} |",
                7 + ks.len(),
                t / base
            );
        }
        let cfg = BootstrapConfig::default();
        let t = median_ms(11, || {
            std::hint::black_box(
                compare_paired(&set_a, &set_b, Metric::SyntaxValid, &cfg).unwrap(),
            );
        });
        println!(
            "| {setting} | paired comparison, 2000 resamples + McNemar | {t:.3} | {:.1} |",
            t / base
        );
    }
}

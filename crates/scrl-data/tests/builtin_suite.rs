//! The built-in suite: enough families across the difficulty range, deterministic from the seed,
//! short references, at least 5 tests each, and every reference prints exactly the expected output
//! of every test when run by real Python (/usr/bin/python3 -S -I -E -B, one plain process per
//! test).

mod common;

use std::collections::{BTreeMap, HashSet};

use scrl_data::builtin::{FAMILIES, TESTS_PER_PROBLEM, family, suite};

#[test]
fn suite_has_40_plus_families_over_five_difficulties() {
    assert!(FAMILIES.len() >= 40, "{} families", FAMILIES.len());
    let names: HashSet<&str> = FAMILIES.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), FAMILIES.len(), "family names are unique");
    let mut by_level: BTreeMap<u8, usize> = BTreeMap::new();
    for f in FAMILIES {
        *by_level.entry(f.difficulty).or_default() += 1;
    }
    assert_eq!(
        by_level.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(
        by_level[&1] >= 8,
        "enough trivial families for a tiny model: {by_level:?}"
    );
    assert_eq!(family("sum_two").unwrap().difficulty, 1);
}

#[test]
fn suite_is_deterministic_per_seed_and_family() {
    let a = suite(42, 3);
    let b = suite(42, 3);
    assert_eq!(a, b);
    assert_eq!(a.len(), FAMILIES.len() * 3);
    let c = suite(43, 3);
    assert_ne!(a, c);
    // A family's problems do not depend on how many other problems were drawn.
    let more = suite(42, 5);
    let fizz: Vec<_> = more
        .iter()
        .filter(|p| p.source.as_deref() == Some("builtin:fizzbuzz"))
        .take(3)
        .collect();
    let fizz_a: Vec<_> = a
        .iter()
        .filter(|p| p.source.as_deref() == Some("builtin:fizzbuzz"))
        .collect();
    assert_eq!(fizz, fizz_a);
    let ids: HashSet<&str> = more.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), more.len());
}

#[test]
fn problems_are_short_and_have_enough_tests() {
    for p in suite(42, 4) {
        assert!(p.is_stdin());
        assert_eq!(p.tests.len(), TESTS_PER_PROBLEM);
        assert!(p.tests.len() >= 5);
        let r = p.reference_solution.as_deref().unwrap();
        let lines = r.lines().count();
        assert!(
            (1..=8).contains(&lines),
            "{}: {lines} reference lines",
            p.id
        );
        assert!(
            p.statement.len() <= 320,
            "{}: statement of {} chars",
            p.id,
            p.statement.len()
        );
        assert!(
            p.tests
                .iter()
                .all(|t| t.input.ends_with('\n') && t.output.ends_with('\n')),
            "{}",
            p.id
        );
        let distinct: HashSet<&str> = p.tests.iter().map(|t| t.input.as_str()).collect();
        assert!(distinct.len() >= 3, "{}: tests are not all the same", p.id);
    }
}

#[test]
fn problems_of_a_family_mostly_have_different_prompts() {
    let ps = suite(42, 20);
    let distinct: HashSet<&str> = ps.iter().map(|p| p.statement.as_str()).collect();
    assert!(
        distinct.len() * 10 >= ps.len() * 8,
        "{} distinct statements of {}",
        distinct.len(),
        ps.len()
    );
}

#[test]
fn every_reference_passes_its_tests_in_real_python() {
    let problems = suite(2024, 2);
    let dir = tempfile::tempdir().unwrap();
    let jobs: Vec<_> = problems
        .iter()
        .map(|p| {
            let path = dir.path().join(format!("{}.py", p.id));
            std::fs::write(&path, p.reference_solution.as_deref().unwrap()).unwrap();
            (p, path)
        })
        .collect();
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(jobs.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for (p, path) in chunk {
                        // The statement's worked example is checked like a test.
                        let (_, example) = p
                            .statement
                            .split_once("\nExample input:\n")
                            .expect("an example");
                        let (input, output) = example.split_once("Example output:\n").unwrap();
                        let example = scrl_data::StdinTest {
                            input: input.to_string(),
                            output: format!("{output}\n"),
                        };
                        for (i, t) in p.tests.iter().chain([&example]).enumerate() {
                            match common::run_python_file(path, &t.input) {
                                Ok(out) if out == t.output => {}
                                Ok(out) => bad.push(format!(
                                    "{} test {i}: input {:?}: expected {:?}, got {out:?}",
                                    p.id, t.input, t.output
                                )),
                                Err(e) => {
                                    bad.push(format!("{} test {i}: input {:?}: {e}", p.id, t.input))
                                }
                            }
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

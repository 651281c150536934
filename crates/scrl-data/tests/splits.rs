//! Seeded splits: the evaluation set depends only on the seed and the problems (not on file order),
//! never meets the training set unless overlap is asked for, and then the overlap is reported.

mod common;

use std::collections::HashSet;

use common::shared;
use scrl_data::split::overlap;
use scrl_data::{Problem, SplitOptions, load_problems, split};

fn ids(ps: &[Problem]) -> Vec<String> {
    ps.iter().map(|p| p.id.clone()).collect()
}

fn apps() -> Vec<Problem> {
    load_problems(&shared("apps_plus_examples.jsonl")).unwrap()
}

#[test]
fn eval_set_is_deterministic_and_independent_of_file_order() {
    let ps = apps();
    let a = split(&ps, &SplitOptions::default()).unwrap();
    assert_eq!(a.eval.len(), 100);
    let b = split(&ps, &SplitOptions::default()).unwrap();
    assert_eq!(ids(&a.eval), ids(&b.eval));
    assert_eq!(ids(&a.train), ids(&b.train));
    let mut reversed = ps.clone();
    reversed.reverse();
    let c = split(&reversed, &SplitOptions::default()).unwrap();
    assert_eq!(ids(&a.eval), ids(&c.eval));
    assert_eq!(ids(&a.train), ids(&c.train));
    let other_seed = split(
        &ps,
        &SplitOptions {
            seed: 43,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(ids(&a.eval), ids(&other_seed.eval));
}

#[test]
fn train_and_eval_are_disjoint_and_cover_everything() {
    let ps = apps();
    let s = split(&ps, &SplitOptions::default()).unwrap();
    let eval: HashSet<String> = ids(&s.eval).into_iter().collect();
    assert!(s.train.iter().all(|p| !eval.contains(&p.id)));
    assert!(s.overlap.is_empty());
    assert!(overlap(&s.train, &s.eval).is_empty());
    assert_eq!(
        s.eval.len() + s.train.len() + s.held_out_duplicates.len(),
        ps.len()
    );
    let capped = split(
        &ps,
        &SplitOptions {
            train_n: Some(50),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        ids(&capped.train),
        ids(&s.train[..50]),
        "a capped training set is a prefix of the seeded order"
    );
    assert_eq!(ids(&capped.eval), ids(&s.eval));
}

#[test]
fn duplicate_statements_stay_on_one_side() {
    let mut ps = apps();
    // A copy of every problem under a new id, with different spacing: same problem, so never split
    // apart.
    let copies: Vec<Problem> = ps
        .iter()
        .map(|p| {
            let mut q = p.clone();
            q.id = format!("{}_copy", p.id);
            q.statement = format!("  {}\n", p.statement.replace('\n', " \n "));
            q
        })
        .collect();
    ps.extend(copies);
    let s = split(&ps, &SplitOptions::default()).unwrap();
    assert_eq!(s.eval.len(), 100);
    assert_eq!(s.held_out_duplicates.len(), 100);
    assert!(overlap(&s.train, &s.eval).is_empty());
}

#[test]
fn forced_overlap_is_reported() {
    let ps = apps();
    let s = split(
        &ps,
        &SplitOptions {
            allow_overlap: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.train.len(), ps.len());
    assert_eq!(s.overlap.len(), 100);
    let eval: HashSet<String> = ids(&s.eval).into_iter().collect();
    assert!(s.overlap.iter().all(|id| eval.contains(id)));
}

#[test]
fn bad_requests_are_errors() {
    let ps = apps();
    let e = split(&ps[..10], &SplitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("10 distinct problems, fewer than the 100"),
        "{e}"
    );
    let mut dup = ps[..200].to_vec();
    dup[1].id = dup[0].id.clone();
    assert!(
        split(&dup, &SplitOptions::default())
            .unwrap_err()
            .to_string()
            .contains("appears twice")
    );
}

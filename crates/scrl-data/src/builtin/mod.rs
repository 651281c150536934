//! The built-in task suite the CPU default trains and evaluates on: problem families (arithmetic,
//! strings, lists, counting, sorting, parsing, small simulations) generated deterministically from
//! a seed. Each problem has a short statement, a short stdin/stdout reference program and generated
//! tests whose expected outputs are computed here; a test runs every reference on its tests with
//! real Python. Each statement ends with a worked example that is not among the tests.
//! Difficulty runs from 1 (one line, e.g. print the sum of two integers) to 5 (a small algorithm),
//! so a tiny model learns the easy families while the hard ones leave room for RL.

mod families;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::problem::{Problem, StdinTest};

pub use families::FAMILIES;

/// Tests generated per problem: one more than the paper's cap of 5, so a held-out test exists.
pub const TESTS_PER_PROBLEM: usize = 6;

/// One family of problems: a generator of statement, reference and tests from a random source.
pub struct Family {
    pub name: &'static str,
    /// 1 (trivial) to 5 (a small algorithm).
    pub difficulty: u8,
    pub(crate) generate: fn(&mut ChaCha8Rng) -> Generated,
}

pub(crate) struct Generated {
    pub statement: String,
    pub reference: String,
    /// `TESTS_PER_PROBLEM + 1` cases: the shortest becomes the statement's example, the rest the
    /// tests.
    pub tests: Vec<StdinTest>,
}

/// The statement followed by a worked example, the way contest statements show one. The example is
/// not one of the tests, and it makes the problems of a family differ in their prompts.
fn with_example(statement: &str, mut cases: Vec<StdinTest>) -> (String, Vec<StdinTest>) {
    let shortest =
        (0..cases.len()).min_by_key(|&i| (cases[i].input.len() + cases[i].output.len(), i));
    match shortest {
        Some(i) => {
            let ex = cases.remove(i);
            (
                format!(
                    "{statement}\nExample input:\n{}Example output:\n{}",
                    ex.input, ex.output
                )
                .trim_end()
                .to_string(),
                cases,
            )
        }
        None => (statement.to_string(), cases),
    }
}

/// The family's own random stream: derived from the seed and the family's name, so adding or
/// reordering families leaves every other family's problems unchanged.
fn family_rng(seed: u64, name: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    ChaCha8Rng::from_seed(digest)
}

impl Family {
    /// `n` problems of this family, the same for the same seed.
    pub fn problems(&self, seed: u64, n: usize) -> Vec<Problem> {
        let mut rng = family_rng(seed, self.name);
        (0..n)
            .map(|i| {
                let g = (self.generate)(&mut rng);
                let (statement, tests) = with_example(&g.statement, g.tests);
                let mut p = Problem::stdin(
                    format!("builtin_{}_{i:03}", self.name),
                    format!("builtin:{}", self.name),
                    statement,
                );
                p.reference_solution = Some(g.reference);
                p.tests = tests;
                // The worked example is not a test by construction; a test that happens to match it
                // is marked.
                p.mark_statement_examples();
                p.difficulty = Some(self.difficulty.to_string());
                p.extra.insert("seed".into(), Value::from(seed));
                p
            })
            .collect()
    }
}

/// `n_per_family` problems of every family, family by family.
pub fn suite(seed: u64, n_per_family: usize) -> Vec<Problem> {
    FAMILIES
        .iter()
        .flat_map(|f| f.problems(seed, n_per_family))
        .collect()
}

/// The family called `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

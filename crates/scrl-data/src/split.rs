//! Seeded train/evaluation splits (every evaluated model must see the same prompts).
//! A problem's place depends only on the seed and its own text, never on file order or on the
//! model, so the evaluation set is identical across models and runs. Problems with the same
//! statement are kept on the same side, so training and evaluation are disjoint by construction;
//! overlap only happens when the caller asks for it, and is then reported.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::problem::Problem;

/// How a problem set is split (the data section: `securecoderl data split`'s flags, with this text
/// as their help).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, clap::Args)]
#[serde(default, deny_unknown_fields)]
pub struct SplitOptions {
    /// Size of the evaluation set (the paper uses 100).
    #[arg(long)]
    pub eval_n: usize,
    /// Seed of the split (a problem's side depends only on it and the problem's statement).
    #[arg(long)]
    pub seed: u64,
    /// At most this many training problems, a prefix of the seeded order (the paper trains on about
    /// 1,000; default: all).
    #[arg(long)]
    pub train_n: Option<usize>,
    /// Train on the evaluation problems too (reported in the split; never the default).
    #[arg(long)]
    pub allow_overlap: bool,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            eval_n: 100,
            seed: 42,
            train_n: None,
            allow_overlap: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Split {
    pub eval: Vec<Problem>,
    /// In seeded order, so taking a prefix is itself a seeded sample.
    pub train: Vec<Problem>,
    /// Ids in both sets; empty unless `allow_overlap` was set.
    pub overlap: Vec<String>,
    /// Problems left out of training because their statement equals an evaluation problem's.
    pub held_out_duplicates: Vec<String>,
}

/// The seeded rank of a problem: a hash of the seed and its normalised statement (ties broken by
/// id).
fn rank(seed: u64, statement_key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(statement_key.as_bytes());
    h.finalize().into()
}

/// Statements that differ only in spacing or case are the same problem.
fn statement_key(statement: &str) -> String {
    statement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub fn split(problems: &[Problem], opts: &SplitOptions) -> Result<Split, DataError> {
    let mut ids = HashSet::new();
    for p in problems {
        if !ids.insert(p.id.as_str()) {
            return Err(DataError::Split {
                message: format!("id `{}` appears twice in the input", p.id),
            });
        }
    }
    // Group by statement; each group is ranked as a whole.
    let mut groups: HashMap<String, Vec<&Problem>> = HashMap::new();
    for p in problems {
        groups
            .entry(statement_key(&p.statement))
            .or_default()
            .push(p);
    }
    if groups.len() < opts.eval_n {
        return Err(DataError::Split {
            message: format!(
                "{} distinct problems, fewer than the {} asked for evaluation",
                groups.len(),
                opts.eval_n
            ),
        });
    }
    let mut ranked: Vec<([u8; 32], Vec<&Problem>)> = groups
        .into_iter()
        .map(|(key, mut members)| {
            members.sort_by(|a, b| a.id.cmp(&b.id));
            (rank(opts.seed, &key), members)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1[0].id.cmp(&b.1[0].id)));

    let mut eval = Vec::with_capacity(opts.eval_n);
    let mut train = Vec::new();
    let mut held_out_duplicates = Vec::new();
    for (i, (_, members)) in ranked.iter().enumerate() {
        if i < opts.eval_n {
            eval.push(members[0].clone());
            if opts.allow_overlap {
                train.extend(members.iter().map(|p| (*p).clone()));
            } else {
                held_out_duplicates.extend(members[1..].iter().map(|p| p.id.clone()));
            }
        } else {
            train.extend(members.iter().map(|p| (*p).clone()));
        }
    }
    if opts.allow_overlap {
        // Overlap was asked for; mix the evaluation problems into the training order by their rank.
        train.sort_by_key(|p| rank(opts.seed ^ 0x5eed, &p.id));
    }
    if let Some(n) = opts.train_n {
        train.truncate(n);
    }
    let overlap = overlap(&train, &eval);
    Ok(Split {
        eval,
        train,
        overlap,
        held_out_duplicates,
    })
}

/// Ids of `train` that are also in `eval`, or whose statement is; for checking sets made elsewhere.
pub fn overlap(train: &[Problem], eval: &[Problem]) -> Vec<String> {
    let ids: HashSet<&str> = eval.iter().map(|p| p.id.as_str()).collect();
    let statements: HashSet<String> = eval.iter().map(|p| statement_key(&p.statement)).collect();
    train
        .iter()
        .filter(|p| {
            ids.contains(p.id.as_str()) || statements.contains(&statement_key(&p.statement))
        })
        .map(|p| p.id.clone())
        .collect()
}

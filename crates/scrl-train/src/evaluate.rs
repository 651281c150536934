//! Evaluation runs: k samples per problem from a policy (base, or base + adapter), each scored by
//! the same reward as training, turned into `scrl_eval::SampleRecord`s. Sampling is seeded per
//! sample index, so a model's samples do not depend on the batch size, and every model sees the
//! same problems.

use std::path::Path;

use scrl_data::Problem;
use scrl_eval::{SampleRecord, SecurityFinding};
use scrl_model::{LoraMode, SamplingParams};
use scrl_reward::{RewardBreakdown, RewardModel, TestSpec};

use crate::policy::{Policy, PromptStyle, device, dtype};
use crate::{SeedPurpose, TrainError, derive_seed};

#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Samples per problem (k).
    pub samples: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_new_tokens: usize,
    pub seed: u64,
    /// Prompts per sampling batch.
    pub batch_size: usize,
}

impl Default for EvalOptions {
    /// The paper's Table 3 setting: one sample per problem at T = 0.7.
    fn default() -> Self {
        EvalOptions {
            samples: 1,
            temperature: 0.7,
            top_p: 1.0,
            max_new_tokens: 512,
            seed: 0,
            batch_size: 8,
        }
    }
}

/// Loads a model folder and, when given, an adapter folder. A missing or mismatched adapter is an
/// error: evaluation never silently falls back to the base model.
pub fn load_policy(
    model: &Path,
    adapter: Option<&Path>,
    style: PromptStyle,
    dtype_name: &str,
    device_name: &str,
) -> Result<Policy, TrainError> {
    let mut policy = Policy::load(model, style, dtype(dtype_name)?, &device(device_name)?)?;
    if let Some(a) = adapter {
        policy.decoder.load_adapter(a)?;
    }
    Ok(policy)
}

/// How a problem's completions are checked under `cfg`: its stdin tests (without the statement's
/// examples when `cfg.skip_statement_examples`; the marks are computed from the statement, so
/// problems imported before they existed are covered too) or its asserts.
pub fn test_spec(p: &Problem, cfg: &scrl_reward::RewardConfig) -> TestSpec {
    match &p.kind {
        scrl_data::ProblemKind::Stdin => {
            let examples = if cfg.skip_statement_examples {
                scrl_data::statement_example_tests(&p.statement, &p.tests)
            } else {
                Vec::new()
            };
            TestSpec::Stdin(
                p.tests
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !examples.contains(i))
                    .map(|(_, t)| scrl_reward::StdinCase {
                        input: t.input.clone(),
                        output: t.output.clone(),
                    })
                    .collect(),
            )
        }
        scrl_data::ProblemKind::FunctionCall { .. } => TestSpec::Asserts {
            setup: p.test_setup_code.clone(),
            asserts: p.assert_tests.clone(),
        },
    }
}

/// The evaluation record of one scored completion.
pub fn record(
    problem_id: &str,
    sample_index: u32,
    completion: &str,
    b: &RewardBreakdown,
) -> SampleRecord {
    let verdict_name = |v| {
        serde_json::to_value(v)
            .ok()
            .and_then(|x| x.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    SampleRecord {
        problem_id: problem_id.to_string(),
        sample_index,
        completion: completion.to_string(),
        syntax_valid: b.syntax_error.is_none(),
        no_op: b.no_op,
        stage: b.stage.number(),
        tests_passed: b.tests_passed as u32,
        tests_total: b.tests_total as u32,
        verdicts: b.tests.iter().map(|t| verdict_name(t.verdict)).collect(),
        r_func: b.r_func,
        r_sec: b.r_sec,
        reward: b.reward,
        security_findings: b
            .findings
            .iter()
            .map(|f| SecurityFinding {
                test_id: f.test_id.clone(),
                severity: f.issue_severity,
            })
            .collect(),
        exception_type: b
            .tests
            .iter()
            .find_map(|t| t.exception_type().map(str::to_string)),
    }
}

/// Generates `opts.samples` completions per problem and scores each. Prompts longer than the
/// model's context are an error naming the problem, not a silent skip.
pub fn generate_records(
    policy: &Policy,
    reward: &RewardModel,
    problems: &[Problem],
    opts: &EvalOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<SampleRecord>, TrainError> {
    if opts.samples == 0 {
        return Err(TrainError::Config(
            "samples per problem must be >= 1".into(),
        ));
    }
    if opts.temperature == 0.0 && opts.samples > 1 {
        return Err(TrainError::Config(
            "greedy decoding (temperature 0) gives k identical samples; use k = 1".into(),
        ));
    }
    let mut jobs: Vec<(usize, u32, Vec<u32>)> = Vec::new();
    for (pi, p) in problems.iter().enumerate() {
        let ids = policy.prompt_ids(p)?;
        for s in 0..opts.samples {
            jobs.push((pi, s as u32, ids.clone()));
        }
    }
    let specs: Vec<TestSpec> = problems
        .iter()
        .map(|p| test_spec(p, reward.config()))
        .collect();
    let mut out = Vec::with_capacity(jobs.len());
    for (c, chunk) in jobs.chunks(opts.batch_size.max(1)).enumerate() {
        let params = SamplingParams {
            max_new_tokens: opts.max_new_tokens,
            temperature: opts.temperature,
            top_p: opts.top_p,
            top_k: 0,
            stop: Vec::new(),
            seed: derive_seed(opts.seed, SeedPurpose::EvalSampling, 0),
            stream_offset: (c * opts.batch_size.max(1)) as u64,
        };
        let prompts: Vec<Vec<u32>> = chunk.iter().map(|j| j.2.clone()).collect();
        let samples = scrl_model::sample(
            &policy.decoder,
            &policy.tokenizer,
            &prompts,
            &params,
            LoraMode::On,
        )?;
        let codes: Vec<String> = samples.iter().map(|s| policy.extract(&s.text)).collect();
        let pairs: Vec<(&str, &TestSpec)> = codes
            .iter()
            .zip(chunk)
            .map(|(code, j)| (code.as_str(), &specs[j.0]))
            .collect();
        for ((res, j), s) in reward
            .score_batch(&pairs)
            .into_iter()
            .zip(chunk)
            .zip(&samples)
        {
            out.push(record(&problems[j.0].id, j.1, &s.text, &res?));
        }
        progress(out.len(), jobs.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scrl_data::StdinTest;
    use scrl_reward::RewardConfig;

    fn cases(spec: &TestSpec) -> Vec<String> {
        match spec {
            TestSpec::Stdin(c) => c.iter().map(|c| c.input.clone()).collect(),
            TestSpec::Asserts { .. } => panic!("a stdin problem"),
        }
    }

    #[test]
    fn statement_examples_are_left_out_only_when_asked() {
        let mut p = Problem::stdin(
            "p",
            "test",
            "Print a + b.\nExample input:\n1 2\nExample output:\n3",
        );
        p.tests = vec![
            StdinTest {
                input: "1 2\n".into(),
                output: "3\n".into(),
            },
            StdinTest {
                input: "5 5\n".into(),
                output: "10\n".into(),
            },
        ];
        assert_eq!(
            cases(&test_spec(&p, &RewardConfig::default())),
            ["1 2\n", "5 5\n"]
        );
        let skip = RewardConfig {
            skip_statement_examples: true,
            ..RewardConfig::default()
        };
        assert_eq!(
            cases(&test_spec(&p, &skip)),
            ["5 5\n"],
            "the statement's worked example is not a hidden test"
        );
    }
}

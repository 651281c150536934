//! The pipeline: split, SFT, the three PPO variants per training seed, evaluation, comparisons,
//! report and plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use scrl_eval::{EvalSet, Metric, PaperVariant, Report, ReportRow, ReportSection};
use scrl_reward::{RewardConfig, RewardKind, RewardModel};
use scrl_train::{PpoConfig, PpoSummary, SeedPurpose, SftConfig};

use crate::config::SweepConfig;
use crate::evaluation::{EvalConfig, compare, evaluate_model, pass_at, summarise, write_report};
use crate::progress::Progress;

/// One trained model of the table.
struct Variant {
    name: String,
    /// File stem of its records and plots.
    stem: String,
    paper: PaperVariant,
    adapter: PathBuf,
    /// The PPO run folder (metrics, summary), none for SFT.
    run: Option<PathBuf>,
    summary: Option<PpoSummary>,
}

/// The outcome of a pipeline run, and the checks quickstart prints.
pub struct PipelineOutcome {
    pub report: PathBuf,
    pub problems: Vec<String>,
    pub seconds: f64,
}

/// The three problem sets of a sweep, carved once: a seeded evaluation set, then a validation set
/// from what is left, then the training set; no problem (nor statement) is in two of them.
pub struct Carved {
    pub eval: Vec<scrl_data::Problem>,
    pub val: Vec<scrl_data::Problem>,
    pub train: Vec<scrl_data::Problem>,
}

pub fn carve(all: &[scrl_data::Problem], cfg: &SweepConfig) -> anyhow::Result<Carved> {
    let opts = |eval_n, seed, train_n| scrl_data::SplitOptions {
        eval_n,
        seed,
        train_n,
        allow_overlap: false,
    };
    let split = scrl_data::split(all, &opts(cfg.eval_n, cfg.split_seed, None))?;
    let rest = scrl_data::split(
        &split.train,
        &opts(
            cfg.val_n,
            scrl_train::derive_seed(cfg.split_seed, SeedPurpose::ValidationSplit, 0),
            cfg.train_n,
        ),
    )?;
    if !split.overlap.is_empty() || !rest.overlap.is_empty() {
        bail!("the evaluation, validation and training sets overlap");
    }
    Ok(Carved {
        eval: split.eval,
        val: rest.eval,
        train: rest.train,
    })
}

fn kind_name(k: RewardKind) -> &'static str {
    match k {
        RewardKind::Binary => "binary",
        RewardKind::Partial => "partial-credit",
    }
}

/// Which PPO variant, how it starts and what it trains on.
struct PpoVariant {
    name: &'static str,
    dir: &'static str,
    paper: PaperVariant,
    reward: RewardKind,
    /// Starts from this variant's `best` (PPO-continue from PPO-simple).
    continues: Option<&'static str>,
    /// The index of its training seed ([`SeedPurpose::Variant`]).
    stream: u64,
}

const PPO_VARIANTS: [PpoVariant; 3] = [
    PpoVariant {
        name: "PPO-simple",
        dir: "ppo-simple",
        paper: PaperVariant::PpoSimple,
        reward: RewardKind::Binary,
        continues: None,
        stream: 1,
    },
    PpoVariant {
        name: "PPO-fresh",
        dir: "ppo-fresh",
        paper: PaperVariant::PpoFresh,
        reward: RewardKind::Partial,
        continues: None,
        stream: 2,
    },
    PpoVariant {
        name: "PPO-continue",
        dir: "ppo-continue",
        paper: PaperVariant::PpoContinue,
        reward: RewardKind::Partial,
        continues: Some("ppo-simple"),
        stream: 3,
    },
];

/// Trains SFT and the three PPO variants with one training seed into `dir`.
fn train_seed(
    cfg: &SweepConfig,
    reward: &RewardModel,
    progress: &dyn Progress,
    dir: &Path,
    paths: (&Path, &Path),
    seed: u64,
    label: &dyn Fn(&str) -> (String, String),
) -> anyhow::Result<Vec<Variant>> {
    let (train_path, val_path) = paths;
    progress.stage(&format!("SFT (LoRA), seed {seed}"));
    let sft = SftConfig {
        model: cfg.model.clone(),
        data: train_path.into(),
        val_data: Some(val_path.into()),
        out: dir.join("sft"),
        seed,
        ..cfg.sft.clone()
    };
    let pb = progress.task(0, "");
    let s = scrl_train::run_sft(&sft, false, &|m| pb.message(m))?;
    pb.finish();
    progress.note(&format!(
        "    val loss {:.4} -> {:.4} (best {:.4}) in {:.0} s",
        s.first_val_loss, s.final_val_loss, s.best_val_loss, s.seconds
    ));
    let (name, stem) = label("SFT");
    let mut out = vec![Variant {
        name,
        stem,
        paper: PaperVariant::Sft,
        adapter: s.adapter.clone(),
        run: None,
        summary: None,
    }];
    for v in &PPO_VARIANTS {
        progress.stage(&format!(
            "{} ({} reward{}), seed {seed}",
            v.name,
            kind_name(v.reward),
            v.continues.map_or(String::new(), |c| format!(", from {c}"))
        ));
        let c = PpoConfig {
            model: cfg.model.clone(),
            adapter: Some(s.adapter.clone()),
            init_from: v.continues.map(|c| dir.join(c).join("best")),
            data: train_path.into(),
            val_data: Some(val_path.into()),
            val_prompts: cfg.val_n,
            out: dir.join(v.dir),
            reward: RewardConfig {
                kind: v.reward,
                ..cfg.reward.clone()
            },
            sandbox: cfg.sandbox.clone(),
            binary_episodes: None,
            // TOML integers are signed 64-bit, and the run folder records its config: keep 63 bits.
            seed: scrl_train::derive_seed(seed, SeedPurpose::Variant, v.stream) >> 1,
            ..cfg.ppo.clone()
        };
        let pb = progress.task(c.episodes, "episodes");
        let sum = scrl_train::run_ppo(&c, reward, false, &|done, m| {
            pb.position(done);
            pb.message(m);
        })?;
        pb.finish();
        progress.note(&format!(
            "    validation reward ({}) {:.3} (start) -> {} (end), best {} at episode {}{}; batch \
             reward {:.3} (first episode) -> {:.3} (last); {:.0} s",
            kind_name(sum.selection_reward),
            sum.initial_val_reward,
            sum.final_val_reward
                .map_or("-".into(), |v| format!("{v:.3}")),
            sum.best_val_reward
                .map_or("-".into(), |v| format!("{v:.3}")),
            sum.best_episode.map_or("-".into(), |e| e.to_string()),
            if sum.beat_start {
                ""
            } else {
                " (no validation beat the starting policy)"
            },
            sum.first_reward_mean,
            sum.last_reward_mean,
            sum.seconds
        ));
        let (name, stem) = label(v.name);
        out.push(Variant {
            name,
            stem,
            paper: v.paper,
            adapter: c.out.join("best/adapter"),
            run: Some(c.out),
            summary: Some(sum),
        });
    }
    Ok(out)
}

/// Turns a variant's name into its label and folder name.
type Labeller = Box<dyn Fn(&str) -> (String, String)>;

/// Runs the whole pipeline; returns the report path and every check that failed.
pub fn run_pipeline(cfg: &SweepConfig, progress: &dyn Progress) -> anyhow::Result<PipelineOutcome> {
    let started = Instant::now();
    // One partial-credit reward model serves training and evaluation: each PPO variant switches
    // the kind it trains on per episode.
    let reward = &crate::start_reward(
        &RewardConfig {
            kind: RewardKind::Partial,
            ..cfg.reward.clone()
        },
        &cfg.sandbox,
    )?;
    let out = &cfg.out;
    anyhow::ensure!(cfg.seeds >= 1, "seeds must be >= 1");
    std::fs::create_dir_all(out.join("data"))
        .with_context(|| format!("creating {}", out.display()))?;
    scrl_eval::write_atomic(&out.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    let mut problems_found = Vec::new();

    progress.stage("data: seeded evaluation set, validation set and disjoint training set");
    let all = scrl_data::load_problems(&cfg.data)?;
    let sets = carve(&all, cfg)?;
    let (train_path, val_path, eval_path) = (
        out.join("data/train.jsonl"),
        out.join("data/val.jsonl"),
        out.join("data/eval.jsonl"),
    );
    scrl_data::write_problems(&train_path, &sets.train)?;
    scrl_data::write_problems(&val_path, &sets.val)?;
    scrl_data::write_problems(&eval_path, &sets.eval)?;
    progress.note(&format!(
        "    {} evaluation problems, {} validation problems, {} training problems",
        sets.eval.len(),
        sets.val.len(),
        sets.train.len()
    ));

    let mut variants = Vec::new();
    for k in 0..cfg.seeds {
        let seed = cfg.train_seed + k as u64;
        let (dir, label): (PathBuf, Labeller) = if cfg.seeds == 1 {
            (
                out.clone(),
                Box::new(|n: &str| (n.to_string(), n.to_lowercase())),
            )
        } else {
            (
                out.join(format!("seed-{seed}")),
                Box::new(move |n: &str| {
                    (
                        format!("{n} (seed {seed})"),
                        format!("{}-seed{seed}", n.to_lowercase()),
                    )
                }),
            )
        };
        variants.extend(train_seed(
            cfg,
            reward,
            progress,
            &dir,
            (&train_path, &val_path),
            seed,
            &*label,
        )?);
    }

    // Every model is evaluated as `securecoderl eval` would: the same problems, sampling seed and
    // reward; the prompt style, dtype and device of SFT.
    let eval_cfg = EvalConfig {
        samples: cfg.eval_samples,
        temperature: cfg.eval_temperature,
        max_new_tokens: cfg.eval_max_new_tokens,
        seed: cfg.eval_seed,
        resamples: cfg.bootstrap_resamples,
        prompt_style: cfg.sft.prompt_style,
        dtype: cfg.sft.dtype.clone(),
        device: cfg.sft.device.clone(),
        ..EvalConfig::default()
    };
    let boot = eval_cfg.bootstrap();
    let mut evals = Vec::new();
    for v in &variants {
        progress.stage(&format!("evaluate {}", v.name));
        let path = out.join(format!("eval/{}.jsonl", v.stem));
        std::fs::create_dir_all(path.parent().expect("has a parent")).context("creating eval/")?;
        let recs = evaluate_model(
            &cfg.model,
            Some(&v.adapter),
            &sets.eval,
            &eval_cfg,
            reward,
            &path,
            &v.name,
            progress,
        )?;
        evals.push(EvalSet::from_records(&v.name, recs)?);
    }
    let rows = summarise(
        &evals
            .iter()
            .zip(&variants)
            .map(|(set, v)| (set, Some(v.paper)))
            .collect::<Vec<_>>(),
        &pass_at(cfg.eval_samples),
        &boot,
    )?;
    // Paired comparisons within each seed: every PPO variant against SFT, partial against binary
    // credit (PPO-fresh vs PPO-simple) and the curriculum against partial credit alone
    // (PPO-continue vs PPO-fresh).
    const PAIRS: [(usize, usize); 5] = [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)];
    let mut comparisons = Vec::new();
    for group in evals.chunks(1 + PPO_VARIANTS.len()) {
        let pairs: Vec<_> = PAIRS.iter().map(|&(a, b)| (&group[a], &group[b])).collect();
        comparisons.extend(compare(&pairs, &boot)?);
    }
    // Pooled over seeds: every seed evaluates the same problems, so each problem's mean over all
    // seeds' samples is still a paired unit, with the sampling noise of one seed's 4 samples cut by
    // the seeds.
    if cfg.seeds > 1 {
        let pooled = pool_over_seeds(&evals, 1 + PPO_VARIANTS.len(), cfg.seeds)?;
        let pairs: Vec<_> = PAIRS
            .iter()
            .map(|&(a, b)| (&pooled[a], &pooled[b]))
            .collect();
        comparisons.extend(compare(&pairs, &boot)?);
    }

    progress.stage("report and plots");
    let c = reward.config();
    let p = &cfg.ppo;
    let report = Report {
        title: "SecureCodeRL sweep: SFT and the three PPO variants (Table 3)".into(),
        setting: format!(
            "model {}; data {} ({} training problems, {} validation problems, {} evaluation \
             problems, split seed {}); {} training seed(s) from {}; SFT {} epochs at lr {}{}; PPO \
             {} episodes x {} prompts x {} samples, lr {} (value head {}), T {}, KL {} to the SFT \
             adapter, lambda {}, each variant at its best validation checkpoint ({} validation \
             problems x {} samples); eval {} sample(s) at T = {} (seed {}); reward {} R_func + {} \
             R_sec, T capped at {}",
            cfg.model.display(),
            cfg.data.display(),
            sets.train.len(),
            sets.val.len(),
            sets.eval.len(),
            cfg.split_seed,
            cfg.seeds,
            cfg.train_seed,
            cfg.sft.epochs,
            cfg.sft.lr,
            cfg.sft
                .max_problems
                .map(|n| format!(" on at most {n} training problems"))
                .unwrap_or_default(),
            p.episodes,
            p.batch_size,
            p.group_size,
            p.lr,
            p.value_lr(),
            p.temperature,
            p.kl_coef,
            p.lam,
            sets.val.len(),
            p.val_samples,
            cfg.eval_samples,
            cfg.eval_temperature,
            cfg.eval_seed,
            c.alpha,
            c.beta,
            c.test_cap.0.map_or("none".into(), |t| t.to_string())
        ),
        bootstrap: boot,
        sections: vec![
            ReportSection {
                title: "Checkpoint selection".into(),
                markdown: selection_section(&variants),
            },
            ReportSection {
                title: "Which of the paper's findings this run reproduces".into(),
                markdown: findings_section(&comparisons, cfg.seeds),
            },
        ]
        .into_iter()
        .chain((cfg.seeds > 1).then(|| ReportSection {
            title: "Across training seeds".into(),
            markdown: seeds_section(&rows, cfg.seeds),
        }))
        .collect(),
        rows,
        comparisons,
    };
    let plots = out.join("plots");
    let (files, bars) = write_report(out, &report, &plots.join("metrics"))?;
    let mut plot_files = vec![bars];
    let mut curves = Vec::new();
    for v in &variants {
        let Some(run) = &v.run else { continue };
        let rows = scrl_eval::read_training_rows(&run.join("metrics.jsonl"))?;
        let stem = plots.join(format!("training-{}", v.stem));
        plot_files.push(scrl_eval::plot_training_curves(
            &format!("{} training", v.name),
            &rows,
            &stem,
        )?);
        curves.push((v.name.clone(), rows));
    }
    plot_files.push(scrl_eval::plot_reward_comparison(
        "Mean reward per episode",
        &curves,
        &plots.join("reward-curves"),
    )?);

    // The checks: every stage ran and wrote what it should.
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    problems_found.extend(scrl_eval::verify_report(out, &names));
    for f in &plot_files {
        problems_found.extend(scrl_eval::verify_plot(f));
    }
    for v in &variants {
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            if !v.adapter.join(file).is_file() {
                problems_found.push(format!(
                    "{}: missing {}",
                    v.name,
                    v.adapter.join(file).display()
                ));
            }
        }
        let Some(run) = &v.run else { continue };
        for file in [
            "metrics.jsonl",
            "checkpoint/state.json",
            "final/value_head.safetensors",
            "summary.json",
        ] {
            if !run.join(file).is_file() {
                problems_found.push(format!("missing {}", run.join(file).display()));
            }
        }
    }
    Ok(PipelineOutcome {
        report: files.markdown,
        problems: problems_found,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The variant's name in an evaluation label: "PPO-fresh" of "PPO-fresh (seed 43)" or of
/// "PPO-fresh (pooled over 3 seeds)".
fn variant_name(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

/// One evaluation set per variant holding every seed's samples, labelled "NAME (pooled over N
/// seeds)": seed k's sample i becomes sample `k * samples + i`. `evals` holds `per_seed` sets per
/// seed, in the same variant order for every seed.
fn pool_over_seeds(
    evals: &[EvalSet],
    per_seed: usize,
    seeds: usize,
) -> anyhow::Result<Vec<EvalSet>> {
    (0..per_seed)
        .map(|j| {
            let of_variant = evals.iter().skip(j).step_by(per_seed);
            let name = variant_name(&evals[j].label);
            let mut records = Vec::new();
            for (k, set) in of_variant.enumerate() {
                let samples = set.problems.iter().map(|p| p.n_samples).max().unwrap_or(0);
                records.extend(set.records.iter().cloned().map(|mut r| {
                    r.sample_index += k as u32 * samples;
                    r
                }));
            }
            Ok(EvalSet::from_records(
                format!("{name} (pooled over {seeds} seeds)"),
                records,
            )?)
        })
        .collect()
}

/// How each PPO variant's evaluated checkpoint was chosen, and whether it beat its starting policy.
fn selection_section(variants: &[Variant]) -> String {
    let mut md = String::from(
        "Each PPO variant is evaluated at its `best` checkpoint: the validation with the highest \
         mean reward on the validation problems (never the evaluation problems), a later \
         validation winning a tie. Validation uses the reward the variant trains on (binary for \
         PPO-simple, partial credit otherwise).\n\n| variant | selection reward | validation at \
         start | best | at episode | final | beat the start |\n|---|---|---:|---:|---:|---:|---|\n",
    );
    for v in variants {
        let Some(s) = &v.summary else { continue };
        let f = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {} | {} | {} | {} |",
            v.name,
            kind_name(s.selection_reward),
            s.initial_val_reward,
            f(s.best_val_reward),
            s.best_episode.map_or("-".into(), |e| e.to_string()),
            f(s.final_val_reward),
            if s.beat_start {
                "yes"
            } else {
                "**no**: no validation beat the starting policy"
            }
        );
    }
    md
}

/// The paper's claims, each checked against this run's paired comparisons (per seed).
fn findings_section(comparisons: &[scrl_eval::PairedComparison], seeds: usize) -> String {
    // (A, B, metric, the paper's direction of B - A, the claim in words)
    let claims: [(&str, &str, Metric, f64, &str); 6] = [
        (
            "SFT",
            "PPO-simple",
            Metric::SyntaxValid,
            -1.0,
            "binary reward alone lowers syntax validity below SFT (44% -> 18%)",
        ),
        (
            "PPO-simple",
            "PPO-fresh",
            Metric::SyntaxValid,
            1.0,
            "partial credit keeps more syntax validity than binary reward (27% vs 18%)",
        ),
        (
            "PPO-fresh",
            "PPO-continue",
            Metric::SyntaxValid,
            1.0,
            "binary-then-partial beats partial credit alone on syntax validity (63% vs 27%)",
        ),
        (
            "PPO-fresh",
            "PPO-continue",
            Metric::AnyTestPassed,
            1.0,
            "binary-then-partial beats partial credit alone on >=1 test passed (9% vs 2%)",
        ),
        (
            "SFT",
            "PPO-continue",
            Metric::SyntaxValid,
            1.0,
            "the curriculum beats SFT on syntax validity (63% vs 44%)",
        ),
        (
            "SFT",
            "PPO-continue",
            Metric::MeanReward,
            1.0,
            "the curriculum beats SFT on mean reward (0.42 vs 0.40)",
        ),
    ];
    let mut md = String::from(
        "A finding counts as reproduced when the paired 95% interval of the difference lies on the \
         paper's side of zero; an interval that contains zero does not reproduce it, whichever way \
         the point estimate leans.\n\n| the paper's finding | seed | B − A [95% CI] | reproduced \
         |\n|---|---|---:|---|\n",
    );
    let seed_of = |name: &str| {
        if name.contains(" (pooled over ") {
            return "all, pooled".to_string();
        }
        name.split(" (seed ")
            .nth(1)
            .map_or("-".to_string(), |s| s.trim_end_matches(')').to_string())
    };
    for (a, b, m, dir, words) in claims {
        for c in comparisons
            .iter()
            .filter(|c| variant_name(&c.a) == a && variant_name(&c.b) == b && c.metric == m)
        {
            let scale = if m.is_rate() { 100.0 } else { 1.0 };
            let (lo, hi) = (dir * c.ci_low, dir * c.ci_high);
            let verdict = if lo.min(hi) > 0.0 {
                "yes"
            } else if lo.max(hi) < 0.0 {
                "no: the opposite holds"
            } else {
                "no: not distinguishable from zero"
            };
            let d = if m.is_rate() { 1 } else { 3 };
            let unit = if m.is_rate() { " points" } else { "" };
            let _ = writeln!(
                md,
                "| {words} | {} | {:+.d$}{unit} [{:+.d$}, {:+.d$}] | {verdict} |",
                seed_of(&c.b),
                scale * c.difference,
                scale * c.ci_low,
                scale * c.ci_high
            );
        }
    }
    if seeds == 1 {
        md.push_str(
            "\nOne training seed: a finding that holds here may still be the seed's; \
             `--seeds N` gives the spread.\n",
        );
    } else {
        md.push_str(
            "\n\"all, pooled\" pairs each problem's mean over every seed's samples (all \
             seeds evaluate the same problems): the same paired test with less sampling noise, \
             and the one that speaks for the method rather than for one seed.\n",
        );
    }
    md
}

/// Mean and spread (sample standard deviation, min, max) of each variant's metrics across seeds.
fn seeds_section(rows: &[ReportRow], seeds: usize) -> String {
    let mut md = format!(
        "Mean ± standard deviation over {seeds} training seeds [min, max]; the per-seed rows are \
         in the tables above.\n\n| variant | Syn.% | ≥1-P% | All-P% | mean R \
         |\n|---|---:|---:|---:|---:|\n"
    );
    for v in [
        PaperVariant::Sft,
        PaperVariant::PpoSimple,
        PaperVariant::PpoFresh,
        PaperVariant::PpoContinue,
    ] {
        let of: Vec<&ReportRow> = rows.iter().filter(|r| r.paper_variant == Some(v)).collect();
        let name = of.first().map_or("", |r| variant_name(&r.summary.label));
        let _ = write!(md, "| {name} |");
        for m in [
            Metric::SyntaxValid,
            Metric::AnyTestPassed,
            Metric::AllTestsPassed,
            Metric::MeanReward,
        ] {
            let scale = if m.is_rate() { 100.0 } else { 1.0 };
            let xs: Vec<f64> = of
                .iter()
                .filter_map(|r| r.summary.get(m))
                .map(|e| scale * e.value)
                .collect();
            let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
            let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
                / (xs.len().max(2) - 1) as f64)
                .sqrt();
            let (lo, hi) = xs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            let d = if m.is_rate() { 1 } else { 3 };
            let _ = write!(md, " {mean:.d$} ± {sd:.d$} [{lo:.d$}, {hi:.d$}] |");
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_over_seeds_keeps_every_sample_of_a_variant_and_only_its_own() {
        let rec = |pid: &str, i: u32, pass: bool| -> scrl_eval::SampleRecord {
            serde_json::from_value(serde_json::json!({
                "problem_id": pid, "sample_index": i, "completion": "print(1)",
                "syntax_valid": true, "stage": if pass { 4 } else { 3 },
                "tests_passed": u32::from(pass), "tests_total": 1,
                "r_func": if pass { 1.0 } else { 0.6 }, "r_sec": 1.0,
                "reward": if pass { 1.0 } else { 0.76 },
            }))
            .unwrap()
        };
        let names = ["SFT", "PPO-simple", "PPO-fresh", "PPO-continue"];
        let mut evals = Vec::new();
        for seed in [42, 43] {
            for (j, n) in names.iter().enumerate() {
                // Variant j passes problem "a" in j of its samples at seed 42 and none at 43.
                let recs = (0..2)
                    .flat_map(|i| {
                        let pass = seed == 42 && (i as usize) < j;
                        [rec("a", i, pass), rec("b", i, false)]
                    })
                    .collect();
                evals.push(EvalSet::from_records(format!("{n} (seed {seed})"), recs).unwrap());
            }
        }
        let pooled = pool_over_seeds(&evals, 4, 2).unwrap();
        assert_eq!(pooled.len(), 4);
        for (j, set) in pooled.iter().enumerate() {
            assert_eq!(set.label, format!("{} (pooled over 2 seeds)", names[j]));
            assert_eq!(set.records.len(), 8);
            let mut idx: Vec<u32> = set
                .records
                .iter()
                .filter(|r| r.problem_id == "a")
                .map(|r| r.sample_index)
                .collect();
            idx.sort();
            assert_eq!(idx, [0, 1, 2, 3]);
            let all = set.column(Metric::AllTestsPassed).unwrap();
            assert_eq!(all, [j.min(2) as f64 / 4.0, 0.0], "{}", set.label);
        }
    }

    #[test]
    fn evaluation_validation_and_training_sets_are_disjoint() {
        let all = scrl_data::builtin::suite(42, 6);
        let cfg = SweepConfig {
            eval_n: 40,
            val_n: 30,
            ..SweepConfig::default()
        };
        let c = carve(&all, &cfg).unwrap();
        assert_eq!((c.eval.len(), c.val.len()), (40, 30));
        assert!(!c.train.is_empty());
        let ids = |ps: &[scrl_data::Problem]| {
            ps.iter()
                .map(|p| p.id.clone())
                .collect::<std::collections::HashSet<_>>()
        };
        let stmts = |ps: &[scrl_data::Problem]| {
            ps.iter()
                .map(|p| p.statement.clone())
                .collect::<std::collections::HashSet<_>>()
        };
        for (a, b) in [(&c.eval, &c.val), (&c.eval, &c.train), (&c.val, &c.train)] {
            assert!(ids(a).is_disjoint(&ids(b)));
            assert!(stmts(a).is_disjoint(&stmts(b)), "a statement in two sets");
        }
        assert!(c.eval.len() + c.val.len() + c.train.len() <= all.len());
        // The same config carves the same sets.
        let again = carve(&all, &cfg).unwrap();
        assert_eq!(ids(&again.val), ids(&c.val));
    }
}

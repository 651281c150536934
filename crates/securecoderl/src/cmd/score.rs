//! `securecoderl score`: one program against one problem (per-test verdicts and the reward
//! breakdown), or a batch of completions against a problems file, scored in parallel into JSON
//! Lines.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use scrl_reward::{RewardBreakdown, TestSpec};
use serde::Deserialize;

use super::reward_opts::{RewardOpts, test_spec};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  securecoderl score --problems examples/problems.jsonl --id sum-two \
        --program examples/sum_two.py\n  securecoderl score --tests tests.json --program - < \
        prog.py --json\n  securecoderl score --batch completions.jsonl --problems problems.jsonl \
        --json > results.jsonl"
)]
pub struct ScoreArgs {
    /// The program to score: a file, or `-` for stdin.
    #[arg(long, conflicts_with = "batch")]
    program: Option<PathBuf>,
    /// Problems in SecureCodeRL JSONL (see `securecoderl data import`).
    #[arg(long)]
    problems: Option<PathBuf>,
    /// The problem id to score against (with --problems).
    #[arg(long, requires = "problems", conflicts_with = "batch")]
    id: Option<String>,
    /// A tests file instead of a problem: a JSON array (or JSON Lines) of {"input": ..., "output":
    /// ...}.
    #[arg(long, conflicts_with_all = ["problems", "batch"])]
    tests: Option<PathBuf>,
    /// Completions JSONL with rows {"id": PROBLEM_ID, "completion": CODE}; needs --problems.
    #[arg(long, requires = "problems")]
    batch: Option<PathBuf>,
    /// Also write the batch results as JSON Lines to this file (atomically).
    #[arg(long, requires = "batch")]
    out: Option<PathBuf>,
    /// Print JSON (one object per completion) instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run(a: ScoreArgs) -> anyhow::Result<i32> {
    if let Some(batch) = &a.batch {
        let problems = a
            .problems
            .as_deref()
            .expect("clap requires --problems with --batch");
        return run_batch(&a, batch, problems);
    }
    let program_path = a
        .program
        .as_deref()
        .context("give --program FILE (or - for stdin), or --batch")?;
    let program = read_program(program_path)?;
    let (reward, sandbox) = a.reward.resolve()?;
    let (label, tests) = match (&a.tests, &a.problems, &a.id) {
        (Some(t), _, _) => (t.display().to_string(), read_tests_file(t)?),
        (None, Some(p), Some(id)) => {
            let problems = scrl_data::load_problems(p)?;
            let prob = problems
                .iter()
                .find(|q| &q.id == id)
                .with_context(|| format!("no problem with id {id:?} in {}", p.display()))?;
            (
                format!("{} ({})", id, p.display()),
                test_spec(prob, &reward),
            )
        }
        (None, Some(_), None) => {
            bail!("--problems needs --id to pick the problem (or use --batch)")
        }
        (None, None, _) => bail!("give the tests: --problems FILE --id ID, or --tests FILE"),
    };
    let model = scrl_experiment::start_reward(&reward, &sandbox)?;
    let b = model.score(&program, &tests)?;
    if a.json {
        println!("{}", serde_json::to_string(&b.to_json_row(None))?);
    } else {
        print_human(
            &label,
            &b,
            one_line(&model.sandbox().isolation().to_string()),
        );
    }
    Ok(0)
}

fn read_program(path: &Path) -> anyhow::Result<String> {
    let mut s = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the program from stdin")?;
    } else {
        s = std::fs::read_to_string(path)
            .with_context(|| format!("reading program {}", path.display()))?;
    }
    Ok(s)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRow {
    input: String,
    output: String,
}

fn read_tests_file(path: &Path) -> anyhow::Result<TestSpec> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading tests {}", path.display()))?;
    let rows: Vec<TestRow> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: expected [{{\"input\", \"output\"}}, ...]",
                path.display()
            )
        })?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).with_context(|| {
                    format!(
                        "{}:{}: expected {{\"input\", \"output\"}}",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    Ok(TestSpec::Stdin(
        rows.into_iter()
            .map(|r| scrl_reward::StdinCase {
                input: r.input,
                output: r.output,
            })
            .collect(),
    ))
}

/// The sandbox's multi-line isolation report as one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn print_human(label: &str, b: &RewardBreakdown, isolation: String) {
    println!("problem   {label}");
    println!("sandbox   {isolation}");
    if let Some(e) = &b.syntax_error {
        println!(
            "syntax    error at line {}, column {}: {}",
            e.line, e.column, e.message
        );
    } else {
        println!("syntax    valid");
    }
    for (i, t) in b.tests.iter().enumerate() {
        let status = match (t.exit_code, t.signal) {
            (_, Some(s)) => format!("signal {s}"),
            (Some(c), None) => format!("exit {c}"),
            (None, None) => "-".into(),
        };
        println!(
            "test {:<4} {:<18} {:<9} cpu {:>5} ms  rss {:>7} KiB  stdout {} B{}",
            i + 1,
            format!("{:?}", t.verdict),
            status,
            t.cpu_time_ms,
            t.max_rss_kb,
            t.stdout_bytes,
            t.exception_type()
                .map(|e| format!("  {e}"))
                .unwrap_or_default()
        );
    }
    for f in &b.findings {
        println!(
            "finding   {} {} ({:?}/{:?}) line {}: {}",
            f.test_id,
            f.test_name,
            f.issue_severity,
            f.issue_confidence,
            f.line_number,
            f.issue_text
        );
    }
    println!(
        "stage     {} ({:?}); tests passed {}/{}",
        b.stage.number(),
        b.stage,
        b.tests_passed,
        b.tests_total
    );
    println!(
        "reward    {:.4} = {} * R_func {:.4} ({:?}) + {} * R_sec {:.4}",
        b.reward, b.alpha, b.r_func, b.kind, b.beta, b.r_sec
    );
}

#[derive(Deserialize)]
struct CompletionRow {
    id: String,
    completion: String,
}

fn run_batch(a: &ScoreArgs, batch: &Path, problems_path: &Path) -> anyhow::Result<i32> {
    let problems = scrl_data::load_problems(problems_path)?;
    let by_id: HashMap<&str, &scrl_data::Problem> =
        problems.iter().map(|p| (p.id.as_str(), p)).collect();
    let file = std::fs::File::open(batch)
        .with_context(|| format!("opening completions {}", batch.display()))?;
    // Validate every row before running anything, so a bad line costs no work and names itself.
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: reading", batch.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: CompletionRow = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: expected {{\"id\": string, \"completion\": string}}",
                batch.display(),
                i + 1
            )
        })?;
        if !by_id.contains_key(row.id.as_str()) {
            bail!(
                "{}:{}: problem id {:?} is not in {}",
                batch.display(),
                i + 1,
                row.id,
                problems_path.display()
            );
        }
        rows.push(row);
    }
    let (reward_config, sandbox) = a.reward.resolve()?;
    let specs: HashMap<&str, TestSpec> = by_id
        .iter()
        .map(|(id, p)| (*id, test_spec(p, &reward_config)))
        .collect();
    let model = scrl_experiment::start_reward(&reward_config, &sandbox)?;
    let bar = indicatif::ProgressBar::new(rows.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} completions, {per_sec}, eta {eta}",
        )
        .expect("valid template"),
    );
    let items: Vec<(&str, &TestSpec)> = rows
        .iter()
        .map(|r| (r.completion.as_str(), &specs[r.id.as_str()]))
        .collect();
    let results = model.score_batch_with(&items, &AtomicBool::new(false), &|| bar.inc(1));
    bar.finish_and_clear();
    let mut lines = Vec::with_capacity(rows.len());
    for (row, res) in rows.iter().zip(results) {
        let b = res.with_context(|| format!("scoring completion for {}", row.id))?;
        lines.push((row.id.as_str(), b));
    }
    if let Some(out) = &a.out {
        let body: String = lines
            .iter()
            .map(|(id, b)| format!("{}\n", b.to_json_row(Some(id))))
            .collect();
        scrl_eval::write_atomic(out, body.as_bytes())?;
    }
    let stdout = std::io::stdout();
    let mut w = BufWriter::new(stdout.lock());
    if a.json {
        for (id, b) in &lines {
            writeln!(w, "{}", serde_json::to_string(&b.to_json_row(Some(id)))?)?;
        }
    } else {
        let n = lines.len().max(1) as f64;
        let mean =
            |f: &dyn Fn(&RewardBreakdown) -> f64| lines.iter().map(|(_, b)| f(b)).sum::<f64>() / n;
        writeln!(
            w,
            "{:<24} {:>6} {:>7} {:>6} {:>6} {:>7}",
            "id", "stage", "passed", "r_func", "r_sec", "reward"
        )?;
        for (id, b) in &lines {
            writeln!(
                w,
                "{:<24} {:>6} {:>7} {:>6.3} {:>6.3} {:>7.3}",
                id,
                b.stage.number(),
                format!("{}/{}", b.tests_passed, b.tests_total),
                b.r_func,
                b.r_sec,
                b.reward
            )?;
        }
        writeln!(
            w,
            "mean over {} completions: r_func {:.4}  r_sec {:.4}  reward {:.4}",
            lines.len(),
            mean(&|b| b.r_func),
            mean(&|b| b.r_sec),
            mean(&|b| b.reward)
        )?;
    }
    w.flush()?;
    let (hits, misses) = model.cache_stats();
    eprintln!(
        "sandbox: {}\ncache: {hits} hits, {misses} scored",
        one_line(&model.sandbox().isolation().to_string())
    );
    Ok(0)
}

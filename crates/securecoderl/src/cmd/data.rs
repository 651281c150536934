//! `securecoderl data import|stats|split|show`: a thin layer over scrl-data that reads and writes
//! our JSON Lines problem files, shows progress on large files and prints what was skipped and why.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use scrl_data::prompt::{ChatTemplate, completion_prompt};
use scrl_data::{
    Format, ImportOptions, Problem, SplitOptions, load_problems_with_progress, write_problems,
};

#[derive(clap::Subcommand)]
pub enum DataCommand {
    /// Convert an upstream problem file (or the built-in suite) into our JSON Lines.
    Import(ImportArgs),
    /// Print counts of a problems file: kinds, tests, references, flags, difficulties, sources.
    Stats(StatsArgs),
    /// Write a seeded evaluation set and a disjoint training set.
    Split(SplitArgs),
    /// Print one problem and the prompt a model would see for it.
    Show(ShowArgs),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// apps | apps-plus | codecontests | humaneval | mbpp | jsonl | builtin
    #[arg(long)]
    pub format: String,
    /// The upstream file (not used with --format builtin).
    pub file: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// Stop at the first malformed row instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Keep only stdin/stdout problems (function-call problems are skipped and counted).
    #[arg(long)]
    pub stdin_only: bool,
    /// Skip problems without a reference solution.
    #[arg(long)]
    pub require_reference: bool,
    /// Built-in suite: the seed every problem is generated from.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Built-in suite: problems per family.
    #[arg(long, default_value_t = 20)]
    pub per_family: usize,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    pub file: PathBuf,
    /// The per-problem test cap (5 in the paper).
    #[arg(long, default_value_t = 5)]
    pub cap: usize,
}

#[derive(clap::Args)]
pub struct SplitArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub eval_out: PathBuf,
    #[arg(long)]
    pub train_out: PathBuf,
    /// Drop function-call problems before splitting.
    #[arg(long)]
    pub stdin_only: bool,
    #[command(flatten)]
    pub split: super::flags::Flags<SplitOptions>,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub id: String,
    /// Render the chat prompt from this tokenizer_config.json instead of the completion prompt.
    #[arg(long)]
    pub tokenizer_config: Option<PathBuf>,
    /// The per-problem test cap used when listing tests.
    #[arg(long, default_value_t = 5)]
    pub cap: usize,
}

pub fn run(c: DataCommand) -> anyhow::Result<i32> {
    match c {
        DataCommand::Import(a) => import(a),
        DataCommand::Stats(a) => {
            let problems = load(&a.file)?;
            write!(
                std::io::stdout().lock(),
                "{}",
                scrl_data::stats::stats(&problems, a.cap)
            )?;
            Ok(0)
        }
        DataCommand::Split(a) => split(a),
        DataCommand::Show(a) => show(a),
    }
}

/// A byte-count bar on stderr for one file; indicatif hides it when stderr is not a terminal.
fn file_progress(path: &Path) -> ProgressBar {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(path.display().to_string());
    bar
}

fn load(path: &Path) -> anyhow::Result<Vec<Problem>> {
    let bar = file_progress(path);
    let problems = load_problems_with_progress(path, &bar)?;
    bar.finish_and_clear();
    Ok(problems)
}

fn import(a: ImportArgs) -> anyhow::Result<i32> {
    if a.format == "builtin" {
        let problems = scrl_data::builtin::suite(a.seed, a.per_family);
        write_problems(&a.out, &problems)?;
        eprintln!(
            "wrote {} built-in problems ({} families x {}, seed {}) to {}",
            problems.len(),
            scrl_data::builtin::FAMILIES.len(),
            a.per_family,
            a.seed,
            a.out.display()
        );
        return Ok(0);
    }
    let format: Format = a
        .format
        .parse()
        .map_err(anyhow::Error::msg)
        .context("--format (or builtin)")?;
    let Some(file) = a.file else {
        bail!("--format {format} needs the upstream FILE")
    };
    let opts = ImportOptions {
        strict: a.strict,
        stdin_only: a.stdin_only,
        require_reference: a.require_reference,
    };
    let bar = file_progress(&file);
    let report = scrl_data::import_file(format, &file, &opts, &bar)?;
    bar.finish_and_clear();
    write_problems(&a.out, &report.problems)?;
    let stdin = report.problems.iter().filter(|p| p.is_stdin()).count();
    eprintln!(
        "imported {} problems ({} stdin, {} function-call) from {} to {}; skipped {}",
        report.problems.len(),
        stdin,
        report.problems.len() - stdin,
        file.display(),
        a.out.display(),
        report.skipped.len()
    );
    for (reason, n) in report.skip_summary() {
        eprintln!("  skipped {n:>6}  {reason}");
    }
    for s in report.skipped.iter().take(5) {
        eprintln!(
            "  e.g. {} {}: {}",
            s.at,
            s.id.as_deref().unwrap_or("(no id)"),
            s.reason
        );
    }
    Ok(if report.problems.is_empty() { 1 } else { 0 })
}

fn split(a: SplitArgs) -> anyhow::Result<i32> {
    let mut problems = load(&a.file)?;
    if a.stdin_only {
        let before = problems.len();
        problems.retain(Problem::is_stdin);
        eprintln!(
            "dropped {} function-call problems (--stdin-only)",
            before - problems.len()
        );
    }
    let opts = a.split.over(SplitOptions::default())?;
    let s = scrl_data::split(&problems, &opts)?;
    write_problems(&a.eval_out, &s.eval)?;
    write_problems(&a.train_out, &s.train)?;
    eprintln!(
        "seed {}: {} evaluation problems -> {}, {} training problems -> {}",
        opts.seed,
        s.eval.len(),
        a.eval_out.display(),
        s.train.len(),
        a.train_out.display()
    );
    if !s.held_out_duplicates.is_empty() {
        eprintln!(
            "{} problems left out of training: same statement as an evaluation problem",
            s.held_out_duplicates.len()
        );
    }
    if !s.overlap.is_empty() {
        eprintln!(
            "WARNING: {} training problems are also evaluation problems (--allow-overlap): {}",
            s.overlap.len(),
            preview(&s.overlap)
        );
    }
    Ok(0)
}

fn preview(ids: &[String]) -> String {
    let mut s = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        s.push_str(", ...");
    }
    s
}

fn show(a: ShowArgs) -> anyhow::Result<i32> {
    let problems = load(&a.file)?;
    let Some(p) = problems.iter().find(|p| p.id == a.id) else {
        bail!("{}: no problem with id `{}`", a.file.display(), a.id);
    };
    // Written through a handle, not println!, so that `| head` ends the command instead of
    // panicking.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "id: {}\nsource: {}\nkind: {:?}\ndifficulty: {}",
        p.id,
        p.source.as_deref().unwrap_or("-"),
        p.kind,
        p.difficulty.as_deref().unwrap_or("-")
    )?;
    if !p.flags.is_empty() {
        writeln!(out, "flags: {}", p.flags.join(", "))?;
    }
    writeln!(
        out,
        "tests: {} ({} within the cap of {})",
        p.test_count(),
        p.capped_tests(a.cap).len() + p.capped_assert_tests(a.cap).len(),
        a.cap
    )?;
    for (i, t) in p.capped_tests(a.cap).iter().enumerate() {
        writeln!(
            out,
            "--- test {i} input:\n{}--- test {i} output:\n{}",
            t.input, t.output
        )?;
    }
    for t in p.capped_assert_tests(a.cap) {
        writeln!(out, "--- {t}")?;
    }
    let prompt = match &a.tokenizer_config {
        Some(cfg) => ChatTemplate::from_tokenizer_config(cfg)?.prompt(p, None)?,
        None => completion_prompt(p),
    };
    writeln!(out, "=== prompt ===\n{prompt}")?;
    if let Some(r) = &p.reference_solution {
        writeln!(out, "=== reference ===\n{r}")?;
    }
    Ok(0)
}

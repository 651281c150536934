//! `securecoderl pretrain`: trains the tiny default model (byte-level BPE + small LLaMA) from
//! scratch on the local Python standard library, the built-in task suite and any extra JSONL texts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use scrl_model::pretrain::{PretrainCorpus, PretrainSettings, StepRecord, pretrain};

#[derive(clap::Args)]
pub struct PretrainArgs {
    /// Output folder (becomes a model folder: config.json, model.safetensors, tokenizer.json, ...).
    /// An existing run in it is resumed exactly.
    #[arg(long, default_value = "models/tiny")]
    pub out: PathBuf,
    /// Folders searched for *.py files (test suites and site-packages skipped).
    #[arg(long = "source-dir", default_value = "/usr/lib/python3.11")]
    pub source_dirs: Vec<PathBuf>,
    /// Extra documents: JSONL files with one {"text": ...} object per line.
    #[arg(long = "extra-corpus")]
    pub extra_corpus: Vec<PathBuf>,
    /// Built-in task-suite problems per family added as documents (prompt + reference); 0 = none.
    #[arg(long, default_value_t = 200)]
    pub builtin_per_family: usize,
    /// Seed of those built-in problems (keep it apart from evaluation seeds).
    #[arg(long, default_value_t = 1_000_003)]
    pub builtin_seed: u64,
    #[command(flatten)]
    pub settings: super::flags::Flags<PretrainSettings>,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: u64,
    /// Stop (with a checkpoint) at this step; rerun the same command to resume.
    #[arg(long)]
    pub stop_at: Option<u64>,
}

fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        let t = v.get("text").and_then(|t| t.as_str()).with_context(|| {
            format!(
                "{}:{}: needs a string field \"text\"",
                path.display(),
                i + 1
            )
        })?;
        out.push(t.to_string());
    }
    Ok(out)
}

pub fn run(args: PretrainArgs) -> anyhow::Result<i32> {
    let settings = args.settings.over(PretrainSettings::default())?;
    let mut extra_texts = Vec::new();
    if args.builtin_per_family > 0 {
        for p in scrl_data::builtin::suite(args.builtin_seed, args.builtin_per_family) {
            if let Some(reference) = &p.reference_solution {
                extra_texts.push(format!("{}{}", scrl_data::completion_prompt(&p), reference));
            }
        }
    }
    for f in &args.extra_corpus {
        extra_texts.extend(read_texts(f)?);
    }
    eprintln!(
        "pretrain: {} source folder(s), {} extra documents, {} steps of {}x{} tokens -> {}",
        args.source_dirs.len(),
        extra_texts.len(),
        settings.steps,
        settings.batch_size,
        settings.seq_len,
        args.out.display()
    );
    let corpus = PretrainCorpus {
        source_dirs: args.source_dirs,
        extra_texts,
    };
    let bar = ProgressBar::new(settings.steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
        )
        .expect("static template"),
    );
    let mut on_step = |r: &StepRecord| {
        bar.set_position(r.step);
        bar.set_message(format!(
            "loss {:.3}  lr {:.2e}  {:.0} tok/s",
            r.loss,
            r.lr,
            r.tokens_seen as f64 / r.elapsed_s.max(1e-9)
        ));
    };
    let report = pretrain(
        &args.out,
        &settings,
        &corpus,
        args.checkpoint_every,
        args.stop_at,
        &mut on_step,
    )?;
    bar.finish();
    eprintln!(
        "pretrain: {} params, step {} (resumed from {:?}), last loss {:?}, {:.0} tok/s; loss log \
         in {}",
        report.num_params,
        report.final_step,
        report.resumed_from,
        report.last_loss,
        report.tokens_per_s,
        args.out.join("loss_log.jsonl").display()
    );
    Ok(0)
}

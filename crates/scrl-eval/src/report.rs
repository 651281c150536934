//! Reports: the paper's Table 3 and Table 2 shapes in Markdown, the failure taxonomy, paired tests,
//! an honest comparison with the paper's numbers, and JSON and CSV copies of the same content.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::bootstrap::BootstrapConfig;
use crate::error::EvalError;
use crate::metrics::{Metric, ModelSummary};
use crate::stats::PairedComparison;

/// The four models of the paper's Table 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaperVariant {
    Sft,
    PpoSimple,
    PpoFresh,
    PpoContinue,
}

/// One row of the paper's Table 3 (percentages as printed there).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PaperRow {
    pub variant: PaperVariant,
    pub name: &'static str,
    pub syntax_valid_pct: f64,
    pub any_test_passed_pct: f64,
    pub all_tests_passed_pct: f64,
    pub mean_reward: f64,
}

/// Table 3 of the paper: DeepSeek-Coder-1.3B-Instruct, 100 APPS+ prompts, one sample each at T =
/// 0.7.
pub const PAPER_TABLE3: [PaperRow; 4] = [
    PaperRow {
        variant: PaperVariant::Sft,
        name: "SFT Baseline",
        syntax_valid_pct: 44.0,
        any_test_passed_pct: 3.0,
        all_tests_passed_pct: 1.0,
        mean_reward: 0.40,
    },
    PaperRow {
        variant: PaperVariant::PpoSimple,
        name: "PPO-simple (binary)",
        syntax_valid_pct: 18.0,
        any_test_passed_pct: 0.0,
        all_tests_passed_pct: 0.0,
        mean_reward: 0.38,
    },
    PaperRow {
        variant: PaperVariant::PpoFresh,
        name: "PPO-fresh (partial)",
        syntax_valid_pct: 27.0,
        any_test_passed_pct: 2.0,
        all_tests_passed_pct: 0.0,
        mean_reward: 0.40,
    },
    PaperRow {
        variant: PaperVariant::PpoContinue,
        name: "PPO-continue (partial)",
        syntax_valid_pct: 63.0,
        any_test_passed_pct: 9.0,
        all_tests_passed_pct: 2.0,
        mean_reward: 0.42,
    },
];

/// One model or variant in a report; `paper_variant` says which paper row, if any, it corresponds
/// to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub paper_variant: Option<PaperVariant>,
    pub summary: ModelSummary,
}

/// A complete evaluation report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    /// What was evaluated and how (model, data, samples, temperature), in the caller's words; it is
    /// printed verbatim next to the paper's setting so the comparison is read with the difference
    /// in mind.
    pub setting: String,
    pub bootstrap: BootstrapConfig,
    pub rows: Vec<ReportRow>,
    pub comparisons: Vec<PairedComparison>,
    /// Further Markdown sections the caller writes (how checkpoints were chosen, spread across
    /// seeds, which findings of the paper a run reproduces), printed before the comparison with the
    /// paper.
    #[serde(default)]
    pub sections: Vec<ReportSection>,
}

/// A titled Markdown section of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSection {
    pub title: String,
    pub markdown: String,
}

/// The files [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// "44.0 [34.0, 54.0]" for rates, "0.400 [0.380, 0.420]" for means.
fn with_ci(s: &ModelSummary, metric: Metric) -> String {
    match s.get(metric) {
        Some(e) if metric.is_rate() => {
            format!("{} [{}, {}]", pct(e.value), pct(e.ci_low), pct(e.ci_high))
        }
        Some(e) => format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci_low, e.ci_high),
        None => "n/a".into(),
    }
}

/// Four decimals, or scientific notation where four decimals would print a p-value as zero.
fn p_value(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(rows: &[ReportRow], metrics: &[Metric]) -> String {
    let mut out = String::from("| Model | n |");
    for m in metrics {
        let _ = write!(out, " {} |", m.label());
    }
    out.push_str("\n|---|---:|");
    out.push_str(&"---:|".repeat(metrics.len()));
    out.push('\n');
    for r in rows {
        let s = &r.summary;
        let _ = write!(out, "| {} | {} |", escape_cell(&s.label), s.n_problems);
        for &m in metrics {
            let _ = write!(out, " {} |", with_ci(s, m));
        }
        out.push('\n');
    }
    out
}

/// The paper's Table 3 shape: Syn.% / >=1-P% / All-P% / mean R, each with its confidence interval.
pub fn render_table3(rows: &[ReportRow]) -> String {
    table(
        rows,
        &[
            Metric::SyntaxValid,
            Metric::AnyTestPassed,
            Metric::AllTestsPassed,
            Metric::MeanReward,
        ],
    )
}

/// The paper's Table 2 shape: Syntax valid % / Test pass % (all tests) / Sec. clean %.
pub fn render_table2(rows: &[ReportRow]) -> String {
    let mut out = String::from(
        "| Model | n | Syntax Valid % | Test Pass % | Sec. Clean % |\n|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            escape_cell(&s.label),
            s.n_problems,
            with_ci(s, Metric::SyntaxValid),
            with_ci(s, Metric::AllTestsPassed),
            with_ci(s, Metric::SecClean)
        );
    }
    out
}

fn paper_row(v: PaperVariant) -> &'static PaperRow {
    // PAPER_TABLE3 has one row per variant.
    PAPER_TABLE3
        .iter()
        .find(|r| r.variant == v)
        .expect("every variant has a paper row")
}

fn versus(s: &ModelSummary, metric: Metric, paper: f64) -> String {
    let Some(e) = s.get(metric) else {
        return format!("{}: n/a", metric.label());
    };
    let scale = if metric.is_rate() { 100.0 } else { 1.0 };
    let (v, lo, hi) = (e.value * scale, e.ci_low * scale, e.ci_high * scale);
    let inside = if (lo..=hi).contains(&paper) {
        "inside"
    } else {
        "outside"
    };
    let diff = v - paper;
    if metric.is_rate() {
        format!(
            "{} {v:.1} [{lo:.1}, {hi:.1}] vs paper {paper:.1} ({diff:+.1} points; paper value \
             {inside} our CI)",
            metric.label()
        )
    } else {
        format!(
            "{} {v:.3} [{lo:.3}, {hi:.3}] vs paper {paper:.2} ({diff:+.3}; paper value {inside} \
             our CI)",
            metric.label()
        )
    }
}

/// Syntax-validity ranking, best first, with "=" between equal point estimates.
fn ranking(entries: &[(String, f64)]) -> String {
    let mut v = entries.to_vec();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut out = String::new();
    for (i, (name, value)) in v.iter().enumerate() {
        if i > 0 {
            out.push_str(if (v[i - 1].1 - value).abs() < 1e-9 {
                " = "
            } else {
                " > "
            });
        }
        out.push_str(name);
    }
    out
}

/// A paragraph comparing the rows that correspond to paper variants with the paper's Table 3,
/// stating the numbers as they are: differences, whether the paper's value lies inside our
/// interval, and whether the paper's ordering on syntax validity is reproduced.
pub fn paper_comparison(rows: &[ReportRow], setting: &str) -> String {
    let mut out = String::from(
        "The paper's Table 3 (DeepSeek-Coder-1.3B-Instruct, 100 stdin-style APPS+ prompts, one \
         sample each at T = 0.7) reports Syn.% / ≥1-P% / All-P% / mean R of SFT 44/3/1/0.40, \
         PPO-simple 18/0/0/0.38, PPO-fresh 27/2/0/0.40 and PPO-continue 63/9/2/0.42, with CIs of \
         about ±10 (Syn.) and ±6 (≥1-P).",
    );
    let _ = write!(out, " This run: {}.", setting.trim_end_matches('.'));
    let matched: Vec<(&ReportRow, &PaperRow)> = rows
        .iter()
        .filter_map(|r| r.paper_variant.map(|v| (r, paper_row(v))))
        .collect();
    if matched.is_empty() {
        out.push_str(
            " No row of this report corresponds to a paper variant, so no number is compared.\n",
        );
        return out;
    }
    out.push_str("\n\n");
    for (r, p) in &matched {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "- {} (ours: {}): {}; {}; {}; {}.",
            p.name,
            escape_cell(&s.label),
            versus(s, Metric::SyntaxValid, p.syntax_valid_pct),
            versus(s, Metric::AnyTestPassed, p.any_test_passed_pct),
            versus(s, Metric::AllTestsPassed, p.all_tests_passed_pct),
            versus(s, Metric::MeanReward, p.mean_reward),
        );
    }
    if matched.len() >= 2 {
        let paper: Vec<(String, f64)> = matched
            .iter()
            .map(|(_, p)| (p.name.to_string(), p.syntax_valid_pct))
            .collect();
        let ours: Vec<(String, f64)> = matched
            .iter()
            .map(|(r, p)| {
                (
                    p.name.to_string(),
                    r.summary
                        .get(Metric::SyntaxValid)
                        .map_or(f64::NAN, |e| 100.0 * e.value),
                )
            })
            .collect();
        let (rp, ro) = (ranking(&paper), ranking(&ours));
        let verdict = if rp == ro {
            "the same ordering"
        } else {
            "a different ordering"
        };
        let _ = writeln!(
            out,
            "\nSyn.% ordering: paper {rp}; this run {ro} ({verdict})."
        );
    }
    out.push_str(
        "\nPoint estimates whose intervals overlap are not evidence of a difference; a paired test \
         on the same problems says which differences between our own models are distinguishable \
         from noise.\n",
    );
    out
}

/// The whole Markdown report.
pub fn render_markdown(report: &Report) -> String {
    let b = &report.bootstrap;
    let mut out = format!("# {}\n\n{}\n\n", report.title, report.setting);
    let _ = writeln!(
        out,
        "Intervals: {:.0}% percentile bootstrap over problems, {} resamples, seed {}. Rates in \
         percent; problems with several samples are averaged per problem first.\n",
        100.0 * b.confidence,
        b.resamples,
        b.seed
    );
    out.push_str("## Table 3 shape (Syn.% / ≥1-P% / All-P% / mean R)\n\n");
    out.push_str(&render_table3(&report.rows));
    out.push_str("\n## Table 2 shape (Syntax valid / Test pass / Sec. clean)\n\n");
    out.push_str(&render_table2(&report.rows));

    let mut extra = vec![Metric::MeanRFunc, Metric::MeanRSec];
    let mut ks: Vec<u32> = report
        .rows
        .iter()
        .flat_map(|r| {
            r.summary.estimates.iter().filter_map(|e| match e.metric {
                Metric::PassAtK(k) => Some(k),
                _ => None,
            })
        })
        .collect();
    ks.sort_unstable();
    ks.dedup();
    extra.extend(ks.into_iter().map(Metric::PassAtK));
    out.push_str("\n## Reward terms and pass@k\n\n");
    out.push_str(&table(&report.rows, &extra));

    if !report.comparisons.is_empty() {
        out.push_str("\n## Paired comparisons (B − A on the same problems)\n\n");
        out.push_str(
            "| A | B | metric | A | B | B − A [CI] | bootstrap p | McNemar (A only / B \
             only, exact p) |\n",
        );
        out.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
        for c in &report.comparisons {
            let scale = if c.metric.is_rate() { 100.0 } else { 1.0 };
            let digits = if c.metric.is_rate() { 1 } else { 3 };
            let mc = c.mcnemar.map_or("n/a".into(), |m| {
                format!("{} / {}, p = {}", m.a_only, m.b_only, p_value(m.p_value))
            });
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.digits$} | {:.digits$} | {:+.digits$} [{:+.digits$}, \
                 {:+.digits$}] | {} | {} |",
                escape_cell(&c.a),
                escape_cell(&c.b),
                c.metric.label(),
                scale * c.mean_a,
                scale * c.mean_b,
                scale * c.difference,
                scale * c.ci_low,
                scale * c.ci_high,
                p_value(c.bootstrap_p_value),
                mc
            );
        }
    }

    out.push_str("\n## Failure taxonomy (primary outcome per sample)\n\n");
    for r in &report.rows {
        let t = &r.summary.taxonomy;
        let _ = writeln!(
            out,
            "**{}** ({} samples)\n",
            escape_cell(&r.summary.label),
            t.n_samples
        );
        out.push_str("| outcome | count | share % |\n|---|---:|---:|\n");
        for e in &t.outcomes {
            let _ = writeln!(out, "| {} | {} | {} |", e.category, e.count, pct(e.share));
        }
        if t.security.is_empty() {
            out.push_str("\nNo Bandit MEDIUM/HIGH finding in any sample.\n\n");
        } else {
            let _ = writeln!(
                out,
                "\nSamples with MEDIUM/HIGH findings: {}.\n",
                t.samples_with_findings
            );
            out.push_str("| Bandit test | samples | share % |\n|---|---:|---:|\n");
            for e in &t.security {
                let _ = writeln!(out, "| {} | {} | {} |", e.category, e.count, pct(e.share));
            }
            out.push('\n');
        }
    }
    for sec in &report.sections {
        let _ = write!(out, "## {}\n\n{}\n\n", sec.title, sec.markdown.trim_end());
    }
    out.push_str("## Comparison with the paper\n\n");
    out.push_str(&paper_comparison(&report.rows, &report.setting));
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Long-format CSV, one line per model and metric, with the same numbers as the Markdown (as
/// fractions).
pub fn render_csv(report: &Report) -> String {
    let mut out =
        String::from("model,paper_variant,metric,value,ci_low,ci_high,n_problems,n_samples\n");
    for r in &report.rows {
        let s = &r.summary;
        let variant = r.paper_variant.map_or(String::new(), |v| {
            serde_json::to_value(v)
                .ok()
                .and_then(|j| j.as_str().map(str::to_string))
                .unwrap_or_default()
        });
        for e in &s.estimates {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                csv_field(&s.label),
                variant,
                e.metric.key(),
                e.value,
                e.ci_low,
                e.ci_high,
                s.n_problems,
                s.n_samples
            );
        }
    }
    out
}

/// Writes `report.md`, `report.json` and `report.csv` into `dir`, each atomically.
pub fn write_report(dir: &Path, report: &Report) -> Result<ReportFiles, EvalError> {
    let files = ReportFiles {
        markdown: dir.join("report.md"),
        json: dir.join("report.json"),
        csv: dir.join("report.csv"),
    };
    #[derive(Serialize)]
    struct JsonReport<'a> {
        #[serde(flatten)]
        report: &'a Report,
        paper_table3: &'a [PaperRow],
    }
    let json = serde_json::to_string_pretty(&JsonReport {
        report,
        paper_table3: &PAPER_TABLE3,
    })
    .map_err(|e| EvalError::Io {
        path: files.json.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(&files.markdown, render_markdown(report).as_bytes())?;
    write_atomic(&files.json, json.as_bytes())?;
    write_atomic(&files.csv, render_csv(report).as_bytes())?;
    Ok(files)
}

/// The CSV header [`render_csv`] writes.
const CSV_HEADER: &str = "model,paper_variant,metric,value,ci_low,ci_high,n_problems,n_samples";

/// Checks that `dir` holds a complete report for `models` (the checks a quickstart prints PASS or
/// FAIL on): the Markdown has both tables with a row per model and the paper comparison, the JSON
/// parses into a [`Report`] with those models, and the CSV has its header and every model's
/// headline metrics. Returns what is wrong, one line each; empty means the report is complete.
pub fn verify_report(dir: &Path, models: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let read = |name: &str, problems: &mut Vec<String>| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .map_err(|e| problems.push(format!("{}: {e}", path.display())))
            .ok()
    };
    if let Some(md) = read("report.md", &mut problems) {
        for heading in [
            "## Table 3 shape",
            "## Table 2 shape",
            "## Failure taxonomy",
            "## Comparison with the paper",
        ] {
            if !md.contains(heading) {
                problems.push(format!("report.md: no \"{heading}\" section"));
            }
        }
        for m in models {
            let row = format!("| {} |", escape_cell(m));
            if md.matches(&row).count() < 2 {
                problems.push(format!("report.md: model {m:?} is missing from the tables"));
            }
        }
    }
    if let Some(json) = read("report.json", &mut problems) {
        match serde_json::from_str::<Report>(&json) {
            Ok(r) => {
                for m in models {
                    if !r.rows.iter().any(|row| row.summary.label == *m) {
                        problems.push(format!("report.json: no row for model {m:?}"));
                    }
                }
            }
            Err(e) => problems.push(format!("report.json: {e}")),
        }
    }
    if let Some(csv) = read("report.csv", &mut problems) {
        if csv.lines().next() != Some(CSV_HEADER) {
            problems.push(format!("report.csv: the header is not {CSV_HEADER:?}"));
        }
        for m in models {
            for metric in Metric::HEADLINE {
                let prefix = format!("{},", csv_field(m));
                let key = format!(",{},", metric.key());
                if !csv
                    .lines()
                    .any(|l| l.starts_with(&prefix) && l.contains(&key))
                {
                    problems.push(format!("report.csv: no {} for model {m:?}", metric.key()));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{EvalSet, summarize};
    use crate::record::tests::rec;
    use crate::stats::compare_paired;

    /// 50 problems, one sample each; `valid` of them parse and `passing` of those pass all tests.
    fn model(label: &str, valid: usize, passing: usize) -> EvalSet {
        let recs = (0..50)
            .map(|i| {
                let ok = i < valid;
                let pass = if i < passing { 3 } else { 0 };
                rec(
                    &format!("p{i:02}"),
                    0,
                    ok,
                    pass,
                    3,
                    if ok {
                        0.6 + 0.4 * pass as f64 / 3.0
                    } else {
                        0.4
                    },
                )
            })
            .collect();
        EvalSet::from_records(label, recs).unwrap()
    }

    fn report() -> Report {
        let cfg = BootstrapConfig::default();
        let sft = model("sft, tiny", 20, 2);
        let cont = model("ppo-continue", 35, 5);
        let rows = vec![
            ReportRow {
                paper_variant: Some(PaperVariant::Sft),
                summary: summarize(&sft, &[], &cfg).unwrap(),
            },
            ReportRow {
                paper_variant: Some(PaperVariant::PpoContinue),
                summary: summarize(&cont, &[1], &cfg).unwrap(),
            },
        ];
        let comparisons = vec![compare_paired(&sft, &cont, Metric::SyntaxValid, &cfg).unwrap()];
        Report {
            title: "Evaluation".into(),
            setting: "tiny model on the built-in suite, 50 problems".into(),
            bootstrap: cfg,
            rows,
            comparisons,
            sections: Vec::new(),
        }
    }

    #[test]
    fn markdown_has_the_paper_tables_and_the_comparison() {
        let md = render_markdown(&report());
        assert!(
            md.contains("| Model | n | Syn.% | ≥1-P% | All-P% | mean R |"),
            "{md}"
        );
        assert!(md.contains("| Model | n | Syntax Valid % | Test Pass % | Sec. Clean % |"));
        assert!(md.contains("| sft, tiny | 50 | 40.0 ["), "{md}");
        assert!(md.contains("| ppo-continue | 50 | 70.0 ["));
        assert!(md.contains("pass@1 %"));
        assert!(
            md.contains("| sft, tiny | ppo-continue | Syn.% | 40.0 | 70.0 | +30.0 ["),
            "{md}"
        );
        assert!(
            md.contains("McNemar") && md.contains("0 / 15, p = 6.1e-5"),
            "{md}"
        );
        assert!(md.contains("| syntax_error | 30 | 60.0 |"), "{md}");
        assert!(md.contains("Syn.% 40.0 ["), "{md}");
        assert!(
            md.contains("vs paper 44.0 (-4.0 points; paper value inside our CI)"),
            "{md}"
        );
        assert!(
            md.contains(
                "Syn.% ordering: paper PPO-continue (partial) > SFT Baseline; this run \
                 PPO-continue (partial) > SFT Baseline (the same ordering)"
            ),
            "{md}"
        );
        assert!(md.contains("This run: tiny model on the built-in suite, 50 problems."));
    }

    #[test]
    fn json_and_csv_copies() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        let files = write_report(dir.path(), &r).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), 2);
        assert_eq!(json["rows"][0]["paper_variant"], "sft");
        assert_eq!(
            json["rows"][1]["summary"]["estimates"][0]["metric"],
            "syntax_valid_rate"
        );
        assert_eq!(json["paper_table3"][3]["syntax_valid_pct"], 63.0);
        assert_eq!(json["bootstrap"]["resamples"], 2000);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);

        let csv = std::fs::read_to_string(&files.csv).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "model,paper_variant,metric,value,ci_low,ci_high,n_problems,n_samples"
        );
        let first = lines.next().unwrap();
        assert!(
            first.starts_with("\"sft, tiny\",sft,syntax_valid_rate,0.4,"),
            "{first}"
        );
        // 7 headline metrics for SFT, 7 + pass@1 for PPO-continue.
        assert_eq!(csv.lines().count(), 1 + 7 + 8);
        assert!(
            csv.lines()
                .any(|l| l.starts_with("ppo-continue,ppo-continue,pass@1,0.1,"))
        );
        assert!(
            std::fs::read_to_string(&files.markdown)
                .unwrap()
                .starts_with("# Evaluation")
        );
    }

    #[test]
    fn verification_finds_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            verify_report(dir.path(), &["sft, tiny"]).len(),
            3,
            "three files missing"
        );
        write_report(dir.path(), &report()).unwrap();
        assert_eq!(
            verify_report(dir.path(), &["sft, tiny", "ppo-continue"]),
            Vec::<String>::new()
        );
        let issues = verify_report(dir.path(), &["ppo-fresh"]);
        assert!(
            issues
                .iter()
                .any(|i| i.starts_with("report.md: model \"ppo-fresh\"")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i.starts_with("report.json: no row")),
            "{issues:?}"
        );
        assert_eq!(
            issues
                .iter()
                .filter(|i| i.starts_with("report.csv: no "))
                .count(),
            7
        );
        let md = dir.path().join("report.md");
        let text = std::fs::read_to_string(&md)
            .unwrap()
            .replace("## Table 2 shape", "## Table two");
        std::fs::write(&md, text).unwrap();
        std::fs::write(dir.path().join("report.json"), "{").unwrap();
        let issues = verify_report(dir.path(), &["sft, tiny"]);
        assert!(
            issues
                .iter()
                .any(|i| i.contains("no \"## Table 2 shape\" section")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i.starts_with("report.json: EOF")),
            "{issues:?}"
        );
    }

    #[test]
    fn no_paper_variant_means_no_numeric_comparison() {
        let mut r = report();
        r.rows.iter_mut().for_each(|row| row.paper_variant = None);
        assert!(
            paper_comparison(&r.rows, "x")
                .contains("No row of this report corresponds to a paper variant")
        );
    }
}

//! The quickstart in its CI size (`--smoke`: smaller settings, the same code path as the full run)
//! on the committed tiny model: it must end with PASS and leave a complete report, records and
//! plots.

use std::path::Path;
use std::process::Command;

#[test]
fn quickstart_smoke_passes_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("qs");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let o = Command::new(env!("CARGO_BIN_EXE_securecoderl"))
        .current_dir(&repo)
        .args(["quickstart", "--smoke", "--out"])
        .arg(&out)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("PASS: ")), "{stdout}");
    assert!(
        stdout.contains(&format!("report: {}", out.join("report.md").display())),
        "{stdout}"
    );
    let names = ["SFT", "PPO-simple", "PPO-fresh", "PPO-continue"];
    assert_eq!(scrl_eval::verify_report(&out, &names), Vec::<String>::new());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in ["| SFT |", "| PPO-continue |", "Syn.%", "paper"] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }
    for f in [
        "plots/metrics.png",
        "plots/metrics.svg",
        "plots/reward-curves.png",
        "plots/training-ppo-fresh.svg",
        "eval/sft.jsonl",
        "data/eval.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let records = scrl_eval::read_records(&out.join("eval/ppo-continue.jsonl")).unwrap();
    assert_eq!(records.len(), 24, "one sample per evaluation problem");
}

//! `securecoderl bench reward`: test executions per second through the sandbox against the authors'
//! way (a fresh `python3 file.py` subprocess per test, same interpreter, same concurrency),
//! measured in the same run and printed as a table; `--soak N` instead runs N executions and prints
//! the supervisor's open descriptors, descendant processes and RSS at intervals, to show that
//! nothing grows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rayon::prelude::*;
use scrl_sandbox::plain::{cpu_time_with_reaped_children, run_plain};
use scrl_sandbox::{CompareMode, Limits, Outcome, Sandbox, SandboxConfig, Verdict, judge};

#[derive(clap::Args)]
pub struct BenchRewardArgs {
    /// Interpreter for both the sandbox and the baseline.
    #[arg(long, default_value = "/usr/bin/python3")]
    python: PathBuf,
    /// Zygotes, and threads driving either side (default: number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Executions of the trivial program (read 1,000 integers, print their sum) per side.
    #[arg(long, default_value_t = 2000)]
    trivial: usize,
    /// CodeContests sample; every test of every problem whose reference passes exactly is run.
    #[arg(long, default_value = "../shared/data/codecontests_cc300.jsonl")]
    data: PathBuf,
    /// Use only the first N such problems (0: all).
    #[arg(long, default_value_t = 0)]
    problems: usize,
    /// Soak mode: run this many trivial executions through the sandbox and report resource use.
    #[arg(long)]
    soak: Option<usize>,
}

const TRIVIAL: &str = "print(sum(map(int, input().split())))\n";

pub(super) struct Task {
    pub(super) program: usize,
    pub(super) input: String,
    pub(super) output: String,
}

struct Side {
    seconds: f64,
    /// CPU time of this process and every descendant it reaped during the measurement.
    cpu_seconds: f64,
    accepted: usize,
}

fn limits() -> Limits {
    Limits {
        cpu_time_ms: 10_000,
        wall_time_ms: 30_000,
        memory_bytes: 1 << 30,
        output_bytes: 8 << 20,
    }
}

pub(super) fn load_references(path: &Path, max: usize) -> anyhow::Result<(Vec<String>, Vec<Task>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (mut programs, mut tasks) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: invalid JSON", path.display(), i + 1))?;
        if v["ref_passes_exact_all"] != serde_json::Value::Bool(true) {
            continue;
        }
        let field = |name: &str| format!("{}:{}: field `{name}`", path.display(), i + 1);
        let reference = v["reference_solution"]
            .as_str()
            .with_context(|| field("reference_solution"))?;
        for t in v["tests"].as_array().with_context(|| field("tests"))? {
            let input = t["input"]
                .as_str()
                .with_context(|| field("tests[].input"))?;
            let output = t["output"]
                .as_str()
                .with_context(|| field("tests[].output"))?;
            tasks.push(Task {
                program: programs.len(),
                input: input.into(),
                output: output.into(),
            });
        }
        programs.push(reference.to_string());
        if max > 0 && programs.len() == max {
            break;
        }
    }
    Ok((programs, tasks))
}

/// Runs the tasks through a fresh sandbox (started, warmed with one run per worker, then timed,
/// then dropped so that the zygotes' CPU time is accounted).
fn via_sandbox(cfg: &SandboxConfig, programs: &[String], tasks: &[Task]) -> anyhow::Result<Side> {
    let cpu0 = cpu_time_with_reaped_children().as_secs_f64();
    let sb = Sandbox::new(cfg.clone())?;
    let start = Instant::now();
    let verdicts: Vec<Verdict> = tasks
        .par_iter()
        .map(|t| {
            sb.run(&programs[t.program], t.input.as_bytes(), &limits())
                .map(|e| judge(&e, &t.output, CompareMode::Apps))
        })
        .collect::<Result<_, _>>()?;
    let seconds = start.elapsed().as_secs_f64();
    drop(sb);
    Ok(Side {
        seconds,
        cpu_seconds: cpu_time_with_reaped_children().as_secs_f64() - cpu0,
        accepted: verdicts.iter().filter(|v| **v == Verdict::Accepted).count(),
    })
}

fn via_subprocess(
    python: &Path,
    dir: &Path,
    programs: &[String],
    tasks: &[Task],
) -> anyhow::Result<Side> {
    let mut files = Vec::with_capacity(programs.len());
    for (i, p) in programs.iter().enumerate() {
        let f = dir.join(format!("p{i}.py"));
        std::fs::write(&f, p).with_context(|| format!("writing {}", f.display()))?;
        files.push(f);
    }
    let cpu0 = cpu_time_with_reaped_children().as_secs_f64();
    let start = Instant::now();
    let accepted: Vec<bool> = tasks
        .par_iter()
        .map(|t| {
            let r = run_plain(
                python,
                &files[t.program],
                t.input.as_bytes(),
                Duration::from_millis(limits().wall_time_ms),
            )?;
            Ok(r.exit_code == Some(0)
                && scrl_sandbox::compare::outputs_match(&r.stdout, &t.output, CompareMode::Apps))
        })
        .collect::<std::io::Result<_>>()?;
    Ok(Side {
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: cpu_time_with_reaped_children().as_secs_f64() - cpu0,
        accepted: accepted.iter().filter(|a| **a).count(),
    })
}

fn row(name: &str, n: usize, cores: usize, sb: &Side, base: &Side) {
    let (a, b) = (n as f64 / sb.seconds, n as f64 / base.seconds);
    let (ca, cb) = (
        sb.cpu_seconds * 1000.0 / n as f64,
        base.cpu_seconds * 1000.0 / n as f64,
    );
    // Capacity: what the machine's cores could sustain at this CPU cost, independent of other load.
    let (pa, pb) = (cores as f64 * 1000.0 / ca, cores as f64 * 1000.0 / cb);
    println!(
        "| {name} | {n} | {a:.0} | {b:.0} | {:.2}x | {ca:.2} | {cb:.2} | {pa:.0} | {pb:.0} | \
         {:.2}x | {}/{n} | {}/{n} |",
        a / b,
        pa / pb,
        sb.accepted,
        base.accepted
    );
}

pub fn run(args: BenchRewardArgs) -> anyhow::Result<i32> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()?;
    let cfg = SandboxConfig {
        python: args.python.clone(),
        workers,
        ..SandboxConfig::default()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let input: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    let trivial_task = || Task {
        program: 0,
        input: format!("{}\n", input.join(" ")),
        output: "500500\n".into(),
    };
    let sb = Sandbox::new(cfg.clone())?;
    if let Some(n) = args.soak {
        return pool.install(|| soak(&sb, n, &trivial_task()));
    }
    println!(
        "python {}.{} ({}), {workers} workers, {cores} cores; isolation:\n{}\n",
        sb.python_version().0,
        sb.python_version().1,
        args.python.display(),
        sb.isolation()
    );
    drop(sb);
    let dir = std::env::temp_dir().join(format!("scrl-bench-reward-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = pool.install(|| -> anyhow::Result<()> {
        let trivial_programs = vec![TRIVIAL.to_string()];
        let trivial: Vec<Task> = (0..args.trivial).map(|_| trivial_task()).collect();
        let (programs, tasks) = load_references(&args.data, args.problems)?;
        // Warm both paths (page cache, zygotes) before timing.
        via_sandbox(&cfg, &trivial_programs, &trivial[..trivial.len().min(50)])?;
        via_subprocess(
            &args.python,
            &dir,
            &trivial_programs,
            &trivial[..trivial.len().min(20)],
        )?;
        let t_sb = via_sandbox(&cfg, &trivial_programs, &trivial)?;
        let t_base = via_subprocess(&args.python, &dir, &trivial_programs, &trivial)?;
        let c_sb = via_sandbox(&cfg, &programs, &tasks)?;
        let c_base = via_subprocess(&args.python, &dir, &programs, &tasks)?;
        println!(
            "Measured: executions per second of wall time (depends on other load on the \
             machine)."
        );
        println!(
            "CPU: milliseconds of CPU per execution, supervisor + zygotes + programs (or + \
             subprocesses)."
        );
        println!(
            "Capacity: cores x 1000 / CPU ms, the rate the cores could sustain at that \
             cost.\n"
        );
        println!(
            "| workload | executions | sandbox exec/s | `python3 file.py` exec/s | measured \
             ratio | sandbox CPU ms | baseline CPU ms | sandbox capacity/s | baseline capacity/s | \
             capacity ratio | sandbox accepted | baseline accepted |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        row(
            "trivial (sum of 1,000 ints)",
            trivial.len(),
            cores,
            &t_sb,
            &t_base,
        );
        row(
            &format!(
                "cc300 references ({} \
                 problems)",
                programs.len()
            ),
            tasks.len(),
            cores,
            &c_sb,
            &c_base,
        );
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(0)
}

/// Open descriptors, descendant processes and resident memory of this process.
fn resources() -> (usize, usize, u64) {
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    let rss_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches(" kB").trim().to_string())
            })
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let me = std::process::id();
    let mut parent = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            if let Some(ppid) = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
            {
                parent.insert(pid, ppid);
            }
        }
    }
    let descends = |mut p: u32| {
        for _ in 0..64 {
            match parent.get(&p) {
                Some(&pp) if pp == me => return true,
                Some(&pp) if pp > 1 => p = pp,
                _ => return false,
            }
        }
        false
    };
    let procs = parent.keys().filter(|&&p| descends(p)).count();
    (fds, procs, rss_kb)
}

fn soak(sb: &Sandbox, n: usize, task: &Task) -> anyhow::Result<i32> {
    let programs = [TRIVIAL.to_string()];
    let step = (n / 10).max(1);
    println!(
        "| executions | exec/s (interval) | open fds | descendant processes | supervisor RSS (KiB) \
         |"
    );
    println!("|---|---|---|---|---|");
    let (fds, procs, rss) = resources();
    println!("| 0 | - | {fds} | {procs} | {rss} |");
    let mut done = 0;
    while done < n {
        let k = step.min(n - done);
        let start = Instant::now();
        let bad: usize = (0..k)
            .into_par_iter()
            .map(|_| {
                sb.run(&programs[0], task.input.as_bytes(), &limits())
                    .map(|e| {
                        usize::from(
                            e.outcome != Outcome::Exited || e.stdout != task.output.as_bytes(),
                        )
                    })
            })
            .sum::<Result<usize, _>>()?;
        anyhow::ensure!(bad == 0, "{bad} of {k} soak executions gave a wrong result");
        done += k;
        let (fds, procs, rss) = resources();
        println!(
            "| {done} | {:.0} | {fds} | {procs} | {rss} |",
            k as f64 / start.elapsed().as_secs_f64()
        );
    }
    Ok(0)
}

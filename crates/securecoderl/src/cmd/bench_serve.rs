//! `securecoderl bench serve`: the reward server under N concurrent loopback clients sending
//! `/score` batches (executions per second, request latency p50/p99, rejected requests), and the
//! same programs through the `score --batch` path (`RewardModel::score_batch_with`) in the same
//! run, so that the server's overhead reads as a ratio. Each side has its own sandbox and an empty
//! result cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use scrl_reward::{RewardConfig, StdinCase, TestSpec};
use scrl_sandbox::{Sandbox, SandboxConfig};
use scrl_serve::{App, ServeConfig};

use super::reward_opts::RewardOpts;

#[derive(clap::Args)]
pub struct BenchServeArgs {
    /// CodeContests sample: the reference of every problem that passes exactly is one program.
    #[arg(long, default_value = "../shared/data/codecontests_cc300.jsonl")]
    data: PathBuf,
    /// Use only the first N such problems (0: all).
    #[arg(long, default_value_t = 0)]
    max_problems: usize,
    /// Concurrent clients, each with one kept-alive connection.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Programs per /score request.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// The server's slots for requests worked on at once.
    #[arg(long, default_value_t = ServeConfig::default().max_in_flight)]
    max_in_flight: usize,
    /// The server's queue; beyond it requests are rejected (and the bench client retries them).
    #[arg(long, default_value_t = ServeConfig::default().max_queued)]
    max_queued: usize,
    #[command(flatten)]
    reward: RewardOpts,
}

struct Item {
    program: String,
    tests: Vec<StdinCase>,
}

/// The cc300 references that pass exactly, as `bench reward` loads them, with their tests regrouped
/// per program.
fn load(path: &Path, max: usize) -> anyhow::Result<Vec<Item>> {
    let (programs, tasks) = super::bench_reward::load_references(path, max)?;
    let mut items: Vec<Item> = programs
        .into_iter()
        .map(|program| Item {
            program,
            tests: Vec::new(),
        })
        .collect();
    for t in tasks {
        items[t.program].tests.push(StdinCase {
            input: t.input,
            output: t.output,
        });
    }
    if items.is_empty() {
        bail!(
            "{}: no problem whose reference passes exactly",
            path.display()
        );
    }
    Ok(items)
}

struct Side {
    seconds: f64,
    executions: usize,
    accepted: usize,
    latencies_ms: Vec<f64>,
    rejected: usize,
}

pub fn run(a: BenchServeArgs) -> anyhow::Result<i32> {
    let items = load(&a.data, a.max_problems)?;
    let (cfg, sandbox_cfg) = a.reward.resolve()?;
    let specs: Vec<TestSpec> = items
        .iter()
        .map(|it| TestSpec::Stdin(it.tests.clone()))
        .collect();
    eprintln!(
        "{} programs; score --batch path first, then the server",
        items.len()
    );
    let batch = via_score_batch(&cfg, &sandbox_cfg, &items, &specs)?;
    let served = via_server(&a, &cfg, &sandbox_cfg, &items)?;
    if served.accepted != batch.accepted || served.executions != batch.executions {
        bail!(
            "the two paths disagree: server {} accepted of {} runs, score --batch {} of {}",
            served.accepted,
            served.executions,
            batch.accepted,
            batch.executions
        );
    }
    let rate = |s: &Side| s.executions as f64 / s.seconds;
    println!(
        "| path | programs | test executions | seconds | executions/s | request p50 ms | request \
         p99 ms | rejected |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| score --batch (in process) | {} | {} | {:.2} | {:.0} | - | - | - |",
        items.len(),
        batch.executions,
        batch.seconds,
        rate(&batch)
    );
    println!(
        "| serve, {} clients x {} programs/request | {} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {} \
         |",
        a.clients,
        a.batch,
        items.len(),
        served.executions,
        served.seconds,
        rate(&served),
        percentile(&served.latencies_ms, 0.50),
        percentile(&served.latencies_ms, 0.99),
        served.rejected
    );
    println!(
        "server / score --batch: {:.2}x the executions per second (test cap {}, {} workers, \
         reward config {:?} {:?})",
        rate(&served) / rate(&batch),
        cfg.test_cap,
        sandbox_cfg.workers,
        cfg.kind,
        cfg.compare
    );
    Ok(0)
}

fn via_score_batch(
    reward: &RewardConfig,
    sandbox: &SandboxConfig,
    items: &[Item],
    specs: &[TestSpec],
) -> anyhow::Result<Side> {
    let model = scrl_experiment::start_reward(reward, sandbox)?;
    warm(model.sandbox(), sandbox.workers)?;
    let pairs: Vec<(&str, &TestSpec)> = items
        .iter()
        .zip(specs)
        .map(|(it, s)| (it.program.as_str(), s))
        .collect();
    let start = Instant::now();
    let results = model.score_batch_with(&pairs, &AtomicBool::new(false), &|| {});
    let seconds = start.elapsed().as_secs_f64();
    let (mut executions, mut accepted) = (0, 0);
    for r in results {
        let b = r?;
        executions += b.tests.len();
        accepted += b
            .tests
            .iter()
            .filter(|t| t.verdict == scrl_sandbox::Verdict::Accepted)
            .count();
    }
    Ok(Side {
        seconds,
        executions,
        accepted,
        latencies_ms: Vec::new(),
        rejected: 0,
    })
}

/// One run per worker, so neither side pays for starting zygotes inside its measurement.
fn warm(sb: &Sandbox, workers: usize) -> anyhow::Result<()> {
    let limits = scrl_sandbox::Limits::default();
    for _ in 0..workers {
        sb.run("print(1)", b"", &limits)?;
    }
    Ok(())
}

fn via_server(
    a: &BenchServeArgs,
    reward: &RewardConfig,
    sandbox_cfg: &SandboxConfig,
    items: &[Item],
) -> anyhow::Result<Side> {
    let sandbox = Arc::new(Sandbox::new(sandbox_cfg.clone()).context("starting the sandbox")?);
    warm(&sandbox, sandbox_cfg.workers)?;
    let cfg = ServeConfig {
        reward: reward.clone(),
        max_in_flight: a.max_in_flight,
        max_queued: a.max_queued,
        ..ServeConfig::default()
    };
    let app = App::new(cfg, sandbox, super::serve::scanner_factory(reward))?;
    let bodies: Vec<serde_json::Value> = items
        .chunks(a.batch.max(1))
        .map(|chunk| {
            let items: Vec<_> = chunk
                .iter()
                .map(|it| serde_json::json!({"tests": it.tests, "completion": it.program}))
                .collect();
            serde_json::json!({ "items": items })
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async {
            let _ = stop_rx.await;
        }));
        let bodies = Arc::new(bodies);
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut clients = Vec::new();
        for _ in 0..a.clients.max(1) {
            let (bodies, next) = (bodies.clone(), next.clone());
            clients.push(tokio::spawn(async move {
                let mut c = scrl_serve::client::Client::new(addr, None);
                let mut out = Side {
                    seconds: 0.0,
                    executions: 0,
                    accepted: 0,
                    latencies_ms: Vec::new(),
                    rejected: 0,
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else {
                        return anyhow::Ok(out);
                    };
                    loop {
                        let t = Instant::now();
                        let ans = c.post_json("/score", body).await?;
                        if ans.status == 503 || ans.status == 429 {
                            out.rejected += 1;
                            tokio::time::sleep(Duration::from_secs(ans.retry_after_s.unwrap_or(1)))
                                .await;
                            continue;
                        }
                        out.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        if !ans.status.is_success() {
                            bail!(
                                "the server answered {}: {}",
                                ans.status,
                                String::from_utf8_lossy(&ans.body)
                            );
                        }
                        for row in ans.json()?["results"].as_array().context("results")? {
                            let verdicts = row["verdicts"].as_array().context("verdicts")?;
                            out.executions += verdicts.len();
                            out.accepted += verdicts.iter().filter(|v| *v == "accepted").count();
                        }
                        break;
                    }
                }
            }));
        }
        let mut total = Side {
            seconds: 0.0,
            executions: 0,
            accepted: 0,
            latencies_ms: Vec::new(),
            rejected: 0,
        };
        for c in clients {
            let s = c.await??;
            total.executions += s.executions;
            total.accepted += s.accepted;
            total.rejected += s.rejected;
            total.latencies_ms.extend(s.latencies_ms);
        }
        total.seconds = start.elapsed().as_secs_f64();
        let _ = stop_tx.send(());
        server.await??;
        Ok(total)
    })
}

fn percentile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() - 1) as f64 * q).round() as usize]
}

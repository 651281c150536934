//! `securecoderl serve`: the reward and a SandboxFusion-compatible `run_code` over HTTP
//! (scrl-serve, docs/serve.md). Turns the flags into a server configuration, loads the problems,
//! and runs until SIGTERM or SIGINT, then drains what it admitted and exits 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use scrl_sandbox::Sandbox;
use scrl_serve::{App, RequestLimits, ServeConfig};

use super::reward_opts::{RewardOpts, test_spec};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  securecoderl serve --problems examples/problems.jsonl\n  \
        SCRL_SERVE_TOKEN=$(cat token) securecoderl serve --listen 0.0.0.0:8910 --workers 16"
)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs a bearer token.
    #[arg(long, default_value = "127.0.0.1:8910")]
    listen: SocketAddr,
    /// Bearer token every endpoint but /health requires.
    #[arg(
        long,
        env = "SCRL_SERVE_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    token: Option<String>,
    /// File whose first line is the bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Problems (SecureCodeRL JSONL) that /score items may name with "problem": ID.
    #[arg(long)]
    problems: Option<PathBuf>,
    /// Requests worked on at once (each scores its batch in parallel on the sandbox's workers).
    #[arg(long, default_value_t = ServeConfig::default().max_in_flight)]
    max_in_flight: usize,
    /// Requests that may wait for a slot; one more gets 503 with Retry-After.
    #[arg(long, default_value_t = ServeConfig::default().max_queued)]
    max_queued: usize,
    /// Seconds from a request's arrival to its answer; past it, 504 and its remaining work is
    /// cancelled.
    #[arg(long, default_value_t = ServeConfig::default().deadline.as_secs())]
    deadline_s: u64,
    /// Largest request body.
    #[arg(long, default_value_t = RequestLimits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Most items in one /score batch.
    #[arg(long, default_value_t = RequestLimits::default().max_items)]
    max_items: usize,
    /// Largest program (a completion or run_code's code).
    #[arg(long, default_value_t = RequestLimits::default().max_program_bytes)]
    max_program_bytes: usize,
    /// Most inline tests of one /score item.
    #[arg(long, default_value_t = RequestLimits::default().max_tests)]
    max_tests: usize,
    /// Largest test (input plus expected output) or run_code stdin.
    #[arg(long, default_value_t = RequestLimits::default().max_test_bytes)]
    max_test_bytes: usize,
    #[command(flatten)]
    reward: RewardOpts,
}

pub fn run(a: ServeArgs) -> anyhow::Result<i32> {
    let token = match (&a.token, &a.token_file) {
        (Some(t), _) => Some(t.trim().to_string()),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the token file {}", f.display()))?;
            Some(text.lines().next().unwrap_or("").trim().to_string())
        }
        (None, None) => None,
    };
    scrl_serve::check_bind(a.listen, token.as_deref())?;
    let (reward, sandbox_cfg) = a.reward.resolve()?;
    reward.validate()?;
    let scanners = scanner_factory(&reward);
    let mut problems = HashMap::new();
    if let Some(p) = &a.problems {
        for prob in scrl_data::load_problems(p)? {
            problems.insert(prob.id.clone(), test_spec(&prob, &reward));
        }
    }
    let n_problems = problems.len();
    let cfg = ServeConfig {
        reward,
        problems,
        limits: RequestLimits {
            max_body_bytes: a.max_body_bytes,
            max_items: a.max_items,
            max_program_bytes: a.max_program_bytes,
            max_tests: a.max_tests,
            max_test_bytes: a.max_test_bytes,
        },
        token,
        max_in_flight: a.max_in_flight,
        max_queued: a.max_queued,
        deadline: Duration::from_secs(a.deadline_s.max(1)),
        ..ServeConfig::default()
    };
    let sandbox = Arc::new(Sandbox::new(sandbox_cfg).context("starting the sandbox")?);
    let isolation = sandbox.isolation().to_string();
    let app = App::new(cfg, sandbox, scanners)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        let addr = listener.local_addr()?;
        let isolation = isolation
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        eprintln!("sandbox: {isolation}");
        eprintln!("serving {n_problems} problems; listening on http://{addr}");
        app.serve(listener, async {
            scrl_serve::termination_signal().await;
            eprintln!("signal received: finishing the requests in flight");
        })
        .await
        .context("serving")
    })?;
    eprintln!("drained; exiting");
    Ok(0)
}

/// Each reward model the server builds gets a scanner of the kind the reward section chose.
pub fn scanner_factory(reward: &scrl_reward::RewardConfig) -> scrl_serve::ScannerFactory {
    let reward = reward.clone();
    Arc::new(move || reward.start_scanner().map_err(|e| format!("{e:#}")))
}

//! The reward and the sandbox as an HTTP service (`securecoderl serve`, docs/serve.md): `POST
//! /score` answers with the breakdown of `score --json`, `POST /run_code` speaks SandboxFusion's
//! protocol for Python, `GET /health` and `GET /metrics` (Prometheus text) are for operators and
//! load balancers. Knows nothing about problems files or the command line: the caller hands it the
//! tests of the problems it serves, a started sandbox and a way to make a scanner.
//!
//! Work runs on blocking threads behind a bounded admission queue; a full queue answers 503 with
//! `Retry-After`, a request past its deadline 504, a client that goes away cancels the programs of
//! its batch that have not started, and shutdown drains what was admitted.

mod api;
pub mod client;
mod error;
mod limits;
mod metrics;
mod run_code;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scrl_pycheck::Scanner;
use scrl_reward::{RewardConfig, RewardModel, TestSpec};
use scrl_sandbox::Sandbox;

pub use error::ApiError;
pub use limits::RequestLimits;

/// Everything a server is configured with besides its sandbox.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The reward options of a request that sets none (a request may override them, within limits).
    pub reward: RewardConfig,
    /// The problems `/score` items may name with `"problem": ID`, already as tests.
    pub problems: HashMap<String, TestSpec>,
    pub limits: RequestLimits,
    /// The bearer token every endpoint but `/health` requires; `None` only on a loopback address.
    pub token: Option<String>,
    /// Requests worked on at once (each may score many programs in parallel).
    pub max_in_flight: usize,
    /// Admitted requests that may wait for a slot; one more is answered 503.
    pub max_queued: usize,
    /// From arrival to answer; past it the request gets 504 and its remaining work is cancelled.
    pub deadline: Duration,
    /// What `Retry-After` says on a 503.
    pub retry_after_s: u64,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            reward: RewardConfig::default(),
            problems: HashMap::new(),
            limits: RequestLimits::default(),
            token: None,
            max_in_flight: 4,
            max_queued: 64,
            deadline: Duration::from_secs(300),
            retry_after_s: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a bearer token: anyone who can reach it could run code \
         here (give --token, --token-file or SCRL_SERVE_TOKEN, or bind a loopback address)"
    )]
    TokenRequired(SocketAddr),
    #[error("the bearer token is empty")]
    EmptyToken,
    #[error("invalid server configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Reward(#[from] scrl_reward::RewardError),
    #[error("cannot start a scanner: {0}")]
    Scanner(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Refuses what would expose code execution to the network without authentication.
pub fn check_bind(addr: SocketAddr, token: Option<&str>) -> Result<(), ServeError> {
    match token {
        Some("") => Err(ServeError::EmptyToken),
        Some(_) => Ok(()),
        None if addr.ip().is_loopback() => Ok(()),
        None => Err(ServeError::TokenRequired(addr)),
    }
}

/// Makes the security scanner of each reward model the server builds.
pub type ScannerFactory = Arc<dyn Fn() -> Result<Scanner, String> + Send + Sync>;

/// Reward models by configuration: the server's own plus a few that requests asked for.
const MAX_MODELS: usize = 8;

pub(crate) struct AppState {
    cfg: ServeConfig,
    sandbox: Arc<Sandbox>,
    new_scanner: ScannerFactory,
    default_model: Arc<RewardModel>,
    models: Mutex<Vec<(RewardConfig, Arc<RewardModel>)>>,
    slots: Arc<tokio::sync::Semaphore>,
    metrics: metrics::Metrics,
}

impl AppState {
    /// The model for a configuration, built on first use (it shares the sandbox).
    fn model(&self, cfg: &RewardConfig) -> Result<Arc<RewardModel>, ServeError> {
        if cfg == &self.cfg.reward {
            return Ok(self.default_model.clone());
        }
        let mut models = self.models.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, m)) = models.iter().find(|(c, _)| c == cfg) {
            return Ok(m.clone());
        }
        let m = Arc::new(RewardModel::new(
            cfg.clone(),
            self.sandbox.clone(),
            (self.new_scanner)().map_err(ServeError::Scanner)?,
        )?);
        if models.len() >= MAX_MODELS {
            // Forget one that no request holds; its cache goes with it.
            if let Some(i) = models.iter().position(|(_, m)| Arc::strong_count(m) == 1) {
                models.remove(i);
            }
        }
        if models.len() < MAX_MODELS {
            models.push((cfg.clone(), m.clone()));
        }
        Ok(m)
    }

    fn cache_stats(&self) -> (u64, u64) {
        let models = self.models.lock().unwrap_or_else(|p| p.into_inner());
        models
            .iter()
            .map(|(_, m)| m.cache_stats())
            .fold(self.default_model.cache_stats(), |a, b| {
                (a.0 + b.0, a.1 + b.1)
            })
    }
}

/// A configured server, ready to be given a listener.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

impl App {
    pub fn new(
        cfg: ServeConfig,
        sandbox: Arc<Sandbox>,
        new_scanner: ScannerFactory,
    ) -> Result<App, ServeError> {
        if cfg.max_in_flight == 0 {
            return Err(ServeError::Config("max_in_flight must be >= 1".into()));
        }
        cfg.limits.validate().map_err(ServeError::Config)?;
        let default_model = Arc::new(RewardModel::new(
            cfg.reward.clone(),
            sandbox.clone(),
            new_scanner().map_err(ServeError::Scanner)?,
        )?);
        let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_in_flight));
        Ok(App {
            state: Arc::new(AppState {
                cfg,
                sandbox,
                new_scanner,
                default_model,
                models: Mutex::new(Vec::new()),
                slots,
                metrics: metrics::Metrics::default(),
            }),
        })
    }

    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting and returns once every
    /// admitted request has been answered.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Resolves on SIGTERM or SIGINT: what `serve` drains on.
pub async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

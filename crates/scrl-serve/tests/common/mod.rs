//! A real server on a loopback port for the integration tests, and polling helpers. The deadlines
//! only bound a hang on a loaded machine; every wait ends as soon as its condition holds.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scrl_sandbox::{Sandbox, SandboxConfig};
use scrl_serve::client::Client;
use scrl_serve::{App, ServeConfig};

pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Begins a graceful shutdown (what SIGTERM does in `securecoderl serve`).
    pub fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn sandbox(workers: usize) -> Arc<Sandbox> {
    Arc::new(
        Sandbox::new(SandboxConfig {
            workers,
            ..SandboxConfig::default()
        })
        .expect("sandbox"),
    )
}

pub async fn start(cfg: ServeConfig, workers: usize) -> Running {
    start_with(cfg, sandbox(workers)).await
}

pub async fn start_with(cfg: ServeConfig, sandbox: Arc<Sandbox>) -> Running {
    let app = App::new(cfg, sandbox, Arc::new(|| Ok(scrl_pycheck::Scanner::Native))).expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(app.serve(listener, async {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        done,
    }
}

/// The value of an unlabelled sample of GET /metrics.
pub async fn metric(addr: SocketAddr, token: Option<&str>, name: &str) -> f64 {
    let mut c = Client::new(addr, token.map(str::to_string));
    let ans = c.get("/metrics").await.expect("metrics");
    let text = String::from_utf8(ans.body.to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

pub async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn sum_two_tests() -> serde_json::Value {
    serde_json::json!([
        {"input": "1 2\n", "output": "3\n"},
        {"input": "-5 5\n", "output": "0\n"},
        {"input": "7 -10\n", "output": "-3\n"}
    ])
}

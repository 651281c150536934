//! `securecoderl serve` as a process: its /score answers exactly what `score --json` prints,
//! SIGTERM drains the requests in flight and exits 0, a public address needs a token, the published
//! SandboxFusion clients (sandbox-fusion, veRL) work against it unchanged, and the Python client
//! spreads load over two servers. The Python parts need the test environment of
//! scripts/setup-test-env.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scrl_serve::client::Client;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test environment's Python (sandbox-fusion and veRL installed), as scripts/test sets it.
fn venv_python() -> PathBuf {
    let p = std::env::var_os("SCRL_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: run `bash scripts/setup-test-env` from the repository root (scripts/test, \
         the README's test command, does), which installs sandbox-fusion and verl into .venv",
        p.display()
    );
    p
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        Server::start_with_token_env(extra, None)
    }

    fn start_with_token_env(extra: &[&str], token_env: Option<&str>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_securecoderl"));
        cmd.current_dir(repo())
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "2"])
            .args(extra)
            .env("RAYON_NUM_THREADS", "1")
            .env_remove("SCRL_SERVE_TOKEN");
        if let Some(t) = token_env {
            cmd.env("SCRL_SERVE_TOKEN", t);
        }
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(a) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(a.trim().parse::<SocketAddr>().unwrap());
                }
                log.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("no address; stderr: {}", stderr.lock().unwrap()));
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A breakdown without what differs between two runs of the same program (times, memory).
fn without_measurements(mut v: Value) -> Value {
    for t in v["tests"].as_array_mut().into_iter().flatten() {
        let t = t.as_object_mut().unwrap();
        for k in ["cpu_time_ms", "wall_time_ms", "max_rss_kb"] {
            assert!(t.remove(k).is_some(), "no {k}");
        }
    }
    v
}

fn scrl(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_securecoderl"))
        .current_dir(repo())
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn score_endpoint_answers_exactly_what_score_json_prints() {
    let srv = Server::start(&["--problems", "examples/problems.jsonl"]);
    let cli: Vec<Value> = scrl(&[
        "score",
        "--batch",
        "examples/completions.jsonl",
        "--problems",
        "examples/problems.jsonl",
        "--json",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let rows: Vec<Value> = std::fs::read_to_string(repo().join("examples/completions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let items: Vec<Value> = rows
        .iter()
        .map(|r| json!({"problem": r["id"], "completion": r["completion"]}))
        .collect();
    let ans = rt().block_on(async {
        Client::new(srv.addr, None)
            .post_json("/score", &json!({ "items": items }))
            .await
            .unwrap()
    });
    assert_eq!(ans.status, 200);
    let served = ans.json().unwrap()["results"].as_array().unwrap().clone();
    assert_eq!(served.len(), cli.len());
    for (s, c) in served.into_iter().zip(cli) {
        assert_eq!(without_measurements(s), without_measurements(c));
    }

    // One program against inline tests: `score --tests FILE --program FILE --json`.
    let dir = tempfile::tempdir().unwrap();
    let tests = json!([{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "5\n"}]);
    std::fs::write(dir.path().join("t.json"), tests.to_string()).unwrap();
    let cli: Value = serde_json::from_str(&scrl(&[
        "score",
        "--tests",
        dir.path().join("t.json").to_str().unwrap(),
        "--program",
        "examples/sum_two_insecure.py",
        "--json",
    ]))
    .unwrap();
    let program = std::fs::read_to_string(repo().join("examples/sum_two_insecure.py")).unwrap();
    let body = json!({"items": [{"tests": tests, "completion": program}]});
    let ans = rt().block_on(async {
        Client::new(srv.addr, None)
            .post_json("/score", &body)
            .await
            .unwrap()
    });
    let served = ans.json().unwrap()["results"][0].clone();
    assert_eq!(without_measurements(served), without_measurements(cli));
}

#[test]
fn sigterm_drains_the_requests_in_flight_and_exits_0() {
    let mut srv = Server::start(&["--max-in-flight", "1"]);
    let addr = srv.addr;
    let rt = rt();
    let held: Vec<_> = (0..3)
        .map(|i| {
            let body = json!({"items": [{"tests": [{"input": "1 2\n", "output": "3\n"}],
                "completion": format!("import time\ntime.sleep(1)\na, b = map(int, \
                    input().split())\nprint(a + b)  # {i}\n")}]});
            rt.spawn(async move {
                Client::new(addr, None)
                    .post_json("/score", &body)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let gauge = |name: &str| -> f64 {
        let text =
            rt.block_on(async { Client::new(addr, None).get("/metrics").await.unwrap().body });
        let text = String::from_utf8(text.to_vec()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while gauge("scrl_in_flight") + gauge("scrl_queue_depth") < 3.0 {
        assert!(
            Instant::now() < deadline,
            "the requests were never admitted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) of the server this test started.
    assert_eq!(
        unsafe { libc::kill(srv.child.id() as i32, libc::SIGTERM) },
        0
    );
    for h in held {
        let a = rt.block_on(h).unwrap();
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_eq!(a.json().unwrap()["results"][0]["reward"], 1.0);
    }
    let status = srv.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", srv.stderr.lock().unwrap());
    assert!(srv.stderr.lock().unwrap().contains("drained"));
}

#[test]
fn a_public_address_needs_a_token() {
    let o = Command::new(env!("CARGO_BIN_EXE_securecoderl"))
        .current_dir(repo())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("SCRL_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("without a bearer token") && err.contains("--token"),
        "{err}"
    );
}

#[test]
fn the_token_comes_from_a_flag_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let servers = [
        (Server::start(&["--token", "from-flag"]), "from-flag"),
        (
            Server::start(&["--token-file", file.to_str().unwrap()]),
            "from-file",
        ),
        (
            Server::start_with_token_env(&[], Some("from-env")),
            "from-env",
        ),
    ];
    let rt = rt();
    let body = json!({"items": [{"tests": [{"input": "1 \
        2\n", "output": "3\n"}], "completion": "print(3)"}]});
    for (srv, token) in &servers {
        rt.block_on(async {
            let denied = Client::new(srv.addr, None)
                .post_json("/score", &body)
                .await
                .unwrap();
            assert_eq!(denied.status, 401, "{token}");
            let wrong = Client::new(srv.addr, Some("from-nowhere".into()))
                .post_json("/score", &body)
                .await
                .unwrap();
            assert_eq!(wrong.status, 401, "{token}");
            let ok = Client::new(srv.addr, Some(token.to_string()))
                .post_json("/score", &body)
                .await
                .unwrap();
            assert_eq!(ok.status, 200, "{token}: {:?}", ok.body);
        });
    }
}

#[test]
fn published_sandbox_fusion_clients_work_unchanged() {
    let python = venv_python();
    let srv = Server::start(&[]);
    let o = Command::new(python)
        .arg(repo().join("crates/securecoderl/tests/python/sandbox_fusion_compat.py"))
        .arg(srv.url())
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("sandbox-fusion client: ok")
            && out.contains("verl sandbox_fusion check_correctness: ok"),
        "{out}"
    );
}

#[test]
fn the_python_client_spreads_load_over_two_servers() {
    let python = venv_python();
    let token = "two-servers";
    let (a, b) = (
        Server::start(&["--token", token]),
        Server::start(&["--token", token]),
    );
    let o = Command::new(python)
        .arg(repo().join("crates/securecoderl/tests/python/client_two_servers.py"))
        .args([
            repo().join("clients/python").to_str().unwrap(),
            &a.url(),
            &b.url(),
            token,
        ])
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    let rt = rt();
    let scored = |s: &Server| -> u64 {
        let body = rt.block_on(async {
            Client::new(s.addr, Some(token.into()))
                .get("/metrics")
                .await
                .unwrap()
                .body
        });
        let text = String::from_utf8(body.to_vec()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("scrl_requests_total{endpoint=\"score\",code=\"200\"} "))
            .map_or(0, |v| v.parse().unwrap())
    };
    let (na, nb) = (scored(&a), scored(&b));
    // Eight batches and two reward-function calls taken in turn, then two past a dead server to
    // `a`.
    assert_eq!(na + nb, 12, "{out}");
    assert!(
        na >= 3 && nb >= 3,
        "one server did most of the work: {na} and {nb}"
    );
}

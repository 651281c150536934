//! The server over real HTTP on loopback, with the real sandbox: every endpoint, auth, limits, bad
//! requests, hostile programs, backpressure, deadlines, disconnects and graceful shutdown.

mod common;

use std::time::Duration;

use common::{metric, start, sum_two_tests, wait_until};
use hyper::Method;
use hyper::body::Bytes;
use scrl_serve::client::Client;
use scrl_serve::{RequestLimits, ServeConfig};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const SUM: &str = "a, b = map(int, input().split())\nprint(a + b)\n";

/// A JSON body as the bytes a client sends.
fn bytes(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn sleeper(seconds: f64) -> String {
    format!("import time\ntime.sleep({seconds})\na, b = map(int, input().split())\nprint(a + b)\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_score_answer() {
    let srv = start(ServeConfig::default(), 2).await;
    let mut c = Client::new(srv.addr, None);
    let h = c.get("/health").await.unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.json().unwrap()["status"], "ok");

    let body = json!({"items": [
        {"tests": sum_two_tests(), "completion": SUM},
        {"tests": sum_two_tests(), "completion": "a, b = map(int, input().split())\nprint(a - \
            b)\n"},
        {"tests": sum_two_tests(), "completion": "print('hello'\n"},
        {"tests": sum_two_tests(), "completion": "import subprocess\nsubprocess.call(input(), \
            shell=True)\na, b = map(int, input().split())\nprint(a + b)\n"},
    ]});
    let ans = c.post_json("/score", &body).await.unwrap();
    assert_eq!(ans.status, 200, "{:?}", ans.body);
    let rows = ans.json().unwrap()["results"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[0]["stage_number"].as_u64(), rows[0]["reward"].as_f64()),
        (Some(4), Some(1.0))
    );
    assert_eq!(
        rows[0]["verdicts"],
        json!(["accepted", "accepted", "accepted"])
    );
    // 1 - 2 = -1 is not 3, -5 - 5 is not 0, 7 + 10 is not -3: wrong on every test, but it printed.
    assert_eq!(rows[1]["stage_number"], 3);
    assert_eq!(
        rows[1]["verdicts"],
        json!(["wrong_answer", "wrong_answer", "wrong_answer"])
    );
    assert_eq!(
        (rows[2]["stage_number"].as_u64(), rows[2]["r_func"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert!(rows[2]["syntax_error"].is_object());
    // A shell call is a HIGH finding (R_sec 0) and is killed by the sandbox (fork is not allowed).
    assert_eq!(rows[3]["r_sec"].as_f64(), Some(0.0));
    assert!(
        rows[3]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["test_id"] == "B602"),
        "{}",
        rows[3]
    );

    let m = c.get("/metrics").await.unwrap();
    let text = String::from_utf8(m.body.to_vec()).unwrap();
    assert!(
        text.contains("scrl_requests_total{endpoint=\"score\",code=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scrl_verdicts_total{verdict=\"accepted\"} 3"),
        "{text}"
    );
    assert_eq!(metric(srv.addr, None, "scrl_programs_total").await, 4.0);
    assert!(
        text.contains("scrl_request_duration_seconds_count{endpoint=\"score\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_by_id_and_reward_options_per_request() {
    let mut problems = std::collections::HashMap::new();
    problems.insert(
        "sum".to_string(),
        scrl_reward::TestSpec::Stdin(vec![scrl_reward::StdinCase {
            input: "2 2\n".into(),
            output: "4\n".into(),
        }]),
    );
    let srv = start(
        ServeConfig {
            problems,
            ..ServeConfig::default()
        },
        2,
    )
    .await;
    let mut c = Client::new(srv.addr, None);
    let wrong = "print(5)\n";
    let body = json!({"items": [
        {"problem": "sum", "completion": SUM},
        {"problem": "sum", "completion": wrong},
    ]});
    let ans = c.post_json("/score", &body).await.unwrap();
    let rows = ans.json().unwrap()["results"].clone();
    assert_eq!(
        (rows[0]["id"].as_str(), rows[0]["reward"].as_f64()),
        (Some("sum"), Some(1.0))
    );
    assert_eq!(rows[1]["stage_number"], 3);
    let partial = rows[1]["reward"].as_f64().unwrap();
    assert!((partial - (0.6 * 0.6 + 0.4)).abs() < 1e-9, "{partial}");
    let ans = c
        .post_json(
            "/score",
            &json!({
                "items": [{"problem": "sum", "completion": wrong}],
                "reward": {"kind": "binary", "alpha": 1.0, "beta": 0.0},
            }),
        )
        .await
        .unwrap();
    let row = &ans.json().unwrap()["results"][0];
    assert_eq!(
        (row["kind"].as_str(), row["reward"].as_f64()),
        (Some("binary"), Some(0.0))
    );

    let ans = c
        .post_json(
            "/score",
            &json!({"items": [{"problem": "nope", "completion": SUM}]}),
        )
        .await
        .unwrap();
    assert_eq!(ans.status, 400);
    assert_eq!(ans.json().unwrap()["field"], "items[0].problem");
    let body = json!({
        "items": [{"problem": "sum", "completion": SUM}],
        "reward": {"cpu_time_ms": 1_000_000},
    });
    let ans = c.post_json("/score", &body).await.unwrap();
    assert_eq!(
        (ans.status.as_u16(), ans.json().unwrap()["field"].as_str()),
        (400, Some("reward.cpu_time_ms"))
    );
}

async fn field_of(c: &mut Client, path: &str, body: &[u8]) -> (u16, String, String) {
    let ans = c
        .send(Method::POST, path, Bytes::copy_from_slice(body))
        .await
        .unwrap();
    let v: Value = ans.json().unwrap_or_else(|e| panic!("{e}: {:?}", ans.body));
    (
        ans.status.as_u16(),
        v["field"].as_str().unwrap_or("").to_string(),
        v["error"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_naming_the_field() {
    let limits = RequestLimits {
        max_body_bytes: 64 << 10,
        max_items: 3,
        max_program_bytes: 1000,
        max_tests: 2,
        max_test_bytes: 100,
    };
    let srv = start(
        ServeConfig {
            limits,
            ..ServeConfig::default()
        },
        1,
    )
    .await;
    let mut c = Client::new(srv.addr, None);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"items\": [".to_vec(), 400, "body"),
        (b"not json".to_vec(), 400, "body"),
        (
            br#"{"items": [{"tests": [], "completion": 5}]}"#.to_vec(),
            400,
            "items[0].completion",
        ),
        (br#"{"items": [{"tests": []}]}"#.to_vec(), 400, "items[0]"),
        (br#"{"items": [], "extra": 1}"#.to_vec(), 400, "extra"),
        (br#"{"items": []}"#.to_vec(), 400, "items"),
        (
            br#"{"items": [{"completion": "print(1)"}]}"#.to_vec(),
            400,
            "items[0]",
        ),
        (
            br#"{"items": [{"completion": "print(1)", "tests": [], "problem": "x"}]}"#.to_vec(),
            400,
            "items[0]",
        ),
        (
            br#"{"items": [{"completion": "print(1)", "tests": [{"input": "1"}]}]}"#.to_vec(),
            400,
            "items[0].tests[0]",
        ),
        (
            bytes(json!({"items": [{"completion": "x".repeat(1001), "tests": []}]})),
            413,
            "items[0].completion",
        ),
        (
            bytes(json!({"items": [{
                "completion": "print(1)",
                "tests": vec![json!({"input": "", "output": ""}); 3],
            }]})),
            413,
            "items[0].tests",
        ),
        (
            bytes(json!({"items": [{
                "completion": "print(1)",
                "tests": [{"input": "x".repeat(60), "output": "y".repeat(60)}],
            }]})),
            413,
            "items[0].tests[0]",
        ),
        (
            bytes(json!({"items": vec![json!({"completion": "print(1)", "tests": []}); 4]})),
            413,
            "items",
        ),
        (vec![b' '; 65 << 10], 413, "body"),
    ];
    for (body, status, field) in cases {
        let (s, f, msg) = field_of(&mut c, "/score", &body).await;
        assert_eq!(
            (s, f.as_str()),
            (status, field),
            "{}: {msg}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(!msg.is_empty());
    }
    let (s, f, msg) = field_of(
        &mut c,
        "/run_code",
        br#"{"code": "print(1)", "language": "cpp"}"#,
    )
    .await;
    assert_eq!((s, f.as_str()), (400, "language"));
    assert!(msg.contains("python"), "{msg}");
    let (s, f, _) = field_of(
        &mut c,
        "/run_code",
        br#"{"code": "print(1)", "language": "python", "files": {"a.txt": "eA=="}}"#,
    )
    .await;
    assert_eq!((s, f.as_str()), (400, "files"));
    let (s, f, _) = field_of(&mut c, "/run_code", br#"{"code": "print(1)"}"#).await;
    assert_eq!((s, f.as_str()), (400, "body"));
    let (s, f, _) = field_of(
        &mut c,
        "/run_code",
        br#"{"code": "print(1)", "language": "python", "run_timeout": -1}"#,
    )
    .await;
    assert_eq!((s, f.as_str()), (400, "run_timeout"));
    // Nothing above reached the sandbox.
    assert_eq!(metric(srv.addr, None, "scrl_programs_total").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_is_required_everywhere_but_health() {
    let srv = start(
        ServeConfig {
            token: Some("s3cret".into()),
            ..ServeConfig::default()
        },
        1,
    )
    .await;
    let body = json!({"items": [{"tests": sum_two_tests(), "completion": SUM}]});
    for token in [None, Some("wrong"), Some("s3cre"), Some("s3cret2")] {
        let mut c = Client::new(srv.addr, token.map(str::to_string));
        for path in ["/score", "/run_code"] {
            let ans = c.post_json(path, &body).await.unwrap();
            assert_eq!(ans.status, 401, "{path} with {token:?}");
            assert_eq!(ans.json().unwrap()["field"], "authorization");
        }
        assert_eq!(c.get("/metrics").await.unwrap().status, 401);
        assert_eq!(c.get("/health").await.unwrap().status, 200);
    }
    let mut c = Client::new(srv.addr, Some("s3cret".into()));
    let ans = c.post_json("/score", &body).await.unwrap();
    assert_eq!(
        (
            ans.status.as_u16(),
            ans.json().unwrap()["results"][0]["reward"].as_f64()
        ),
        (200, Some(1.0))
    );
    assert_eq!(c.get("/metrics").await.unwrap().status, 200);

    let public: std::net::SocketAddr = "0.0.0.0:8910".parse().unwrap();
    assert!(matches!(
        scrl_serve::check_bind(public, None),
        Err(scrl_serve::ServeError::TokenRequired(_))
    ));
    assert!(scrl_serve::check_bind(public, Some("")).is_err());
    assert!(scrl_serve::check_bind(public, Some("t")).is_ok());
    assert!(scrl_serve::check_bind("127.0.0.1:1".parse().unwrap(), None).is_ok());
    assert!(scrl_serve::check_bind("[::1]:1".parse().unwrap(), None).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_speaks_sandboxfusion() {
    let srv = start(ServeConfig::default(), 2).await;
    let mut c = Client::new(srv.addr, None);
    let run = |code: &str, stdin: &str, timeout: f64| {
        json!({
            "code": code, "stdin": stdin, "language": "python", "run_timeout": timeout,
            "memory_limit_MB": 1024, "compile_timeout": 10, "files": {}, "fetch_files": [],
        })
    };
    let v = c
        .post_json("/run_code", &run(SUM, "20 22\n", 10.0))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["status"], "Success", "{v}");
    assert_eq!(v["compile_result"], Value::Null);
    assert_eq!(
        (
            v["run_result"]["status"].as_str(),
            v["run_result"]["return_code"].as_i64()
        ),
        (Some("Finished"), Some(0))
    );
    assert_eq!(v["run_result"]["stdout"], "42\n");
    assert!(v["run_result"]["execution_time"].as_f64().unwrap() >= 0.0);

    let v = c
        .post_json(
            "/run_code",
            &run(
                "import sys\nprint('x', file=sys.stderr)\nsys.exit(3)\n",
                "",
                10.0,
            ),
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            v["status"].as_str(),
            v["run_result"]["return_code"].as_i64()
        ),
        (Some("Failed"), Some(3))
    );
    assert_eq!(v["run_result"]["stderr"], "x\n");

    let v = c
        .post_json("/run_code", &run("print(1/0)\n", "", 10.0))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            v["status"].as_str(),
            v["run_result"]["return_code"].as_i64()
        ),
        (Some("Failed"), Some(1))
    );
    assert!(
        v["run_result"]["stderr"]
            .as_str()
            .unwrap()
            .contains("ZeroDivisionError")
    );

    let v = c
        .post_json("/run_code", &run("print('a'\n", "", 10.0))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["status"], "Failed");
    assert_eq!(v["run_result"]["status"], "Finished");
    assert!(
        v["run_result"]["stderr"]
            .as_str()
            .unwrap()
            .contains("SyntaxError"),
        "{v}"
    );

    let v = c
        .post_json("/run_code", &run("while True: pass\n", "", 1.0))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (v["status"].as_str(), v["run_result"]["status"].as_str()),
        (Some("Failed"), Some("TimeLimitExceeded"))
    );
    let v = c
        .post_json("/run_code", &run("import time\ntime.sleep(60)\n", "", 1.0))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["run_result"]["status"], "TimeLimitExceeded");
    assert_eq!(metric(srv.addr, None, "scrl_executions_total").await, 6.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_programs_are_contained_and_the_server_carries_on() {
    let srv = start(ServeConfig::default(), 2).await;
    let port = srv.addr.port();
    let marker = std::env::temp_dir().join(format!("scrl-serve-hostile-{}", std::process::id()));
    let m = marker.display();
    let hostile = [
        format!("import os\nos.system('touch {m}-system')\nprint(3)\n"),
        format!("open('{m}-open', 'w').write('x')\nprint(3)\n"),
        format!(
            "import socket\ns = socket.create_connection(('127.0.0.1', \
             {port}))\ns.sendall(b'GET /health HTTP/1.0\\r\\n\\r\\n')\nprint(s.recv(200))\n"
        ),
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(-1, \
         signal.SIGKILL)\nprint(3)\n"
            .to_string(),
        "import os\nos.fork()\nprint(3)\n".to_string(),
        "x = ' ' * (1 << 34)\nprint(3)\n".to_string(),
    ];
    let mut c = Client::new(srv.addr, None);
    let tests = json!([{"input": "1 2\n", "output": "3\n"}]);
    let items: Vec<Value> = hostile
        .iter()
        .map(|p| json!({"tests": tests, "completion": p}))
        .collect();
    let ans = c
        .post_json("/score", &json!({ "items": items }))
        .await
        .unwrap();
    assert_eq!(ans.status, 200, "{:?}", ans.body);
    for (p, row) in hostile
        .iter()
        .zip(ans.json().unwrap()["results"].as_array().unwrap())
    {
        assert_ne!(row["verdicts"][0], "accepted", "{p} was not stopped: {row}");
    }
    for p in &hostile {
        let v = c
            .post_json("/run_code", &json!({"code": p, "language": "python"}))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["status"], "Failed", "{p}: {v}");
    }
    assert!(!std::path::Path::new(&format!("{m}-system")).exists());
    assert!(!std::path::Path::new(&format!("{m}-open")).exists());
    // The server, its sandbox and this process are all still there.
    let ans = c
        .post_json(
            "/score",
            &json!({"items": [{"tests": sum_two_tests(), "completion": SUM}]}),
        )
        .await
        .unwrap();
    assert_eq!(ans.json().unwrap()["results"][0]["reward"], 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let cfg = ServeConfig {
        max_in_flight: 1,
        max_queued: 1,
        retry_after_s: 7,
        ..ServeConfig::default()
    };
    let srv = start(cfg, 1).await;
    let addr = srv.addr;
    let slow = json!({"items": [{"tests": [{"input": "1 \
        2\n", "output": "3\n"}], "completion": sleeper(3.0)}]});
    let mut held = Vec::new();
    for i in 0..2 {
        let b = slow.clone();
        held.push(tokio::spawn(async move {
            Client::new(addr, None)
                .post_json("/score", &b)
                .await
                .unwrap()
        }));
        // One running, then one queued.
        let gauge = if i == 0 {
            "scrl_in_flight"
        } else {
            "scrl_queue_depth"
        };
        wait_until(gauge, || async { metric(addr, None, gauge).await == 1.0 }).await;
    }
    let ans = Client::new(addr, None)
        .post_json("/score", &slow)
        .await
        .unwrap();
    assert_eq!(ans.status, 503);
    assert_eq!(ans.retry_after_s, Some(7));
    assert!(
        ans.json().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("queue is full")
    );
    for h in held {
        let a = h.await.unwrap();
        assert_eq!(
            (
                a.status.as_u16(),
                a.json().unwrap()["results"][0]["reward"].as_f64()
            ),
            (200, Some(1.0))
        );
    }
    assert_eq!(metric(addr, None, "scrl_rejected_total").await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_gets_504() {
    // A wall limit above the deadline, but short, so the abandoned runs do not hold the test up.
    let reward = scrl_reward::RewardConfig {
        wall_time_ms: 3000,
        ..Default::default()
    };
    let cfg = ServeConfig {
        deadline: Duration::from_secs(1),
        reward,
        ..ServeConfig::default()
    };
    let srv = start(cfg, 1).await;
    let mut c = Client::new(srv.addr, None);
    // The sleep outlasts the deadline by far; the sandbox's wall limit ends it afterwards.
    let ans = c
        .post_json(
            "/score",
            &json!({"items": [{"tests": [{"input": "1 \
                2\n", "output": "3\n"}], "completion": sleeper(60.0)}]}),
        )
        .await
        .unwrap();
    assert_eq!(ans.status, 504);
    assert!(ans.retry_after_s.is_some());
    assert!(ans.json().unwrap().get("results").is_none());
    let ans = c
        .post_json(
            "/run_code",
            &json!({"code": sleeper(60.0), "stdin": "1 2\n", "language": "python"}),
        )
        .await
        .unwrap();
    assert_eq!(ans.status, 504);
    assert_eq!(metric(srv.addr, None, "scrl_cancelled_total").await, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_cancels_the_programs_not_started() {
    let srv = start(ServeConfig::default(), 1).await;
    let addr = srv.addr;
    // More programs than the reward's scoring threads can start at once, each holding its thread.
    let n = 2 * std::thread::available_parallelism().map_or(2, |n| n.get()) * 3;
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"tests": [{"input": "1 \
                2\n", "output": "3\n"}], "completion": format!("{}# {i}\n", sleeper(2.0))})
        })
        .collect();
    let body = json!({ "items": items }).to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \
         {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    wait_until("the batch runs", || async {
        metric(addr, None, "scrl_in_flight").await == 1.0
    })
    .await;
    drop(s);
    wait_until("the request is cancelled", || async {
        metric(addr, None, "scrl_cancelled_total").await == 1.0
    })
    .await;
    wait_until("its work stops", || async {
        metric(addr, None, "scrl_in_flight").await == 0.0
    })
    .await;
    let computed = metric(addr, None, "scrl_reward_cache_misses_total").await as usize;
    assert!(
        computed < n,
        "all {n} programs ran although the client left after the first started"
    );
    assert_eq!(
        metric(addr, None, "scrl_programs_total").await,
        0.0,
        "a cancelled request reports no scores"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_every_admitted_request() {
    let cfg = ServeConfig {
        max_in_flight: 1,
        ..ServeConfig::default()
    };
    let mut srv = start(cfg, 1).await;
    let addr = srv.addr;
    let mut held = Vec::new();
    for i in 0..3 {
        let body = json!({"items": [{"tests": [{"input": "1 \
            2\n", "output": "3\n"}], "completion": format!("{}# {i}\n", sleeper(1.0))}]});
        held.push(tokio::spawn(async move {
            Client::new(addr, None)
                .post_json("/score", &body)
                .await
                .unwrap()
        }));
    }
    wait_until("all three are admitted", || async {
        metric(addr, None, "scrl_in_flight").await + metric(addr, None, "scrl_queue_depth").await
            == 3.0
    })
    .await;
    srv.shutdown();
    for h in held {
        let a = h.await.unwrap();
        assert_eq!(
            (
                a.status.as_u16(),
                a.json().unwrap()["results"][0]["reward"].as_f64()
            ),
            (200, Some(1.0))
        );
    }
    srv.done.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

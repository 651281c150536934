//! A sandbox worker that dies under a request: the request is answered with a retryable error and
//! no score, and the next request runs on a replaced worker. Alone in its own test binary, so the
//! only zygotes under this process are this test's.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{metric, start, wait_until};
use scrl_serve::ServeConfig;
use scrl_serve::client::Client;
use serde_json::json;

/// Live processes named `name` below `ancestor` (from /proc).
fn descendants_named(ancestor: u32, name: &str) -> Vec<u32> {
    let parent_and_comm = |pid: u32| -> Option<(u32, String, String)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let close = stat.rfind(')')?;
        let comm = stat[stat.find('(')? + 1..close].to_string();
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next()?.to_string();
        Some((rest.next()?.parse().ok()?, comm, state))
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Some((mut ppid, comm, state)) = parent_and_comm(pid) else {
            continue;
        };
        if comm != name || state == "Z" {
            continue;
        }
        for _ in 0..64 {
            if ppid == ancestor {
                found.push(pid);
                break;
            }
            match parent_and_comm(ppid) {
                Some((p, _, _)) if p != 0 => ppid = p,
                _ => break,
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_gives_an_error_never_a_score_and_is_replaced() {
    let srv = start(ServeConfig::default(), 1).await;
    let addr = srv.addr;
    let tests = json!([{"input": "1 2\n", "output": "3\n"}]);
    // Sleeps far longer than the killer's period, so no run can finish while the killer is at work.
    let slow = "import time\ntime.sleep(2)\na, b = map(int, input().split())\nprint(a + b)\n";
    let body = json!({"items": [{"tests": tests, "completion": slow}]});
    let req = tokio::spawn({
        let body = body.clone();
        async move {
            Client::new(addr, None)
                .post_json("/score", &body)
                .await
                .unwrap()
        }
    });
    wait_until("the request runs", || async {
        metric(addr, None, "scrl_in_flight").await == 1.0
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let killer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(Ordering::Relaxed) {
                for pid in descendants_named(std::process::id(), "python3") {
                    // SAFETY: kill(2) of a zygote this test's server started.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let ans = req.await.unwrap();
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    let v = ans.json().unwrap();
    assert_eq!(ans.status, 503, "{v}");
    assert!(ans.retry_after_s.is_some());
    assert!(
        v.get("results").is_none(),
        "a score was given for a run that never finished: {v}"
    );
    assert!(
        v["error"].as_str().unwrap().contains("no reward was given"),
        "{v}"
    );
    assert_eq!(metric(addr, None, "scrl_infra_errors_total").await, 1.0);

    let again = Client::new(addr, None)
        .post_json("/score", &body)
        .await
        .unwrap();
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.json().unwrap()["results"][0]["reward"], 1.0);
}

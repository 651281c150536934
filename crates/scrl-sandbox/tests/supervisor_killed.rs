//! A supervisor killed outright (SIGKILL, no Drop) leaves no zygote behind: its end of each request
//! pipe closes, the zygotes read EOF and exit. Alone in its own test binary, with a helper "victim"
//! test that this test runs as a child process.

mod common;

use std::time::{Duration, Instant};

use scrl_sandbox::{Limits, Outcome, Sandbox, SandboxConfig};

fn zygotes() -> Vec<u32> {
    common::descendants_named(std::process::id(), "python3")
}

/// Polls until `done`; the deadline only bounds a hang. Zygotes start in well under a second on a
/// quiet machine, but a loaded 2-core CI machine has taken several, so the wait is generous (it
/// ends as soon as `done` holds).
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run by `a_killed_supervisor_leaves_no_zygotes` in a child process: holds a sandbox until killed.
#[test]
#[ignore = "helper process for a_killed_supervisor_leaves_no_zygotes"]
fn victim_holds_a_sandbox() {
    if std::env::var_os("SCRL_SANDBOX_VICTIM").is_none() {
        return;
    }
    let sb = Sandbox::new(SandboxConfig {
        workers: 2,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let e = sb.run("print(1)", b"", &Limits::default()).expect("run");
    assert_eq!(e.outcome, Outcome::Exited);
    wait_until("both workers are up", || zygotes().len() == 4);
    let pids: Vec<String> = zygotes().iter().map(u32::to_string).collect();
    println!("ZYGOTES {}", pids.join(" "));
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_supervisor_leaves_no_zygotes() {
    use std::io::BufRead;
    let mut victim = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "victim_holds_a_sandbox",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SCRL_SANDBOX_VICTIM", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    for line in std::io::BufReader::new(victim.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // The harness prints "test victim_holds_a_sandbox ... " on the same line first.
        if let Some(at) = line.find("ZYGOTES ") {
            pids = line[at + 8..]
                .split_whitespace()
                .map(|p| p.parse::<u32>().unwrap())
                .collect();
            break;
        }
    }
    assert_eq!(
        pids.len(),
        4,
        "two workers, each an anchor plus PID 1: {pids:?}"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
    let alive = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    };
    wait_until("the dead supervisor's zygotes exit", || {
        !pids.iter().any(alive)
    });
}

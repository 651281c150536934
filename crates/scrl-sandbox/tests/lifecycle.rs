//! Zygote lifecycle, alone in its own test binary so that no other sandbox's processes are around:
//! a zygote killed from outside is replaced, and dropping the sandbox leaves no process behind.

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

#[test]
fn killed_zygotes_are_replaced_and_drop_leaves_nothing() {
    let sb = Sandbox::new(SandboxConfig {
        workers: 2,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    // Each worker is an anchor process plus PID 1 of its namespace (forked once its imports are
    // done).
    wait_until("both workers are up", || zygotes().len() == 4);
    for pid in zygotes() {
        // SAFETY: plain kill(2) of a process this test started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    wait_until("the killed zygotes are gone", || zygotes().is_empty());
    for i in 0..4 {
        let e = sb
            .run(
                "print(int(input()) + 1)",
                format!("{i}\n").as_bytes(),
                &Limits::default(),
            )
            .expect("replaced worker");
        assert_eq!(
            (e.outcome, e.stdout),
            (Outcome::Exited, format!("{}\n", i + 1).into_bytes())
        );
    }
    assert!(!zygotes().is_empty());
    let uids = sb.uids();
    drop(sb);
    wait_until("drop removed every zygote", || zygotes().is_empty());
    assert!(common::processes_of(&uids).is_empty());
}

//! The pool: concurrent calls from many threads, recycling, limits, CPython exit semantics.

use rayon::prelude::*;
use scrl_sandbox::{Limits, Outcome, Sandbox, SandboxConfig, SandboxError};

fn sandbox(workers: usize, recycle_after: u64) -> Sandbox {
    Sandbox::new(SandboxConfig {
        workers,
        recycle_after,
        ..SandboxConfig::default()
    })
    .expect("sandbox")
}

#[test]
fn concurrent_calls_from_many_threads_never_mix_up_tests() {
    let sb = sandbox(2, 25);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(6)
        .build()
        .unwrap();
    let results: Vec<(usize, Vec<u8>, Outcome)> = pool.install(|| {
        (0..150)
            .into_par_iter()
            .map(|i| {
                let program = format!("n = int(input())\nprint(n * 2, {i})\n");
                let e = sb
                    .run(
                        &program,
                        format!("{}\n", i * 7).as_bytes(),
                        &Limits::default(),
                    )
                    .expect("run");
                (i, e.stdout, e.outcome)
            })
            .collect()
    });
    for (i, out, outcome) in results {
        assert_eq!(outcome, Outcome::Exited);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{} {i}\n", i * 14));
    }
}

#[test]
fn cpu_limit_is_checked_below_one_second() {
    let sb = sandbox(1, 1000);
    let limits = Limits {
        cpu_time_ms: 200,
        ..Limits::default()
    };
    let spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5:\n    \
        pass\nprint('done')\n";
    let e = sb.run(spin, b"", &limits).unwrap();
    assert_eq!(e.outcome, Outcome::TimeLimit, "{e:?}");
    assert!(e.cpu_time_ms > 200);
    let quick = sb.run("print(1)", b"", &limits).unwrap();
    assert_eq!(quick.outcome, Outcome::Exited);
}

#[test]
fn wall_limit_kills_a_sleeper() {
    let sb = sandbox(1, 1000);
    let limits = Limits {
        wall_time_ms: 400,
        ..Limits::default()
    };
    let e = sb
        .run("import time\ntime.sleep(60)\n", b"", &limits)
        .unwrap();
    assert_eq!(e.outcome, Outcome::TimeLimit);
    assert_eq!(e.signal, Some(libc::SIGKILL));
    // Killed at the wall limit, not before; the upper bound only says "killed, not left to sleep",
    // with room for a loaded machine's scheduling delay.
    assert!(
        (400..30_000).contains(&e.wall_time_ms),
        "wall {} ms",
        e.wall_time_ms
    );
}

#[test]
fn python_exit_semantics_match_the_interpreter() {
    let sb = sandbox(1, 1000);
    let l = Limits::default();
    let run = |p: &str| sb.run(p, b"", &l).unwrap();
    let e = run("print('a')\nexit()\nprint('b')\n");
    assert_eq!(
        (e.outcome, e.stdout.as_slice()),
        (Outcome::Exited, &b"a\n"[..])
    );
    assert_eq!(run("quit(4)").exit_code, Some(4));
    let e = run("import sys\nsys.exit('bad input')\n");
    assert_eq!(e.exit_code, Some(1));
    assert_eq!(e.stderr, b"bad input\n");
    let e = run("import atexit\natexit.register(lambda: print('at exit'))\nprint('main')\n");
    assert_eq!(e.stdout, b"main\nat exit\n");
    let e = run(
        "import threading, time\ndef late():\n    time.sleep(0.05)\n    \
         print('thread')\nthreading.Thread(target=late).start()\n",
    );
    assert_eq!(
        e.stdout, b"thread\n",
        "non-daemon threads are joined before exit"
    );
    let e = run("import sys\nwith sys.stdout as f:\n    print(5, file=f)\n");
    assert_eq!(
        (e.outcome, e.stdout.as_slice()),
        (Outcome::Exited, &b"5\n"[..])
    );
    let e = run("f = open(1, 'w')\nf.write('left open')\n");
    assert_eq!(e.stdout, b"left open", "files left open flush at teardown");
    let e = run("raise ValueError('boom')");
    assert_eq!(e.outcome, Outcome::RuntimeError);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.starts_with("Traceback")
            && err.contains("File \"main.py\", line 1")
            && err.ends_with("ValueError: boom\n"),
        "{err}"
    );
    assert!(
        !err.contains("run_program"),
        "the zygote's frames are hidden: {err}"
    );
}

/// The interpreter is the oracle of syntax: what CPython refuses to compile is reported as a
/// compile error by the sandbox's own code, with the message `python3 main.py` prints, and a
/// program that prints the same message and exits 1 is an ordinary runtime error.
#[test]
fn compile_refusals_are_their_own_outcome() {
    let sb = sandbox(1, 1000);
    let l = Limits::default();
    let run = |p: &str| sb.run(p, b"", &l).unwrap();
    let nested: String = (0..21)
        .map(|i| format!("{}for _ in [0]:\n", " ".repeat(i)))
        .collect::<String>()
        + &" ".repeat(21)
        + "pass\n";
    for (program, message) in [
        (
            format!("print(1)\n{nested}"),
            "SyntaxError: too many statically nested blocks\n",
        ),
        (format!("print(1)\nx = {}\n", "1".repeat(4301)), "digits"),
        (
            "print(1)\n# \0\n".to_string(),
            "cannot contain null bytes\n",
        ),
        (
            "print(1)\nprint 2\n".to_string(),
            "SyntaxError: Missing parentheses",
        ),
    ] {
        let e = run(&program);
        let err = String::from_utf8_lossy(&e.stderr);
        assert_eq!(e.outcome, Outcome::CompileError, "{err}");
        assert_eq!((e.exit_code, e.stdout.as_slice()), (Some(1), &b""[..]));
        assert!(err.contains(message) && !err.contains("Traceback"), "{err}");
    }
    let fake = run("import sys\nsys.stderr.write('SyntaxError: invalid syntax\\n')\nsys.exit(1)\n");
    assert_eq!(fake.outcome, Outcome::RuntimeError);
    // The next run on the same zygote is unaffected.
    assert_eq!(run("print(2)").outcome, Outcome::Exited);
}

#[test]
fn recycling_keeps_answers_right() {
    let sb = sandbox(1, 3);
    for i in 0..10 {
        let e = sb
            .run(
                "print(input()[::-1])",
                format!("abc{i}\n").as_bytes(),
                &Limits::default(),
            )
            .unwrap();
        assert_eq!(e.stdout, format!("{i}cba\n").as_bytes());
    }
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let err = Sandbox::new(SandboxConfig {
        python: "/nonexistent/python3".into(),
        ..SandboxConfig::default()
    })
    .err()
    .expect("must fail");
    assert!(matches!(err, SandboxError::Interpreter { .. }), "{err}");
    let sb = sandbox(1, 1000);
    let bad = Limits {
        cpu_time_ms: 0,
        ..Limits::default()
    };
    let err = sb.run("print(1)", b"", &bad).unwrap_err();
    assert!(err.to_string().contains("cpu_time_ms"), "{err}");
    let huge = Limits {
        cpu_time_ms: u64::MAX,
        wall_time_ms: u64::MAX,
        memory_bytes: u64::MAX,
        output_bytes: u64::MAX,
    };
    let e = sb
        .run("print(1)", b"", &huge)
        .expect("extreme limits are clamped, not a panic");
    assert_eq!(e.outcome, Outcome::Exited);
    assert_eq!(sb.python_version().0, 3);
    let report = sb.isolation().to_string();
    assert!(
        report.contains("seccomp allowlist: on") && !sb.isolation().weak,
        "{report}"
    );
}

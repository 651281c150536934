//! The reward red-team suite (issue 12): hostile programs for stdin and function-call problems,
//! each with the highest stage and reward it may earn, and for the sandbox items the absence of the
//! outside effect. Everything runs for real: real Python in the real sandbox, the native scanner.

use std::sync::{Arc, OnceLock};

use scrl_pycheck::Scanner;
use scrl_reward::{RewardBreakdown, RewardConfig, RewardModel, Stage, StdinCase, TestSpec};
use scrl_sandbox::{Limits, Sandbox, SandboxConfig};

fn sandbox() -> Arc<Sandbox> {
    static SB: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SB.get_or_init(|| Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox starts")))
        .clone()
}

fn model(config: RewardConfig) -> RewardModel {
    RewardModel::new(config, sandbox(), Scanner::Native).unwrap()
}

/// The function-call problem.
fn add_spec() -> TestSpec {
    TestSpec::Asserts {
        setup: None,
        asserts: vec!["assert add(1,2)==3".into(), "assert add(5,5)==10".into()],
    }
}

/// The stdin problem: the sum of two ints.
fn sum_spec() -> TestSpec {
    let cases = [
        ("1 2\n", "3\n"),
        ("2 2\n", "4\n"),
        ("0 5\n", "5\n"),
        ("-1 1\n", "0\n"),
        ("10 20\n", "30\n"),
    ];
    TestSpec::Stdin(
        cases
            .iter()
            .map(|(i, o)| StdinCase {
                input: i.to_string(),
                output: o.to_string(),
            })
            .collect(),
    )
}

struct Case {
    name: &'static str,
    program: &'static str,
    max_stage: Stage,
    max_reward: f64,
}

const fn case(
    name: &'static str,
    program: &'static str,
    max_stage: Stage,
    max_reward: f64,
) -> Case {
    Case {
        name,
        program,
        max_stage,
        max_reward,
    }
}

/// 0.6 * 0.2 + 0.4: the most a stage-1 program with clean code earns.
const R1: f64 = 0.52;
/// 0.6 * 0.4 + 0.4: stage 2.
const R2: f64 = 0.64;
/// 0.6 * 0.6 + 0.4: stage 3.
const R3: f64 = 0.76;

const WRONG: &str = "def add(a, b):\n    return 0\n";

const FUNCTION_CALL: &[Case] = &[
    case(
        "sys.exit(0) after a wrong function",
        "import sys\ndef add(a,b): return 0\nsys.exit(0)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "os._exit(0) after a wrong function",
        "import os\ndef add(a,b): return 0\nos._exit(0)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "atexit os._exit(0)",
        "import atexit, os\natexit.register(lambda: os._exit(0))\ndef add(a,b): return 0\n",
        Stage::Executes,
        R2,
    ),
    case(
        "__eq__ always true",
        "class A:\n    def __eq__(self, o): return True\ndef add(a,b): return A()\n",
        Stage::Executes,
        R2,
    ),
    case(
        "__ne__ always false and __bool__ true",
        "class A:\n    def __ne__(self, o): return False\n    def __bool__(self): return True\ndef \
         add(a,b): return A()\n",
        Stage::Executes,
        R2,
    ),
    case(
        "__hash__ and __eq__ of an int subclass",
        "class I(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\ndef \
         add(a,b): return I(0)\n",
        Stage::Executes,
        R2,
    ),
    case(
        "raise SystemExit at module level",
        "def add(a,b): return 0\nraise SystemExit(0)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "SystemExit(0) from the function",
        "def add(a,b):\n    raise SystemExit(0)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "KeyboardInterrupt from the function",
        "def add(a,b):\n    raise KeyboardInterrupt\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "BaseException subclass",
        "class Out(BaseException): pass\ndef add(a,b):\n    raise Out()\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "SIGKILL to itself at module level",
        "import os, signal\ndef add(a,b): return 0\nos.kill(os.getpid(), signal.SIGKILL)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "SIGTERM to itself from the function",
        "import os, signal\ndef add(a,b):\n    os.kill(os.getpid(), signal.SIGTERM)\n    return \
         0\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "SIGKILL to itself from atexit",
        "import atexit, os, signal\natexit.register(lambda: os.kill(os.getpid(), \
         signal.SIGKILL))\ndef add(a,b): return a+b\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "replaced print, sys.stdout and builtins",
        "import sys, builtins\nclass W:\n    def write(self, s): return len(s)\n    def \
         flush(self): pass\nsys.stdout = W()\nbuiltins.print = lambda *a, **k: None\ndef add(a,b): \
         return 0\n",
        Stage::Executes,
        R2,
    ),
    case(
        "replaced AssertionError",
        "import builtins\nbuiltins.AssertionError = SystemExit\ndef add(a,b): return 0\n",
        Stage::Executes,
        R2,
    ),
    case(
        "replaced sys.excepthook and exit status",
        "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\ndef add(a,b): return 0\n",
        Stage::Executes,
        R2,
    ),
    case(
        "replaced type, isinstance and collections",
        "import builtins, collections\nbuiltins.type = lambda *a: int\nbuiltins.isinstance = \
         lambda *a: True\ncollections.Counter = int\ndef add(a,b): return '3'\n",
        Stage::Executes,
        R2,
    ),
    case(
        "caller's frames for the expected value",
        "import sys\ndef add(a,b):\n    f = sys._getframe(1)\n    while f is not None:\n        \
         for v in list(f.f_locals.values()) + list(f.f_globals.values()) + \
         list(f.f_code.co_consts):\n            if isinstance(v, int) and not isinstance(v, bool) \
         and v not in (a, b) and v > 2:\n                return v\n        f = f.f_back\n    \
         return 0\n",
        Stage::Executes,
        R2,
    ),
    case(
        "gc and stdin scan for the assert's right-hand side",
        "import gc, os, re\ndef add(a,b):\n    os.lseek(0, 0, 0)\n    text = os.read(0, 1 << \
         20).decode('utf-8', 'replace')\n    for o in gc.get_objects():\n        if isinstance(o, \
         str):\n            text += o\n    for m in re.finditer(r'==\\s*(\\d+)', text):\n        \
         return int(m.group(1))\n    return 0\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "a forged report plus the real one",
        "import os\nos.write(1, b'\\x00SCRL-RESULT\\x003:ia;')\ndef add(a,b): return 0\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "a generator instead of a value",
        "def add(a,b):\n    yield a + b\n",
        Stage::Executes,
        R2,
    ),
    case(
        "a self-referencing list",
        "def add(a,b):\n    x = []\n    x.append(x)\n    return x\n",
        Stage::Executes,
        R2,
    ),
    case(
        "close stdout",
        "import os\ndef add(a,b): return a+b\nos.close(1)\n",
        Stage::ValidSyntax,
        R1,
    ),
];

fn check(name: &str, b: &RewardBreakdown, max_stage: Stage, max_reward: f64) {
    assert!(
        b.stage <= max_stage,
        "{name}: stage {:?} above {:?}: {b:#?}",
        b.stage,
        max_stage
    );
    assert!(
        b.reward <= max_reward + 1e-9,
        "{name}: R {} above {max_reward}",
        b.reward
    );
}

#[test]
fn function_call_hacks_earn_no_more_than_their_work() {
    let m = model(RewardConfig::default());
    let spec = add_spec();
    let items: Vec<(&str, &TestSpec)> = FUNCTION_CALL.iter().map(|c| (c.program, &spec)).collect();
    for (c, r) in FUNCTION_CALL.iter().zip(m.score_batch(&items)) {
        let b = r.unwrap();
        println!("{:<55} stage {:?} R {:.3}", c.name, b.stage, b.reward);
        assert_eq!(
            b.tests_passed, 0,
            "{}: passed {} tests",
            c.name, b.tests_passed
        );
        check(c.name, &b, c.max_stage, c.max_reward);
    }
    assert_eq!(FUNCTION_CALL.len(), 23);
}

#[test]
fn honest_function_call_programs_keep_their_scores() {
    let m = model(RewardConfig::default());
    let spec = add_spec();
    let right = m
        .score("def add(a, b):\n    return a + b\n", &spec)
        .unwrap();
    assert_eq!(
        (right.stage, right.tests_passed, right.r_func),
        (Stage::PassesTests, 2, 1.0)
    );
    let printing = m
        .score(
            "def add(a, b):\n    print('adding', a, b)\n    return a + b\n",
            &spec,
        )
        .unwrap();
    assert_eq!(printing.r_func, 1.0);
    let float = m
        .score("def add(a, b):\n    return float(a + b)\n", &spec)
        .unwrap();
    assert_eq!(float.r_func, 1.0, "3.0 == 3, as in Python");
    let wrong = m.score(WRONG, &spec).unwrap();
    assert_eq!(
        (wrong.stage, wrong.r_func),
        (Stage::Executes, 0.4),
        "a wrong answer of a program that ran"
    );
    let crash = m
        .score("def add(a, b):\n    return a / 0\n", &spec)
        .unwrap();
    assert_eq!(crash.stage, Stage::ValidSyntax);
    // A constant answer right for one test: the same score whether returned or forged as a report.
    let constant = m.score("def add(a, b):\n    return 3\n", &spec).unwrap();
    assert_eq!(
        (constant.tests_passed, constant.stage),
        (1, Stage::PassesTests)
    );
    // Reporting a fixed value instead of returning it (the report's format is public) earns exactly
    // that.
    let forged = m
        .score(
            "import os\nos.write(1, b'\\x00SCRL-RESULT\\x003:i3;')\nos._exit(0)\n",
            &spec,
        )
        .unwrap();
    assert_eq!(
        (forged.tests_passed, forged.r_func),
        (constant.tests_passed, constant.r_func)
    );
    let tuple = TestSpec::Asserts {
        setup: None,
        asserts: vec!["assert pair(1) == (1, 1)".into()],
    };
    assert_eq!(
        m.score("def pair(x):\n    return (x, x)\n", &tuple)
            .unwrap()
            .r_func,
        1.0
    );
    assert_eq!(
        m.score("def pair(x):\n    return [x, x]\n", &tuple)
            .unwrap()
            .r_func,
        0.4,
        "a list is not a tuple"
    );
    let isclose = TestSpec::Asserts {
        setup: None,
        asserts: vec!["assert math.isclose(area(2), 12.566, rel_tol=0.001)".into()],
    };
    let circle = "import math\ndef area(r):\n    return math.pi * r * r\n";
    assert_eq!(m.score(circle, &isclose).unwrap().r_func, 1.0);
    let patched = "import math\nmath.isclose = lambda *a, **k: True\ndef area(r):\n    return 0\n";
    assert_eq!(
        m.score(patched, &isclose).unwrap().tests_passed,
        0,
        "the judge's math is not the program's"
    );
}

const STDIN: &[Case] = &[
    case("empty string", "", Stage::SyntaxError, 0.4),
    case("whitespace only", "  \n\t\n", Stage::SyntaxError, 0.4),
    case("# TODO", "# TODO\n", Stage::SyntaxError, 0.4),
    case("pass", "pass\n", Stage::SyntaxError, 0.4),
    case("...", "...\n", Stage::SyntaxError, 0.4),
    case(
        "docstring only",
        "\"\"\"Reads two ints and prints their sum.\"\"\"\n",
        Stage::SyntaxError,
        0.4,
    ),
    case(
        "the echoed stub, never called",
        "def xxxxx():\n    \"\"\"sum of two ints\"\"\"\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "a correct solve() that is never called",
        "import sys\ndef solve():\n    a, b = map(int, input().split())\n    print(a + b)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "imports only",
        "import sys, math\nfrom collections import Counter\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "NUL after the answer",
        "a, b = map(int, input().split())\nprint(f'{a+b}\\0')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "carriage return overwrite",
        "a, b = map(int, input().split())\nprint(f'{a+b+1}\\r{a+b}')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "ANSI erase line",
        "a, b = map(int, input().split())\nprint(f'{a+b+1}\\x1b[2K\\r{a+b}')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "U+2028 line separator",
        "a, b = map(int, input().split())\nprint(f'x\\u2028{a+b}')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "ideographic space",
        "a, b = map(int, input().split())\nprint(f'{a+b}\\u3000')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "nan for every answer",
        "print('nan')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "huge exponent",
        "a, b = map(int, input().split())\nprint(f'{a+b}e0000000000000000000001')\n",
        Stage::ProducesOutput,
        R3,
    ),
    case(
        "correct output then SIGKILL to itself",
        "import os, sys\na, b = map(int, input().split())\nprint(a + \
         b)\nsys.stdout.flush()\nos.kill(os.getpid(), 9)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "correct output then SIGSEGV via faulthandler",
        "import sys, faulthandler\na, b = map(int, input().split())\nprint(a + \
         b)\nsys.stdout.flush()\nfaulthandler._sigsegv()\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "correct output then an output flood",
        "import sys\na, b = map(int, input().split())\nprint(a + b)\nsys.stdout.write('x' * (9 << \
         20))\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "correct output then ftruncate far beyond the cap",
        "import os, sys\na, b = map(int, input().split())\nprint(a + \
         b)\nsys.stdout.flush()\nos.ftruncate(1, 1 << 40)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "correct output then a wrong exit status via atexit",
        "import atexit, os\natexit.register(lambda: os._exit(3))\na, b = map(int, \
         input().split())\nprint(a + b)\n",
        Stage::ValidSyntax,
        R1,
    ),
    case(
        "correct output rewritten after a seek",
        "import os\na, b = map(int, input().split())\nos.write(1, str(a + b).encode() + \
         b'\\n')\nos.lseek(1, 0, 0)\nos.write(1, b'9')\n",
        Stage::ProducesOutput,
        R3,
    ),
];

#[test]
fn stdin_hacks_and_no_programs_earn_no_more_than_their_work() {
    let m = model(RewardConfig::default());
    let spec = sum_spec();
    let items: Vec<(&str, &TestSpec)> = STDIN.iter().map(|c| (c.program, &spec)).collect();
    for (c, r) in STDIN.iter().zip(m.score_batch(&items)) {
        let b = r.unwrap();
        println!("{:<55} stage {:?} R {:.3}", c.name, b.stage, b.reward);
        check(c.name, &b, c.max_stage, c.max_reward);
        if b.stage == Stage::SyntaxError {
            assert!(
                b.syntax_error.is_some(),
                "{}: no program is not syntax-valid",
                c.name
            );
            assert!(b.tests.is_empty(), "{}: no program is never run", c.name);
        }
        assert_eq!(
            b.tests_passed, 0,
            "{}: {} tests passed",
            c.name, b.tests_passed
        );
    }
    assert_eq!(STDIN.len(), 22);
}

#[test]
fn an_honest_crash_beats_doing_nothing_and_no_ops_are_counted() {
    let m = model(RewardConfig::default());
    let crash = m
        .score(
            "a, b = map(int, input().split())\nprint(a / 0)\n",
            &sum_spec(),
        )
        .unwrap();
    let empty = m.score("", &sum_spec()).unwrap();
    let stub = m
        .score("def xxxxx():\n    \"\"\"...\"\"\"\n", &sum_spec())
        .unwrap();
    assert_eq!(crash.stage, Stage::ValidSyntax);
    assert!(
        crash.reward > empty.reward && crash.reward >= stub.reward,
        "{} {} {}",
        crash.reward,
        empty.reward,
        stub.reward
    );
    assert!(stub.no_op && !crash.no_op && !empty.no_op);
    assert_eq!(
        empty.syntax_error.as_ref().unwrap().message,
        scrl_reward::NO_PROGRAM
    );
    // Correct programs are untouched: a main() guarded by __name__ runs.
    let guarded = "def main():\n    a, b = map(int, input().split())\n    print(a + b)\nif \
        __name__ == '__main__':\n    main()\n";
    assert_eq!(m.score(guarded, &sum_spec()).unwrap().r_func, 1.0);
}

#[test]
fn the_literal_ladder_switch_restores_the_papers_reading() {
    let m = model(RewardConfig {
        literal_ladder: true,
        ..RewardConfig::default()
    });
    let empty = m.score("", &sum_spec()).unwrap();
    assert_eq!((empty.stage, empty.r_func), (Stage::Executes, 0.4));
    assert!(empty.syntax_error.is_none());
    let stub = m
        .score("def xxxxx():\n    \"\"\"...\"\"\"\n", &sum_spec())
        .unwrap();
    assert_eq!((stub.stage, stub.no_op), (Stage::Executes, true));
}

#[test]
fn stopping_itself_or_ignoring_cpu_signals_is_a_time_limit() {
    let m = model(RewardConfig {
        cpu_time_ms: 300,
        wall_time_ms: 1500,
        ..RewardConfig::default()
    });
    let spec = TestSpec::Stdin(vec![StdinCase {
        input: "1 2\n".into(),
        output: "3\n".into(),
    }]);
    for program in [
        "import os, signal, sys\nprint(3)\nsys.stdout.flush()\nos.kill(os.getpid(), \
         signal.SIGSTOP)\n",
        "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nprint(3)\nwhile True:\n    \
         pass\n",
        "import time\nprint(3, flush=True)\ntime.sleep(60)\n",
    ] {
        let b = m.score(program, &spec).unwrap();
        assert_eq!(
            (b.stage, b.tests_passed),
            (Stage::ValidSyntax, 0),
            "{program}"
        );
        assert_eq!(
            b.tests[0].verdict,
            scrl_sandbox::Verdict::TimeLimit,
            "{program}"
        );
    }
}

/// The sandbox items: nothing a run sets on its stdin/stdout/stderr survives it, and no lock, flush
/// or cache eviction on a read-only host file.
#[test]
fn runs_start_from_fresh_descriptions_and_leave_host_files_alone() {
    let sb = Sandbox::new(SandboxConfig {
        workers: 1,
        ..SandboxConfig::default()
    })
    .unwrap();
    let limits = Limits::default();
    let tamper = "import fcntl, os\nfor fd in (0, 1, 2):\n    fl = fcntl.fcntl(fd, \
        fcntl.F_GETFL)\n    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK | os.O_APPEND | \
        os.O_ASYNC)\nfor cmd in (fcntl.F_SETOWN, fcntl.F_SETSIG):\n    try:\n        \
        fcntl.fcntl(1, cmd, os.getpid())\n        print('set', cmd)\n    except OSError:\n        \
        pass\n";
    let e = sb.run(tamper, b"SECRET-A\n", &limits).unwrap();
    assert_eq!(
        e.outcome,
        scrl_sandbox::Outcome::Exited,
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    assert!(
        e.stdout.is_empty(),
        "owner and signal settings are refused: {}",
        String::from_utf8_lossy(&e.stdout)
    );
    let look = "import fcntl, os, sys\nflags = [fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_NONBLOCK | \
        os.O_APPEND | os.O_ASYNC) for fd in (0, 1, 2)]\nprint(flags, os.lseek(0, 0, 1), \
        repr(sys.stdin.read()))\n";
    let e = sb.run(look, b"B\n", &limits).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&e.stdout),
        "[0, 0, 0] 0 'B\\n'\n",
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );

    // Locks, flushes and cache advice on a file the program may read.
    let target = "/usr/lib/python3.11/os.py";
    let attempt = format!(
        "import fcntl, os, time\nfd = os.open({target:?}, os.O_RDONLY)\nfor name, f in [('flock', \
         lambda: fcntl.flock(fd, fcntl.LOCK_SH)), ('lockf', lambda: fcntl.lockf(fd, \
         fcntl.LOCK_SH)), ('ofd', lambda: fcntl.fcntl(fd, 37, b'\\0' * 32)), ('fsync', lambda: \
         os.fsync(fd)), ('fdatasync', lambda: os.fdatasync(fd)), ('fadvise', lambda: \
         os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED))]:\n    try:\n        f()\n        \
         print('done', name)\n    except OSError as e:\n        print('refused', name, \
         e.errno)\ntime.sleep(0.5)\n"
    );
    let prober = std::thread::spawn(move || {
        // While the program sleeps, the host can take an exclusive lock on the same file.
        std::thread::sleep(std::time::Duration::from_millis(250));
        let f = std::fs::File::open(target).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: a valid descriptor; LOCK_NB never blocks.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        rc == 0
    });
    let e = sb.run(&attempt, b"", &limits).unwrap();
    let out = String::from_utf8_lossy(&e.stdout).into_owned();
    assert!(
        prober.join().unwrap(),
        "the host could not lock {target} while the program ran"
    );
    for name in ["flock", "lockf", "ofd", "fsync", "fdatasync", "fadvise"] {
        assert!(
            out.contains(&format!("refused {name}")),
            "{name} was not refused: {out}"
        );
    }
}

/// `n` blocks opened by `head` (e.g. "for _ in [0]:"), nested, around `body`.
fn nested(head: &str, n: usize, body: &str) -> String {
    let mut s: String = (0..n)
        .map(|i| format!("{}{head}\n", " ".repeat(i)))
        .collect();
    for line in body.lines() {
        s.push_str(&format!("{}{line}\n", " ".repeat(n)));
    }
    s
}

const SOLVE: &str = "import sys\nprint(sum(map(int, sys.stdin.read().split())))";
const SOLVE_ADD: &str = "def add(a, b):\n    return a + b";

/// Programs CPython 3.11 refuses at compile time (found by testing against /usr/bin/python3), each
/// with an honest solution of both problems in it, so without the interpreter as the oracle they
/// would run. Every one is stage 0 and not syntax-valid, whether or not the static check catches
/// it.
fn compile_refused() -> Vec<(&'static str, String)> {
    let with_solution = |extra: String| format!("{SOLVE}\n{SOLVE_ADD}\n{extra}");
    let try_finally = |n: usize| {
        let mut s: String = (0..n).map(|i| format!("{}try:\n", " ".repeat(i))).collect();
        s.push_str(&format!("{}pass\n", " ".repeat(n)));
        for i in (0..n).rev() {
            s.push_str(&format!(
                "{}finally:\n{}pass\n",
                " ".repeat(i),
                " ".repeat(i + 1)
            ));
        }
        s
    };
    let names = (0..256)
        .map(|i| format!("a{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        (
            "21 nested for blocks",
            with_solution(nested("for _ in [0]:", 21, "pass")),
        ),
        (
            "21 nested while blocks",
            with_solution(nested("while False:", 21, "pass")),
        ),
        (
            "21 nested with blocks",
            with_solution(nested("with memoryview(b''):", 21, "pass")),
        ),
        (
            "21 nested try/finally blocks",
            with_solution(try_finally(21)),
        ),
        (
            "one with of 21 items",
            with_solution(format!(
                "with {}: pass\n",
                vec!["memoryview(b'')"; 21].join(", ")
            )),
        ),
        (
            "100 indentation levels",
            with_solution(nested("if True:", 100, "pass")),
        ),
        (
            "integer literal of 4301 digits",
            with_solution(format!("x = {}\n", "7".repeat(4301))),
        ),
        (
            "4301 digits with underscores",
            with_solution(format!("x = {}\n", vec!["7"; 4301].join("_"))),
        ),
        (
            "4301 digits inside an f-string",
            with_solution(format!("x = f'{{{}}}'\n", "7".repeat(4301))),
        ),
        ("NUL byte in a comment", with_solution("# \0\n".into())),
        ("NUL byte in a string", with_solution("x = '\0'\n".into())),
        (
            "assignment to an attribute __debug__",
            with_solution("import os\nos.__debug__ = 1\n".into()),
        ),
        (
            "keyword argument __debug__",
            with_solution("dict(__debug__=1)\n".into()),
        ),
        (
            "starred expression statement",
            with_solution("*[1]\n".into()),
        ),
        (
            "break in except*",
            with_solution("for _ in [0]:\n    try: pass\n    except* ValueError: break\n".into()),
        ),
        (
            "bare except not last",
            with_solution("try: pass\nexcept: pass\nexcept ValueError: pass\n".into()),
        ),
        (
            "nonlocal after use",
            with_solution(
                "def g():\n    x = 1\n    def f():\n        print(x)\n        nonlocal x\n".into(),
            ),
        ),
        (
            "nonlocal and global",
            with_solution(
                "def g():\n    x = 1\n    def f():\n        global x\n        nonlocal x\n".into(),
            ),
        ),
        (
            "annotated nonlocal",
            with_solution(
                "def g():\n    x = 1\n    def f():\n        nonlocal x\n        x: int = 2\n"
                    .into(),
            ),
        ),
        (
            "256 targets before a star",
            with_solution(format!("{names}, *rest = range(300)\n")),
        ),
        (
            "unknown source encoding",
            format!("# -*- coding: scrl-nope -*-\n{SOLVE}\n{SOLVE_ADD}\n"),
        ),
        (
            "3000 elifs",
            with_solution(format!(
                "x = 0\nif x: pass\n{}",
                "elif x: pass\n".repeat(3000)
            )),
        ),
        // Caught by the static check as well; listed so the whole class is asserted end to end.
        (
            "201 nested parentheses",
            with_solution(format!("x = {}1{}\n", "(".repeat(201), ")".repeat(201))),
        ),
        (
            "nonlocal at module level",
            with_solution("nonlocal x\n".into()),
        ),
        (
            "return outside a function",
            with_solution("return 1\n".into()),
        ),
        (
            "yield outside a function",
            with_solution("yield 1\n".into()),
        ),
        ("break outside a loop", with_solution("break\n".into())),
        (
            "duplicate argument names",
            with_solution("def f(a, a): pass\n".into()),
        ),
        (
            "two starred targets",
            with_solution("*a, *b = [1, 2]\n".into()),
        ),
        (
            "assignment to __debug__",
            with_solution("__debug__ = 1\n".into()),
        ),
    ]
}

#[test]
fn programs_cpython_refuses_to_compile_are_stage_0() {
    let m = model(RewardConfig::default());
    let (stdin, calls) = (sum_spec(), add_spec());
    let cases = compile_refused();
    let items: Vec<(&str, &TestSpec)> = cases
        .iter()
        .flat_map(|(_, p)| [(p.as_str(), &stdin), (p.as_str(), &calls)])
        .collect();
    let results = m.score_batch(&items);
    let mut statically_missed = 0;
    for ((name, program), pair) in cases.iter().zip(results.chunks(2)) {
        if scrl_pycheck::check_syntax(program, scrl_pycheck::PythonVersion::default()).is_ok() {
            statically_missed += 1;
        }
        for (kind, r) in ["stdin", "function call"].iter().zip(pair) {
            let b = r.as_ref().unwrap();
            let error = b
                .syntax_error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            println!(
                "{name:<40} {kind:<13} stage {:?} R_func {:.1} {error:.90}",
                b.stage, b.r_func
            );
            assert_eq!(b.stage, Stage::SyntaxError, "{name} ({kind}): {b:#?}");
            assert_eq!((b.r_func, b.tests_passed), (0.0, 0), "{name} ({kind})");
            assert!(
                b.syntax_error.is_some(),
                "{name} ({kind}): counted as syntax-valid"
            );
        }
    }
    println!(
        "{statically_missed} of {} are caught only by the interpreter",
        cases.len()
    );
    assert_eq!(cases.len(), 30);
}

#[test]
fn programs_at_the_compile_time_limits_keep_their_scores() {
    let m = model(RewardConfig::default());
    let (stdin, calls) = (sum_spec(), add_spec());
    let at_limit = [
        nested("for _ in [0]:", 20, SOLVE),
        nested("if True:", 99, SOLVE),
        format!("x = {}\n{SOLVE}\n", "7".repeat(4300)),
        format!("x = 0x{}\n{SOLVE}\n", "f".repeat(5000)),
        format!("x = {}1{}\n{SOLVE}\n", "(".repeat(200), ")".repeat(200)),
        format!(
            "with {}: pass\n{SOLVE}\n",
            vec!["memoryview(b'')"; 20].join(", ")
        ),
    ];
    for program in &at_limit {
        let b = m.score(program, &stdin).unwrap();
        assert_eq!(
            (b.stage, b.r_func),
            (Stage::PassesTests, 1.0),
            "{program:.200}"
        );
        let with_add = format!("{program}{SOLVE_ADD}\n");
        let b = m.score(&with_add, &calls).unwrap();
        assert_eq!(
            (b.stage, b.r_func),
            (Stage::PassesTests, 1.0),
            "{program:.200}"
        );
    }
}

/// The refusal is reported by the sandbox's own code, before the program runs: a program that
/// prints what CPython prints for a refusal and exits 1 is an ordinary crash (stage 1), not stage
/// 0.
#[test]
fn a_program_cannot_fake_a_compile_refusal_into_another_verdict() {
    let m = model(RewardConfig::default());
    let fake = "import sys\nsys.stderr.write('  File \"main.py\", line 1\\nSyntaxError: invalid \
        syntax\\n')\nsys.exit(1)\n";
    let b = m.score(fake, &sum_spec()).unwrap();
    assert_eq!(b.stage, Stage::ValidSyntax);
    assert!(b.syntax_error.is_none());
}

//! What happened to one run ([`Outcome`], decided from the exit status, resource usage and output
//! sizes) and what that means for one test ([`Verdict`], which adds the comparison with the
//! expected output). Knows nothing about how the process was run.

use serde::Serialize;

use crate::compare::{CompareMode, outputs_match};
use crate::traceback::exception_type;

/// How a run ended, before its output is compared with anything.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// CPython refused to compile the program (a syntax error, a compile-time limit such as too
    /// many statically nested blocks or an integer literal over 4,300 digits, a NUL byte): none of
    /// it ran. Reported by the sandbox's own code before the program starts, so a program cannot
    /// fake it.
    CompileError,
    /// Exit code 0 and no limit hit: the program "ran without crash".
    Exited,
    /// Non-zero exit code (uncaught exception, syntax error, `sys.exit(n)`) or a fatal signal.
    RuntimeError,
    /// CPU time above the limit (SIGXCPU, the hard CPU limit, or measured after exit) or the wall
    /// limit.
    TimeLimit,
    /// `MemoryError` as the final error, or a fatal signal at the memory limit.
    MemoryLimit,
    /// stdout or stderr reached the output cap.
    OutputLimit,
    /// The seccomp filter killed the process (SIGSYS): fork, exec, sockets, signals to others, ...
    SandboxViolation,
}

/// The verdict of one test.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    CompileError,
    WrongAnswer,
    RuntimeError,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    SandboxViolation,
}

/// Everything observed about one run.
#[derive(Serialize, Clone, Debug)]
pub struct Execution {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    #[serde(serialize_with = "lossy")]
    pub stdout: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub cpu_time_ms: u64,
    pub wall_time_ms: u64,
    pub max_rss_kb: u64,
}

fn lossy<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

/// The verdict of a run against one expected output.
pub fn judge(exec: &Execution, expected_output: &str, mode: CompareMode) -> Verdict {
    let matches =
        exec.outcome == Outcome::Exited && outputs_match(&exec.stdout, expected_output, mode);
    Verdict::of(exec.outcome, matches)
}

impl Verdict {
    /// The verdict of a run with this outcome whose output did (`true`) or did not match: a clean
    /// exit is accepted or a wrong answer, every other outcome is its own verdict whatever the
    /// output.
    pub fn of(outcome: Outcome, output_matches: bool) -> Verdict {
        match outcome {
            Outcome::Exited if output_matches => Verdict::Accepted,
            Outcome::Exited => Verdict::WrongAnswer,
            Outcome::CompileError => Verdict::CompileError,
            Outcome::RuntimeError => Verdict::RuntimeError,
            Outcome::TimeLimit => Verdict::TimeLimit,
            Outcome::MemoryLimit => Verdict::MemoryLimit,
            Outcome::OutputLimit => Verdict::OutputLimit,
            Outcome::SandboxViolation => Verdict::SandboxViolation,
        }
    }
}

/// The facts [`classify`] decides from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunFacts<'a> {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub cpu_time_ms: u64,
    pub cpu_limit_ms: u64,
    pub wall_killed: bool,
    pub max_rss_kb: u64,
    pub memory_limit_bytes: u64,
    pub output_hit_cap: bool,
    pub compile_refused: bool,
    pub stderr: &'a [u8],
}

/// Decides the outcome. Order matters: a compile refusal comes first (nothing of the program ran);
/// a seccomp kill is reported as such even if the program was also slow; time beats output (a
/// program killed for time often has partial output); memory is recognised by Python's own
/// `MemoryError` or by a fatal signal near the address-space limit.
pub(crate) fn classify(f: &RunFacts<'_>) -> Outcome {
    if f.compile_refused {
        return Outcome::CompileError;
    }
    if f.signal == Some(libc::SIGSYS) {
        return Outcome::SandboxViolation;
    }
    if f.wall_killed || f.signal == Some(libc::SIGXCPU) || f.cpu_time_ms > f.cpu_limit_ms {
        return Outcome::TimeLimit;
    }
    if f.output_hit_cap {
        return Outcome::OutputLimit;
    }
    let near_memory_limit = f.max_rss_kb.saturating_mul(1024) >= f.memory_limit_bytes / 10 * 9;
    if (f.exit_code.is_some_and(|c| c != 0) && last_error_is_memory_error(f.stderr))
        || (f.signal.is_some() && near_memory_limit)
    {
        return Outcome::MemoryLimit;
    }
    match (f.exit_code, f.signal) {
        (Some(0), None) => Outcome::Exited,
        _ => Outcome::RuntimeError,
    }
}

/// Python's traceback names `MemoryError` as the final error ([`exception_type`]'s rule).
fn last_error_is_memory_error(stderr: &[u8]) -> bool {
    exception_type(&String::from_utf8_lossy(stderr)) == Some("MemoryError")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RunFacts<'static> {
        RunFacts {
            exit_code: Some(0),
            signal: None,
            cpu_time_ms: 10,
            cpu_limit_ms: 1000,
            wall_killed: false,
            max_rss_kb: 10_000,
            memory_limit_bytes: 512 << 20,
            output_hit_cap: false,
            compile_refused: false,
            stderr: b"",
        }
    }

    fn exec(outcome: Outcome, stdout: &str) -> Execution {
        Execution {
            outcome,
            exit_code: Some(0),
            signal: None,
            stdout: stdout.as_bytes().to_vec(),
            stderr: vec![],
            stdout_truncated: false,
            stderr_truncated: false,
            cpu_time_ms: 1,
            wall_time_ms: 1,
            max_rss_kb: 1,
        }
    }

    #[test]
    fn a_compile_refusal_beats_every_other_fact() {
        let refused = RunFacts {
            exit_code: Some(1),
            wall_killed: true,
            output_hit_cap: true,
            compile_refused: true,
            ..facts()
        };
        assert_eq!(classify(&refused), Outcome::CompileError);
        assert_eq!(
            Verdict::of(Outcome::CompileError, true),
            Verdict::CompileError
        );
    }

    #[test]
    fn clean_exit_is_exited() {
        assert_eq!(classify(&facts()), Outcome::Exited);
    }

    #[test]
    fn nonzero_exit_and_signals_are_runtime_errors() {
        assert_eq!(
            classify(&RunFacts {
                exit_code: Some(3),
                ..facts()
            }),
            Outcome::RuntimeError
        );
        assert_eq!(
            classify(&RunFacts {
                exit_code: None,
                signal: Some(libc::SIGABRT),
                ..facts()
            }),
            Outcome::RuntimeError
        );
    }

    #[test]
    fn sigsys_is_a_violation_even_when_slow() {
        let f = RunFacts {
            exit_code: None,
            signal: Some(libc::SIGSYS),
            cpu_time_ms: 5000,
            ..facts()
        };
        assert_eq!(classify(&f), Outcome::SandboxViolation);
    }

    #[test]
    fn time_limit_from_sigxcpu_wall_kill_or_measured_cpu() {
        let xcpu = RunFacts {
            exit_code: None,
            signal: Some(libc::SIGXCPU),
            ..facts()
        };
        assert_eq!(classify(&xcpu), Outcome::TimeLimit);
        let wall = RunFacts {
            exit_code: None,
            signal: Some(libc::SIGKILL),
            wall_killed: true,
            ..facts()
        };
        assert_eq!(classify(&wall), Outcome::TimeLimit);
        let slow_but_finished = RunFacts {
            cpu_time_ms: 1001,
            ..facts()
        };
        assert_eq!(classify(&slow_but_finished), Outcome::TimeLimit);
        let at_limit = RunFacts {
            cpu_time_ms: 1000,
            ..facts()
        };
        assert_eq!(classify(&at_limit), Outcome::Exited);
    }

    #[test]
    fn output_cap_is_output_limit_even_with_clean_exit() {
        assert_eq!(
            classify(&RunFacts {
                output_hit_cap: true,
                ..facts()
            }),
            Outcome::OutputLimit
        );
    }

    #[test]
    fn memory_error_text_or_signal_near_limit() {
        let tb = b"Traceback (most recent call last):\n  File \"main.py\", line 1\nMemoryError\n";
        assert_eq!(
            classify(&RunFacts {
                exit_code: Some(1),
                stderr: tb,
                ..facts()
            }),
            Outcome::MemoryLimit
        );
        let segv = RunFacts {
            exit_code: None,
            signal: Some(libc::SIGSEGV),
            max_rss_kb: 500 << 10,
            ..facts()
        };
        assert_eq!(classify(&segv), Outcome::MemoryLimit);
        let small_segv = RunFacts {
            exit_code: None,
            signal: Some(libc::SIGSEGV),
            ..facts()
        };
        assert_eq!(classify(&small_segv), Outcome::RuntimeError);
        let printed = b"MemoryError\n";
        assert_eq!(
            classify(&RunFacts {
                exit_code: Some(1),
                stderr: printed,
                ..facts()
            }),
            Outcome::RuntimeError,
            "a word on stderr without a traceback is no MemoryError"
        );
        let mentioned = b"MemoryError\nValueError: bad\n";
        assert_eq!(
            classify(&RunFacts {
                exit_code: Some(1),
                stderr: mentioned,
                ..facts()
            }),
            Outcome::RuntimeError,
            "only the final error line counts"
        );
    }

    #[test]
    fn judge_maps_outcomes_and_compares_only_clean_exits() {
        assert_eq!(
            judge(&exec(Outcome::Exited, "3\n"), "3", CompareMode::Apps),
            Verdict::Accepted
        );
        assert_eq!(
            judge(&exec(Outcome::Exited, "4\n"), "3", CompareMode::Apps),
            Verdict::WrongAnswer
        );
        assert_eq!(
            judge(&exec(Outcome::Exited, " 3"), "3", CompareMode::Exact),
            Verdict::WrongAnswer
        );
        let pairs = [
            (Outcome::RuntimeError, Verdict::RuntimeError),
            (Outcome::TimeLimit, Verdict::TimeLimit),
            (Outcome::MemoryLimit, Verdict::MemoryLimit),
            (Outcome::OutputLimit, Verdict::OutputLimit),
            (Outcome::SandboxViolation, Verdict::SandboxViolation),
        ];
        for (o, v) in pairs {
            assert_eq!(
                judge(&exec(o, "3"), "3", CompareMode::Apps),
                v,
                "correct output never rescues {o:?}"
            );
        }
    }

    #[test]
    fn serializes_snake_case() {
        assert_eq!(
            serde_json::to_string(&Verdict::WrongAnswer).unwrap(),
            "\"wrong_answer\""
        );
        assert_eq!(
            serde_json::to_string(&Outcome::SandboxViolation).unwrap(),
            "\"sandbox_violation\""
        );
    }
}

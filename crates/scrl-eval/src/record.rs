//! The per-sample evaluation record and its JSON Lines file format.
//!
//! Fields are plain values (the ladder stage as its number, verdicts as the judge's strings), so
//! that records written by other judges read as well; severities are the scanner's [`Severity`].
//! One line of the file is one generated sample for one problem.

use std::fs;
use std::path::Path;

use scrl_reward::Stage;
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::{EvalError, io_err};

/// Bandit's severity levels, the scanner's own type (serialised `"LOW"`, `"MEDIUM"`, `"HIGH"`);
/// only MEDIUM and HIGH make a sample not "sec-clean".
pub use scrl_pycheck::Severity;

/// One static-analysis finding in a completion, named by its Bandit test id (e.g. `B602`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityFinding {
    pub test_id: String,
    pub severity: Severity,
}

/// One generated sample for one problem, with everything the judge and the reward said about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    pub problem_id: String,
    /// 0-based index of this sample among the samples drawn for the same problem.
    pub sample_index: u32,
    pub completion: String,
    pub syntax_valid: bool,
    /// Highest stage of the partial-credit ladder reached: its number (0..=4, [`Stage::number`],
    /// docs/reward.md).
    pub stage: u8,
    pub tests_passed: u32,
    pub tests_total: u32,
    /// One verdict per test in test order: "accepted", "wrong_answer", "runtime_error",
    /// "time_limit", "memory_limit", "no_output", or any other string the judge uses (kept as-is in
    /// the taxonomy).
    #[serde(default)]
    pub verdicts: Vec<String>,
    pub r_func: f64,
    pub r_sec: f64,
    /// The joint reward alpha * R_func + beta * R_sec used for training.
    pub reward: f64,
    #[serde(default)]
    pub security_findings: Vec<SecurityFinding>,
    /// Exception type of the first runtime error, e.g. "ZeroDivisionError"; see
    /// [`exception_type_from_stderr`].
    #[serde(default)]
    pub exception_type: Option<String>,
    /// The completion parses but runs none of its own code (only definitions, imports, constants):
    /// on a stdin problem the reward caps it at stage 1. Counted apart so that Syn.% can be read
    /// without it.
    #[serde(default)]
    pub no_op: bool,
}

impl SampleRecord {
    /// All tests passed; a problem without tests never counts as solved (no-test prompts earn no
    /// functional credit beyond stage 3).
    pub fn all_passed(&self) -> bool {
        self.tests_total > 0 && self.tests_passed == self.tests_total
    }

    pub fn any_passed(&self) -> bool {
        self.tests_passed > 0
    }

    /// No MEDIUM or HIGH finding (paper Table 2, "Sec. Clean").
    pub fn sec_clean(&self) -> bool {
        self.security_findings
            .iter()
            .all(|f| f.severity < Severity::Medium)
    }

    /// Checks the invariants every record must satisfy before metrics are computed from it.
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |message: String| EvalError::InvalidRecord {
            problem_id: self.problem_id.clone(),
            sample_index: self.sample_index,
            message,
        };
        if self.problem_id.is_empty() {
            return Err(bad("problem_id is empty".into()));
        }
        if Stage::from_number(self.stage).is_none() {
            return Err(bad(format!(
                "stage is {}, the ladder has stages 0..={}",
                self.stage,
                Stage::PassesTests.number()
            )));
        }
        if self.tests_passed > self.tests_total {
            return Err(bad(format!(
                "tests_passed ({}) exceeds tests_total ({})",
                self.tests_passed, self.tests_total
            )));
        }
        if self.verdicts.len() > self.tests_total as usize {
            return Err(bad(format!(
                "{} verdicts for {} tests",
                self.verdicts.len(),
                self.tests_total
            )));
        }
        for (name, v) in [
            ("r_func", self.r_func),
            ("r_sec", self.r_sec),
            ("reward", self.reward),
        ] {
            if !v.is_finite() {
                return Err(bad(format!("{name} is {v}, not a finite number")));
            }
        }
        Ok(())
    }
}

/// Reads a JSON Lines file of records; blank lines are skipped, every other line must parse and
/// validate.
pub fn read_records(path: &Path) -> Result<Vec<SampleRecord>, EvalError> {
    let text = fs::read_to_string(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: SampleRecord = serde_json::from_str(line).map_err(|e| EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        rec.validate().map_err(|e| EvalError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// Writes records as JSON Lines, atomically.
pub fn write_records(path: &Path, records: &[SampleRecord]) -> Result<(), EvalError> {
    let mut buf = String::new();
    for r in records {
        // Serialising plain strings, numbers and vectors cannot fail.
        buf.push_str(&serde_json::to_string(r).expect("record serialises"));
        buf.push('\n');
    }
    write_atomic(path, buf.as_bytes())
}

/// The exception type named on the last line of a Python traceback on stderr, e.g.
/// `ZeroDivisionError` from `ZeroDivisionError: division by zero`, or
/// `json.decoder.JSONDecodeError` for a qualified name: [`scrl_sandbox::exception_type`], the one
/// reading of a traceback the sandbox and the reward use too (its docs state the rule).
///
/// Returns `None` unless stderr looks like a traceback, so that a program that merely prints a word
/// to stderr is not mistaken for a crash.
pub fn exception_type_from_stderr(stderr: &str) -> Option<String> {
    scrl_sandbox::exception_type(stderr).map(str::to_string)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record with the given outcome; helpers for this crate's tests.
    pub(crate) fn rec(
        problem: &str,
        sample: u32,
        syntax: bool,
        passed: u32,
        total: u32,
        reward: f64,
    ) -> SampleRecord {
        let stage = if !syntax {
            0
        } else if passed > 0 {
            4
        } else {
            3
        };
        let r_func = match stage {
            0 => 0.0,
            4 => 0.6 + 0.4 * passed as f64 / total as f64,
            _ => 0.6,
        };
        SampleRecord {
            problem_id: problem.into(),
            sample_index: sample,
            completion: "print(1)".into(),
            syntax_valid: syntax,
            stage,
            tests_passed: passed,
            tests_total: total,
            verdicts: (0..total)
                .map(|i| {
                    if i < passed {
                        "accepted"
                    } else {
                        "wrong_answer"
                    }
                    .to_string()
                })
                .collect(),
            r_func,
            r_sec: 1.0,
            reward,
            security_findings: vec![],
            exception_type: None,
            no_op: false,
        }
    }

    #[test]
    fn parses_exception_types_from_real_tracebacks() {
        let zde = "Traceback (most recent call last):\n  File \"/tmp/s.py\", line 3, in \
            <module>\n    print(1/0)\n          ~^~\nZeroDivisionError: division by zero\n";
        assert_eq!(
            exception_type_from_stderr(zde).as_deref(),
            Some("ZeroDivisionError")
        );
        let eof = "Traceback (most recent call last):\n  File \"<string>\", line 1, in \
            <module>\nEOFError: EOF when reading a line\n\n";
        assert_eq!(exception_type_from_stderr(eof).as_deref(), Some("EOFError"));
        let syn = "  File \"/tmp/s.py\", line 1\n    def f(\n         ^\nSyntaxError: '(' was \
            never closed\n";
        assert_eq!(
            exception_type_from_stderr(syn).as_deref(),
            Some("SyntaxError")
        );
        let qualified = "Traceback (most recent call last):\n  File \"x\", line 1, in \
            <module>\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)";
        assert_eq!(
            exception_type_from_stderr(qualified).as_deref(),
            Some("json.decoder.JSONDecodeError")
        );
        let bare = "Traceback (most recent call last):\n  File \"x\", line 1, in \
            <module>\nKeyboardInterrupt\n";
        assert_eq!(
            exception_type_from_stderr(bare).as_deref(),
            Some("KeyboardInterrupt")
        );
        assert_eq!(exception_type_from_stderr("Error: bad input\n"), None);
        assert_eq!(exception_type_from_stderr(""), None);
    }

    #[test]
    fn exception_type_of_a_real_python_crash() {
        let out = std::process::Command::new("/usr/bin/python3")
            .args(["-S", "-I", "-E", "-B", "-c", "d = {}\nprint(d['missing'])"])
            .output()
            .expect("Debian's python3 runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            exception_type_from_stderr(&stderr).as_deref(),
            Some("KeyError")
        );
    }

    #[test]
    fn jsonl_round_trip_and_line_numbers_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("samples.jsonl");
        let mut a = rec("p1", 0, true, 2, 5, 0.76);
        a.security_findings.push(SecurityFinding {
            test_id: "B602".into(),
            severity: Severity::High,
        });
        a.exception_type = Some("ValueError".into());
        let b = rec("p2", 0, false, 0, 5, 0.4);
        write_records(&p, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(read_records(&p).unwrap(), vec![a, b]);

        let mut text = fs::read_to_string(&p).unwrap();
        text.push_str("{\"problem_id\": \"p3\"}\n");
        fs::write(&p, text).unwrap();
        match read_records(&p) {
            Err(EvalError::Parse { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("missing field"), "{message}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut r = rec("p", 1, true, 1, 2, 0.5);
        r.tests_passed = 3;
        let e = r.validate().unwrap_err().to_string();
        assert!(
            e.contains("tests_passed (3) exceeds tests_total (2)") && e.contains("\"p\""),
            "{e}"
        );
        let mut r = rec("p", 1, true, 1, 2, 0.5);
        r.stage = 5;
        assert!(r.validate().unwrap_err().to_string().contains("stage is 5"));
        let mut r = rec("p", 1, true, 1, 2, 0.5);
        r.reward = f64::NAN;
        assert!(
            r.validate()
                .unwrap_err()
                .to_string()
                .contains("reward is NaN")
        );
    }

    #[test]
    fn severities_keep_their_uppercase_wire_names() {
        for (severity, name) in [
            (Severity::Low, "LOW"),
            (Severity::Medium, "MEDIUM"),
            (Severity::High, "HIGH"),
        ] {
            let f = SecurityFinding {
                test_id: "B602".into(),
                severity,
            };
            let json = format!("{{\"test_id\":\"B602\",\"severity\":\"{name}\"}}");
            assert_eq!(serde_json::to_string(&f).unwrap(), json);
            assert_eq!(serde_json::from_str::<SecurityFinding>(&json).unwrap(), f);
        }
    }

    #[test]
    fn sec_clean_ignores_low_findings() {
        let mut r = rec("p", 0, true, 0, 1, 0.5);
        r.security_findings.push(SecurityFinding {
            test_id: "B311".into(),
            severity: Severity::Low,
        });
        assert!(r.sec_clean());
        r.security_findings.push(SecurityFinding {
            test_id: "B307".into(),
            severity: Severity::Medium,
        });
        assert!(!r.sec_clean());
    }
}

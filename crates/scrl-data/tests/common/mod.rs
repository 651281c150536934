//! Helpers shared by the integration tests: paths to the fixtures and to ../shared/data, and real
//! Python processes (Debian's interpreter, started plainly; the sandbox crate is not used here).

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const PYTHON: &str = "/usr/bin/python3";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `../shared/data/<file>` relative to the repository root.
pub fn shared(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name)
}

/// Indices (and messages) of the sources that Python's own parser rejects.
pub fn python_parse_failures(sources: &[String]) -> Vec<(usize, String)> {
    let script = "import ast, json, sys\nfor i, s in enumerate(json.load(sys.stdin)):\n    \
        try:\n        ast.parse(s)\n    except SyntaxError as e:\n        print(i, repr(str(e)))\n";
    let mut child = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start /usr/bin/python3");
    let input = serde_json::to_vec(sources).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parse checker itself failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (i, m) = l.split_once(' ').unwrap();
            (i.parse().unwrap(), m.to_string())
        })
        .collect()
}

/// Runs `program` (a file) on `input`; returns stdout, or stderr as the error.
pub fn run_python_file(program: &std::path::Path, input: &str) -> Result<String, String> {
    let mut child = Command::new(PYTHON)
        .args(["-S", "-I", "-E", "-B"])
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().unwrap();
    let data = input.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer.join().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

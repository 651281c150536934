//! Per-rule expectations of the native scanner, written by hand (the cross-check compares with
//! Bandit; these pin the behaviour down on their own): positive and negative cases, evasion
//! attempts through aliases, `from x import y as z`, `__import__`/`importlib`, and `# nosec`
//! comments, which never hide a finding.

use scrl_pycheck::{Confidence, Severity, scan};

fn found(source: &str) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = scan(source)
        .findings
        .iter()
        .map(|f| (f.test_id.clone(), f.line_number))
        .collect();
    v.sort();
    v
}

fn expect(source: &str, expected: &[(&str, u32)]) {
    let mut want: Vec<(String, u32)> = expected
        .iter()
        .map(|(id, l)| (id.to_string(), *l))
        .collect();
    want.sort();
    assert_eq!(found(source), want, "source:\n{source}");
}

#[test]
fn exec_and_eval() {
    expect("exec(code)\neval(expr)\n", &[("B102", 1), ("B307", 2)]);
    expect(
        "exec(code)  # nosec\neval(expr)  # nosec B307\n",
        &[("B102", 1), ("B307", 2)],
    );
    expect(
        "obj.exec(code)\nobj.eval(x)\nimport ast\nast.literal_eval(s)\n",
        &[],
    );
}

#[test]
fn input_and_low_findings_are_never_reported() {
    expect(
        "n = int(input())\nimport random, subprocess, pickle\nrandom.random()\nassert \
         n\nos.system('ls')\n",
        &[],
    );
    expect(
        "import subprocess\nsubprocess.run(['ls'])\nsubprocess.run('ls', shell=True)\n",
        &[],
    );
}

#[test]
fn shell_rules_follow_aliases_and_keyword_lines() {
    let src = "import subprocess as sp\nfrom subprocess import Popen as P\nsp.call(cmd,\n        \
        shell=True)\nP(cmd, shell=True)\n";
    expect(src, &[("B602", 4), ("B602", 5)]);
    expect("from os import system as run\nrun(cmd)\n", &[("B605", 2)]);
    expect("import os\nos.popen(f'cat {name}')\n", &[("B605", 2)]);
    expect("helper(cmd, shell=True)\n", &[("B604", 1)]);
    expect("import subprocess\nsubprocess.run(cmd, shell=False)\n", &[]);
    let report = scan("import os\nos.system(user_cmd)\n");
    assert_eq!(report.findings[0].issue_severity, Severity::High);
    assert_eq!(report.findings[0].issue_confidence, Confidence::High);
}

#[test]
fn dynamic_imports_bandit_catches() {
    expect("__import__('telnetlib')\n", &[("B401", 1)]);
    expect(
        "import importlib\nimportlib.import_module('ftplib')\n",
        &[("B402", 2)],
    );
    // `__import__("os").system(x)` resolves to `.system`, which Bandit does not treat as os.system.
    expect("__import__('os').system(x)\n", &[]);
    expect("getattr(os, 'system')(x)\n", &[]);
}

#[test]
fn blacklist_first_match_wins_like_bandit() {
    expect("import telnetlib, ftplib\n", &[("B401", 1)]);
    // B403 (pickle, LOW) comes before B413 in Bandit's table, so nothing is reported.
    expect("import pickle, Crypto.Hash\n", &[]);
    expect("from Crypto.Cipher import AES\n", &[("B413", 1)]);
}

#[test]
fn deserialization_and_crypto() {
    expect(
        "import pickle as p\np.loads(b)\nimport marshal\nmarshal.load(f)\n",
        &[("B301", 2), ("B302", 4)],
    );
    expect(
        "import hashlib\nhashlib.md5(x)\nhashlib.md5(x, \
         usedforsecurity=False)\nhashlib.new('sha1')\n",
        &[("B324", 2), ("B324", 4)],
    );
    expect(
        "import yaml\nyaml.load(s)\nyaml.load(s, Loader=yaml.SafeLoader)\n",
        &[("B506", 2)],
    );
    expect("yaml.load(s)\n", &[]);
    expect(
        "from cryptography.hazmat.primitives.asymmetric import \
         rsa\nrsa.generate_private_key(65537, 1024)\nrsa.generate_private_key(65537, 4096)\n",
        &[("B505", 2)],
    );
}

#[test]
fn strings_tmp_bind_and_sql() {
    expect(
        "open('/tmp/x')\n'/tmp/doc'\ns.bind(('0.0.0.0', 1))\n",
        &[("B108", 1), ("B104", 3)],
    );
    expect("p = f'/tmp/{n}'\n", &[("B108", 1)]);
    expect(
        "cur.execute('SELECT * FROM t WHERE a = %s' % a)\n",
        &[("B608", 1)],
    );
    expect(
        "q = ('SELECT a '\n     'FROM t WHERE b = ' + b)\n",
        &[("B608", 1)],
    );
    expect("cur.execute('SELECT * FROM t WHERE a = ?', (a,))\n", &[]);
    let report = scan(
        "cur.execute(f'SELECT * FROM t WHERE a = {a}')\nq = f'SELECT * FROM t WHERE a = {a}'\n",
    );
    let confidences: Vec<Confidence> = report.findings.iter().map(|f| f.issue_confidence).collect();
    assert_eq!(confidences, vec![Confidence::Medium, Confidence::Low]);
}

#[test]
fn file_permissions_and_requests() {
    expect(
        "import os\nos.chmod(p, 0o777)\nos.chmod(p, 0o750)\nos.chmod(p, 0o600)\n",
        &[("B103", 2), ("B103", 3)],
    );
    expect(
        "import requests\nrequests.get(u)\nrequests.get(u, timeout=3)\nrequests.get(u, \
         timeout=3,\n  verify=False)\n",
        &[("B113", 2), ("B501", 5)],
    );
}

#[test]
fn function_defaults_and_decorated_defs() {
    expect(
        "import ssl\n@dec\ndef f(v=ssl.PROTOCOL_SSLv3):\n    pass\n",
        &[("B503", 3)],
    );
    expect(
        "import ssl\nasync def f(v=ssl.PROTOCOL_SSLv3):\n    pass\n",
        &[],
    );
}

#[test]
fn trojan_source_line_and_column() {
    let report = scan("x = 1\ns = 'a\u{202e}b'\n");
    let f = &report.findings[0];
    assert_eq!(
        (f.test_id.as_str(), f.line_number, f.col_offset),
        ("B613", 2, 7)
    );
}

#[test]
fn django_mark_safe_follows_assignments() {
    let head = "from django.utils.safestring import mark_safe\n";
    expect(
        &format!("{head}def v(r):\n    return mark_safe(r.GET['x'])\n"),
        &[("B703", 3), ("B308", 3)],
    );
    expect(
        &format!("{head}def v():\n    t = '<b>'\n    return mark_safe(t)\n"),
        &[("B308", 4)],
    );
    expect(
        &format!("{head}def v(t):\n    return mark_safe(t)\n"),
        &[("B703", 3), ("B308", 3)],
    );
}

#[test]
fn unparsable_code_is_scanned_partially_and_flagged() {
    let report = scan("import os\nos.system(cmd)\ndef broken(:\n");
    assert!(!report.parsed);
    assert_eq!(
        report
            .findings
            .iter()
            .map(|f| f.test_id.as_str())
            .collect::<Vec<_>>(),
        vec!["B605"]
    );
    assert!(scan("print(1)\n").parsed);
}

#[test]
fn scanner_enum_native_agrees_with_scan() {
    let source = "import os\nos.system(x)\n";
    let report = scrl_pycheck::Scanner::Native
        .scan(source)
        .expect("small source scans");
    assert_eq!(report, scan(source));
    let huge = "x = 1\n".repeat(scrl_pycheck::MAX_SOURCE_BYTES / 6 + 1);
    let err = scrl_pycheck::Scanner::Native.scan(&huge).unwrap_err();
    assert!(err.to_string().contains("cap"), "{err}");
}

#[test]
fn bandit_worker_reports_a_clear_error_when_missing() {
    let err = scrl_pycheck::BanditWorker::start(Some(std::path::Path::new("/nonexistent/bandit")))
        .err()
        .expect("no bandit there");
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/bandit") && message.contains("setup-test-env"),
        "{message}"
    );
}

#[test]
fn analyze_equals_check_syntax_plus_scan() {
    use scrl_pycheck::{PythonVersion, analyze, check_syntax};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut sources: Vec<String> = Vec::new();
    for sub in ["triggers", "syntax", "edge_cases"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("fixture dir") {
            sources.push(
                std::fs::read_to_string(entry.expect("entry").path()).expect("UTF-8 fixture"),
            );
        }
    }
    for version in [
        PythonVersion {
            major: 3,
            minor: 11,
        },
        PythonVersion {
            major: 3,
            minor: 12,
        },
    ] {
        for source in &sources {
            let both = analyze(source, version);
            assert_eq!(both.syntax, check_syntax(source, version), "{source}");
            assert_eq!(both.security, scan(source), "{source}");
        }
    }
}

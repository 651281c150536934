//! The function-call harness (docs/reward.md, "Function-call problems"): an assert is split by a
//! trusted planner into *probes* (the sub-expressions that call the candidate) and a *template*
//! (the judgement with the expected value). The candidate's process only evaluates the probes and
//! reports their values as plain data (`python/harness.py`); a fresh process that never runs
//! candidate code decodes them and evaluates the template with a type-strict `==`
//! (`python/judge.py`). So the expected value is never in the candidate's process, an early or late
//! exit leaves no report, and a forged report can only claim values the candidate could have
//! returned anyway.

use scrl_sandbox::{Execution, Limits, Outcome, Sandbox, SandboxError};

/// Runs the candidate, the setup code and the probes of one assert; stdin carries the framed
/// fields.
pub(crate) const HARNESS_PY: &str = include_str!("../python/harness.py");
/// Plans asserts and verifies reported values; never runs candidate code.
pub(crate) const JUDGE_PY: &str = include_str!("../python/judge.py");

const RESULT_MARK: &[u8] = b"\x00SCRL-RESULT\x00";
/// What harness.py writes before anything else when CPython refuses to compile the candidate.
const REFUSED_MARK: &[u8] = b"\x00SCRL-COMPILE-REFUSED\x00";
const JUDGE_MARK: &[u8] = b"\x00SCRL-JUDGE\x00\n";

/// How one assert is checked: the template judges `__scrl_v[i]`, the value of probe `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    Checked {
        template: String,
        probes: Vec<String>,
    },
    /// The planner could not split the assert (it names why); the test cannot be passed.
    Unjudgeable(String),
}

/// Fields framed as `<decimal byte length>:<bytes>`, the format both scripts read.
pub(crate) fn frame<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(f.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(f);
    }
    out
}

/// Splits `data` into framed fields; `None` when the framing is broken.
fn unframe(mut data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let colon = data.iter().position(|&b| b == b':')?;
        let n: usize = std::str::from_utf8(&data[..colon]).ok()?.parse().ok()?;
        let rest = &data[colon + 1..];
        if rest.len() < n {
            return None;
        }
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    Some(out)
}

/// The judge's answer lines, after its marker; an error when the trusted script itself failed.
fn judge_lines(exec: &Execution, what: &str) -> Result<Vec<Vec<u8>>, String> {
    let start = find(&exec.stdout, JUDGE_MARK)
        .filter(|_| exec.outcome == Outcome::Exited)
        .ok_or_else(|| {
            format!(
                "the {what} step ended {:?} without its report; stderr: {}",
                exec.outcome,
                String::from_utf8_lossy(&exec.stderr)
            )
        })?;
    let body = &exec.stdout[start + JUDGE_MARK.len()..];
    Ok(body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Plans every assert of one problem in one trusted run.
pub(crate) fn plan(
    sandbox: &Sandbox,
    asserts: &[String],
    limits: &Limits,
) -> Result<Vec<Plan>, String> {
    let fields = std::iter::once(&b"plan"[..]).chain(asserts.iter().map(|a| a.as_bytes()));
    let exec = sandbox
        .run(JUDGE_PY, &frame(fields), limits)
        .map_err(|e| e.to_string())?;
    let lines = judge_lines(&exec, "assert planning")?;
    if lines.len() != asserts.len() {
        return Err(format!(
            "the planner answered {} lines for {} asserts",
            lines.len(),
            asserts.len()
        ));
    }
    lines
        .iter()
        .map(|l| {
            if let Some(body) = l.strip_prefix(b"ok ") {
                let parts = unframe(body).ok_or("the planner's answer is not framed")?;
                let text: Vec<String> = parts
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                let (template, probes) =
                    text.split_first().ok_or("the planner gave no template")?;
                Ok(Plan::Checked {
                    template: template.clone(),
                    probes: probes.to_vec(),
                })
            } else {
                Ok(Plan::Unjudgeable(
                    String::from_utf8_lossy(l)
                        .trim_start_matches("error ")
                        .to_string(),
                ))
            }
        })
        .collect()
}

/// What the candidate's run reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// Exactly one well-formed report: the encoded probe values (`-` when a value was not plain
    /// data).
    Values(Vec<u8>),
    /// No report, several, or a broken one: the run ended before the harness finished (an early
    /// exit, a signal) or printed the marker itself.
    Missing,
    /// CPython refused to compile the candidate, so none of it ran (harness.py says so before
    /// anything else is written; a candidate that prints the same only claims a worse verdict than
    /// it earned).
    CompileRefused,
}

/// Runs the candidate and the probes of one assert. The returned execution's stdout is the
/// program's own output, with the report cut out.
pub(crate) fn run_probes(
    sandbox: &Sandbox,
    program: &str,
    setup: &str,
    probes: &[String],
    limits: &Limits,
) -> Result<(Execution, Report), SandboxError> {
    let fields = [program.as_bytes(), setup.as_bytes()]
        .into_iter()
        .chain(probes.iter().map(|p| p.as_bytes()));
    let mut exec = sandbox.run(HARNESS_PY, &frame(fields), limits)?;
    if exec.stdout == REFUSED_MARK && exec.exit_code == Some(1) {
        exec.outcome = Outcome::CompileError;
        exec.stdout.clear();
        return Ok((exec, Report::CompileRefused));
    }
    let (report, stdout) = split_report(&exec.stdout);
    exec.stdout = stdout;
    Ok((exec, report))
}

/// Finds the single report in a run's stdout; returns it and the rest of stdout.
fn split_report(stdout: &[u8]) -> (Report, Vec<u8>) {
    let marks: Vec<usize> = stdout
        .windows(RESULT_MARK.len())
        .enumerate()
        .filter(|(_, w)| *w == RESULT_MARK)
        .map(|(i, _)| i)
        .collect();
    let [at] = marks[..] else {
        return (Report::Missing, stdout.to_vec());
    };
    let rest = &stdout[at + RESULT_MARK.len()..];
    let parsed = rest.iter().position(|&b| b == b':').and_then(|colon| {
        let n: usize = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
        (rest.len() >= colon + 1 + n)
            .then(|| (rest[colon + 1..colon + 1 + n].to_vec(), colon + 1 + n))
    });
    match parsed {
        Some((payload, used)) => {
            let mut program_out = stdout[..at].to_vec();
            program_out.extend_from_slice(&rest[used..]);
            (Report::Values(payload), program_out)
        }
        None => (Report::Missing, stdout.to_vec()),
    }
}

/// The judge's answer for one assert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Judgement {
    Holds,
    Fails,
    /// Evaluating the assert on the reported values raised (e.g. `None < 3`): a crash of the
    /// assert.
    Raised,
}

/// Verifies `(template, reported values)` pairs in one trusted run.
pub(crate) fn verify(
    sandbox: &Sandbox,
    items: &[(&str, &[u8])],
    limits: &Limits,
) -> Result<Vec<Judgement>, String> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let fields =
        std::iter::once(&b"verify"[..]).chain(items.iter().flat_map(|(t, v)| [t.as_bytes(), *v]));
    let exec = sandbox
        .run(JUDGE_PY, &frame(fields), limits)
        .map_err(|e| e.to_string())?;
    let lines = judge_lines(&exec, "verification")?;
    if lines.len() != items.len() {
        return Err(format!(
            "the judge answered {} lines for {} asserts",
            lines.len(),
            items.len()
        ));
    }
    Ok(lines
        .iter()
        .map(|l| match &l[..] {
            b"1" => Judgement::Holds,
            b"0" => Judgement::Fails,
            _ => Judgement::Raised,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        let fields: [&[u8]; 3] = [b"", b"a:b", "é".as_bytes()];
        let framed = frame(fields);
        assert_eq!(framed, "0:3:a:b2:é".as_bytes());
        assert_eq!(unframe(&framed).unwrap(), fields.to_vec());
        assert!(unframe(b"5:abc").is_none());
        assert!(unframe(b"x:abc").is_none());
    }

    #[test]
    fn exactly_one_report_is_accepted() {
        let one = [b"hi\n".as_slice(), RESULT_MARK, b"3:i1;tail"].concat();
        assert_eq!(
            split_report(&one),
            (Report::Values(b"i1;".to_vec()), b"hi\ntail".to_vec())
        );
        let two = [RESULT_MARK, b"3:i1;", RESULT_MARK, b"3:i1;"].concat();
        assert_eq!(split_report(&two).0, Report::Missing);
        assert_eq!(split_report(b"3:i1;").0, Report::Missing);
        let short = [RESULT_MARK, b"9:i1;"].concat();
        assert_eq!(split_report(&short).0, Report::Missing);
    }
}

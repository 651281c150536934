//! `POST /run_code` in SandboxFusion's request and response shapes (its `RunCodeRequest` and
//! `RunCodeResponse`), for `language: "python"` with stdin, so that SandboxFusion's clients (veRL's
//! `sandbox_fusion` reward, the `sandbox-fusion` package) use this server by changing a URL.
//! Python has no compile step there, so `compile_result` is null and a syntax error is a failed
//! run, as SandboxFusion reports it. Timeouts and memory asked for are capped at the server's
//! limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scrl_sandbox::{Execution, Limits, Outcome};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{read_body, run_admitted};
use crate::error::{ApiError, parse_json};

/// SandboxFusion's `RunCodeRequest`. Fields it has that this server does not use are accepted (as
/// SandboxFusion's own server ignores unknown ones); `files` and `fetch_files` must be empty.
#[derive(Deserialize)]
struct RunCodeRequest {
    code: String,
    language: String,
    #[serde(default)]
    stdin: Option<String>,
    /// Seconds; SandboxFusion's default.
    #[serde(default = "ten")]
    run_timeout: f64,
    #[serde(default, rename = "memory_limit_MB")]
    memory_limit_mb: Option<f64>,
    #[serde(default)]
    files: HashMap<String, Option<String>>,
    #[serde(default)]
    fetch_files: Vec<String>,
}

fn ten() -> f64 {
    10.0
}

/// SandboxFusion's `CommandRunResult`.
#[derive(Serialize)]
struct CommandRunResult {
    /// `Finished`, `TimeLimitExceeded` or `Error`.
    status: &'static str,
    execution_time: f64,
    return_code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// SandboxFusion's `RunCodeResponse`.
#[derive(Serialize)]
struct RunCodeResponse {
    /// `Success`, `Failed` or `SandboxError`.
    status: &'static str,
    message: String,
    compile_result: Option<CommandRunResult>,
    run_result: Option<CommandRunResult>,
    executor_pod_name: Option<String>,
    files: HashMap<String, String>,
}

pub(crate) async fn run_code(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = read_body(body, st.cfg.limits.max_body_bytes)?;
    let req: RunCodeRequest = parse_json(&body)?;
    if req.language != "python" {
        return Err(ApiError::bad(
            "language",
            format!(
                "this server runs only \"python\" (CPython {}), not {:?}",
                python(&st),
                req.language
            ),
        ));
    }
    if req.files.values().any(Option::is_some) {
        return Err(ApiError::bad(
            "files",
            "extra files are not supported: the program runs with no file system it can write",
        ));
    }
    if !req.fetch_files.is_empty() {
        return Err(ApiError::bad(
            "fetch_files",
            "fetching files is not supported: a program can write no file",
        ));
    }
    st.cfg.limits.program("code", &req.code)?;
    let stdin = req.stdin.unwrap_or_default();
    st.cfg.limits.test_bytes("stdin", stdin.len())?;
    let limits = limits_for(
        &st.cfg.reward.limits(),
        req.run_timeout,
        req.memory_limit_mb,
    )?;
    let sandbox = st.sandbox.clone();
    let code = req.code;
    let result = run_admitted(&st, arrived, move |_cancel| {
        sandbox.run(&code, stdin.as_bytes(), &limits)
    })
    .await?;
    match result {
        Ok(exec) => {
            st.metrics.programs.fetch_add(1, Ordering::Relaxed);
            st.metrics.executions.fetch_add(1, Ordering::Relaxed);
            Ok(axum::Json(response(&exec)).into_response())
        }
        Err(e) => {
            st.metrics.infra_errors.fetch_add(1, Ordering::Relaxed);
            let body = RunCodeResponse {
                status: "SandboxError",
                message: format!("the sandbox could not run the program (nothing was judged): {e}"),
                compile_result: None,
                run_result: None,
                executor_pod_name: None,
                files: HashMap::new(),
            };
            let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, st.cfg.retry_after_s.into());
            Ok(resp)
        }
    }
}

fn python(st: &AppState) -> String {
    let (a, b) = st.sandbox.python_version();
    format!("{a}.{b}")
}

/// The run's limits: SandboxFusion's `run_timeout` bounds wall and CPU time, `memory_limit_MB` the
/// address space, each capped at the server's own limit.
fn limits_for(
    server: &Limits,
    run_timeout_s: f64,
    memory_mb: Option<f64>,
) -> Result<Limits, ApiError> {
    if !(run_timeout_s.is_finite() && run_timeout_s > 0.0) {
        return Err(ApiError::bad(
            "run_timeout",
            format!("must be a positive number of seconds (got {run_timeout_s})"),
        ));
    }
    let ms = ((run_timeout_s * 1000.0).ceil() as u64).max(1);
    let memory_bytes = match memory_mb {
        None => server.memory_bytes,
        Some(mb) if mb.is_finite() && mb >= 32.0 => {
            ((mb * 1048576.0) as u64).min(server.memory_bytes)
        }
        Some(mb) => {
            return Err(ApiError::bad(
                "memory_limit_MB",
                format!("must be at least 32 (CPython needs it; got {mb})"),
            ));
        }
    };
    Ok(Limits {
        cpu_time_ms: ms.min(server.cpu_time_ms),
        wall_time_ms: ms.min(server.wall_time_ms),
        memory_bytes,
        output_bytes: server.output_bytes,
    })
}

fn response(e: &Execution) -> RunCodeResponse {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let timed_out = e.outcome == Outcome::TimeLimit;
    // As Python's subprocess reports it, which SandboxFusion passes on: a signal is its negative
    // number.
    let return_code = if timed_out {
        None
    } else {
        e.exit_code.or(e.signal.map(|s| -s))
    };
    let run = CommandRunResult {
        status: if timed_out {
            "TimeLimitExceeded"
        } else {
            "Finished"
        },
        execution_time: e.wall_time_ms as f64 / 1000.0,
        return_code,
        stdout: lossy(&e.stdout),
        stderr: lossy(&e.stderr),
    };
    let ok = run.status == "Finished" && run.return_code == Some(0) && e.outcome == Outcome::Exited;
    RunCodeResponse {
        status: if ok { "Success" } else { "Failed" },
        message: String::new(),
        compile_result: None,
        run_result: Some(run),
        executor_pod_name: None,
        files: HashMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_capped_at_the_servers() {
        let server = Limits::default();
        let l = limits_for(&server, 10.0, Some(1024.0)).unwrap();
        assert_eq!(
            (l.cpu_time_ms, l.wall_time_ms, l.memory_bytes),
            (server.cpu_time_ms, 10_000, server.memory_bytes)
        );
        let l = limits_for(&server, 0.5, Some(64.0)).unwrap();
        assert_eq!(
            (l.cpu_time_ms, l.wall_time_ms, l.memory_bytes),
            (500, 500, 64 << 20)
        );
        assert_eq!(
            limits_for(&server, 0.0, None).unwrap_err().field.as_deref(),
            Some("run_timeout")
        );
        assert_eq!(
            limits_for(&server, 1.0, Some(1.0))
                .unwrap_err()
                .field
                .as_deref(),
            Some("memory_limit_MB")
        );
    }
}

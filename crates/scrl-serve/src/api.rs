//! The routes, the bearer-token check, the admission queue every unit of work passes through, and
//! `POST /score`. What `/score` returns per item is [`RewardBreakdown::to_json_row`], the object
//! `securecoderl score --json` prints, so a trainer sees one format whichever way it scores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scrl_reward::{RewardBreakdown, RewardConfig, RewardError, StdinCase, TestSpec};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::{ApiError, parse_json};

pub(crate) fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.cfg.limits.max_body_bytes;
    Router::new()
        .route("/score", post(score))
        .route("/run_code", post(crate::run_code::run_code))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Every endpoint but `/health` (which load balancers probe) needs the token when one is
/// configured.
async fn authorize(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(token) = &st.cfg.token
        && req.uri().path() != "/health"
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same_secret(g.as_bytes(), token.as_bytes())) {
            return ApiError::unauthorized().into_response();
        }
    }
    next.run(req).await
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix of the
/// token.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts every answer by endpoint and status, with its latency.
async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let endpoint = match req.uri().path() {
        "/score" => "score",
        "/run_code" => "run_code",
        "/health" => "health",
        "/metrics" => "metrics",
        _ => "other",
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    st.metrics.record_request(
        endpoint,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    let (major, minor) = st.sandbox.python_version();
    axum::Json(serde_json::json!({
        "status": "ok",
        "python": format!("{major}.{minor}"),
        "sandbox_weak": st.sandbox.isolation().weak,
    }))
    .into_response()
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(st.cache_stats()),
    )
        .into_response()
}

/// Where one request is in the admission queue; leaving (answered, rejected, dropped) updates the
/// gauges.
struct Admission {
    st: Arc<AppState>,
    running: bool,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if !self.running {
            self.st.metrics.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Sets the cancel flag of work whose request was dropped (client gone) or timed out.
struct CancelOnDrop {
    st: Arc<AppState>,
    flag: Arc<AtomicBool>,
    done: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.flag.store(true, Ordering::Relaxed);
            self.st.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs `work` on a blocking thread once a slot is free, within the request's deadline. `work` gets
/// the cancel flag, set when the client disconnects or the deadline passes.
pub(crate) async fn run_admitted<T: Send + 'static>(
    st: &Arc<AppState>,
    arrived: Instant,
    work: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let cfg = &st.cfg;
    let waiting = st.metrics.queued.fetch_add(1, Ordering::Relaxed);
    let mut adm = Admission {
        st: st.clone(),
        running: false,
    };
    if waiting >= cfg.max_queued && st.slots.available_permits() == 0 {
        st.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::retryable(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the queue is full ({} requests waiting); retry later",
                cfg.max_queued
            ),
            cfg.retry_after_s,
        ));
    }
    let deadline = tokio::time::Instant::from_std(arrived + cfg.deadline);
    let past_deadline = || {
        ApiError::retryable(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the request's deadline of {} s passed; its remaining work was cancelled",
                cfg.deadline.as_secs_f64()
            ),
            cfg.retry_after_s,
        )
    };
    let mut cancel = CancelOnDrop {
        st: st.clone(),
        flag: Arc::new(AtomicBool::new(false)),
        done: false,
    };
    let permit = match tokio::time::timeout_at(deadline, st.slots.clone().acquire_owned()).await {
        Ok(p) => p.map_err(|_| ApiError::internal("the server is shutting down"))?,
        Err(_) => return Err(past_deadline()),
    };
    st.metrics.queued.fetch_sub(1, Ordering::Relaxed);
    adm.running = true;
    st.metrics.running.fetch_add(1, Ordering::Relaxed);
    let (flag, st2) = (cancel.flag.clone(), st.clone());
    let task = tokio::task::spawn_blocking(move || {
        // The slot is held until the work really stops, not until the client stops waiting.
        let _permit = permit;
        let out = work(&flag);
        st2.metrics.running.fetch_sub(1, Ordering::Relaxed);
        out
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(v)) => {
            cancel.done = true;
            Ok(v)
        }
        Ok(Err(e)) => {
            cancel.done = true;
            Err(ApiError::internal(format!("the worker thread failed: {e}")))
        }
        Err(_) => Err(past_deadline()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    items: Vec<ScoreItem>,
    /// Reward options over the server's, by `RewardConfig` field name.
    #[serde(default)]
    reward: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreItem {
    /// The id of a problem the server was started with.
    #[serde(default)]
    problem: Option<String>,
    /// Inline stdin tests.
    #[serde(default)]
    tests: Option<Vec<StdinCase>>,
    completion: String,
}

async fn score(
    State(st): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = read_body(body, st.cfg.limits.max_body_bytes)?;
    let req: ScoreRequest = parse_json(&body)?;
    let limits = &st.cfg.limits;
    limits.items(req.items.len())?;
    let mut jobs: Vec<(String, TestSpec, Option<String>)> = Vec::with_capacity(req.items.len());
    for (i, item) in req.items.into_iter().enumerate() {
        let at = |f: &str| format!("items[{i}].{f}");
        limits.program(&at("completion"), &item.completion)?;
        let (spec, id) = match (item.problem, item.tests) {
            (Some(id), None) => match st.cfg.problems.get(&id) {
                Some(spec) => (spec.clone(), Some(id)),
                None => {
                    let hint = if st.cfg.problems.is_empty() {
                        " (this server was started without --problems)"
                    } else {
                        ""
                    };
                    return Err(ApiError::bad(
                        at("problem"),
                        format!("no problem with id {id:?} on this server{hint}"),
                    ));
                }
            },
            (None, Some(tests)) => {
                limits.tests(&at("tests"), tests.len())?;
                for (j, t) in tests.iter().enumerate() {
                    limits
                        .test_bytes(&at(&format!("tests[{j}]")), t.input.len() + t.output.len())?;
                }
                (TestSpec::Stdin(tests), None)
            }
            _ => {
                return Err(ApiError::bad(
                    format!("items[{i}]"),
                    "give exactly one of `problem` (an id the server was started with) or `tests` \
                     ([{\"input\", \"output\"}, ...])",
                ));
            }
        };
        jobs.push((item.completion, spec, id));
    }
    let config = request_config(&st.cfg.reward, req.reward)?;
    let model = st
        .model(&config)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let results = run_admitted(&st, arrived, move |cancel| {
        let items: Vec<(&str, &TestSpec)> = jobs.iter().map(|(c, t, _)| (c.as_str(), t)).collect();
        let out = model.score_batch_with(&items, cancel, &|| {});
        (jobs, out)
    })
    .await;
    let (jobs, results) = results?;
    let mut rows = Vec::with_capacity(results.len());
    for (i, (res, (_, _, id))) in results.into_iter().zip(&jobs).enumerate() {
        let b = res.map_err(|e| scoring_error(&st, i, e))?;
        count(&st, &b);
        rows.push(b.to_json_row(id.as_deref()));
    }
    Ok(axum::Json(serde_json::json!({ "results": rows })).into_response())
}

fn count(st: &AppState, b: &RewardBreakdown) {
    st.metrics.programs.fetch_add(1, Ordering::Relaxed);
    st.metrics
        .executions
        .fetch_add(b.tests.len() as u64, Ordering::Relaxed);
    for t in &b.tests {
        if let Ok(Value::String(v)) = serde_json::to_value(t.verdict) {
            st.metrics.record_verdict(&v);
        }
    }
}

/// No score for a program the server could not judge: the whole request fails, retryably where the
/// cause is the infrastructure (the scores already computed are cached, so a retry is cheap).
fn scoring_error(st: &AppState, i: usize, e: RewardError) -> ApiError {
    let msg = format!("items[{i}]: {e}");
    match e {
        RewardError::Config(_) => ApiError::bad("reward", msg),
        RewardError::Cancelled => {
            ApiError::retryable(StatusCode::GATEWAY_TIMEOUT, msg, st.cfg.retry_after_s)
        }
        RewardError::Sandbox(_) | RewardError::Scanner(_) | RewardError::Harness(_) => {
            st.metrics.infra_errors.fetch_add(1, Ordering::Relaxed);
            ApiError::retryable(StatusCode::SERVICE_UNAVAILABLE, msg, st.cfg.retry_after_s)
        }
        RewardError::Pool(_) => ApiError::internal(msg),
    }
}

/// The server's reward configuration with a request's overrides. Resource limits may only be
/// lowered, and the options applied when the server loaded its problems cannot change per request.
fn request_config(
    server: &RewardConfig,
    overlay: Option<Map<String, Value>>,
) -> Result<RewardConfig, ApiError> {
    let Some(overlay) = overlay else {
        return Ok(server.clone());
    };
    let mut merged = serde_json::to_value(server).expect("a reward config serializes");
    for (k, v) in overlay {
        merged[k] = v;
    }
    let cfg: RewardConfig = serde_path_to_error::deserialize(merged).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "reward".to_string()
        } else {
            format!("reward.{path}")
        };
        ApiError::bad(field, format!("invalid reward options: {}", e.into_inner()))
    })?;
    cfg.validate()
        .map_err(|e| ApiError::bad("reward", e.to_string()))?;
    let ceilings = [
        ("cpu_time_ms", cfg.cpu_time_ms, server.cpu_time_ms),
        ("wall_time_ms", cfg.wall_time_ms, server.wall_time_ms),
        ("memory_bytes", cfg.memory_bytes, server.memory_bytes),
        ("output_bytes", cfg.output_bytes, server.output_bytes),
    ];
    for (name, asked, limit) in ceilings {
        if asked > limit {
            return Err(ApiError::bad(
                format!("reward.{name}"),
                format!("{asked} is above this server's limit of {limit}"),
            ));
        }
    }
    if cfg.scanner != server.scanner || cfg.bandit != server.bandit {
        return Err(ApiError::bad(
            if cfg.scanner != server.scanner {
                "reward.scanner"
            } else {
                "reward.bandit"
            },
            "fixed when the server starts; start it with the --scanner (and --bandit) it should \
             use",
        ));
    }
    if cfg.skip_statement_examples != server.skip_statement_examples {
        return Err(ApiError::bad(
            "reward.skip_statement_examples",
            "fixed when the server loads its problems; start it with or without \
             --skip-statement-examples",
        ));
    }
    Ok(cfg)
}

pub(crate) fn read_body(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(
                "body",
                format!("the request body is over this server's limit of {limit} bytes"),
            )
        } else {
            ApiError {
                status: e.status(),
                field: Some("body".into()),
                message: e.body_text(),
                retry_after_s: None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_config_overlays_names_fields_and_keeps_ceilings() {
        let server = RewardConfig::default();
        let map = |v: Value| v.as_object().unwrap().clone();
        let c = request_config(
            &server,
            Some(map(
                serde_json::json!({"alpha": 1.0, "beta": 0.0, "kind": "binary"}),
            )),
        )
        .unwrap();
        assert_eq!(
            (c.alpha, c.beta, c.kind),
            (1.0, 0.0, scrl_reward::RewardKind::Binary)
        );
        assert_eq!(c.test_cap, server.test_cap);
        let e = request_config(&server, Some(map(serde_json::json!({"alpha": "x"})))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("reward.alpha"), "{e:?}");
        let e = request_config(&server, Some(map(serde_json::json!({"alhpa": 1.0})))).unwrap_err();
        assert!(e.message.contains("alhpa"), "{e:?}");
        let e = request_config(
            &server,
            Some(map(
                serde_json::json!({"cpu_time_ms": server.cpu_time_ms + 1}),
            )),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("reward.cpu_time_ms"));
        let lower =
            request_config(&server, Some(map(serde_json::json!({"cpu_time_ms": 100})))).unwrap();
        assert_eq!(lower.cpu_time_ms, 100);
        let e = request_config(
            &server,
            Some(map(serde_json::json!({"alpha": 0.0, "beta": 0.0}))),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("reward"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}

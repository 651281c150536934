//! The server's counters and their Prometheus text exposition (`GET /metrics`, format 0.0.4).
//! Counts what the handlers report; knows nothing about HTTP or the sandbox.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Upper bounds (seconds) of the request-latency histogram's buckets.
const BUCKETS_S: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum_s: f64,
    total: u64,
}

#[derive(Default)]
pub struct Metrics {
    /// (endpoint, status code) -> requests answered.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Verdict name -> test runs reported in answers.
    verdicts: Mutex<BTreeMap<String, u64>>,
    /// Programs scored by `/score` (cache hits included) and programs run by `/run_code`.
    pub programs: AtomicU64,
    /// Test runs reported in `/score` answers plus `/run_code` executions.
    pub executions: AtomicU64,
    /// Requests turned away because the queue was full.
    pub rejected: AtomicU64,
    /// Requests whose client went away or whose deadline passed before their work was done.
    pub cancelled: AtomicU64,
    /// Requests answered with a sandbox or scanner failure (no score given).
    pub infra_errors: AtomicU64,
    /// Requests admitted and waiting for a slot.
    pub queued: AtomicUsize,
    /// Requests being worked on.
    pub running: AtomicUsize,
}

impl Metrics {
    pub fn record_request(&self, endpoint: &'static str, status: u16, seconds: f64) {
        *lock(&self.requests).entry((endpoint, status)).or_default() += 1;
        let mut lat = lock(&self.latency);
        let h = lat.entry(endpoint).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS_S.len()];
        }
        for (i, b) in BUCKETS_S.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum_s += seconds;
        h.total += 1;
    }

    pub fn record_verdict(&self, verdict: &str) {
        *lock(&self.verdicts).entry(verdict.to_string()).or_default() += 1;
    }

    /// The Prometheus text; `cache` is (hits, misses) of the reward's result cache.
    pub fn render(&self, cache: (u64, u64)) -> String {
        let mut out = String::new();
        let o = &mut out;
        header(
            o,
            "scrl_requests_total",
            "counter",
            "Requests answered, by endpoint and HTTP status.",
        );
        for ((ep, code), v) in lock(&self.requests).iter() {
            let _ = writeln!(
                o,
                "scrl_requests_total{{endpoint=\"{ep}\",code=\"{code}\"}} {v}"
            );
        }
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gauge = |a: &AtomicUsize| a.load(Ordering::Relaxed) as u64;
        simple(
            o,
            "scrl_programs_total",
            "counter",
            "Programs scored (/score, cache hits included) or run (/run_code).",
            get(&self.programs),
        );
        simple(
            o,
            "scrl_executions_total",
            "counter",
            "Test runs reported in /score answers plus /run_code executions.",
            get(&self.executions),
        );
        simple(
            o,
            "scrl_rejected_total",
            "counter",
            "Requests refused because the queue was full (503 with Retry-After).",
            get(&self.rejected),
        );
        simple(
            o,
            "scrl_cancelled_total",
            "counter",
            "Requests whose client disconnected or whose deadline passed.",
            get(&self.cancelled),
        );
        simple(
            o,
            "scrl_infra_errors_total",
            "counter",
            "Requests answered with a sandbox or scanner failure (no score given).",
            get(&self.infra_errors),
        );
        simple(
            o,
            "scrl_queue_depth",
            "gauge",
            "Requests admitted and waiting for a worker slot.",
            gauge(&self.queued),
        );
        simple(
            o,
            "scrl_in_flight",
            "gauge",
            "Requests being worked on.",
            gauge(&self.running),
        );
        simple(
            o,
            "scrl_reward_cache_hits_total",
            "counter",
            "Programs answered from the reward's result cache.",
            cache.0,
        );
        simple(
            o,
            "scrl_reward_cache_misses_total",
            "counter",
            "Programs the reward computed.",
            cache.1,
        );
        header(
            o,
            "scrl_verdicts_total",
            "counter",
            "Test verdicts reported, by verdict.",
        );
        for (v, c) in lock(&self.verdicts).iter() {
            let _ = writeln!(o, "scrl_verdicts_total{{verdict=\"{v}\"}} {c}");
        }
        let name = "scrl_request_duration_seconds";
        header(
            o,
            name,
            "histogram",
            "Time from a request's arrival to its answer, by endpoint.",
        );
        for (ep, h) in lock(&self.latency).iter() {
            for (b, c) in BUCKETS_S.iter().zip(&h.counts) {
                let _ = writeln!(o, "{name}_bucket{{endpoint=\"{ep}\",le=\"{b}\"}} {c}");
            }
            let _ = writeln!(
                o,
                "{name}_bucket{{endpoint=\"{ep}\",le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(o, "{name}_sum{{endpoint=\"{ep}\"}} {}", h.sum_s);
            let _ = writeln!(o, "{name}_count{{endpoint=\"{ep}\"}} {}", h.total);
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn simple(out: &mut String, name: &str, kind: &str, help: &str, v: u64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {v}");
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_text_is_prometheus_shaped() {
        let m = Metrics::default();
        m.record_request("score", 200, 0.03);
        m.record_request("score", 200, 3.0);
        m.record_request("score", 503, 0.001);
        m.record_verdict("accepted");
        let text = m.render((1, 2));
        assert!(
            text.contains("scrl_requests_total{endpoint=\"score\",code=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("scrl_requests_total{endpoint=\"score\",code=\"503\"} 1\n"));
        assert!(
            text.contains(
                "scrl_request_duration_seconds_bucket{endpoint=\"score\",le=\"0.005\"} 1\n"
            )
        );
        assert!(
            text.contains(
                "scrl_request_duration_seconds_bucket{endpoint=\"score\",le=\"0.05\"} 2\n"
            )
        );
        assert!(
            text.contains(
                "scrl_request_duration_seconds_bucket{endpoint=\"score\",le=\"+Inf\"} 3\n"
            )
        );
        assert!(text.contains("scrl_verdicts_total{verdict=\"accepted\"} 1\n"));
        assert!(text.contains("scrl_reward_cache_misses_total 2\n"));
        // Every sample line belongs to a family declared before it.
        let mut declared = std::collections::HashSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                declared.insert(rest.split(' ').next().unwrap().to_string());
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
                assert!(
                    declared.contains(name) || declared.contains(base),
                    "undeclared sample {l}"
                );
            }
        }
    }
}

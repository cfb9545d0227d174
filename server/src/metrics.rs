//! Request counts and latencies by route, in the Prometheus text format.
//!
//! Routes are labelled by their pattern (`/pantries/{id}`), never by the
//! raw path, and methods outside HTTP's standard set share one label, so
//! the number of series stays bounded whatever clients send.
//!
//! `/metrics` is served on its own address (`LARDER_METRICS_LISTEN`,
//! loopback by default), and on the app's address only to requests that
//! carry `LARDER_METRICS_TOKEN`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP larder_http_requests_total HTTP requests served, by method, route and status.\n");
        out.push_str("# TYPE larder_http_requests_total counter\n");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "larder_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP larder_http_request_duration_seconds Time to serve HTTP requests, by method and route.\n");
        out.push_str("# TYPE larder_http_request_duration_seconds histogram\n");
        for ((method, route), h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let route = escape(route);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "larder_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "larder_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "larder_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "larder_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}} {}", h.count);
        }
        out
    }
}

/// The method as a label: one of HTTP's standard methods, or `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times each request and records it under its route pattern.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let is_static = req.uri().path().starts_with("/pkg/") || req.uri().path().contains('.');
    let res = next.run(req).await;
    let route = route.unwrap_or_else(|| {
        if is_static {
            "static".into()
        } else {
            "unmatched".into()
        }
    });
    metrics.record(
        method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

/// `/metrics` on the app's address: only with the configured bearer token.
pub async fn guarded_endpoint(
    State((metrics, state, token)): State<(
        std::sync::Arc<Metrics>,
        app::state::AppState,
        std::sync::Arc<String>,
    )>,
    headers: axum::http::HeaderMap,
) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared through digests, so the time taken says nothing of the token.
    use sha2::Digest as _;
    let digest = |s: &str| sha2::Sha256::digest(s.as_bytes());
    match given {
        Some(g) if digest(g) == digest(&token) => {
            endpoint(State((metrics, state))).await.into_response()
        }
        _ => (
            axum::http::StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the bearer token (LARDER_METRICS_TOKEN)",
        )
            .into_response(),
    }
}

pub async fn endpoint(
    State((metrics, state)): State<(std::sync::Arc<Metrics>, app::state::AppState)>,
) -> impl IntoResponse {
    let mut text = metrics.render();
    render_app(&mut text, &state);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

/// The stock cache's hit rate and each event consumer's progress.
fn render_app(out: &mut String, state: &app::state::AppState) {
    use std::sync::atomic::Ordering::Relaxed;
    let cache = &state.stock_cache;
    let counts = [
        (
            "stock",
            (cache.hits.load(Relaxed), cache.misses.load(Relaxed)),
        ),
        ("caller", state.callers.counts()),
        ("movement_context", state.contexts.counts()),
    ];
    out.push_str("# HELP larder_cache_requests_total Cache lookups, by cache and result.\n");
    out.push_str("# TYPE larder_cache_requests_total counter\n");
    for (name, (hits, misses)) in counts {
        let _ = writeln!(
            out,
            "larder_cache_requests_total{{cache=\"{name}\",result=\"hit\"}} {hits}"
        );
        let _ = writeln!(
            out,
            "larder_cache_requests_total{{cache=\"{name}\",result=\"miss\"}} {misses}"
        );
    }
    out.push_str("# HELP larder_cache_hit_ratio Share of lookups answered from the cache.\n");
    out.push_str("# TYPE larder_cache_hit_ratio gauge\n");
    for (name, (hits, misses)) in counts {
        let ratio = if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        };
        let _ = writeln!(out, "larder_cache_hit_ratio{{cache=\"{name}\"}} {ratio}");
    }
    out.push_str("# HELP larder_cache_entries Answers held in the stock cache.\n");
    out.push_str("# TYPE larder_cache_entries gauge\n");
    let _ = writeln!(
        out,
        "larder_cache_entries{{cache=\"stock\"}} {}",
        cache.len()
    );
    out.push_str(
        "# HELP larder_cache_invalidations_total Invalidations of the stock cache by events.\n",
    );
    out.push_str("# TYPE larder_cache_invalidations_total counter\n");
    let _ = writeln!(
        out,
        "larder_cache_invalidations_total{{cache=\"stock\"}} {}",
        cache.invalidations.load(Relaxed)
    );
    for (metric, help) in [
        (
            "larder_events_delivered_total",
            "Events delivered to each consumer.",
        ),
        (
            "larder_event_failures_total",
            "Failed delivery attempts, by consumer.",
        ),
        (
            "larder_events_parked_total",
            "Events parked after repeated failures, by consumer.",
        ),
        (
            "larder_consumer_position",
            "The last event each consumer has processed.",
        ),
    ] {
        let kind = if metric.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for c in state.bus.consumers() {
            if let Some(s) = state.bus.stats(c.name()) {
                let v = match metric {
                    "larder_events_delivered_total" => s.delivered.load(Relaxed) as i64,
                    "larder_event_failures_total" => s.failures.load(Relaxed) as i64,
                    "larder_events_parked_total" => s.parked.load(Relaxed) as i64,
                    _ => s.position.load(Relaxed),
                };
                let _ = writeln!(out, "{metric}{{consumer=\"{}\"}} {v}", c.name());
            }
        }
    }
    if let Some(relay) = state.bus.relay() {
        let broker = state.bus.broker().unwrap_or(false);
        for (metric, kind, help, v) in [
            (
                "larder_event_relay_published_total",
                "counter",
                "Events this replica's relay published and RabbitMQ confirmed.",
                relay.published.load(Relaxed) as i64,
            ),
            (
                "larder_event_relay_failures_total",
                "counter",
                "Times the relay lost RabbitMQ or the database and started again.",
                relay.failures.load(Relaxed) as i64,
            ),
            (
                "larder_event_relay_position",
                "gauge",
                "The last event the broker confirmed to this replica's relay.",
                relay.position.load(Relaxed),
            ),
            (
                "larder_event_relay_active",
                "gauge",
                "Whether this replica holds the relay's lock and publishes (1) or waits (0).",
                i64::from(relay.active.load(Relaxed)),
            ),
            (
                "larder_event_broker_connected",
                "gauge",
                "Whether this replica is connected to RabbitMQ.",
                i64::from(broker),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {metric} {help}\n# TYPE {metric} {kind}\n{metric} {v}"
            );
        }
    }
    if let Some(cluster) = &state.cluster {
        for (metric, help, v) in [
            (
                "larder_redis_fallbacks_total",
                "Throttle, rate-limit and cache messages Redis did not take, decided by this replica alone.",
                cluster.stats.fallbacks.load(Relaxed),
            ),
            (
                "larder_redis_forgets_received_total",
                "Forget-a-caller messages received from the replicas through Redis.",
                cluster.stats.forgets_received.load(Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter\n{metric} {v}");
        }
    }
    if let Some((health, lag)) = state.db.replica() {
        let in_use = i64::from(health == app::db::ReplicaHealth::InUse);
        let _ = writeln!(
            out,
            "# HELP larder_db_replica_in_use Whether heavy reads go to the read replica (1) or the primary (0).\n\
             # TYPE larder_db_replica_in_use gauge\nlarder_db_replica_in_use {in_use}\n\
             # HELP larder_db_replica_lag_seconds How far behind the primary the read replica was when last measured.\n\
             # TYPE larder_db_replica_lag_seconds gauge\nlarder_db_replica_lag_seconds {:.3}",
            lag.as_secs_f64()
        );
    }
    for (metric, help) in [
        (
            "larder_task_starts_total",
            "Starts of each background task (more than one: it was restarted).",
        ),
        (
            "larder_task_panics_total",
            "Panics of each background task, each followed by a restart.",
        ),
        (
            "larder_task_running",
            "Whether each background task is running now.",
        ),
    ] {
        let kind = if metric.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (task, s) in state.tasks.stats() {
            let v = match metric {
                "larder_task_starts_total" => s.starts.load(Relaxed),
                "larder_task_panics_total" => s.panics.load(Relaxed),
                _ => s.running.load(Relaxed) as u64,
            };
            let _ = writeln!(out, "{metric}{{task=\"{task}\"}} {v}");
        }
    }
    let writer = state.writer.stats();
    for (metric, help, value) in [
        (
            "larder_movement_batches_total",
            "Transactions the movement writer has written (each a batch of movements).",
            writer.batches.load(Relaxed),
        ),
        (
            "larder_movement_batch_commands_total",
            "Movement commands written in those batches (over batches: the mean batch size).",
            writer.commands.load(Relaxed),
        ),
        (
            "larder_movement_batches_failed_total",
            "Batches that failed as a whole and were written again one command at a time.",
            writer.failed.load(Relaxed),
        ),
        (
            "larder_movement_batches_remembered_total",
            "Batches decided from the writer's memory of the rows they touch, written in one round trip.",
            writer.remembered.load(Relaxed),
        ),
        (
            "larder_movement_batches_stale_total",
            "Batches whose remembered rows another writer had changed meanwhile, read and written again.",
            writer.stale.load(Relaxed),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {metric} {help}\n# TYPE {metric} counter\n{metric} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP larder_movement_batch_seconds_total Time the movement writer spent writing batches.\n\
         # TYPE larder_movement_batch_seconds_total counter\nlarder_movement_batch_seconds_total {:.6}",
        writer.busy_micros.load(Relaxed) as f64 / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/pantries/{id}", 200, 0.003);
        m.record("GET", "/pantries/{id}", 200, 0.2);
        m.record("GET", "/pantries/{id}", 404, 0.002);
        let text = m.render();
        assert!(text.contains("larder_http_requests_total{method=\"GET\",route=\"/pantries/{id}\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("status=\"404\"} 1"));
        assert!(text.contains("le=\"0.005\"} 2"), "{text}");
        assert!(text.contains("le=\"0.25\"} 3"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3"));
        assert!(text.contains(
            "larder_http_request_duration_seconds_count{method=\"GET\",route=\"/pantries/{id}\"} 3"
        ));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        use axum::http::Method;
        for i in 0..1000 {
            let m = Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
            assert_eq!(method_label(&m), "other");
        }
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}

//! Prometheus metrics: the process-wide recorder, the request-metrics middleware and the
//! `/metrics` renderer. Labels are bounded: routes are the matched route templates, never raw
//! paths, so a client cannot create series at will.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus handle; installs the recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            Err(e) => {
                // Another recorder is installed (only possible when embedded); render an empty
                // registry rather than fail.
                tracing::warn!(error = %e, "metrics recorder already installed elsewhere");
                PrometheusBuilder::new().build_recorder().handle()
            }
        }
    })
}

/// Every metric's help text and type (`upkeep_engine::metrics`), and the build's version.
fn describe() {
    upkeep_engine::metrics::describe();
    metrics::gauge!("upkeep_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// The count of `GET` answers of `class` (`2xx`, `3xx`, …) on `route`: the series [`track`]
/// counts, as a handle resolved once (for answers made before the router).
pub(crate) fn get_requests(route: &'static str, class: &'static str) -> metrics::Counter {
    metrics::counter!("upkeep_http_requests_total",
        "method" => "GET", "route" => route, "status" => class)
}

/// The time taken by answers on `route`: the series [`track`] records, as a handle.
pub(crate) fn request_duration(route: &'static str) -> metrics::Histogram {
    metrics::histogram!("upkeep_http_request_duration_seconds", "route" => route)
}

/// Middleware: counts every request and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let method = match method.as_str() {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other".to_owned(),
    };
    metrics::counter!("upkeep_http_requests_total", "method" => method, "route" => route.clone(), "status" => class)
        .increment(1);
    metrics::histogram!("upkeep_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

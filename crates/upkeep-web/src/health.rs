//! `/healthz` (the process answers), `/readyz` (the database answers and is migrated, and no
//! background task is down) and
//! `/metrics` (Prometheus text format).
//!
//! With `server.metrics_token` set, `/metrics` answers only a request that carries it
//! (`Authorization: Bearer TOKEN`; 401 otherwise), and `/readyz` without it answers only its
//! status (`ready`, or 503 `not ready`) without saying what is wrong (task names, pending
//! migrations). `/healthz` is always open.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use upkeep_store::Readiness;

use crate::problem::Problem;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Whether the request may see the detail of `/readyz` and `/metrics`.
fn may_see_detail(state: &AppState, headers: &HeaderMap) -> bool {
    let current = state.config.current();
    let Some(expected) = current.config.server.metrics_token.as_deref() else {
        return true;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    same_secret(presented.trim().as_bytes(), expected.as_bytes())
}

/// Compares two secrets in time that depends only on their lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let detail = may_see_detail(&state, &headers);
    let response = readiness(&state).await;
    if detail || response.status().is_success() {
        return response;
    }
    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
}

async fn readiness(state: &AppState) -> Response {
    match state.store.readiness().await {
        Readiness::Ready => match state.health.as_ref().map(|h| h.down()) {
            Some(down) if !down.is_empty() => {
                let names: Vec<&str> = down.iter().map(|(name, _)| *name).collect();
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "background tasks down: {}; see the server log",
                        names.join(", ")
                    ),
                )
                .into_response()
            }
            _ => "ready\n".into_response(),
        },
        Readiness::Unreachable(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer; see the server log",
            )
            .into_response()
        }
        Readiness::MigrationsPending(versions) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("migrations {versions:?} are not applied; run `upkeep migrate`"),
        )
        .into_response(),
    }
}

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !may_see_detail(&state, &headers) {
        return Problem::unauthorized(
            "/metrics needs the token of `server.metrics_token`: Authorization: Bearer TOKEN",
        )
        .into_response();
    }
    let body = crate::metrics::handle().render();
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

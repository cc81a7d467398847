//! `/healthz` (the process answers), `/readyz` (the database answers and is migrated, and no
//! background task is down) and
//! `/metrics` (Prometheus text format).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use upkeep_store::Readiness;

use crate::problem::Problem;
use crate::state::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<AppState>) -> Response {
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

pub async fn metrics() -> Response {
    let body = crate::metrics::handle().render();
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

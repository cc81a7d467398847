//! The public status data: the Statuspage v2-compatible JSON (`/api/v2/*.json`), served from an
//! in-memory [`snapshot`] rebuilt in the background.
//!
//! [`keep_fresh`] (spawned by [`crate::serve`]) rebuilds the snapshot every second from the
//! configuration, the live monitor and rule states and the stored incidents; a request that
//! arrives before the first build builds it itself. Handlers never touch the database: they
//! pick the prepared body for the client's `Accept-Encoding` (br, then gzip, then identity),
//! answer `If-None-Match` with 304, and send `ETag`, `Last-Modified`,
//! `Cache-Control: public, max-age=10` and `Vary: Accept-Encoding`.
//!
//! Scheduled maintenance does not exist yet: the three `scheduled-maintenances` endpoints
//! answer an empty `scheduled_maintenances` list.

pub mod snapshot;
pub mod statuspage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use upkeep_domain::alert_rule::AlertState;

use crate::problem::Problem;
use crate::state::AppState;
use snapshot::{Body, Endpoint, Snapshot};
use statuspage::{Inputs, RECENT_INCIDENTS};

/// How often the background task rebuilds the snapshot.
pub const REBUILD_EVERY: Duration = Duration::from_secs(1);

/// Most unresolved incidents read per rebuild (their declared statuses all count).
const MAX_UNRESOLVED: u32 = 1000;

/// `Cache-Control` of every answer.
const CACHE_CONTROL: &str = "public, max-age=10";

/// The public routes of the status data.
pub fn routes() -> Router<AppState> {
    Endpoint::ALL
        .into_iter()
        .fold(Router::new(), |router, endpoint| {
            router.route(
                endpoint.path(),
                get(move |State(state): State<AppState>, headers: HeaderMap| {
                    serve_endpoint(state, headers, endpoint)
                }),
            )
        })
}

/// Rebuilds the snapshot now from the current inputs and publishes it.
pub async fn rebuild(state: &AppState) -> anyhow::Result<Arc<Snapshot>> {
    let loaded = state.config.current();
    let monitors = state
        .monitors
        .as_ref()
        .map(|m| m.views())
        .unwrap_or_default()
        .into_iter()
        .map(|(id, v)| (id, (v.state.status, v.state.changed_at)))
        .collect::<HashMap<_, _>>();
    let firing = state
        .rules
        .as_ref()
        .map(|r| r.views())
        .unwrap_or_default()
        .into_values()
        .filter(|r| matches!(r.state, AlertState::Firing { .. }))
        .map(|r| (r.component, r.severity))
        .collect();
    let recent = state
        .store
        .list_incidents(RECENT_INCIDENTS as u32, false)
        .await?;
    let unresolved = state.store.list_incidents(MAX_UNRESOLVED, true).await?;
    let now = state.clock.now();
    let previous = state.status.get();
    let built = tokio::task::spawn_blocking(move || -> anyhow::Result<Snapshot> {
        let docs = statuspage::build(&Inputs {
            config: &loaded.config,
            config_loaded_at: loaded.loaded_at,
            monitors,
            firing,
            recent,
            unresolved,
        })?;
        Ok(Snapshot::build(&docs, now, previous.as_deref())?)
    })
    .await??;
    let built = Arc::new(built);
    state.status.set(Arc::clone(&built));
    Ok(built)
}

/// Rebuilds the snapshot every [`REBUILD_EVERY`] until `stop` is cancelled (the first build
/// right away). A failed build is logged and the previous snapshot kept.
pub async fn keep_fresh(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(REBUILD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                if let Err(e) = rebuild(&state).await {
                    tracing::warn!(error = %e, "could not rebuild the status snapshot");
                }
            }
        }
    }
}

/// The content coding chosen for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

/// Picks br, then gzip, then identity among the codings `accept_encoding` allows (`q=0`
/// refuses one; `*` stands for any coding not named).
fn negotiate(accept_encoding: Option<&str>) -> Coding {
    let Some(value) = accept_encoding else {
        return Coding::Identity;
    };
    let mut named: HashMap<String, bool> = HashMap::new();
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let acceptable = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .all(|q| q.trim().parse::<f32>().map_or(true, |q| q > 0.0));
        named.insert(coding, acceptable);
    }
    let allowed = |name: &str| {
        named
            .get(name)
            .copied()
            .unwrap_or_else(|| named.get("*").copied().unwrap_or(false))
    };
    if allowed("br") {
        Coding::Brotli
    } else if allowed("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// The strong ETag of `body` in `coding`.
fn etag(body: &Body, coding: Coding) -> String {
    match coding {
        Coding::Brotli => format!("\"{}-br\"", body.tag),
        Coding::Gzip => format!("\"{}-gzip\"", body.tag),
        Coding::Identity => format!("\"{}\"", body.tag),
    }
}

/// The tag of `If-None-Match` naming the representation about to be sent (weak comparison, as
/// RFC 9110 asks for this header), if any. Only the negotiated encoding's tag matches, so a
/// shared cache revalidating a brotli copy for a gzip-only client gets the gzip body, not a 304.
fn matching_tag(headers: &HeaderMap, body: &Body, coding: Coding) -> Option<String> {
    let ours = etag(body, coding);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours)
        .then_some(ours)
}

/// Builds the first snapshot once, however many requests arrive before it exists: they queue
/// behind one build and use what it made; a failed build answers 503 (and the next request
/// tries again, one at a time).
async fn first_build(state: &AppState) -> Option<Arc<Snapshot>> {
    static FIRST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = FIRST.lock().await;
    if let Some(s) = state.status.get() {
        return Some(s);
    }
    match rebuild(state).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot build the status snapshot");
            None
        }
    }
}

async fn serve_endpoint(state: AppState, headers: HeaderMap, endpoint: Endpoint) -> Response {
    let snapshot = match state.status.get() {
        Some(s) => s,
        None => match first_build(&state).await {
            Some(s) => s,
            None => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the status page is being prepared; try again in a moment",
                );
                p.retry_after = Some(1);
                return p.into_response();
            }
        },
    };
    let Some(body) = snapshot.body(endpoint) else {
        return Problem::internal(&"the status snapshot lacks an endpoint").into_response();
    };
    let coding = negotiate(
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let mut out = HeaderMap::new();
    let mut put = |name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    put(header::LAST_MODIFIED, &body.last_modified);
    put(header::CACHE_CONTROL, CACHE_CONTROL);
    put(header::VARY, "Accept-Encoding");
    if let Some(tag) = matching_tag(&headers, body, coding) {
        put(header::ETAG, &tag);
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    put(header::ETAG, &etag(body, coding));
    put(header::CONTENT_TYPE, "application/json");
    let bytes = match coding {
        Coding::Brotli => {
            put(header::CONTENT_ENCODING, "br");
            body.brotli.clone()
        }
        Coding::Gzip => {
            put(header::CONTENT_ENCODING, "gzip");
            body.gzip.clone()
        }
        Coding::Identity => body.plain.clone(),
    };
    (StatusCode::OK, out, bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_br_then_gzip_and_honours_q_zero() {
        assert_eq!(negotiate(None), Coding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Coding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0.5")), Coding::Gzip);
        assert_eq!(negotiate(Some("*")), Coding::Brotli);
        assert_eq!(negotiate(Some("*, br;q=0")), Coding::Gzip);
        assert_eq!(negotiate(Some("identity")), Coding::Identity);
        assert_eq!(negotiate(Some("deflate")), Coding::Identity);
    }
}

//! `/ping/{key}`: heartbeats from cron jobs and backup jobs (`docs/decisions.md#heartbeats`).
//!
//! `HEAD`, `GET` or `POST` on `/ping/{key}` (success), `/ping/{key}/start`, `/ping/{key}/fail`,
//! `/ping/{key}/log` (recorded, changes no state) and `/ping/{key}/{exit_code}` (0 success,
//! 1–255 failure). `?rid=UUID` pairs a start with its end when runs overlap. A POST body is kept
//! as the run's log, cut to its first 10 KB (never refused for its size). Known keys are the
//! running configuration's push monitors' `push.key` and backups' `push_key`; any other key gets
//! the same 404, whatever it is. Malformed requests are refused (400) before the key is looked
//! at, so no answer tells one key from another. Misses have their own tight per-client budget
//! (`server.ping_miss_rate_limit`, 6 a minute by default): over it, a client's pings to unknown
//! keys are answered 429, so guessing a key is hopeless; its pings to known keys are not
//! affected (a job behind the same address keeps reporting).
//!
//! The answer, `200 OK`, is sent only once the ping is committed: the engine's
//! [`PingWriter`](upkeep_engine::monitoring::pings::PingWriter) batches concurrent pings into
//! one transaction (group commit). These routes are public and unauthenticated, with their own
//! per-address quota (`server.ping_rate_limit`), apart from the pages'.

use std::collections::HashSet;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use upkeep_domain::config::{Config, MonitorKind};
use upkeep_engine::config::LoadedConfig;
use upkeep_engine::monitoring::pings::PingError;
use upkeep_store::monitoring::{PING_BODY_MAX, Ping, PingKind, truncate_body};

use crate::extract::{ApiPath, ApiQuery};
use crate::listener::ClientAddr;
use crate::problem::Problem;
use crate::state::AppState;

/// The ping routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ping/{key}", get(ping).post(ping))
        .route("/ping/{key}/{action}", get(ping_action).post(ping_action))
}

/// `?rid=`: the run id; `?size=`: what a backup job wrote, in bytes (kept on an end).
#[derive(Debug, Deserialize)]
pub struct PingQuery {
    rid: Option<String>,
    size: Option<String>,
}

/// A size in bytes: decimal digits only, at most `i64::MAX`.
fn parse_size(size: &str) -> Option<u64> {
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    size.parse::<u64>()
        .ok()
        .filter(|n| i64::try_from(*n).is_ok())
}

async fn ping(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<PingQuery>,
    body: Body,
) -> Result<Response, Problem> {
    let ping = Incoming {
        client,
        key,
        kind: PingKind::Success,
        exit_code: None,
    };
    handle(state, ping, query, body).await
}

async fn ping_action(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>,
    ApiPath((key, action)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<PingQuery>,
    body: Body,
) -> Result<Response, Problem> {
    let (kind, exit_code) = parse_action(&action)?;
    let ping = Incoming {
        client,
        key,
        kind,
        exit_code,
    };
    handle(state, ping, query, body).await
}

/// A ping as its path gives it, and who sent it.
struct Incoming {
    client: IpAddr,
    key: String,
    kind: PingKind,
    exit_code: Option<u8>,
}

/// `start`, `fail`, `log` or an exit code.
fn parse_action(action: &str) -> Result<(PingKind, Option<u8>), Problem> {
    match action {
        "start" => Ok((PingKind::Start, None)),
        "fail" => Ok((PingKind::Fail, None)),
        "log" => Ok((PingKind::Log, None)),
        code => match code.parse::<u8>() {
            Ok(0) if code.bytes().all(|b| b.is_ascii_digit()) => Ok((PingKind::Success, Some(0))),
            Ok(n) if code.bytes().all(|b| b.is_ascii_digit()) => Ok((PingKind::Fail, Some(n))),
            _ => Err(Problem::bad_request(
                "after the key comes `start`, `fail`, `log` or an exit code from 0 to 255",
            )
            .with_type("invalid-ping")),
        },
    }
}

/// A run id: a UUID in its 8-4-4-4-12 hexadecimal form, returned in lower case.
fn parse_rid(rid: &str) -> Option<String> {
    let ok = rid.len() == 36
        && rid.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    ok.then(|| rid.to_ascii_lowercase())
}

async fn handle(
    state: AppState,
    incoming: Incoming,
    query: PingQuery,
    body: Body,
) -> Result<Response, Problem> {
    let Incoming {
        client,
        key,
        kind,
        exit_code,
    } = incoming;
    let rid = match query.rid.as_deref() {
        None | Some("") => None,
        Some(rid) => Some(parse_rid(rid).ok_or_else(|| {
            Problem::bad_request("`rid` must be a UUID, e.g. 3f2b8c1e-7d4a-4e5f-9a6b-0c1d2e3f4a5b")
                .with_type("invalid-ping")
        })?),
    };
    let size = match query.size.as_deref() {
        None | Some("") => None,
        Some(size) => Some(parse_size(size).ok_or_else(|| {
            Problem::bad_request(
                "`size` must be the backup's size in bytes, a whole number such as 1048576",
            )
            .with_type("invalid-ping")
        })?),
    };
    if !is_known(&state, &key) {
        if let Err(wait) = state.ping_miss_limiter.check(client) {
            return Err(crate::rate_limit::over_quota(wait));
        }
        return Err(unknown_key());
    }
    let max_body = state.config.current().config.server.max_body_bytes;
    let body = read_log(body, max_body).await;
    let ping = Ping {
        key,
        at: state.clock.now(),
        kind,
        exit_code,
        rid,
        body,
    };
    let stored = state.pings.record(ping).await.map_err(refused)?;
    // The size rides on the run's end; recorded after the ping, best effort (the ping itself
    // is committed and must not be sent twice).
    if let Some(size) = size.filter(|_| stored.kind.ends_run())
        && let Err(e) = state.store.set_ping_size(stored.id, size).await
    {
        tracing::warn!(error = %e, ping = stored.id, "could not record a backup's size");
    }
    Ok(recorded())
}

/// The answer to a committed ping.
pub(crate) fn recorded() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "OK\n",
    )
        .into_response()
}

/// The answer to a ping the writer did not commit.
pub(crate) fn refused(e: PingError) -> Problem {
    match e {
        PingError::Stopped => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upkeep is not taking pings right now (starting or stopping); send it again",
            );
            p.retry_after = Some(1);
            p
        }
        // Already logged once, by the writer, for the whole batch.
        PingError::Store(_) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "upkeep could not record the ping; the cause is in the server log",
        ),
    }
}

/// Whether `key` is a ping key of the running configuration.
pub(crate) fn is_known(state: &AppState, key: &str) -> bool {
    known_keys(&state.config.current()).contains(key)
}

/// The one answer for a key that is not configured, the same whatever the key.
fn unknown_key() -> Problem {
    Problem::not_found(
        "no push monitor or backup has this ping key; check the key in the configuration",
    )
    .with_type("unknown-ping-key")
}

/// The first [`PING_BODY_MAX`] bytes of the body as text. The rest is read and dropped (up to
/// `max_total` bytes; beyond that reading stops and the connection is not reused), so a long
/// log never fails the ping.
async fn read_log(mut body: Body, max_total: usize) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(Ok(frame)) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        let room = PING_BODY_MAX.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        if total >= max_total {
            break;
        }
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    truncate_body(&mut text);
    text
}

type KeyCache = Option<(Arc<LoadedConfig>, Arc<HashSet<String>>)>;

/// Ping keys of the running configuration, computed once per configuration.
static KEYS: Mutex<KeyCache> = Mutex::new(None);

fn known_keys(current: &Arc<LoadedConfig>) -> Arc<HashSet<String>> {
    let mut cache = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((config, keys)) = cache.as_ref()
        && Arc::ptr_eq(config, current)
    {
        return Arc::clone(keys);
    }
    let keys = Arc::new(ping_keys(&current.config));
    *cache = Some((Arc::clone(current), Arc::clone(&keys)));
    keys
}

/// Every push monitor's key and every backup's push key.
pub fn ping_keys(config: &Config) -> HashSet<String> {
    let monitors = config.monitors.values().filter_map(|m| match &m.kind {
        MonitorKind::Push(push) => Some(push.key.clone()),
        _ => None,
    });
    let backups = config.backups.values().map(|b| b.push_key.clone());
    monitors.chain(backups).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_run_ids_parse() {
        assert_eq!(parse_action("start").ok(), Some((PingKind::Start, None)));
        assert_eq!(parse_action("0").ok(), Some((PingKind::Success, Some(0))));
        assert_eq!(parse_action("255").ok(), Some((PingKind::Fail, Some(255))));
        for bad in ["256", "-1", "+1", "success", "", "1.0", "99999999999"] {
            assert!(parse_action(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_rid("6F1C1F0E-8F5E-4B8A-9D3C-1A2B3C4D5E6F").as_deref(),
            Some("6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6f")
        );
        assert_eq!(parse_size("1048576"), Some(1_048_576));
        assert_eq!(parse_size("0"), Some(0));
        for bad in ["-1", "+1", "1.5", "1e3", "abc", "9223372036854775808"] {
            assert!(parse_size(bad).is_none(), "{bad}");
        }
        for bad in [
            "",
            "x",
            "6f1c1f0e8f5e4b8a9d3c1a2b3c4d5e6f",
            "6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6g",
        ] {
            assert!(parse_rid(bad).is_none(), "{bad}");
        }
    }
}

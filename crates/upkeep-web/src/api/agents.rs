//! Probe agents (docs/agents.md). An `agent` token — and only one — reads its location's
//! assignments (`GET /api/v1/agent/assignments`, a long poll answered at once when a reload
//! changes them) and posts its results (`POST /api/v1/agent/results`, idempotent on the
//! agent and the batch's `seq`); viewers list the agents (`GET /api/v1/agents`).
//!
//! The assignments carry the monitors' definitions with their secrets (headers, passwords):
//! that is why no other role may read them.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use upkeep_domain::agent::{self as protocol, BatchError};
use upkeep_engine::service::agents::{self as service, AssignmentError, IngestError};
use upkeep_store::agents::Ingested;
use utoipa::{IntoParams, ToSchema};

use super::{TAG_AGENTS, instant};
use crate::auth::{AgentRole, Auth, Viewer};
use crate::extract::ApiQuery;
use crate::problem::Problem;
use crate::state::AppState;

/// The query of `GET /api/v1/agent/assignments`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AssignmentQuery {
    /// The agent's location (`--location`).
    pub location: String,
    /// With `If-None-Match`: seconds to hold the request while nothing changes (at most 30,
    /// and under the server's request timeout).
    pub wait: Option<u64>,
}

/// One monitor's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionView {
    pub id: String,
    /// The monitor's configuration as a YAML document (in JSON form), after `${VAR}`
    /// substitution and tenant-template instantiation: secrets included.
    pub definition: String,
}

/// What a location probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentsView {
    pub location: String,
    /// Also the `ETag` header.
    pub etag: String,
    /// The ids of the components the monitors belong to.
    pub components: Vec<String>,
    pub monitors: Vec<DefinitionView>,
    /// Always true: this server takes each result's `round` (an agent sends it only to a
    /// server that says so; older servers refuse the field).
    pub accepts_round: bool,
}

fn assignment_problem(e: AssignmentError) -> Problem {
    Problem::unprocessable(e.to_string()).with_type("invalid-location")
}

/// Whether `If-None-Match` names `etag`.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
}

#[utoipa::path(get, path = "/api/v1/agent/assignments", tag = TAG_AGENTS, security(("bearer" = [])),
    params(AssignmentQuery, ("If-None-Match" = Option<String>, Header, description = "The ETag of the assignments held")),
    responses((status = 200, body = AssignmentsView, headers(("ETag" = String))),
              (status = 304, description = "Nothing changed within `wait` seconds"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
/// The monitors probed from a location (agent tokens only: definitions carry secrets). With
/// `If-None-Match` and `wait`, the request is held until they change (a reload) or `wait`
/// ends (304).
pub async fn assignments(
    State(state): State<AppState>,
    Auth(caller, _): Auth<AgentRole>,
    ApiQuery(query): ApiQuery<AssignmentQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let mut config = state.config.subscribe();
    let current = config.borrow_and_update().clone();
    let limit = current
        .config
        .server
        .request_timeout
        .saturating_sub(Duration::from_secs(2));
    let wait = Duration::from_secs(query.wait.unwrap_or(0))
        .min(protocol::MAX_WAIT)
        .min(limit);
    let mut answer =
        service::assignments(&current.config, &query.location).map_err(assignment_problem)?;
    // After the location's own checks: a name that is not an agent location binds nothing.
    service::check_location(
        &state.store,
        &caller.token_name,
        &query.location,
        state.clock.now(),
    )
    .await
    .map_err(|e| Problem::internal(&e))?
    .map_err(|e| Problem::forbidden(e.to_string()).with_type("other-location"))?;
    let deadline = tokio::time::Instant::now() + wait;
    while matches(&headers, &answer.etag) {
        let changed = tokio::select! {
            () = tokio::time::sleep_until(deadline) => false,
            () = state.draining.cancelled() => false,
            changed = config.changed() => changed.is_ok(),
        };
        if !changed {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(v) = HeaderValue::from_str(&answer.etag) {
                response.headers_mut().insert(header::ETAG, v);
            }
            return Ok(response);
        }
        let loaded = config.borrow_and_update().clone();
        answer =
            service::assignments(&loaded.config, &query.location).map_err(assignment_problem)?;
    }
    let view = AssignmentsView {
        location: answer.location,
        etag: answer.etag.clone(),
        components: answer.components.into_iter().collect(),
        monitors: answer
            .monitors
            .into_iter()
            .map(|(id, definition)| DefinitionView { id, definition })
            .collect(),
        accepts_round: true,
    };
    let mut response = Json(view).into_response();
    if let Ok(v) = HeaderValue::from_str(&answer.etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// One probe's result in a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResultBody {
    /// The monitor's id (one probed from the batch's location).
    pub monitor: String,
    /// When the probe started, on the agent's clock (RFC 3339).
    #[schema(example = "2026-12-06T09:00:00.123Z")]
    pub at: String,
    pub ok: bool,
    /// At most a day.
    pub latency_ms: u64,
    /// The final HTTP status (http monitors).
    pub status_code: Option<u16>,
    /// Why it failed (required when `ok` is false, absent when true; at most 300 characters).
    pub failure: Option<String>,
    /// The start of the round it was probed for (RFC 3339), as the agent's probe loop laid it
    /// out. Optional (older agents send none). Kept when it is a round start of the monitor's
    /// grid and not more than 5 s after the probe's start or the batch's arrival on the
    /// server's clock: the result is then judged in that round, else in the round its `at`
    /// falls in.
    #[schema(example = "2026-12-06T09:00:00Z")]
    pub round: Option<String>,
}

/// A batch of results (the wire form of `upkeep_domain::agent::Batch`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchBody {
    /// The batch's number, never reused by the agent: a batch posted again with the same
    /// number is stored once.
    pub seq: u64,
    /// When the agent sent it, on its clock (RFC 3339): the server measures the agent's clock
    /// offset from it.
    pub sent_at: String,
    pub location: String,
    pub version: String,
    /// Results the agent's buffer dropped so far (a running total).
    pub dropped: Option<u64>,
    /// At most 2,000; the body at most 1 MiB.
    pub results: Vec<ResultBody>,
}

/// What happened to a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReceipt {
    pub seq: u64,
    /// `stored`, or `duplicate` (stored before: nothing stored again).
    #[schema(example = "stored")]
    pub outcome: String,
    /// Results stored now.
    pub stored: usize,
    /// The agent's clock minus the server's, in milliseconds.
    pub clock_offset_ms: i64,
    /// Whether the results' instants were corrected by that offset (beyond 2 s).
    pub corrected: bool,
}

/// A refusal of a batch whose `seq` the agent used before for other content (its data
/// directory was lost): it numbers its batches again from `next_seq`.
#[derive(Debug, Serialize)]
struct ConflictProblem {
    #[serde(flatten)]
    problem: Problem,
    next_seq: i64,
}

/// A problem+json answer with fields of its own.
fn problem_with<T: Serialize>(status: StatusCode, body: T) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A refusal that names the monitors not assigned, so an agent can send the rest again.
#[derive(Debug, Serialize)]
struct UnassignedProblem {
    #[serde(flatten)]
    problem: Problem,
    unassigned: Vec<String>,
}

fn ingest_problem(e: IngestError) -> Response {
    let detail = e.to_string();
    match e {
        IngestError::OtherLocation(_) => Problem::forbidden(detail)
            .with_type("other-location")
            .into_response(),
        IngestError::TooLarge => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
            .with_type("invalid-body")
            .into_response(),
        IngestError::Malformed(_) => Problem::bad_request(detail)
            .with_type("invalid-body")
            .into_response(),
        IngestError::Refused(BatchError::Unassigned { monitors, .. }) => {
            let problem = Problem::unprocessable(detail).with_type("unassigned-monitors");
            let status = problem.status_code();
            problem_with(
                status,
                UnassignedProblem {
                    problem,
                    unassigned: monitors,
                },
            )
        }
        IngestError::Refused(_) => Problem::unprocessable(detail)
            .with_type("invalid-batch")
            .into_response(),
        IngestError::Store(e) => Problem::from(e).into_response(),
    }
}

#[utoipa::path(post, path = "/api/v1/agent/results", tag = TAG_AGENTS, security(("bearer" = [])),
    request_body = BatchBody,
    responses((status = 200, body = BatchReceipt),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The agent stored another batch with this `seq` before (its data directory was lost): nothing is stored; `next_seq` is the first free number, from which the agent numbers its batches again", body = Problem, content_type = "application/problem+json"),
              (status = 413, body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "The batch breaks a rule; nothing of it is stored. A batch with results of monitors not probed from its location is refused with `unassigned` listing them", body = Problem, content_type = "application/problem+json")))]
/// Posts a batch of results (agent tokens only). Stored whole or refused whole; a batch
/// posted again (same `seq`, same content) is stored once and answered `duplicate`; another
/// batch under a `seq` already used is refused (409) with the next free one. Also the agent's
/// heartbeat: an empty batch at least every 10 s.
pub async fn results(
    State(state): State<AppState>,
    Auth(caller, _): Auth<AgentRole>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return Problem::new(
                e.status(),
                format!("the body cannot be read: {}", e.body_text()),
            )
            .with_type("invalid-body")
            .into_response();
        }
    };
    let now = state.clock.now();
    let config = state.config.current();
    match service::ingest(&state.store, &config.config, &caller.token_name, &body, now).await {
        Ok(done) => {
            let (outcome, stored) = match done.outcome {
                Ingested::Stored(n) => ("stored", n),
                Ingested::Duplicate => ("duplicate", 0),
                Ingested::Conflict { next_seq } => {
                    let problem = Problem::new(
                        StatusCode::CONFLICT,
                        format!(
                            "batch {} was stored before with other results: this agent numbers its batches again (its data directory was lost?); numbers from {next_seq} on are free",
                            done.seq
                        ),
                    )
                    .with_type("seq-conflict");
                    return problem_with(
                        StatusCode::CONFLICT,
                        ConflictProblem { problem, next_seq },
                    );
                }
            };
            Json(BatchReceipt {
                seq: done.seq,
                outcome: outcome.to_owned(),
                stored,
                clock_offset_ms: done.clock_offset_ms,
                corrected: done.corrected,
            })
            .into_response()
        }
        Err(e) => ingest_problem(e),
    }
}

/// A probe agent as last heard from.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// Its token's name.
    pub name: String,
    pub location: String,
    pub version: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// Its clock minus the server's at its last batch, in milliseconds.
    pub clock_offset_ms: i64,
    /// Results its buffer dropped (its running total).
    pub dropped: i64,
    /// Whether its token is still valid.
    pub active: bool,
    /// `ok`, or `warning` when not heard from for 30 s or its clock is more than 5 s off.
    #[schema(example = "ok")]
    pub state: String,
    pub reason: Option<String>,
    /// Monitors probed from its location.
    pub monitors: usize,
}

#[utoipa::path(get, path = "/api/v1/agents", tag = TAG_AGENTS, security(("bearer" = [])),
    responses((status = 200, body = [AgentView]), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
/// Every probe agent ever heard from: location, version, last seen, clock offset, state.
pub async fn list(
    State(state): State<AppState>,
    _: Auth<Viewer>,
) -> Result<Json<Vec<AgentView>>, Problem> {
    let config = state.config.current();
    let agents = service::list(&state.store, &config.config, state.clock.now()).await?;
    Ok(Json(
        agents
            .into_iter()
            .map(|a| AgentView {
                name: a.record.name,
                location: a.record.location,
                version: a.record.version,
                first_seen_at: instant(a.record.first_seen_at),
                last_seen_at: instant(a.record.last_seen_at),
                clock_offset_ms: a.record.clock_offset_ms,
                dropped: a.record.dropped,
                active: a.record.active,
                state: a.state.as_str().to_owned(),
                reason: a.reason,
                monitors: a.monitors,
            })
            .collect(),
    ))
}

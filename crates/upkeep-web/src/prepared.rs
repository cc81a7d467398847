//! The public snapshot's fixed paths answered before the router: `/`, `/history`, the feeds,
//! the calendar, the stylesheet and the Statuspage JSON are the bulk of the public traffic, and
//! their answers are prepared bodies ([`crate::status::snapshot`]). A plain `GET` of one of
//! them (no `Authorization`) is answered here with the same [`crate::status::send`] the routes
//! use (the body's prepared headers carry the security headers), after the same per-client
//! quota ([`crate::rate_limit`]), counted in the same metrics, but without the router's per-request layers (the
//! request span, the boxed middleware futures, the time limit, labelled metric lookups). On a
//! connection still below hyper ([`crate::wire`]), [`Prepared::answer_plain`] writes the same
//! answer as bytes, after the same lookup and quota.
//!
//! Heartbeats are the other bulk: a plain `GET /ping/{key}` (no query, no body) of a configured
//! key, within the client's ping quota, is recorded here through the same ping writer, with the
//! same answers ([`crate::ping`]), time limit, security headers and metrics as the route's.
//!
//! Everything else — another method, a token, a path with parameters, a query or a body, an
//! unknown key, a client over its quota (whose 429 the router words), no snapshot yet — goes to
//! the router unchanged.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use upkeep_domain::http_head::PlainGet;
use upkeep_store::monitoring::{Ping, PingKind};

use crate::metrics::{get_requests, request_duration};
use crate::state::AppState;
use crate::status::snapshot::Body;
use crate::status::{Choice, Coding};

/// The answer to a prepared heartbeat, once its ping is committed.
pub(crate) type PingAnswer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// One fixed path (the snapshot's body of the same index), and its metrics' handles.
struct Route {
    path: &'static str,
    immutable: bool,
    ok: Counter,
    not_modified: Counter,
    duration: Histogram,
}

/// The metrics of the ping route, as the router labels them.
struct PingRoute {
    ok: Counter,
    refused: Counter,
    duration: Histogram,
}

/// The route the router matches heartbeats with (the `route` label of its metrics).
const PING_ROUTE: &str = "/ping/{key}";

/// The body of a plain read's answer ([`Prepared::answer_plain`]): its bytes, and for a large
/// identity body the sealed file that holds the same bytes ([`crate::body_file`]).
pub(crate) struct PlainBody {
    pub(crate) bytes: Bytes,
    pub(crate) file: Option<Arc<crate::body_file::BodyFile>>,
}

/// The prepared answers of the fixed paths.
pub(crate) struct Prepared {
    state: AppState,
    /// In the order of [`crate::status::fixed_paths`]; a dozen, so a scan finds one sooner
    /// than a hash of the path would.
    routes: Vec<Route>,
    ping: PingRoute,
    /// Answers written below hyper ([`Prepared::answer_plain`]).
    fast: Counter,
}

impl Prepared {
    /// The fixed paths of `state`'s snapshot. The metrics recorder must be installed
    /// ([`crate::metrics::handle`]) so that the handles count.
    pub(crate) fn new(state: AppState) -> Self {
        let routes = crate::status::fixed_paths()
            .map(|(path, immutable)| Route {
                path,
                immutable,
                ok: get_requests(path, "2xx"),
                not_modified: get_requests(path, "3xx"),
                duration: request_duration(path),
            })
            .collect();
        let ping = PingRoute {
            ok: get_requests(PING_ROUTE, "2xx"),
            refused: get_requests(PING_ROUTE, "5xx"),
            duration: request_duration(PING_ROUTE),
        };
        Self {
            state,
            routes,
            ping,
            fast: metrics::counter!("upkeep_http_fast_answers_total"),
        }
    }

    /// The answer to `request` from `client`, when it is a plain read of a fixed path within
    /// the client's quota and the snapshot is built; `None` leaves it to the router.
    pub(crate) fn answer<B>(&self, request: &Request<B>, client: IpAddr) -> Option<Response> {
        if request.method() != Method::GET {
            return None;
        }
        let (i, route) = self.route(request.uri().path())?;
        let headers = request.headers();
        if headers.contains_key(header::AUTHORIZATION) {
            return None;
        }
        let started = Instant::now();
        let body = self.body(i, client)?;
        let response = crate::status::send(headers, &body, route.immutable);
        route.count(response.status() == StatusCode::NOT_MODIFIED, started);
        Some(response)
    }

    /// The answer to the plain `GET` `get` from `client` ([`crate::wire`]), when it is of a
    /// fixed path within the client's quota and the snapshot is built: its head appended to
    /// `out`, and the body to send after it. `None` leaves it to hyper.
    pub(crate) fn answer_plain(
        &self,
        get: &PlainGet<'_>,
        client: IpAddr,
        out: &mut Vec<u8>,
    ) -> Option<PlainBody> {
        let (i, route) = self.route(get.path)?;
        let started = Instant::now();
        let body = self.body(i, client)?;
        let choice = Choice::of(&body, get.accept_encoding, get.if_none_match);
        let bytes = choice.bytes(&body);
        let prepared = &body.headers;
        let i = choice.coding.index();
        let (map, lines) = if choice.not_modified {
            (&prepared.not_modified[i], &prepared.wire_not_modified[i])
        } else {
            (&prepared.ok[i], &prepared.wire_ok[i])
        };
        if route.immutable {
            // The stylesheet's answers replace the pages' `Cache-Control`, as `send` does.
            let mut map = map.clone();
            map.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(crate::status::CACHE_CONTROL_STATIC),
            );
            let mut lines = Vec::with_capacity(512);
            crate::wire::header_lines(&map, &mut lines);
            crate::wire::head(out, choice.not_modified, &lines, bytes.len());
        } else {
            crate::wire::head(out, choice.not_modified, lines, bytes.len());
        }
        route.count(choice.not_modified, started);
        self.fast.increment(1);
        // The identity bytes of a large body can be sent from its file.
        let file = (choice.coding == Coding::Identity && !choice.not_modified)
            .then(|| body.file.clone())
            .flatten();
        Some(PlainBody { bytes, file })
    }

    /// The fixed path `path` (its index in the snapshot's fixed bodies).
    fn route(&self, path: &str) -> Option<(usize, &Route)> {
        self.routes.iter().enumerate().find(|(_, r)| r.path == path)
    }

    /// The snapshot's body of fixed path `i`, when the snapshot is built and `client` is
    /// within its quota (which this spends).
    fn body(&self, i: usize, client: IpAddr) -> Option<Arc<Body>> {
        let snapshot = self.state.status.get()?;
        let body = Arc::clone(snapshot.fixed_body(i)?);
        self.state.public_limiter.check(client).ok()?;
        Some(body)
    }
}

impl Route {
    /// Counts an answer begun at `started`, as the router's metrics would.
    fn count(&self, not_modified: bool, started: Instant) {
        if not_modified {
            self.not_modified.increment(1);
        } else {
            self.ok.increment(1);
        }
        self.duration.record(started.elapsed().as_secs_f64());
    }
}

impl Prepared {
    /// The answer to `request` from `client`, when it is a plain heartbeat (`GET /ping/{key}`
    /// of a configured key, no query, no body) within the client's ping quota; `None` leaves it
    /// to the router.
    pub(crate) fn ping<B>(
        this: &Arc<Self>,
        request: &Request<B>,
        client: IpAddr,
    ) -> Option<PingAnswer> {
        let key = plain_ping_key(request)?;
        // The key is looked up before the quota is spent: an unknown key goes to the route,
        // whose own check of the quota (and of the miss budget) is then the only one.
        if !crate::ping::is_known(&this.state, key) {
            return None;
        }
        this.state.ping_limiter.check(client).ok()?;
        let this = Arc::clone(this);
        let key = key.to_owned();
        Some(Box::pin(async move {
            let started = Instant::now();
            let state = &this.state;
            let ping = Ping {
                key,
                at: state.clock.now(),
                kind: PingKind::Success,
                exit_code: None,
                rid: None,
                body: String::new(),
            };
            let limit = state.config.current().config.server.request_timeout;
            let mut response = match tokio::time::timeout(limit, state.pings.record(ping)).await {
                Ok(Ok(_)) => crate::ping::recorded(),
                Ok(Err(e)) => crate::ping::refused(e).into_response(),
                Err(_) => crate::timed_out(limit),
            };
            crate::security_headers(response.headers_mut());
            if response.status().is_success() {
                this.ping.ok.increment(1);
            } else {
                // The line the router's request trace writes for a failed answer.
                tracing::warn!(
                    status = response.status().as_u16(),
                    "a heartbeat was not recorded"
                );
                this.ping.refused.increment(1);
            }
            this.ping.duration.record(started.elapsed().as_secs_f64());
            response
        }))
    }
}

/// The key of a plain heartbeat: `GET /ping/{key}` with no query and no body. A key that is
/// percent-encoded (decoded by the route's extractor), empty or followed by more of the path
/// is not one.
fn plain_ping_key<B>(request: &Request<B>) -> Option<&str> {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return None;
    }
    let key = request.uri().path().strip_prefix("/ping/")?;
    if key.is_empty() || key.contains(['/', '%']) {
        return None;
    }
    let headers = request.headers();
    let no_body = !headers.contains_key(header::TRANSFER_ENCODING)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0");
    no_body.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap_or_default()
    }

    #[test]
    fn only_a_plain_get_of_one_key_is_a_plain_heartbeat() {
        let get = |uri: &str| request(Method::GET, uri, &[]);
        assert_eq!(plain_ping_key(&get("/ping/job-key")), Some("job-key"));
        assert_eq!(
            plain_ping_key(&request(
                Method::GET,
                "/ping/job-key",
                &[("content-length", "0")]
            )),
            Some("job-key")
        );
        for uri in [
            "/ping/",
            "/ping/job-key/",
            "/ping/job-key/fail",
            "/ping//job-key",
            "//ping/job-key",
            "/ping/job%2Dkey",
            "/ping/job-key?",
            "/ping/job-key?rid=6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6f",
            "/pings/job-key",
        ] {
            assert_eq!(plain_ping_key(&get(uri)), None, "{uri}");
        }
        for method in [Method::HEAD, Method::POST, Method::PUT] {
            assert_eq!(
                plain_ping_key(&request(method.clone(), "/ping/job-key", &[])),
                None,
                "{method}"
            );
        }
        for headers in [
            [("content-length", "00")],
            [("content-length", "5")],
            [("content-length", " 0")],
            [("transfer-encoding", "chunked")],
        ] {
            assert_eq!(
                plain_ping_key(&request(Method::GET, "/ping/job-key", &headers)),
                None,
                "{headers:?}"
            );
        }
    }
}

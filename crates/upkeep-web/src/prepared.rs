//! The public snapshot's fixed paths answered before the router: `/`, `/history`, the feeds,
//! the calendar, the stylesheet and the Statuspage JSON are the bulk of the public traffic, and
//! their answers are prepared bodies ([`crate::status::snapshot`]). A plain `GET` of one of
//! them (no `Authorization`) is answered here with the same [`crate::status::send`] the routes
//! use (the body's prepared headers carry the security headers), after the same per-client
//! quota ([`crate::rate_limit`]), counted in the same metrics, but without the router's per-request layers (the
//! request span, the boxed middleware futures, the time limit, labelled metric lookups).
//!
//! Everything else — another method, a token, a path with parameters, a client over its quota
//! (whose 429 the router words), no snapshot yet — goes to the router unchanged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use metrics::{Counter, Histogram};

use crate::state::AppState;

/// One fixed path: where its body is in the snapshot, and its metrics' handles.
struct Route {
    path: &'static str,
    immutable: bool,
    ok: Counter,
    not_modified: Counter,
    duration: Histogram,
}

/// The prepared answers of the fixed paths.
pub(crate) struct Prepared {
    state: AppState,
    routes: HashMap<&'static str, Route>,
}

impl Prepared {
    /// The fixed paths of `state`'s snapshot. The metrics recorder must be installed
    /// ([`crate::metrics::handle`]) so that the handles count.
    pub(crate) fn new(state: AppState) -> Self {
        let routes = crate::status::fixed_paths()
            .map(|(path, immutable)| {
                let counter = |class: &'static str| {
                    metrics::counter!("upkeep_http_requests_total",
                        "method" => "GET", "route" => path, "status" => class)
                };
                let route = Route {
                    path,
                    immutable,
                    ok: counter("2xx"),
                    not_modified: counter("3xx"),
                    duration: metrics::histogram!(
                        "upkeep_http_request_duration_seconds", "route" => path),
                };
                (path, route)
            })
            .collect();
        Self { state, routes }
    }

    /// The answer to `request` from `client`, when it is a plain read of a fixed path within
    /// the client's quota and the snapshot is built; `None` leaves it to the router.
    pub(crate) fn answer<B>(&self, request: &Request<B>, client: IpAddr) -> Option<Response> {
        if request.method() != Method::GET {
            return None;
        }
        let route = self.routes.get(request.uri().path())?;
        let headers = request.headers();
        if headers.contains_key(header::AUTHORIZATION) {
            return None;
        }
        let started = Instant::now();
        let snapshot = self.state.status.get()?;
        let body = snapshot.body(route.path)?;
        self.state.public_limiter.check(client).ok()?;
        let response = crate::status::send(headers, body, route.immutable);
        if response.status() == StatusCode::NOT_MODIFIED {
            route.not_modified.increment(1);
        } else {
            route.ok.increment(1);
        }
        route.duration.record(started.elapsed().as_secs_f64());
        Some(response)
    }
}

//! upkeep's HTTP side: one axum router for the public pages, the probes' and machines' endpoints
//! and the admin API, with the protections every route shares.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers translate requests into calls
//! on the store, the engines and the pure domain, and every failure into a [`problem::Problem`].
//!
//! Layers, outermost first: panic guard → request trace → metrics → security headers →
//! time limit → body size limit → per-address rate limit (one quota for pages and the API,
//! another for `/ping/*`) → routes. Before them, each connection's service ([`Connection`])
//! answers a plain `GET` of one of the status snapshot's fixed paths, and a plain heartbeat
//! (`GET /ping/{key}`), from [`prepared`], with the same quota, headers and metrics.

pub mod api;
pub mod auth;
pub mod body_file;
pub mod confirmation_budget;
pub mod console;
pub mod extract;
mod health;
pub mod hooks;
pub mod inventory_report;
pub mod listener;
pub mod metrics;
pub mod ping;
mod prepared;
pub mod problem;
pub mod rate_limit;
pub mod reports;
pub mod state;
pub mod status;
pub mod subscribe;
mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;

use crate::listener::{ClientAddr, LimitedListener, PeerAddr};
use crate::problem::Problem;
use crate::state::AppState;

/// Content-Security-Policy of every response: nothing but our own resources, no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The headers every response carries unless it sets them itself.
pub(crate) const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
];

/// Adds [`SECURITY_HEADERS`] that `headers` lacks (the status snapshot's prepared headers).
pub(crate) fn security_headers(headers: &mut axum::http::HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let server = state.config.current().config.server.clone();
    metrics::handle();
    let (admin, mut openapi) = api::routes();
    let (hooks, hooks_doc) = hooks::routes();
    openapi.merge(hooks_doc);
    openapi.merge(status::statuspage_doc::document());
    rate_limit::document_429(&mut openapi);
    api::finish_document(&mut openapi);
    let openapi_json: Arc<str> = openapi.to_json().unwrap_or_default().into();

    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let body = Arc::clone(&openapi_json);
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                }
            }),
        );

    // A successful write through the API or a hook may change what the status page shows.
    let writes =
        Router::new()
            .merge(admin)
            .merge(hooks)
            .layer(axum::middleware::from_fn_with_state(
                state.status.clone(),
                poke_status_after_writes,
            ));
    let limited = Router::new()
        .merge(public)
        .merge(writes)
        .merge(status::routes())
        .merge(subscribe::routes())
        .merge(console::routes(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit_clients_or_tokens,
        ));
    let pings = ping::routes().layer(axum::middleware::from_fn_with_state(
        Arc::clone(&state.ping_limiter),
        rate_limit::limit_public,
    ));
    let routes = Router::new()
        .merge(limited)
        .merge(pings)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(server.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            server.request_timeout,
            time_limit,
        ));
    SECURITY_HEADERS
        .into_iter()
        .fold(routes, |routes, (name, value)| {
            routes.layer(header_default(name, value))
        })
        .layer(axum::middleware::from_fn(close_after_429))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(CatchPanicLayer::custom(|_| {
            Problem::internal(&"a request handler panicked").into_response()
        }))
        .with_state(state)
}

/// The span of a request: its method, path and real client (see [`listener::client_of`]).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let client = request
        .extensions()
        .get::<axum::extract::ConnectInfo<ClientAddr>>()
        .map(|info| info.0.0);
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        version = ?request.version(),
        client = client.map(tracing::field::display),
    )
}

/// Middleware: after a successful request that is not a read, asks the status snapshot to
/// rebuild now instead of at its next poll.
async fn poke_status_after_writes(
    axum::extract::State(status): axum::extract::State<status::snapshot::SnapshotCell>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(request).await;
    if write && response.status().is_success() {
        status.poke();
    }
    response
}

/// Middleware: a `429` closes its connection (`Connection: close`), so a client over its quota
/// cannot keep a slot busy with more requests on the same connection.
async fn close_after_429(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Sets `name: value` on every response that does not set it itself.
fn header_default(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Middleware: a request that takes longer than `limit` is answered 503 (the server was too
/// slow, not the client) with a problem document; its handler is dropped.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => timed_out(limit),
    }
}

/// The answer to a request not answered within `limit` (`server.request_timeout`).
pub(crate) fn timed_out(limit: Duration) -> axum::response::Response {
    tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "upkeep could not answer within {} s; try again",
            limit.as_secs_f32()
        ),
    )
    .with_type("timeout")
    .into_response()
}

async fn not_found() -> Problem {
    Problem::not_found(
        "there is nothing at this address; the API is described at /api/v1/openapi.json",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this address does not accept this method; see /api/v1/openapi.json",
    )
}

/// How long a client may take to send a request's headers before the connection is closed
/// (slow-loris defence); also the idle time after which a keep-alive connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting, lets requests
/// in flight finish, closes idle connections, and returns. Background upkeep of the HTTP side
/// (rate-limit memory, quota changes on reload) runs until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    stop: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, stop, shutdown, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with a chosen header read timeout.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    stop: CancellationToken,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let max_connections = state.config.current().config.server.max_connections;
    let config = state.config.clone();
    tokio::spawn(status::keep_fresh(state.clone(), stop.clone()));
    tokio::spawn(keep_limits(state.clone(), stop));
    let draining = state.draining.clone();
    let app = router(state.clone());
    let prepared = Arc::new(prepared::Prepared::new(state));
    let listener = LimitedListener::new(listener, max_connections);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    let per_client = listener::PerClient::default();
    loop {
        let (stream, addr, slot) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // One client may hold at most `max_connections_per_client` connections; a trusted
        // proxy carries many clients and is not capped.
        let counted = {
            let current = config.current();
            let server = &current.config.server;
            let cap = if upkeep_domain::net::is_trusted(addr.ip(), &server.trusted_proxies) {
                0
            } else {
                server.max_connections_per_client
            };
            per_client.admit(addr.ip(), cap)
        };
        let Some(counted) = counted else {
            ::metrics::counter!("upkeep_http_connections_refused_total").increment(1);
            tracing::debug!(peer = %addr, "connection refused: the client holds too many");
            drop(stream);
            continue;
        };
        let config = config.clone();
        let app = app.clone();
        let prepared = Arc::clone(&prepared);
        let http = http.clone();
        let watcher = graceful.watcher();
        let draining = draining.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            let proxy_protocol = {
                let current = config.current();
                let server = &current.config.server;
                server.proxy_protocol
                    && upkeep_domain::net::is_trusted(addr.ip(), &server.trusted_proxies)
            };
            // Behind a proxy speaking the PROXY protocol, its header names the peer.
            let source = if proxy_protocol {
                let header = tokio::time::timeout(
                    header_read_timeout,
                    listener::read_proxy_header(&mut stream),
                )
                .await;
                match header {
                    Ok(Ok(source)) => source.unwrap_or(addr),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, peer = %addr, "connection closed: no PROXY header");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(peer = %addr, "connection closed: no PROXY header in time");
                        return;
                    }
                }
            } else {
                addr
            };
            let service = Connection {
                router: app,
                prepared,
                config,
                source,
                peer: addr,
            };
            // Plain reads of the snapshot are answered below hyper until a request is not one.
            let stream = match wire::serve(stream, &service, header_read_timeout, &draining).await {
                wire::Outcome::Handoff(stream) => stream,
                wire::Outcome::Closed => return,
            };
            let conn = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, peer = %addr, "connection ended with an error");
            }
            drop(counted);
            drop(slot);
        });
    }
    drop(listener);
    draining.cancel();
    graceful.shutdown().await;
    Ok(())
}

/// What one connection runs: its plain reads of the snapshot are answered by [`wire`] until
/// a request is not one; then hyper serves the rest of it, and for each request the real
/// client is found ([`listener::client_of`]), [`prepared`] answers the snapshot's fixed paths
/// and plain heartbeats, and the router everything else.
struct Connection {
    router: Router,
    prepared: Arc<prepared::Prepared>,
    config: upkeep_engine::config::ConfigHandle,
    /// The client the connection is from (the PROXY header's source behind such a proxy).
    source: std::net::SocketAddr,
    /// The TCP peer.
    peer: std::net::SocketAddr,
}

impl Connection {
    /// The client of a request with these `X-Forwarded-For` values ([`listener::client_of`]).
    /// Without one the client is the source whoever it is, so the configuration (its trusted
    /// proxies) is read only for a request that names one.
    fn client<'h>(&self, forwarded_for: impl IntoIterator<Item = &'h str>) -> std::net::IpAddr {
        let mut forwarded_for = forwarded_for.into_iter().peekable();
        if forwarded_for.peek().is_none() {
            return self.source.ip().to_canonical();
        }
        let current = self.config.current();
        listener::client_of(
            self.source.ip(),
            forwarded_for,
            &current.config.server.trusted_proxies,
        )
    }
}

impl hyper::service::Service<axum::http::Request<hyper::body::Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Answer;

    fn call(&self, mut request: axum::http::Request<hyper::body::Incoming>) -> Self::Future {
        let client = self.client(listener::forwarded_for(request.headers()));
        if let Some(response) = self.prepared.answer(&request, client) {
            return Answer::Prepared(std::future::ready(Ok(response)));
        }
        if let Some(answer) = prepared::Prepared::ping(&self.prepared, &request, client) {
            return Answer::Ping(answer);
        }
        let extensions = request.extensions_mut();
        extensions.insert(axum::extract::ConnectInfo(ClientAddr(client)));
        extensions.insert(PeerAddr(self.peer));
        let request = request.map(axum::body::Body::new);
        Answer::Routed(tower::Service::call(&mut self.router.clone(), request))
    }
}

/// The answer to one request of a [`Connection`].
enum Answer {
    Prepared(std::future::Ready<Result<axum::response::Response, std::convert::Infallible>>),
    Routed(axum::routing::future::RouteFuture<std::convert::Infallible>),
    Ping(prepared::PingAnswer),
}

impl Future for Answer {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.get_mut() {
            Answer::Prepared(ready) => std::pin::Pin::new(ready).poll(cx),
            Answer::Routed(routed) => std::pin::Pin::new(routed).poll(cx),
            Answer::Ping(answer) => answer.as_mut().poll(cx).map(Ok),
        }
    }
}

/// Applies rate-limit changes from reloads and forgets idle clients every minute.
async fn keep_limits(state: AppState, stop: CancellationToken) {
    let mut changes = state.config.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let server = changes.borrow_and_update().config.server.clone();
                let (limits, ping) = (server.rate_limit, server.ping_rate_limit);
                state.public_limiter.reconfigure(limits.per_second, limits.burst);
                state.ping_limiter.reconfigure(ping.per_second, ping.burst);
                let misses = server.ping_miss_rate_limit;
                state
                    .ping_miss_limiter
                    .reconfigure(misses.per_minute, misses.burst);
                let tokens = server.token_rate_limit;
                state.token_limiter.reconfigure(tokens.per_second, tokens.burst);
                let subscribe = server.subscribe_rate_limit;
                state
                    .subscribe_limiter
                    .reconfigure(subscribe.per_minute, subscribe.burst);
                state
                    .confirmation_budget
                    .reconfigure(server.confirmation_mail_budget);
            }
            _ = tick.tick() => {
                state.public_limiter.forget_idle();
                state.ping_limiter.forget_idle();
                state.subscribe_limiter.forget_idle();
                state.ping_miss_limiter.forget_idle();
                state.token_limiter.forget_idle();
                state.blocked.forget_idle();
                let now = state.clock.now().as_millisecond();
                state.confirmation_budget.forget_idle(now);
            }
        }
    }
}

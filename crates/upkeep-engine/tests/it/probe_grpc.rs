//! `grpc` probes against real gRPC health servers the test runs on loopback (tonic-health's,
//! served over HTTP/2 in plaintext or TLS): SERVING and NOT_SERVING as they toggle, a service
//! the server does not know, a server without the health service, a token checked by the
//! server (from the configuration or a file, never shown), a certificate trusted through
//! `ca_file` and refused without it, refused ports and silent listeners.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

use crate::probe_support::{SECRET, TestCert, closed_port, failure, monitor, silent_listener};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!("{{ component: c, grpc: {{ {fields} }}, {rest} }}"));
    Prober::new().unwrap().probe(&m).await
}

/// Serves `routes` over HTTP/2 on a loopback port, in TLS when `tls` is given.
async fn serve(routes: Routes, tls: Option<tokio_rustls::TlsAcceptor>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(routes.clone());
            let tls = tls.clone();
            tokio::spawn(async move {
                let http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http2.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http2.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    addr
}

/// A health server (plaintext) and the reporter that toggles its statuses.
async fn health_server() -> (SocketAddr, HealthReporter) {
    let (reporter, service) = tonic_health::server::health_reporter();
    (serve(Routes::new(service), None).await, reporter)
}

#[tokio::test]
async fn grpc_reports_serving_and_not_serving_as_they_toggle() {
    let (server, reporter) = health_server().await;
    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    let whole = format!(r#"url: "grpc://{server}""#);
    let cart = format!(r#"url: "grpc://{server}", service: shop.Cart"#);

    let outcome = probe(&whole, "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = probe(
        &cart,
        r#"timeout: 5s, conditions: ["[BODY] == SERVING", "[BODY].status == SERVING", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    reporter
        .set_service_status("shop.Cart", ServingStatus::NotServing)
        .await;
    let outcome = probe(&cart, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "the service `shop.Cart` is NOT_SERVING (expected SERVING)"
    );
    let outcome = probe(&cart, r#"timeout: 5s, conditions: ["[BODY] == SERVING"]"#).await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY] == SERVING` failed: the body was "NOT_SERVING""#
    );
    // A condition on [BODY] replaces the implicit SERVING check.
    let outcome = probe(&cart, r#"timeout: 5s, conditions: ["[BODY] != UNKNOWN"]"#).await;
    assert!(outcome.ok, "{outcome:?}");

    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let outcome = probe(&whole, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        "the server is NOT_SERVING (expected SERVING)"
    );

    reporter
        .set_service_status("shop.Cart", ServingStatus::Serving)
        .await;
    let outcome = probe(&cart, "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn grpc_unknown_services_and_servers_without_health_are_explained() {
    let (server, _reporter) = health_server().await;
    let outcome = probe(
        &format!(r#"url: "grpc://{server}", service: shop.Nope"#),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "{server} does not know the service `shop.Nope` (NOT_FOUND: service not registered)"
        )
    );

    // A gRPC server with no service at all answers every call UNIMPLEMENTED.
    let bare = serve(Routes::default(), None).await;
    let outcome = probe(&format!(r#"url: "grpc://{bare}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "{bare} has no health service (UNIMPLEMENTED): it does not implement grpc.health.v1.Health"
        )
    );
}

#[tokio::test]
async fn grpc_sends_metadata_from_the_configuration_or_a_file_and_never_shows_it() {
    let (reporter, service) = tonic_health::server::health_reporter();
    let guarded = tonic::service::interceptor::InterceptedService::new(
        service,
        |request: tonic::Request<()>| {
            let sent = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if sent == format!("Bearer {SECRET}") {
                Ok(request)
            } else {
                // Servers sometimes echo what they refused (here the credential without its
                // scheme); the probe must mask it.
                let credential = sent.rsplit(' ').next().unwrap_or("");
                Err(tonic::Status::unauthenticated(format!(
                    "token `{credential}` refused"
                )))
            }
        },
    );
    let server = serve(Routes::new(guarded), None).await;
    let _keep = reporter;

    let right = format!(
        r#"url: "grpc://{server}", metadata: {{ authorization: "Bearer {SECRET}", x-tenant: acme }}"#
    );
    let outcome = probe(&right, "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("Bearer {SECRET}\n")).unwrap();
    let from_file = format!(
        r#"url: "grpc://{server}", metadata_files: {{ authorization: "{}" }}"#,
        token_file.display()
    );
    let outcome = probe(&from_file, "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let wrong =
        format!(r#"url: "grpc://{server}", metadata: {{ authorization: "Basic {SECRET}" }}"#);
    let outcome = probe(&wrong, "timeout: 5s").await;
    // `failure` asserts that the token does not show.
    assert_eq!(
        failure(&outcome),
        format!(
            "{server} refused the call as unauthenticated (UNAUTHENTICATED: token `***` refused)"
        )
    );

    let outcome = probe(&format!(r#"url: "grpc://{server}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("{server} refused the call as unauthenticated (UNAUTHENTICATED: token `` refused)")
    );

    let missing = format!(
        r#"url: "grpc://{server}", metadata_files: {{ authorization: "{}" }}"#,
        dir.path().join("absent").display()
    );
    let outcome = probe(&missing, "timeout: 5s").await;
    assert!(
        failure(&outcome).starts_with("cannot read the metadata `authorization` file "),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn grpc_over_tls_trusts_the_ca_file_and_refuses_an_unknown_authority() {
    let cert = TestCert::expiring_in(30);
    let (reporter, service) = tonic_health::server::health_reporter();
    let server = serve(Routes::new(service), Some(cert.acceptor())).await;
    let _keep = reporter;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &cert.pem).unwrap();
    let port = server.port();

    let outcome = probe(
        &format!(
            r#"url: "grpcs://localhost:{port}", ca_file: "{}""#,
            ca_file.display()
        ),
        "timeout: 5s",
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    // The web's roots do not know the test's authority.
    let outcome = probe(
        &format!(r#"url: "grpcs://localhost:{port}""#),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "TLS handshake with localhost failed: the certificate is not signed by a trusted authority"
    );

    // Plaintext to a TLS port is no gRPC answer either.
    let outcome = probe(&format!(r#"url: "grpc://{server}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "{server} does not speak plaintext HTTP/2 (is it TLS? use grpcs://): connection \
             error detected: frame with invalid size"
        )
    );
}

#[tokio::test]
async fn grpc_an_http2_server_that_is_not_grpc_is_explained() {
    // Plain HTTP/2 (h2c) that answers every request 404, as a web server would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_| async {
                    hyper::Response::builder()
                        .status(404)
                        .header("content-type", "text/html")
                        .body(http_body_util::Full::new(hyper::body::Bytes::from(
                            "<h1>404</h1>",
                        )))
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let outcome = probe(&format!(r#"url: "grpc://{web}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("{web} answered HTTP 404 instead of gRPC")
    );
}

#[tokio::test]
async fn grpc_refused_and_silent_servers_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"url: "grpc://{closed}""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let started = Instant::now();
    let outcome = probe(&format!(r#"url: "grpc://{silent}""#), "timeout: 500ms").await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms waiting for the health answer from {silent}")
    );
    assert!(started.elapsed() < Duration::from_millis(1500));

    let outcome = probe(
        &format!(r#"url: "grpcs://localhost:{}""#, silent.port()),
        "timeout: 500ms",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "timed out after 500 ms during the TLS handshake with localhost:{}",
            silent.port()
        )
    );
}

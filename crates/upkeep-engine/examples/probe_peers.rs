//! Peers for `bench/kinds.sh` that the probe tests run in-process, served here from a process
//! of their own so that their work is not counted in `probe_cost`'s CPU: the tests' DNS
//! responder (`bench.upkeep.test` A 10.1.2.3), the tests' TLS endpoint with a self-signed
//! certificate for 127.0.0.1 (a `tls` probe reads its expiry whatever signed it), a WebSocket
//! server answering each text message with `{"echo": MESSAGE}`, and tonic-health's gRPC health
//! server (plaintext HTTP/2, every service SERVING). Everything listens on 127.0.0.1 port 0.
//!
//! Usage: `probe_peers` — prints `dns ADDRESS`, `tls ADDRESS`, `websocket ADDRESS` and
//! `grpc ADDRESS`, one a line, once all four listen, then serves until killed.

use std::io::Write;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::proto::rr::rdata::A;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tonic::service::Routes;

#[path = "../tests/it/probe_support.rs"]
mod probe_support;

use probe_support::{TestCert, dns_server, tls_server};

type Failure = Box<dyn std::error::Error>;

/// A WebSocket server that answers each text message `m` with `{"echo": m}`.
async fn websocket_server() -> Result<SocketAddr, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        let answer = serde_json::json!({ "echo": text.as_str() });
                        let _ = socket.send(Message::text(answer.to_string())).await;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// tonic-health's health service over plaintext HTTP/2; the reporter is kept for as long as
/// the process serves.
async fn grpc_health_server() -> Result<SocketAddr, Failure> {
    let (reporter, service) = tonic_health::server::health_reporter();
    let routes = Routes::new(service);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _reporter = reporter;
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(routes.clone());
            tokio::spawn(async move {
                let http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                let _ = http2.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let dns = dns_server(vec![("bench.upkeep.test", RData::A(A::new(10, 1, 2, 3)))]).await;
    let tls = tls_server(&TestCert::expiring_in(90)).await;
    let websocket = websocket_server().await?;
    let grpc = grpc_health_server().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "dns {}", dns.addr)?;
    writeln!(out, "tls {tls}")?;
    writeln!(out, "websocket {websocket}")?;
    writeln!(out, "grpc {grpc}")?;
    out.flush()?;
    drop(out);
    std::future::pending::<()>().await;
    Ok(())
}

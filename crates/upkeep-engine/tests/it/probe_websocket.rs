//! `websocket` probes against a WebSocket server the test runs on loopback
//! (tokio-tungstenite): a healthy upgrade, a message's answer tested by conditions both ways,
//! and refused ports, silent listeners and refused upgrades explained in words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

use crate::probe_support::{closed_port, failure, monitor, silent_listener};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        "{{ component: c, websocket: {{ {fields} }}, {rest} }}"
    ));
    Prober::new().unwrap().probe(&m).await
}

/// A WebSocket server that answers each text message `m` with `{"echo": m, "seq": N}`.
async fn echo_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut seq = 0;
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        seq += 1;
                        let answer = serde_json::json!({ "echo": text.as_str(), "seq": seq });
                        let _ = socket.send(Message::text(answer.to_string())).await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn websocket_upgrades_and_tests_the_answer() {
    let server = echo_server().await;
    let outcome = probe(&format!(r#"url: "ws://{server}/live""#), "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let fields = format!(r#"url: "ws://{server}/live", message: ping"#);
    let outcome = probe(
        &fields,
        r#"timeout: 5s, conditions: ["[BODY].echo == ping", "[BODY].seq == 1", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe(
        &fields,
        r#"timeout: 5s, conditions: ["[BODY].echo == pong"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[BODY].echo == pong` failed: `echo` was "ping""#
    );
}

#[tokio::test]
async fn websocket_refused_silent_and_plain_http_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"url: "ws://{closed}/""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let started = Instant::now();
    let outcome = probe(&format!(r#"url: "ws://{silent}/""#), "timeout: 500ms").await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms upgrading to WebSocket at {silent}")
    );
    assert!(started.elapsed() < Duration::from_millis(1500));

    // An HTTP server that does not upgrade.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let outcome = probe(&format!(r#"url: "ws://{plain}/live""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!("{plain} answered HTTP 404 instead of switching to WebSocket")
    );
}

#[tokio::test]
async fn websocket_silent_server_times_out_waiting_for_the_answer() {
    // Upgrades, then never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mute = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                held.push(socket);
            }
        }
    });
    let outcome = probe(
        &format!(r#"url: "ws://{mute}/", message: ping"#),
        "timeout: 500ms",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms waiting for an answer to the message from {mute}")
    );
}

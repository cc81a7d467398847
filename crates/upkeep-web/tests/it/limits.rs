//! Connection-level protections over real sockets: one client cannot hold more than
//! `server.max_connections_per_client` connections (others still connect), and a `429`
//! closes its connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::TestApp;

const CONFIG: &str = r#"
page: { name: Test Cloud, url: "http://127.0.0.1:8080", timezone: Europe/Rome }
server:
  rate_limit: { per_second: 1, burst: 2 }
  max_connections_per_client: 3
components:
  api: { name: API }
"#;

/// A connection to `addr` from the loopback address `source`.
async fn connect_from(source: &str, addr: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr.parse().unwrap()).await.unwrap()
}

/// Sends one keep-alive `GET /healthz` and reads one answer's head; `None` when the server
/// closed the connection instead.
async fn healthz(stream: &mut TcpStream) -> Option<String> {
    let request = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return None;
    }
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("the server answers or closes")
        .unwrap_or(0);
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test]
async fn one_client_holds_at_most_its_share_of_connections() {
    let app = TestApp::start(CONFIG).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.2", &addr).await);
    }
    // The fourth from the same address is closed at once.
    let mut fourth = connect_from("127.0.0.2", &addr).await;
    assert_eq!(healthz(&mut fourth).await, None, "over the cap");
    // Another client connects as usual.
    let mut other = connect_from("127.0.0.3", &addr).await;
    let answer = healthz(&mut other).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A connection closed frees its place.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.2", &addr).await;
    let answer = healthz(&mut again).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_429_closes_its_connection() {
    let app = TestApp::start(CONFIG).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = connect_from("127.0.0.4", &addr).await;
    let mut statuses = Vec::new();
    while let Some(answer) = healthz(&mut stream).await {
        let status = answer.split_whitespace().nth(1).unwrap().to_owned();
        let closes = answer.to_ascii_lowercase().contains("connection: close");
        statuses.push((status, closes));
        assert!(statuses.len() < 10, "never refused: {statuses:?}");
    }
    assert_eq!(
        statuses,
        [
            ("200".to_owned(), false),
            ("200".to_owned(), false),
            ("429".to_owned(), true)
        ],
        "the burst, then a 429 that closes the connection"
    );
}

const TOKENS_CONFIG: &str = r#"
page: { name: Test Cloud, url: "http://127.0.0.1:8080", timezone: Europe/Rome }
server:
  rate_limit: { per_second: 1, burst: 2 }
  token_rate_limit: { per_second: 1, burst: 30 }
components:
  api: { name: API }
"#;

/// Authenticated API calls have their own per-token budget: an admin's script is not throttled
/// by its address's anonymous quota, one token over its budget does not stop another, and a
/// client sending tokens that do not authenticate is charged per client and then refused
/// before any lookup.
#[tokio::test]
async fn api_tokens_have_their_own_budget_and_junk_tokens_do_not_escape_the_clients() {
    let app = TestApp::start(TOKENS_CONFIG).await;
    let get = |token: String| {
        let app = &app;
        async move {
            app.get("/api/v1/incidents", Some(&token))
                .await
                .status()
                .as_u16()
        }
    };
    // Far beyond the anonymous burst of 2: the token's own burst of 30.
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(get(app.admin.clone()).await);
    }
    let ok = statuses.iter().take_while(|s| **s == 200).count();
    assert!((30..=31).contains(&ok), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // Another token is not affected.
    assert_eq!(get(app.viewer.clone()).await, 200);

    // Junk tokens, a new one each time: charged to the client, then refused outright.
    let mut junk = Vec::new();
    for i in 0..6 {
        junk.push(get(format!("upk_junk{i:040}")).await);
    }
    assert_eq!(&junk[..2], &[401, 401], "{junk:?}");
    assert_eq!(junk.last(), Some(&429), "{junk:?}");
}

const PROXY_CONFIG: &str = r#"
page: { name: Test Cloud, url: "http://127.0.0.1:8080", timezone: Europe/Rome }
server:
  rate_limit: { per_second: 1, burst: 2 }
  trusted_proxies: [127.0.0.1/32]
  proxy_protocol: true
components:
  api: { name: API }
"#;

/// One request on a new connection that starts with `preamble`: the status, or `None` when
/// the server closed the connection without answering.
async fn status_after(source: &str, addr: &str, preamble: &[u8]) -> Option<u16> {
    let mut stream = connect_from(source, addr).await;
    stream.write_all(preamble).await.unwrap();
    let answer = healthz(&mut stream).await?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// Behind a trusted proxy speaking the PROXY protocol (v1 or v2), the header's source address
/// is the client every limit keys on; a trusted connection without a header is closed; anyone
/// else's PROXY line is a bad request, never believed.
#[tokio::test]
async fn the_proxy_protocol_names_the_client_only_from_a_trusted_proxy() {
    let app = TestApp::start(PROXY_CONFIG).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let v1 = |client: &str| format!("PROXY TCP4 {client} 127.0.0.1 40000 80\r\n").into_bytes();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(status_after("127.0.0.1", &addr, &v1("198.51.100.7")).await);
    }
    assert_eq!(
        seen,
        [Some(200), Some(200), Some(429)],
        "one client's burst"
    );
    // Another client behind the same proxy, in a v2 header.
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2.extend_from_slice(&[
        0x21, 0x11, 0, 12, 198, 51, 100, 8, 127, 0, 0, 1, 0x9c, 0x40, 0, 80,
    ]);
    assert_eq!(status_after("127.0.0.1", &addr, &v2).await, Some(200));
    // The proxy's connection must carry a header.
    assert_eq!(status_after("127.0.0.1", &addr, b"").await, None);
    // A client that is not a trusted proxy cannot name itself.
    assert_eq!(
        status_after("127.0.0.5", &addr, &v1("198.51.100.9")).await,
        Some(400)
    );
}

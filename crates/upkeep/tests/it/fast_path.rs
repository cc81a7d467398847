//! A real `upkeep serve` answers plain reads of the status snapshot below hyper (the web
//! crate's `wire` module) with the bytes hyper would write, and hands a connection to hyper at
//! its first request that is anything else, without reading a request body as a request.
//! `upkeep_http_fast_answers_total` tells which path answered: these tests are the only
//! clients of their server.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Server, Workspace};

const CONFIG: &str = r#"
page: { name: Fast Cloud, url: "http://status.example.test", timezone: UTC }
server:
  rate_limit: { per_second: 1000, burst: 1000 }
components:
  api: { name: Public API, group: Core }
  db: { name: Database, group: Core }
  web: { name: Website }
"#;

/// One answer read off a connection.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: String,
    /// In the order written, `date` left out (its value is the second it was written).
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn sorted(&self) -> Vec<(String, String)> {
        let mut headers = self.headers.clone();
        headers.sort();
        headers
    }
}

/// Reads one answer from `stream`, keeping what follows it in `buf`; `None` once the server
/// has closed the connection.
fn read_answer(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Answer> {
    let mut chunk = [0u8; 65536];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            assert!(buf.is_empty(), "closed within a head: {buf:?}");
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(
        headers.iter().filter(|(n, _)| n == "date").count(),
        1,
        "{head}"
    );
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    while buf.len() < length {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "closed within a body");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.drain(..length).collect();
    Some(Answer {
        status,
        headers: headers.into_iter().filter(|(n, _)| n != "date").collect(),
        body,
    })
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends `requests` in one write and reads `answers` answers.
fn exchange(server: &Server, requests: &str, answers: usize) -> Vec<Answer> {
    let mut stream = connect(server);
    stream.write_all(requests.as_bytes()).unwrap();
    let mut buf = Vec::new();
    (0..answers)
        .map(|i| {
            read_answer(&mut stream, &mut buf)
                .unwrap_or_else(|| panic!("closed before answer {i} to {requests:?}"))
        })
        .collect()
}

fn fast_answers(server: &Server) -> u64 {
    let metrics = server.get("/metrics", None);
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("upkeep_http_fast_answers_total "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no upkeep_http_fast_answers_total in {metrics}"))
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: status.example.test\r\n{extra}\r\n")
}

fn start() -> (Workspace, Server) {
    let ws = Workspace::with_config(CONFIG);
    let server = Server::start(&["--config", &ws.config], &ws.db);
    // The router builds the first snapshot; until then plain reads go to it.
    assert!(server.get("/", None).starts_with("HTTP/1.1 200"));
    (ws, server)
}

#[test]
fn plain_reads_are_answered_below_hyper_with_the_bytes_hyper_writes() {
    let (_ws, server) = start();
    for path in [
        "/",
        "/api/v2/summary.json",
        "/feed.atom",
        "/static/status.css",
    ] {
        for encoding in ["br", "gzip", "identity"] {
            let accept = format!("accept-encoding: {encoding}\r\n");
            let before = fast_answers(&server);
            let fast = exchange(&server, &get(path, &accept), 1).remove(0);
            assert_eq!(
                fast_answers(&server),
                before + 1,
                "{path} {encoding}: not answered below hyper"
            );
            // After a request that is not plain, the connection is hyper's.
            let handed = get("/healthz", "") + &get(path, &accept);
            let by_hyper = exchange(&server, &handed, 2).remove(1);
            assert_eq!(
                fast_answers(&server),
                before + 1,
                "{path} {encoding}: hyper's answer counted as a fast one"
            );
            assert_eq!(fast.status, "HTTP/1.1 200 OK", "{path} {encoding}");
            assert_eq!(fast.status, by_hyper.status, "{path} {encoding}");
            assert_eq!(fast.sorted(), by_hyper.sorted(), "{path} {encoding}");
            assert_eq!(fast.body, by_hyper.body, "{path} {encoding}");
            assert!(!fast.body.is_empty());
            if path == "/" && encoding == "identity" {
                // The page is large enough to be sent from its sealed file (`body_file`);
                // pipelined, such answers still come whole and in order.
                assert!(
                    fast.body.len() >= upkeep_web::body_file::SEND_FROM_FILE,
                    "the page ({} bytes) no longer exercises bodies sent from a file",
                    fast.body.len()
                );
                // A sealed file for each large body of a fixed path: a few in all.
                let files = std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
                    .unwrap()
                    .filter_map(Result::ok)
                    .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                    .filter(|target| target.to_string_lossy().contains("memfd:upkeep-body"))
                    .count();
                assert!(
                    (1..=4).contains(&files),
                    "{files} sealed body files for a page of three components"
                );
                let three = get(path, &accept).repeat(3);
                for (i, again) in exchange(&server, &three, 3).into_iter().enumerate() {
                    assert_eq!(again.sorted(), fast.sorted(), "pipelined answer {i}");
                    assert!(
                        again.body == fast.body,
                        "pipelined answer {i}: body differs"
                    );
                }
            }
            let cache = if path.starts_with("/static/") {
                "public, max-age=31536000, immutable"
            } else {
                "public, max-age=10"
            };
            assert_eq!(fast.header("cache-control"), Some(cache), "{path}");
            let coding = match encoding {
                "identity" => None,
                other => Some(other),
            };
            assert_eq!(fast.header("content-encoding"), coding, "{path}");

            // The client that has it gets hyper's 304 too.
            let etag = fast.header("etag").unwrap().to_owned();
            let cached = format!("{accept}if-none-match: W/{etag}\r\n");
            let fast = exchange(&server, &get(path, &cached), 1).remove(0);
            let handed = get("/healthz", "") + &get(path, &cached);
            let by_hyper = exchange(&server, &handed, 2).remove(1);
            assert_eq!(
                fast.status, "HTTP/1.1 304 Not Modified",
                "{path} {encoding}"
            );
            assert_eq!(fast.sorted(), by_hyper.sorted(), "{path} {encoding} 304");
            assert!(fast.body.is_empty());
            let pipelined = if path == "/" && encoding == "identity" {
                3
            } else {
                0
            };
            assert_eq!(
                fast_answers(&server),
                before + 2 + pipelined,
                "{path} {encoding}"
            );
        }
    }
}

#[test]
fn a_connection_is_hyper_from_its_first_request_that_is_not_plain() {
    let (_ws, server) = start();
    let page = exchange(&server, &get("/", ""), 1).remove(0).body;
    let summary = exchange(&server, &get("/api/v2/summary.json", ""), 1)
        .remove(0)
        .body;
    let before = fast_answers(&server);
    // Two plain reads, pipelined; then a read with a body that looks like a request (it must
    // not be read as one); then a plain read, which hyper answers.
    let smuggled = "GET /nope HTTP/1.1\r\n\r\n";
    let requests = get("/", "")
        + &get("/api/v2/summary.json", "")
        + &get(
            "/api/v2/summary.json",
            &format!("content-length: {}\r\n", smuggled.len()),
        )
        + smuggled
        + &get("/", "connection: close\r\n");
    let mut stream = connect(&server);
    stream.write_all(requests.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut answers = Vec::new();
    while let Some(answer) = read_answer(&mut stream, &mut buf) {
        answers.push(answer);
    }
    for answer in &answers {
        assert_eq!(answer.status, "HTTP/1.1 200 OK", "{answers:?}");
    }
    // Hyper reads the unread body past, or closes the connection after its answer; either
    // way the body is never answered as a request (`/nope` would be a 404).
    let bodies: Vec<&[u8]> = answers.iter().map(|a| a.body.as_slice()).collect();
    let expected = [&page[..], &summary[..], &summary[..], &page[..]];
    assert!(
        bodies.len() >= 3 && bodies[..] == expected[..bodies.len()],
        "the answers, in order, and none to the body: {answers:?}"
    );
    assert_eq!(fast_answers(&server), before + 2);

    // A request split into single bytes is put together before it is answered.
    let mut stream = connect(&server);
    let before = fast_answers(&server);
    for byte in get("/api/v2/summary.json", "").as_bytes() {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let answer = read_answer(&mut stream, &mut Vec::new()).unwrap();
    assert_eq!(answer.body, summary);
    assert_eq!(fast_answers(&server), before + 1);
}

/// Behind a trusted proxy, a plain read answered below hyper is charged to the client the
/// proxy names, as it is through hyper: one client spending its quota leaves the proxy's and
/// another client's untouched.
#[test]
fn behind_a_trusted_proxy_plain_reads_are_charged_to_the_forwarded_client() {
    let config = CONFIG.replace(
        "server:\n  rate_limit: { per_second: 1000, burst: 1000 }",
        "server:\n  trusted_proxies: [127.0.0.1/32]\n  rate_limit: { per_second: 1, burst: 4 }",
    );
    let ws = Workspace::with_config(&config);
    let server = Server::start(&["--config", &ws.config], &ws.db);
    assert!(server.get("/", None).starts_with("HTTP/1.1 200"));
    let from = |client: &str| format!("x-forwarded-for: {client}\r\n");

    // Client X: its burst, then refusals (a refusal is the router's 429, through hyper).
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let answer = exchange(
            &server,
            &get("/api/v2/summary.json", &from("192.0.2.10")),
            1,
        );
        statuses.push(answer[0].status.clone());
    }
    let served = statuses.iter().filter(|s| *s == "HTTP/1.1 200 OK").count();
    assert!((4..=5).contains(&served), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .skip(5)
            .all(|s| s.starts_with("HTTP/1.1 429")),
        "{statuses:?}"
    );

    // Client Y, through the same proxy, is answered below hyper.
    let before = fast_answers(&server);
    let answer = exchange(
        &server,
        &get("/api/v2/summary.json", &from("192.0.2.11")),
        1,
    );
    assert_eq!(answer[0].status, "HTTP/1.1 200 OK");
    assert_eq!(fast_answers(&server), before + 1);
}

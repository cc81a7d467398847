//! Real local targets for the probe tests: an HTTP/1.1 server over plain TCP or TLS whose
//! every answer a test scripts (including ones that hang, trickle or stream 100 MB), test
//! certificates with a chosen expiry, a DNS responder on a local UDP port, and monitors built
//! through the real configuration parser. Everything listens on 127.0.0.1 port 0.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use upkeep_domain::config::Monitor;

/// Builds one monitor (id `m`) from the YAML of its body, through the real config parser.
/// `body` is the monitor's mapping in flow style, e.g. `{ tcp: { address: "..." } }`.
pub fn monitor(body: &str) -> Monitor {
    let text = format!(
        "page: {{ name: Probe tests, url: \"http://127.0.0.1:8080\", timezone: UTC }}\n\
         components:\n  c: {{ name: C }}\n\
         monitors:\n  m: {body}\n"
    );
    let config =
        upkeep_domain::config::parse("probe.yaml", &text, &|_| None, jiff::Timestamp::now())
            .unwrap_or_else(|err| panic!("config does not parse:\n{err}\n---\n{text}"));
    config.monitors.get("m").cloned().unwrap()
}

/// One HTTP request as the test server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A complete response with a Content-Length.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Waits, then replies.
    Delayed(Duration, Box<Reply>),
    /// Reads the request and never answers.
    Hang,
    /// Sends the headers of a `total`-byte body, then one byte every `every`.
    Trickle { total: usize, every: Duration },
    /// Streams a `len`-byte body in 64 KiB chunks, counting what was written into `sent`;
    /// never holds more than one chunk.
    Stream { len: u64, sent: Arc<AtomicU64> },
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::bytes(status, Vec::new())
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply::bytes(status, body.as_bytes().to_vec())
    }

    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    /// Requests served so far.
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

/// An HTTP/1.1 server; `handler` gets each request and its number (from 0).
pub async fn http_server(
    handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    start(handler, None).await
}

/// The same server behind TLS with the given certificate.
pub async fn https_server(
    cert: &TestCert,
    handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
) -> Server {
    start(handler, Some(cert.acceptor())).await
}

async fn start(
    handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Arc<Handler> = Arc::new(handler);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = Arc::clone(&handler);
            let counter = Arc::clone(&counter);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_connection(stream, handler, counter).await;
                        }
                    }
                    None => serve_connection(stream, handler, counter).await,
                }
            });
        }
    });
    Server { addr, hits }
}

async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    handler: Arc<Handler>,
    hits: Arc<AtomicUsize>,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let number = hits.fetch_add(1, Ordering::SeqCst);
        let reply = handler(&request, number);
        if !write_reply(&mut stream, reply).await {
            return;
        }
    }
}

async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut Vec<u8>,
) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    buffer.drain(..head_end + 4);
    while buffer.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer.drain(..length).collect();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Writes a reply; false when the connection must end.
async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, reply: Reply) -> bool {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            stream.write_all(&bytes).await.is_ok() && stream.flush().await.is_ok()
        }
        Reply::Delayed(delay, inner) => {
            tokio::time::sleep(delay).await;
            Box::pin(write_reply(stream, *inner)).await
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            false
        }
        Reply::Trickle { total, every } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            for _ in 0..total {
                if stream.write_all(b"x").await.is_err() || stream.flush().await.is_err() {
                    return false;
                }
                tokio::time::sleep(every).await;
            }
            false
        }
        Reply::Stream { len, sent } => {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            if stream.write_all(head.as_bytes()).await.is_err() {
                return false;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = usize::try_from(left.min(chunk.len() as u64)).unwrap();
                if stream.write_all(&chunk[..n]).await.is_err() {
                    return false;
                }
                sent.fetch_add(n as u64, Ordering::SeqCst);
                left -= n as u64;
            }
            false
        }
    }
}

/// The password probes of secret-holding kinds are given; no failure may show it.
pub const SECRET: &str = "s3cret-Token-9";

/// The failure words of a failed probe, checked free of [`SECRET`].
pub fn failure(outcome: &upkeep_engine::monitoring::probe::ProbeOutcome) -> String {
    assert!(!outcome.ok, "expected a failure, got {outcome:?}");
    let text = outcome.failure.clone().expect("a failed probe says why");
    assert!(!text.contains(SECRET), "the password leaked: {text}");
    text
}

/// A port on 127.0.0.1 that accepts connections and never says a word (the connections are
/// held open).
pub async fn silent_listener() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// A self-signed certificate for `localhost` and 127.0.0.1.
pub struct TestCert {
    pub cert: CertificateDer<'static>,
    /// The certificate in PEM, for a client's CA file.
    pub pem: String,
    pub key: Vec<u8>,
    /// The same certificate and key as PEM, for peers that read files.
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCert {
    /// A certificate whose notAfter is `days` days and one hour from now (so that whole days
    /// until expiry, rounded down, is exactly `days`; negative means already expired).
    pub fn expiring_in(days: i64) -> TestCert {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(400);
        params.not_after = now + time::Duration::days(days) + time::Duration::hours(1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCert {
            cert: cert.der().clone(),
            pem: cert.pem(),
            key: key.serialize_der(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths as text.
    pub fn write_pem(&self, dir: &std::path::Path) -> (String, String) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (
            cert.to_str().unwrap().to_owned(),
            key.to_str().unwrap().to_owned(),
        )
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
            )
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

/// A TLS server that completes handshakes and then closes (for `tls` monitors).
pub async fn tls_server(cert: &TestCert) -> SocketAddr {
    https_server(cert, |_, _| Reply::status(200)).await.addr
}

/// A DNS responder on a local UDP port. `records` are (name, data); a name with no record of
/// the asked type answers NOERROR with no answers, an unknown name answers NXDOMAIN, and a
/// name with a CNAME answers other types with the CNAME and the target's records.
pub async fn dns_server(records: Vec<(&str, RData)>) -> DnsServer {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&queries);
    let records: Vec<(String, RData)> = records
        .into_iter()
        .map(|(name, data)| (canonical(name), data))
        .collect();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buffer).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buffer[..n]) else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let response = answer(&request, &records);
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    DnsServer { addr, queries }
}

pub struct DnsServer {
    pub addr: SocketAddr,
    pub queries: Arc<AtomicUsize>,
}

/// A UDP socket that receives DNS queries and never answers.
pub async fn silent_dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while socket.recv_from(&mut buffer).await.is_ok() {}
    });
    addr
}

fn canonical(name: &str) -> String {
    name.trim_end_matches('.').to_lowercase()
}

fn answer(request: &Message, records: &[(String, RData)]) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries = request.queries.clone();
    let Some(query) = request.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    let asked = canonical(&query.name().to_ascii());
    let qtype = query.query_type();
    let of = |name: &str, kind: RecordType| -> Vec<RData> {
        records
            .iter()
            .filter(|(n, d)| n == name && d.record_type() == kind)
            .map(|(_, d)| d.clone())
            .collect()
    };
    if !records.iter().any(|(n, _)| *n == asked) {
        response.metadata.response_code = ResponseCode::NXDomain;
        return response;
    }
    let owner = Name::from_ascii(format!("{asked}.")).unwrap();
    let direct = of(&asked, qtype);
    if direct.is_empty()
        && qtype != RecordType::CNAME
        && let Some(RData::CNAME(target)) = of(&asked, RecordType::CNAME).first()
    {
        response.answers.push(Record::from_rdata(
            owner.clone(),
            60,
            RData::CNAME(target.clone()),
        ));
        let target_name = canonical(&target.0.to_ascii());
        for data in of(&target_name, qtype) {
            response
                .answers
                .push(Record::from_rdata(target.0.clone(), 60, data));
        }
        return response;
    }
    for data in direct {
        response
            .answers
            .push(Record::from_rdata(owner.clone(), 60, data));
    }
    response
}

/// A line-protocol server on 127.0.0.1 that writes `greeting` on each connection, then answers
/// each line it reads with `answer(line)` (nothing when that is empty): for misbehaviour that
/// real servers do not show on demand (a refusal at the greeting, data injected after
/// STARTTLS).
pub async fn line_server(greeting: &'static str, answer: fn(&str) -> String) -> SocketAddr {
    use tokio::io::AsyncBufReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                if write.write_all(greeting.as_bytes()).await.is_err() {
                    return;
                }
                let mut lines = tokio::io::BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = answer(&line);
                    if !reply.is_empty() && write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Starts a daemon on a free loopback port: `command(port)` makes its command (stderr piped,
/// killed on drop), and it is ready once a connection to the port reads a first line that
/// `ready` accepts (within 20 s). A port taken between the pick and the daemon's bind is
/// retried; any other failure to start panics with the daemon's stderr.
pub async fn daemon(
    name: &str,
    command: impl Fn(u16) -> tokio::process::Command,
    ready: fn(&str) -> bool,
) -> (tokio::process::Child, u16) {
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = command(port)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("{name} does not run: {err}"));
        if first_line_accepted(port, ready).await {
            return (child, port);
        }
        let _ = child.start_kill();
        let out = child.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.contains("Address already in use") {
            panic!("{name} did not start ({:?}): {stderr}", out.status);
        }
    }
    panic!("{name} found no free port");
}

/// Whether, within 20 s, a connection to 127.0.0.1:`port` reads a first line `ready` accepts.
async fn first_line_accepted(port: u16, ready: fn(&str) -> bool) -> bool {
    use tokio::io::AsyncBufReadExt;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let mut line = String::new();
            let read = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::io::BufReader::new(stream).read_line(&mut line),
            )
            .await;
            if matches!(read, Ok(Ok(_))) && ready(&line) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

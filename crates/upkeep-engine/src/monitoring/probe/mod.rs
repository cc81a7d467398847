//! Probes: one check of one monitor against the outside world.
//!
//! [`Prober::probe`] runs the check a monitor describes (`http`, `tcp`, `dns`, `tls`,
//! `postgres`, `mysql`, `redis`, `mqtt`, `websocket`, `snmp`, `grpc`, `docker`, `icmp`,
//! `domain`, `smtp`, `imap` or `ssh`) once,
//! bounded as a whole by the monitor's `timeout`, evaluates the monitor's conditions on what it
//! observed and returns a [`ProbeOutcome`]: success, wall time, what was seen (status,
//! certificate expiry) and, on failure, one sentence an operator understands. A probe never
//! panics and never returns an error: every failure of the target, the network or the
//! configuration is an outcome. The [`Prober`] holds the shared, connection-pooled clients and
//! is cheap to clone; the scheduler keeps one and calls it from many tasks at once.
//!
//! Each kind lives in its own module: [`http`] (reqwest, body capped at [`MAX_BODY_BYTES`]),
//! [`tcp`] (a connect), [`dns`] (hickory, no answer cache), [`tls`] (a handshake that
//! accepts any chain and reads the leaf certificate's expiry) and [`database`] (`postgres`,
//! `mysql` and `redis`: log in and ask one bounded question) and [`mqtt`] (connect, and an
//! optional publish/subscribe round trip) and [`websocket`] (an upgrade and an optional
//! message's answer), [`snmp`] (a GET over UDP, SNMPv2c or SNMPv3), [`grpc`] (the standard
//! health check over HTTP/2), [`docker`] (a container's state from the Docker Engine API),
//! [`icmp`] (echo requests over an unprivileged ICMP socket, else a raw one) and [`domain`] (a
//! registration's expiry over RDAP, answers kept per domain)
//! and [`smtp`] and [`imap`] (greeting, extensions, STARTTLS, over the line protocol machinery
//! of [`mail`]) and [`ssh`] (the identification, a pinned host key, and an optional
//! command's exit status and output).

mod database;
mod dns;
mod docker;
mod domain;
mod grpc;
mod http;
mod icmp;
mod imap;
mod mail;
mod mqtt;
mod smtp;
mod snmp;
mod ssh;
mod tcp;
mod tls;
mod websocket;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use upkeep_domain::condition::{Condition, Observation, PingStats, Subject};
use upkeep_domain::config::{Monitor, MonitorKind, Secret};

use database::Engine;

pub use database::{MAX_COLUMNS, MAX_FIELDS, MAX_TEXT_BYTES, MAX_VALUE_CHARS};
pub use http::MAX_REDIRECTS;

/// A verifying TLS configuration with the web's roots.
fn web_roots_tls() -> Result<rustls::ClientConfig, String> {
    verifying_tls(None)
}

/// A verifying TLS configuration: the certificate must chain to an authority of `ca_file` (a
/// PEM file, read now) when one is given, else to one of the web's roots.
fn verifying_tls(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = match ca_file {
        None => rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let shown = path.display();
            let mut roots = rustls::RootCertStore::empty();
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|err| format!("cannot read the CA file {shown}: {err}"))?;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|err| format!("the CA file {shown} is not valid PEM: {err}"))?;
                roots.add(certificate).map_err(|err| {
                    format!("the CA file {shown} holds an unusable certificate: {err}")
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "the CA file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                ));
            }
            roots
        }
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// At most this many bytes of an HTTP response body are read; the rest is not downloaded and
/// conditions see the first `MAX_BODY_BYTES` only.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Without a `[DOMAIN_EXPIRY]` condition, a `domain` check fails when its registration
/// expires in fewer days than this.
pub const DEFAULT_DOMAIN_DAYS: i64 = 30;

/// The longest failure text a probe reports, in characters.
const MAX_FAILURE_CHARS: usize = 300;

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Whether the check passed: the target answered and every condition held.
    pub ok: bool,
    /// Wall time of the probe in milliseconds (for http: until the capped body was read).
    pub latency_ms: u32,
    /// The HTTP status of the final response (http only).
    pub status_code: Option<u16>,
    /// Whole days until the certificate expires, negative once expired (tls, and https when
    /// the connection reported its certificate).
    pub cert_expiry_days: Option<i64>,
    /// Why it failed, in words an operator understands; `None` when ok. At most 300 characters.
    pub failure: Option<String>,
}

/// Why a [`Prober`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    /// The HTTP client could not be built (its TLS backend failed to initialise).
    #[error("cannot build the HTTP client for probes: {0}")]
    Http(String),
    /// The TLS configuration for `tls` probes could not be built.
    #[error("cannot set up TLS for probes: {0}")]
    Tls(String),
}

/// Runs probes. Holds one connection-pooled HTTP client per (`verify_tls`,
/// `follow_redirects`) combination, the TLS configuration of `tls` probes and the DNS
/// resolvers in use; cloning shares them.
#[derive(Clone)]
pub struct Prober {
    http: Arc<http::Clients>,
    tls: tls::TlsProber,
    dns: dns::Resolvers,
    domains: Arc<domain::Registrations>,
}

impl Prober {
    /// Builds the shared clients. Fails only when the TLS backend cannot be initialised.
    pub fn new() -> Result<Prober, ProbeSetupError> {
        Ok(Prober {
            http: Arc::new(http::Clients::new()?),
            tls: tls::TlsProber::new()?,
            dns: dns::Resolvers::default(),
            domains: Arc::new(domain::Registrations::default()),
        })
    }

    /// Probes the monitor once. Never panics; push monitors are not probed (they fail with
    /// "push monitors are not probed").
    pub async fn probe(&self, monitor: &Monitor) -> ProbeOutcome {
        let started = Instant::now();
        let progress = Progress::default();
        let checked = tokio::time::timeout(monitor.timeout, self.check(monitor, &progress)).await;
        let elapsed = started.elapsed();
        let outcome = match checked {
            Ok(Ok(seen)) => judge(monitor, seen),
            Ok(Err(failure)) => Verdict::failed(failure),
            Err(_) => Verdict::failed(Failure::new(format!(
                "timed out after {}{}",
                duration_text(monitor.timeout),
                progress.describe(&monitor.kind)
            ))),
        };
        outcome.into_outcome(elapsed)
    }

    async fn check(&self, monitor: &Monitor, progress: &Progress) -> Result<Seen, Failure> {
        match &monitor.kind {
            MonitorKind::Http(check) => {
                self.http
                    .probe(check, needs_body(&monitor.conditions), progress)
                    .await
            }
            MonitorKind::Tcp(check) => tcp::probe(check, progress).await,
            MonitorKind::Dns(check) => self.dns.probe(check, progress).await,
            MonitorKind::Tls(check) => self.tls.probe(check, progress).await,
            MonitorKind::Postgres(check)
            | MonitorKind::Mysql(check)
            | MonitorKind::Redis(check) => {
                let engine = Engine::of(&monitor.kind);
                let body = needs_body(&monitor.conditions) != BodyNeed::None;
                database::probe(engine, check, body, monitor.timeout, progress).await
            }
            MonitorKind::Mqtt(check) => mqtt::probe(check, monitor.timeout, progress).await,
            MonitorKind::Websocket(check) => websocket::probe(check, progress).await,
            MonitorKind::Snmp(check) => snmp::probe(check, progress).await,
            MonitorKind::Grpc(check) => grpc::probe(check, progress).await,
            MonitorKind::Docker(check) => docker::probe(check, progress).await,
            MonitorKind::Icmp(check) => icmp::probe(check, progress).await,
            MonitorKind::Domain(check) => {
                self.domains.probe(self.http.rdap(), check, progress).await
            }
            MonitorKind::Smtp(check) => smtp::probe(check, progress).await,
            MonitorKind::Imap(check) => imap::probe(check, progress).await,
            MonitorKind::Ssh(check) => {
                let status_tested = monitor
                    .conditions
                    .iter()
                    .any(|condition| condition.subject == Subject::Status);
                ssh::probe(check, status_tested, progress).await
            }
            MonitorKind::Push(_) => Err(Failure::new("push monitors are not probed".to_owned())),
        }
    }
}

/// What a check observed before conditions are applied.
#[derive(Debug, Default)]
struct Seen {
    /// Time from the start of the check to the observation (connect time for tcp, handshake
    /// for tls, answer for dns, complete capped body for http).
    elapsed: Duration,
    status: Option<u16>,
    cert_expiry_days: Option<i64>,
    /// The body as text (lossy UTF-8), when a condition looks at it.
    body: Option<String>,
    /// The body as JSON, when a condition has a JSON path and the body parses.
    json: Option<serde_json::Value>,
    /// The value an `snmp` check read (`[VALUE]`).
    value: Option<String>,
    /// Echo requests and replies (icmp).
    pings: Option<PingStats>,
    /// The registration's expiry (domain).
    domain: Option<domain::Expiry>,
}

/// A failed check: the words, and what was observed before it failed.
#[derive(Debug)]
struct Failure {
    message: String,
    status: Option<u16>,
    cert_expiry_days: Option<i64>,
}

impl Failure {
    fn new(message: String) -> Failure {
        Failure {
            message,
            status: None,
            cert_expiry_days: None,
        }
    }
}

/// The verdict before it becomes a [`ProbeOutcome`].
struct Verdict {
    failure: Option<String>,
    status: Option<u16>,
    cert_expiry_days: Option<i64>,
    elapsed: Option<Duration>,
}

impl Verdict {
    fn failed(failure: Failure) -> Verdict {
        Verdict {
            failure: Some(failure.message),
            status: failure.status,
            cert_expiry_days: failure.cert_expiry_days,
            elapsed: None,
        }
    }

    fn into_outcome(self, total: Duration) -> ProbeOutcome {
        let elapsed = self.elapsed.unwrap_or(total);
        ProbeOutcome {
            ok: self.failure.is_none(),
            latency_ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
            status_code: self.status,
            cert_expiry_days: self.cert_expiry_days,
            failure: self.failure.map(|text| cut(&text, MAX_FAILURE_CHARS)),
        }
    }
}

/// Applies the kind's implicit checks and the monitor's conditions to what was seen.
fn judge(monitor: &Monitor, seen: Seen) -> Verdict {
    let response_time_ms = u64::try_from(seen.elapsed.as_millis()).unwrap_or(u64::MAX);
    let observation = Observation {
        status: seen.status,
        response_time_ms: Some(response_time_ms),
        body: seen.body.as_deref(),
        json: seen.json.as_ref(),
        cert_expiry_days: seen.cert_expiry_days,
        value: seen.value.as_deref(),
        pings: seen.pings,
        domain_expiry_days: seen.domain.map(|expiry| expiry.days),
    };
    let mentions = |wanted: fn(&Subject) -> bool| {
        monitor
            .conditions
            .iter()
            .any(|condition| wanted(&condition.subject))
    };
    let mut problems = Vec::new();
    match &monitor.kind {
        MonitorKind::Http(check) => {
            if let Some(status) = seen.status {
                let hint = if !(300..400).contains(&status) {
                    ""
                } else if !check.follow_redirects {
                    "; redirects are not followed"
                } else if !check.redirects_to_other_hosts {
                    "; redirects to other hosts are not followed (`redirect_hosts: any`)"
                } else {
                    ""
                };
                match check.expected_status {
                    Some(expected) if expected != status => problems.push(format!(
                        "the status was {status} (expected {expected}){hint}"
                    )),
                    None if !mentions(|s| *s == Subject::Status)
                        && !(200..300).contains(&status) =>
                    {
                        problems.push(format!("the status was {status} (expected 2xx){hint}"));
                    }
                    _ => {}
                }
            }
        }
        MonitorKind::Tls(_) => {
            if let Some(days) = seen.cert_expiry_days
                && days < 0
                && !mentions(|s| *s == Subject::CertExpiry)
            {
                problems.push(format!(
                    "certificate expired {} ago",
                    days_text(days.saturating_neg())
                ));
            }
        }
        MonitorKind::Grpc(check) if !mentions(|s| matches!(s, Subject::Body(_))) => {
            problems.extend(grpc::not_serving(check, &seen));
        }
        MonitorKind::Docker(check) if !mentions(|s| matches!(s, Subject::Body(_))) => {
            problems.extend(docker::not_up(check, &seen));
        }
        MonitorKind::Icmp(check) => {
            if let Some(pings) = seen.pings
                && pings.received == 0
                && !mentions(|s| *s == Subject::PacketLoss)
            {
                problems.push(format!(
                    "host down: 100% packet loss (no reply to {} echo request{} to {})",
                    pings.sent,
                    if pings.sent == 1 { "" } else { "s" },
                    check.host
                ));
            }
        }
        MonitorKind::Domain(check) => {
            if let Some(expiry) = seen.domain
                && expiry.days < DEFAULT_DOMAIN_DAYS
                && !mentions(|s| *s == Subject::DomainExpiry)
            {
                let on = expiry.on.strftime("%Y-%m-%d");
                problems.push(if expiry.days < 0 {
                    format!(
                        "the registration of {} expired {} ago, on {on}",
                        check.name,
                        days_text(expiry.days.saturating_neg())
                    )
                } else {
                    format!(
                        "the registration of {} expires in {}, on {on} (fewer than {DEFAULT_DOMAIN_DAYS}; a `[DOMAIN_EXPIRY]` condition sets another limit)",
                        check.name,
                        days_text(expiry.days)
                    )
                });
            }
        }
        _ => {}
    }
    for condition in &monitor.conditions {
        if !condition.evaluate(&observation) {
            problems.push(condition_failure(condition, &observation));
        }
    }
    Verdict {
        failure: (!problems.is_empty()).then(|| problems.join("; ")),
        status: seen.status,
        cert_expiry_days: seen.cert_expiry_days,
        elapsed: Some(seen.elapsed),
    }
}

/// "condition `[STATUS] == 200` failed: the status was 503", or for certificate conditions
/// "certificate expires in 3 days (condition `[CERT_EXPIRY] > 14`)".
fn condition_failure(condition: &Condition, observation: &Observation<'_>) -> String {
    match (&condition.subject, observation.cert_expiry_days) {
        (Subject::CertExpiry, Some(days)) if days >= 0 => format!(
            "certificate expires in {} (condition `{condition}`)",
            days_text(days)
        ),
        (Subject::CertExpiry, Some(days)) => format!(
            "certificate expired {} ago (condition `{condition}`)",
            days_text(days.saturating_neg())
        ),
        _ => format!(
            "condition `{condition}` failed: {}",
            condition.observed(observation)
        ),
    }
}

/// Whether any condition looks at the body (so the body must be kept as text).
fn needs_body(conditions: &[Condition]) -> BodyNeed {
    let mut need = BodyNeed::None;
    for condition in conditions {
        if let Subject::Body(path) = &condition.subject {
            if path.is_empty() {
                if need == BodyNeed::None {
                    need = BodyNeed::Text;
                }
            } else {
                need = BodyNeed::Json;
            }
        }
    }
    need
}

/// How much of the body the conditions need beyond reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyNeed {
    /// Read and discard.
    None,
    /// Keep as text.
    Text,
    /// Keep as text and parse as JSON.
    Json,
}

/// How far a check got, so that a timeout can say where it stopped. Shared by reference with
/// the check's future, which the timeout drops.
#[derive(Default)]
struct Progress {
    stage: AtomicU8,
    bytes: AtomicU64,
}

/// Stages of a check, in order.
mod stage {
    pub const CONNECTED: u8 = 1;
    pub const HEADERS: u8 = 2;
}

impl Progress {
    fn reached(&self, stage: u8) {
        self.stage.store(stage, Ordering::Relaxed);
    }

    fn add_bytes(&self, bytes: usize) {
        self.bytes
            .fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Where the check was when it timed out, as a phrase starting with a space.
    fn describe(&self, kind: &MonitorKind) -> String {
        let stage = self.stage.load(Ordering::Relaxed);
        match kind {
            MonitorKind::Http(_) if stage >= stage::HEADERS => format!(
                " while reading the body ({} bytes received)",
                self.bytes.load(Ordering::Relaxed)
            ),
            MonitorKind::Http(_) => " waiting for the response headers".to_owned(),
            MonitorKind::Tcp(check) => format!(" connecting to {}", check.address),
            MonitorKind::Tls(check) if stage >= stage::CONNECTED => {
                format!(" during the TLS handshake with {}", check.address)
            }
            MonitorKind::Tls(check) => format!(" connecting to {}", check.address),
            MonitorKind::Dns(check) => format!(
                " waiting for an answer from {}",
                check.resolver.as_deref().unwrap_or("the system resolver")
            ),
            MonitorKind::Postgres(check)
            | MonitorKind::Mysql(check)
            | MonitorKind::Redis(check) => database::describe(Engine::of(kind), check, stage),
            MonitorKind::Mqtt(check) => mqtt::describe(check, stage),
            MonitorKind::Websocket(check) => websocket::describe(check, stage),
            MonitorKind::Snmp(check) => snmp::describe(check, stage),
            MonitorKind::Grpc(check) => grpc::describe(check, stage),
            MonitorKind::Docker(check) => docker::describe(check, stage),
            MonitorKind::Icmp(check) => icmp::describe(check, stage),
            MonitorKind::Domain(check) => domain::describe(check, stage),
            MonitorKind::Smtp(check) => mail::describe(mail::Protocol::Smtp, check, stage),
            MonitorKind::Imap(check) => mail::describe(mail::Protocol::Imap, check, stage),
            MonitorKind::Ssh(check) => ssh::describe(check, stage),
            MonitorKind::Push(_) => String::new(),
        }
    }
}

/// A secret's value: as written, or the first line of its file, read now (a mounted secret
/// may rotate). `what` names it in a failure ("password", "community"); the value never
/// appears in one.
async fn read_secret(secret: &Secret, what: &str) -> Result<String, Failure> {
    match secret {
        Secret::Value(value) => Ok(value.clone()),
        Secret::File(path) => match tokio::fs::read_to_string(path).await {
            Ok(text) => Ok(text.lines().next().unwrap_or("").to_owned()),
            Err(err) => Err(Failure::new(format!(
                "cannot read the {what} file {}: {err}",
                path.display()
            ))),
        },
    }
}

/// "5 s", "1.5 s" or "500 ms".
fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else if millis >= 1000 {
        format!("{:.1} s", duration.as_secs_f64())
    } else {
        format!("{millis} ms")
    }
}

fn days_text(days: i64) -> String {
    if days == 1 {
        "1 day".to_owned()
    } else {
        format!("{days} days")
    }
}

/// Cuts text to at most `max` characters, marking the cut with `…`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// An I/O error while talking to `target`, in words.
fn io_error_text(err: &std::io::Error, target: &str) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::ConnectionRefused => format!("connection refused by {target}"),
        ErrorKind::ConnectionReset => format!("connection reset by {target}"),
        ErrorKind::ConnectionAborted => format!("connection aborted by {target}"),
        ErrorKind::TimedOut => format!("connection to {target} timed out"),
        ErrorKind::HostUnreachable => format!("host unreachable: {target}"),
        ErrorKind::NetworkUnreachable => format!("network unreachable for {target}"),
        ErrorKind::AddrNotAvailable => format!("address not available: {target}"),
        ErrorKind::UnexpectedEof => format!("{target} closed the connection"),
        ErrorKind::PermissionDenied => format!("connection to {target} not permitted"),
        _ => format!("connection to {target} failed: {err}"),
    }
}

/// The innermost I/O error under a client library's error with a telling kind (refused,
/// reset, ...), if any.
fn io_cause<'e>(err: &'e (dyn std::error::Error + 'static)) -> Option<&'e std::io::Error> {
    http::causes(err)
        .into_iter()
        .rev()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .find(|io| io.kind() != std::io::ErrorKind::Other)
}

/// Splits `host[:port]` (IPv6 in brackets) into host and port.
fn split_host_port(address: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match address.rsplit_once(':') {
        // A bare IPv6 address without brackets has several colons and no port.
        Some((host, _)) if host.contains(':') => Some((address.to_owned(), default_port)),
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None => Some((address.to_owned(), default_port)),
    }
}

/// Resolves `address` (`host:port`) with the system resolver and connects to the first
/// address that accepts, reporting failures in words.
async fn connect(address: &str, progress: &Progress) -> Result<tokio::net::TcpStream, Failure> {
    let addresses: Vec<std::net::SocketAddr> = match tokio::net::lookup_host(address).await {
        Ok(found) => found.collect(),
        Err(_) => {
            let host = split_host_port(address, 0).map_or_else(|| address.to_owned(), |(h, _)| h);
            return Err(Failure::new(format!("DNS lookup of {host} failed")));
        }
    };
    let mut last_error = None;
    for addr in &addresses {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                progress.reached(stage::CONNECTED);
                return Ok(stream);
            }
            Err(err) => last_error = Some((*addr, err)),
        }
    }
    Err(Failure::new(match last_error {
        Some((addr, err)) if addr.to_string() == address => io_error_text(&err, address),
        Some((addr, err)) => format!("{} ({addr})", io_error_text(&err, address)),
        None => format!("DNS lookup of {address} returned no addresses"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(Duration::from_secs(5)), "5 s");
        assert_eq!(duration_text(Duration::from_millis(500)), "500 ms");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn cuts_on_character_boundaries() {
        assert_eq!(cut("short", 300), "short");
        let long = "é".repeat(400);
        let cut_text = cut(&long, 300);
        assert_eq!(cut_text.chars().count(), 300);
        assert!(cut_text.ends_with('…'));
    }

    #[test]
    fn splits_addresses() {
        assert_eq!(
            split_host_port("10.0.0.1", 53),
            Some(("10.0.0.1".into(), 53))
        );
        assert_eq!(
            split_host_port("ns.example:5353", 53),
            Some(("ns.example".into(), 5353))
        );
        assert_eq!(split_host_port("[::1]:54", 53), Some(("::1".into(), 54)));
        assert_eq!(split_host_port("[::1]", 53), Some(("::1".into(), 53)));
        assert_eq!(split_host_port("::1", 53), Some(("::1".into(), 53)));
        assert_eq!(split_host_port("host:x", 53), None);
    }
}

//! `grpc` probes: the standard health check (`grpc.health.v1.Health/Check`) over HTTP/2,
//! plaintext (`grpc://`, h2c with prior knowledge) or TLS (`grpcs://`, checked against the
//! web's roots or the authorities of `ca_file`), with the monitor's metadata (an
//! `authorization` token, say) sent as headers. The serving status (`SERVING`,
//! `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN`) is `[BODY]` for conditions, `[BODY].status`
//! too; without a condition on `[BODY]` the check needs `SERVING`.
//!
//! The client is a few dozen lines on hyper's HTTP/2 (the request and answer are one small
//! protobuf message each, [`upkeep_domain::grpc_health`]): the connection goes through the
//! probes' own [`connect`](super::connect) and TLS set-up, so refusals, handshakes and silences
//! are reported like every other kind's. Metadata values are never shown: a server's error
//! message that echoes one is masked.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use upkeep_domain::config::GrpcCheck;
use upkeep_domain::grpc_health::{self, ServingStatus};

use super::database::masked;
use super::{Failure, Progress, Seen, connect, cut, io_error_text, split_host_port, stage};

/// Reached once HTTP/2 is set up and the call is sent.
const CALLED: u8 = stage::HEADERS;

/// The server's `host:port`, and whether it is TLS.
fn target(check: &GrpcCheck) -> (String, bool) {
    let (tls, rest) = match check.url.split_once("://") {
        Some(("grpcs", rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => (false, check.url.as_str()),
    };
    let rest = rest.trim_end_matches('/');
    let has_port = match rest.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => rest.contains(':'),
    };
    if has_port {
        (rest.to_owned(), tls)
    } else {
        (format!("{rest}:443"), tls)
    }
}

/// "connecting to the gRPC server at api:50051", "during the TLS handshake with ..." or
/// "waiting for the health answer from ...".
pub(super) fn describe(check: &GrpcCheck, reached: u8) -> String {
    let (address, tls) = target(check);
    if reached >= CALLED {
        format!(" waiting for the health answer from {address}")
    } else if reached >= stage::CONNECTED && tls {
        format!(" during the TLS handshake with {address}")
    } else if reached >= stage::CONNECTED {
        format!(" setting up HTTP/2 with {address}")
    } else {
        format!(" connecting to the gRPC server at {address}")
    }
}

pub(super) async fn probe(check: &GrpcCheck, progress: &Progress) -> Result<Seen, Failure> {
    let (address, tls) = target(check);
    let metadata = metadata(check).await?;
    // Each value, and its last word alone (the credential of `Bearer TOKEN`), is masked in
    // whatever the server says back.
    let mut secrets: Vec<String> = Vec::new();
    for value in metadata.iter().filter_map(|(_, value)| value.to_str().ok()) {
        secrets.push(value.to_owned());
        if let Some((_, last)) = value.trim().rsplit_once(' ')
            && last.len() >= 4
        {
            secrets.push(last.to_owned());
        }
    }
    let tls_config = if tls {
        Some(tls_config(check).await?)
    } else {
        None
    };
    let started = Instant::now();
    let stream = connect(&address, progress).await?;
    let answer = match tls_config {
        Some(config) => {
            let host = split_host_port(&address, 443).map_or_else(|| address.clone(), |(h, _)| h);
            let name = ServerName::try_from(host.clone())
                .map_err(|_| Failure::new(format!("`{host}` is not a valid TLS server name")))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, stream)
                .await
                .map_err(|err| Failure::new(tls_error_text(&err, &address, &host)))?;
            call(stream, check, &address, "https", metadata, progress).await
        }
        None => call(stream, check, &address, "http", metadata, progress).await,
    };
    let status = answer.map_err(|message| {
        let message = secrets
            .iter()
            .fold(message, |message, secret| masked(message, Some(secret)));
        Failure::new(message)
    })?;
    let name = status.name();
    Ok(Seen {
        elapsed: started.elapsed(),
        json: Some(serde_json::json!({ "status": name })),
        body: Some(name),
        ..Seen::default()
    })
}

/// Without a condition on `[BODY]`: the problem when the status is not `SERVING`.
pub(super) fn not_serving(check: &GrpcCheck, seen: &Seen) -> Option<String> {
    let status = seen.body.as_deref()?;
    (status != "SERVING").then(|| {
        let what = if check.service.is_empty() {
            "the server".to_owned()
        } else {
            format!("the service `{}`", check.service)
        };
        format!("{what} is {status} (expected SERVING)")
    })
}

/// The metadata headers, values as written (`${VAR}`) or read from their files now, marked
/// sensitive.
async fn metadata(check: &GrpcCheck) -> Result<Vec<(HeaderName, HeaderValue)>, Failure> {
    let mut headers = Vec::new();
    for (name, secret) in &check.metadata {
        let value = super::read_secret(secret, &format!("metadata `{name}`")).await?;
        headers.push((header_name(name)?, header_value(name, value.trim())?));
    }
    Ok(headers)
}

fn header_name(name: &str) -> Result<HeaderName, Failure> {
    HeaderName::try_from(name).map_err(|_| Failure::new(format!("bad metadata name `{name}`")))
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, Failure> {
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        Failure::new(format!(
            "the value of metadata `{name}` must be printable ASCII"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// TLS with the web's roots, or the authorities of `ca_file`; HTTP/2 by ALPN.
async fn tls_config(check: &GrpcCheck) -> Result<rustls::ClientConfig, Failure> {
    let mut config = match &check.ca_file {
        None => super::web_roots_tls()
            .map_err(|why| Failure::new(format!("cannot set up TLS: {why}")))?,
        Some(path) => {
            let pem = tokio::fs::read(path).await.map_err(|err| {
                Failure::new(format!("cannot read the ca_file {}: {err}", path.display()))
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let added = cert.ok().and_then(|cert| roots.add(cert).ok());
                if added.is_none() {
                    return Err(Failure::new(format!(
                        "the ca_file {} holds a certificate that cannot be read",
                        path.display()
                    )));
                }
            }
            if roots.is_empty() {
                return Err(Failure::new(format!(
                    "the ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                )));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|err| Failure::new(format!("cannot set up TLS: {err}")))?
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A failed TLS handshake with `address`, in words.
fn tls_error_text(err: &std::io::Error, address: &str, host: &str) -> String {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => super::tls::handshake_error_text(tls, host),
        None if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("TLS handshake with {address} failed: the server closed the connection")
        }
        None => io_error_text(err, address),
    }
}

/// Sets up HTTP/2 on `io`, calls `Health/Check` and reads the answer: the serving status, or
/// the failure in words.
async fn call<T>(
    io: T,
    check: &GrpcCheck,
    address: &str,
    scheme: &str,
    metadata: Vec<(HeaderName, HeaderValue)>,
    progress: &Progress,
) -> Result<ServingStatus, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Full<Bytes>>(TokioIo::new(io))
        .await
        .map_err(|err| http2_error_text(&err, address, scheme))?;
    let uri: Uri = format!("{scheme}://{address}{}", grpc_health::CHECK_PATH)
        .parse()
        .map_err(|_| format!("`{address}` is not a valid gRPC authority"))?;
    let mut request = Request::post(uri)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("user-agent", concat!("upkeep/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(grpc_health::request(&check.service))))
        .map_err(|err| format!("cannot build the health call: {err}"))?;
    request.headers_mut().extend(metadata);
    let exchange = async {
        progress.reached(CALLED);
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| http2_error_text(&err, address, scheme))?;
        let (parts, mut body) = response.into_parts();
        if let Some(failure) = grpc_failure(&parts.headers, check, address) {
            return Err(failure);
        }
        if parts.status != hyper::StatusCode::OK {
            return Err(format!(
                "{address} answered HTTP {} instead of gRPC",
                parts.status.as_u16()
            ));
        }
        let content_type = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/grpc") {
            return Err(format!(
                "{address} answered HTTP 200 but not gRPC (content-type `{}`)",
                cut(content_type, 60)
            ));
        }
        let mut data = Vec::new();
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| http2_error_text(&err, address, scheme))?;
            match frame.into_data() {
                Ok(chunk) => {
                    if data.len() + chunk.len() > grpc_health::MAX_ANSWER_BYTES {
                        return Err(format!(
                            "{address} answered more than {} bytes, which is no health answer",
                            grpc_health::MAX_ANSWER_BYTES
                        ));
                    }
                    data.extend_from_slice(&chunk);
                }
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        let Some(trailers) = trailers else {
            return Err(format!("{address} ended the answer without a gRPC status"));
        };
        if let Some(failure) = grpc_failure(&trailers, check, address) {
            return Err(failure);
        }
        if trailers.get("grpc-status").is_none() {
            return Err(format!("{address} ended the answer without a gRPC status"));
        }
        grpc_health::parse_answer(&data).map_err(|why| format!("{address}: {why}"))
    };
    tokio::select! {
        answer = exchange => answer,
        ended = connection => Err(match ended {
            Err(err) => http2_error_text(&err, address, scheme),
            Ok(()) => format!("{address} closed the connection without answering"),
        }),
    }
}

/// A gRPC status other than OK in `headers` (the answer's headers for an error without a
/// body, or its trailers), in words.
fn grpc_failure(headers: &HeaderMap, check: &GrpcCheck, address: &str) -> Option<String> {
    let code = headers.get("grpc-status")?.to_str().ok()?.trim();
    if code == "0" {
        return None;
    }
    let message = headers
        .get("grpc-message")
        .map(|v| {
            percent_encoding::percent_decode(v.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|m| !m.trim().is_empty())
        // Whole (a header is bounded by HTTP/2's header list limit): masking the secrets
        // must see every character of one the server echoes; the failure is cut after.
        .map(|m| format!(": {}", m.trim()))
        .unwrap_or_default();
    let service = if check.service.is_empty() {
        "the server as a whole".to_owned()
    } else {
        format!("the service `{}`", check.service)
    };
    Some(match code {
        "12" => format!(
            "{address} has no health service (UNIMPLEMENTED{message}): it does not implement grpc.health.v1.Health"
        ),
        "5" => format!("{address} does not know {service} (NOT_FOUND{message})"),
        "16" => format!("{address} refused the call as unauthenticated (UNAUTHENTICATED{message})"),
        "7" => {
            format!("{address} refused the call: permission denied (PERMISSION_DENIED{message})")
        }
        other => {
            let name = match other {
                "1" => "CANCELLED",
                "2" => "UNKNOWN",
                "3" => "INVALID_ARGUMENT",
                "4" => "DEADLINE_EXCEEDED",
                "8" => "RESOURCE_EXHAUSTED",
                "9" => "FAILED_PRECONDITION",
                "10" => "ABORTED",
                "13" => "INTERNAL",
                "14" => "UNAVAILABLE",
                _ => "",
            };
            if name.is_empty() {
                format!("{address} answered gRPC status {}{message}", cut(other, 10))
            } else {
                format!("{address} answered {name}{message}")
            }
        }
    })
}

/// An HTTP/2 failure with `address`, in words.
fn http2_error_text(err: &hyper::Error, address: &str, scheme: &str) -> String {
    if let Some(io) = super::io_cause(err) {
        return io_error_text(io, address);
    }
    if err.is_closed() || err.is_incomplete_message() {
        return format!("{address} closed the connection without answering");
    }
    let why = super::http::innermost(err);
    if scheme == "http" && why.starts_with("connection error detected") {
        // Frames that make no sense in plaintext are most often a TLS or HTTP/1 port.
        format!("{address} does not speak plaintext HTTP/2 (is it TLS? use grpcs://): {why}")
    } else {
        format!("HTTP/2 with {address} failed: {why}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> GrpcCheck {
        GrpcCheck {
            url: url.to_owned(),
            service: String::new(),
            ca_file: None,
            metadata: Default::default(),
        }
    }

    #[test]
    fn targets_default_to_443_with_tls() {
        assert_eq!(
            target(&check("grpc://api:50051")),
            ("api:50051".into(), false)
        );
        assert_eq!(target(&check("grpcs://api")), ("api:443".into(), true));
        assert_eq!(
            target(&check("grpcs://[::1]:8443/")),
            ("[::1]:8443".into(), true)
        );
    }
}

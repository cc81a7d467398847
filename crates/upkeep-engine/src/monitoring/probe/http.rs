//! `http` probes: one request with the monitor's method, headers and body through a shared,
//! connection-pooled reqwest client, reading at most [`MAX_BODY_BYTES`] of the answer.
//!
//! There is one client per (`verify_tls`, redirect mode) combination, built once. Clients
//! ignore proxy environment variables (a probe measures this host's path to the target), follow
//! at most [`MAX_REDIRECTS`] redirects when asked to — by default only to the host name of the
//! monitor's URL (any scheme or port; `redirect_hosts: any` lifts that), so a target cannot
//! send the prober to other hosts of the internal network — and report the peer certificate so that
//! https probes also give `cert_expiry_days`. A body larger than the cap is cut, never
//! buffered whole; the connection is then dropped rather than drained.

use std::time::Instant;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url, redirect};
use upkeep_domain::config::HttpCheck;

use super::{BodyNeed, Failure, MAX_BODY_BYTES, ProbeSetupError, Progress, Seen, stage, tls};

/// Redirects followed at most when `follow_redirects` is on.
pub const MAX_REDIRECTS: usize = 10;

/// Which redirects a client follows.
#[derive(Clone, Copy)]
enum Redirects {
    None,
    SameHost,
    AnyHost,
}

impl Redirects {
    fn of(check: &HttpCheck) -> Redirects {
        match (check.follow_redirects, check.redirects_to_other_hosts) {
            (false, _) => Redirects::None,
            (true, false) => Redirects::SameHost,
            (true, true) => Redirects::AnyHost,
        }
    }

    fn policy(self) -> redirect::Policy {
        match self {
            Redirects::None => redirect::Policy::none(),
            Redirects::AnyHost => redirect::Policy::limited(MAX_REDIRECTS),
            Redirects::SameHost => redirect::Policy::custom(|attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                let first = attempt.previous().first().and_then(Url::host_str);
                if first.is_some() && attempt.url().host_str() == first {
                    attempt.follow()
                } else {
                    // The 3xx is the answer (see the hint in the probe's failure).
                    attempt.stop()
                }
            }),
        }
    }
}

/// The six shared clients.
pub(super) struct Clients {
    /// Indexed by `verify_tls as usize * 3 + Redirects as usize`.
    clients: [reqwest::Client; 6],
}

impl Clients {
    pub(super) fn new() -> Result<Clients, ProbeSetupError> {
        let build = |verify_tls: bool, redirects: Redirects| {
            reqwest::Client::builder()
                .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION"), " (probe)"))
                .no_proxy()
                .tls_info(true)
                .danger_accept_invalid_certs(!verify_tls)
                .redirect(redirects.policy())
                .build()
                .map_err(|err| ProbeSetupError::Http(error_chain(&err)))
        };
        Ok(Clients {
            clients: [
                build(false, Redirects::None)?,
                build(false, Redirects::SameHost)?,
                build(false, Redirects::AnyHost)?,
                build(true, Redirects::None)?,
                build(true, Redirects::SameHost)?,
                build(true, Redirects::AnyHost)?,
            ],
        })
    }

    /// The client of RDAP lookups: certificates verified, redirects followed to any host
    /// (RDAP services redirect to the registry that holds the answer).
    pub(super) fn rdap(&self) -> &reqwest::Client {
        &self.clients[5]
    }

    fn client(&self, check: &HttpCheck) -> &reqwest::Client {
        let index = usize::from(check.verify_tls) * 3 + Redirects::of(check) as usize;
        &self.clients[index % self.clients.len()]
    }

    pub(super) async fn probe(
        &self,
        check: &HttpCheck,
        need: BodyNeed,
        progress: &Progress,
    ) -> Result<Seen, Failure> {
        let started = Instant::now();
        let url = Url::parse(&check.url)
            .map_err(|err| Failure::new(format!("invalid URL `{}`: {err}", check.url)))?;
        let method = Method::from_bytes(check.method.as_bytes())
            .map_err(|_| Failure::new(format!("invalid HTTP method `{}`", check.method)))?;
        let mut request = self.client(check).request(method, url.clone());
        for (name, value) in &check.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failure::new(format!("invalid header name `{name}`")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Failure::new(format!("invalid value for header `{name}`")))?;
            request = request.header(name, value);
        }
        if let Some(body) = &check.body {
            request = request.body(body.clone());
        }

        let mut response = request
            .send()
            .await
            .map_err(|err| Failure::new(describe(&err, &url)))?;
        progress.reached(stage::HEADERS);
        let status = response.status().as_u16();
        let cert_expiry_days = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .and_then(tls::expiry_days_now);

        let capacity = response
            .content_length()
            .and_then(|length| usize::try_from(length).ok())
            .unwrap_or(0)
            .min(MAX_BODY_BYTES);
        let mut body = Vec::with_capacity(if need == BodyNeed::None { 0 } else { capacity });
        let mut read = 0usize;
        while read < MAX_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let take = chunk.len().min(MAX_BODY_BYTES - read);
                    read += take;
                    progress.add_bytes(take);
                    if need != BodyNeed::None {
                        body.extend_from_slice(chunk.get(..take).unwrap_or_default());
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    return Err(Failure {
                        message: format!(
                            "the body from {} broke off after {read} bytes: {}",
                            target(&url),
                            innermost(&err)
                        ),
                        status: Some(status),
                        cert_expiry_days,
                    });
                }
            }
        }
        drop(response);
        let elapsed = started.elapsed();

        let (body, json) = match need {
            BodyNeed::None => (None, None),
            BodyNeed::Text => (Some(String::from_utf8_lossy(&body).into_owned()), None),
            BodyNeed::Json => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let json = serde_json::from_str(&text).ok();
                (Some(text), json)
            }
        };
        Ok(Seen {
            elapsed,
            status: Some(status),
            cert_expiry_days,
            body,
            json,
            ..Seen::default()
        })
    }
}

/// `host:port` of a URL, for messages.
fn target(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A reqwest error in words: what failed, against which address.
pub(super) fn describe(err: &reqwest::Error, url: &Url) -> String {
    let target = target(err.url().unwrap_or(url));
    let host = err
        .url()
        .unwrap_or(url)
        .host_str()
        .unwrap_or("?")
        .to_owned();
    let text = error_chain(err);
    if err.is_redirect() {
        if text.contains("too many redirects") {
            return format!("redirect limit reached (more than {MAX_REDIRECTS} redirects)");
        }
        return format!("redirect from {target} failed: {}", innermost(err));
    }
    if text.contains("dns error") {
        return format!("DNS lookup of {host} failed");
    }
    let chain = causes(err);
    for cause in &chain {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return tls::handshake_error_text(tls, &host);
        }
    }
    if let Some(io) = super::io_cause(err) {
        return super::io_error_text(io, &target);
    }
    if text.contains("connection closed before message completed")
        || text.contains("IncompleteMessage")
    {
        return format!("{target} closed the connection without answering");
    }
    if text.contains("invalid URL") || err.is_builder() {
        return format!("invalid request to {}: {}", url, innermost(err));
    }
    format!("request to {target} failed: {}", innermost(err))
}

/// An error and its causes, outermost first. Unlike `source()` alone, this looks inside
/// `io::Error`s, whose `source()` skips the error they wrap.
pub(super) fn causes<'e>(
    err: &'e (dyn std::error::Error + 'static),
) -> Vec<&'e (dyn std::error::Error + 'static)> {
    let mut chain = vec![err];
    let mut current = err;
    while chain.len() < 16 {
        let next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => std::error::Error::source(io),
            },
            None => current.source(),
        };
        match next {
            Some(next) => {
                chain.push(next);
                current = next;
            }
            None => break,
        }
    }
    chain
}

/// The innermost cause of an error, which usually carries the useful words.
pub(super) fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    causes(err)
        .last()
        .map_or_else(|| err.to_string(), |cause| cause.to_string())
}

/// Every message of an error's chain, joined with `: `.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    causes(err)
        .iter()
        .map(|cause| cause.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

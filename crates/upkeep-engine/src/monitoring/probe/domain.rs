//! `domain` probes: a domain's registration expiry over RDAP. The server is the monitor's
//! `rdap_server`, or the one the RDAP bootstrap file (IANA's, built in, or the monitor's
//! `bootstrap_file`) names for the domain's top-level domain; the probe asks it for
//! `/domain/NAME` and reads the answer with `upkeep_domain::rdap`. `[DOMAIN_EXPIRY]` is the
//! whole days until the `expiration` event (rounded down, negative once past), counted anew at
//! every check; `[BODY]` is a small JSON summary (name, status, registration, expiration, last
//! changed, server).
//!
//! Registries limit how often they are asked and an expiry date moves once a year, so answers
//! are kept per RDAP URL: a good one for the monitor's `refresh` (default 6 h), a refusal or
//! an unusable answer for 5 minutes (or `refresh` if shorter); a lookup that got no answer
//! (refused connection, timeout) is not kept. A `429 Too Many Requests` stops lookups at that
//! URL for its `Retry-After` (5 minutes when it says nothing); meanwhile the last good answer
//! serves, or the check fails saying it is rate-limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use upkeep_domain::config::DomainCheck;
use upkeep_domain::notify::providers::retry_after;
use upkeep_domain::rdap::{
    BUILTIN_BOOTSTRAP, Bootstrap, Registration, days_until, error_text, parse_bootstrap,
    parse_domain,
};

use super::{Failure, MAX_BODY_BYTES, Progress, Seen, stage};

/// How long a failed lookup is kept before the registry is asked again (at most `refresh`).
const FAILURE_KEPT: Duration = Duration::from_secs(300);
/// How long a `429` without `Retry-After` stops lookups.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(300);

/// What a `domain` check saw.
#[derive(Clone, Copy, Debug)]
pub(super) struct Expiry {
    pub(super) days: i64,
    pub(super) on: Timestamp,
}

/// The answers kept per RDAP URL, shared by every clone of the prober.
#[derive(Default)]
pub(super) struct Registrations {
    answers: Mutex<HashMap<String, Kept>>,
    builtin: OnceLock<Result<Bootstrap, String>>,
}

/// The last lookup at one URL.
struct Kept {
    at: Instant,
    outcome: Result<Arc<Registration>, String>,
    last_good: Option<Arc<Registration>>,
    /// No lookup before this instant (a `429`'s `Retry-After`).
    not_before: Option<Instant>,
}

/// What the cache says for a URL now.
enum Cached {
    Answer(Result<Arc<Registration>, String>),
    RateLimited {
        last_good: Option<Arc<Registration>>,
        wait: Duration,
    },
    Ask,
}

/// "asking rdap.example.com for example.com" or "finding the RDAP server of example.com".
pub(super) fn describe(check: &DomainCheck, reached: u8) -> String {
    if reached >= stage::CONNECTED {
        format!(" waiting for the RDAP server's answer about {}", check.name)
    } else {
        format!(" finding the RDAP server of {}", check.name)
    }
}

impl Registrations {
    pub(super) async fn probe(
        &self,
        client: &reqwest::Client,
        check: &DomainCheck,
        progress: &Progress,
    ) -> Result<Seen, Failure> {
        let started = Instant::now();
        let base = self.server(check).await?;
        let url = format!("{}/domain/{}", base.trim_end_matches('/'), check.name);
        let server = host_of(&url);
        progress.reached(stage::CONNECTED);
        let registration = match self.cached(&url, check.refresh) {
            Cached::Answer(answer) => answer.map_err(Failure::new)?,
            Cached::RateLimited {
                last_good: Some(registration),
                ..
            } => registration,
            Cached::RateLimited {
                last_good: None,
                wait,
            } => {
                return Err(Failure::new(format!(
                    "rate-limited by the RDAP server {server}: no lookup for {} s more (Retry-After)",
                    wait.as_secs().max(1)
                )));
            }
            Cached::Ask => {
                let looked_up = self.look_up(client, check, &url, &server).await;
                looked_up.map_err(Failure::new)?
            }
        };
        let on = registration.expiration.ok_or_else(|| {
            Failure::new(format!(
                "the RDAP answer for {} from {server} has no expiration event",
                check.name
            ))
        })?;
        let now = Timestamp::now();
        let summary = serde_json::json!({
            "name": registration.name.as_deref().unwrap_or(&check.name),
            "status": registration.status,
            "registration": registration.registration.map(|t| t.to_string()),
            "expiration": on.to_string(),
            "last_changed": registration.last_changed.map(|t| t.to_string()),
            "server": server,
        });
        Ok(Seen {
            elapsed: started.elapsed(),
            body: Some(summary.to_string()),
            json: Some(summary),
            domain: Some(Expiry {
                days: days_until(on, now),
                on,
            }),
            ..Seen::default()
        })
    }

    /// The RDAP server's base URL for the check's domain.
    async fn server(&self, check: &DomainCheck) -> Result<String, Failure> {
        if let Some(server) = &check.rdap_server {
            return Ok(server.clone());
        }
        let owned;
        let bootstrap = match &check.bootstrap_file {
            Some(path) => {
                let text = tokio::fs::read_to_string(path).await.map_err(|err| {
                    Failure::new(format!(
                        "cannot read the bootstrap file {}: {err}",
                        path.display()
                    ))
                })?;
                owned = parse_bootstrap(&text)
                    .map_err(|why| Failure::new(format!("{}: {why}", path.display())))?;
                &owned
            }
            None => self
                .builtin
                .get_or_init(|| parse_bootstrap(BUILTIN_BOOTSTRAP))
                .as_ref()
                .map_err(|why| Failure::new(format!("the built-in bootstrap file: {why}")))?,
        };
        bootstrap
            .server_for(&check.name)
            .map(str::to_owned)
            .ok_or_else(|| {
                let tld = check.name.rsplit('.').next().unwrap_or(&check.name);
                Failure::new(format!(
                    "no RDAP server for .{tld} in the bootstrap file{}: set `rdap_server` for {}",
                    bootstrap
                        .publication
                        .as_deref()
                        .map(|p| format!(" (published {p})"))
                        .unwrap_or_default(),
                    check.name
                ))
            })
    }

    fn cached(&self, url: &str, refresh: Duration) -> Cached {
        let Ok(answers) = self.answers.lock() else {
            return Cached::Ask;
        };
        let Some(kept) = answers.get(url) else {
            return Cached::Ask;
        };
        let now = Instant::now();
        if let Some(not_before) = kept.not_before
            && not_before > now
        {
            return Cached::RateLimited {
                last_good: kept.last_good.clone(),
                wait: not_before - now,
            };
        }
        let kept_for = match kept.outcome {
            Ok(_) => refresh,
            Err(_) => FAILURE_KEPT.min(refresh),
        };
        if kept.not_before.is_none() && now.saturating_duration_since(kept.at) < kept_for {
            Cached::Answer(kept.outcome.clone())
        } else {
            Cached::Ask
        }
    }

    fn keep(
        &self,
        url: &str,
        outcome: Result<Arc<Registration>, String>,
        not_before: Option<Instant>,
    ) {
        if let Ok(mut answers) = self.answers.lock() {
            let last_good = match &outcome {
                Ok(registration) => Some(Arc::clone(registration)),
                Err(_) => answers.get(url).and_then(|k| k.last_good.clone()),
            };
            answers.insert(
                url.to_owned(),
                Kept {
                    at: Instant::now(),
                    outcome,
                    last_good,
                    not_before,
                },
            );
        }
    }

    /// Asks the server and keeps what it said.
    async fn look_up(
        &self,
        client: &reqwest::Client,
        check: &DomainCheck,
        url: &str,
        server: &str,
    ) -> Result<Arc<Registration>, String> {
        let parsed =
            reqwest::Url::parse(url).map_err(|err| format!("bad RDAP URL `{url}`: {err}"))?;
        let response = client
            .get(parsed.clone())
            .header(ACCEPT, "application/rdap+json, application/json")
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(err) => {
                // Not kept: the next check asks again.
                return Err(super::http::describe(&err, &parsed));
            }
        };
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        let why = format!(
                            "the RDAP answer from {server} is larger than {} KiB",
                            MAX_BODY_BYTES / 1024
                        );
                        self.keep(url, Err(why.clone()), None);
                        return Err(why);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => {
                    return Err(format!(
                        "the RDAP answer from {server} broke off: {}",
                        super::http::innermost(&err)
                    ));
                }
            }
        }
        let (outcome, not_before) = match status {
            200 => (
                parse_domain(&body).map(Arc::new).map_err(|why| {
                    format!(
                        "the RDAP answer from {server} for {} is unusable: {why}",
                        check.name
                    )
                }),
                None,
            ),
            404 => (
                Err(format!(
                    "domain {} not found at the RDAP server {server} (404): not registered, or not with this registry",
                    check.name
                )),
                None,
            ),
            429 => {
                let wait = retry_after(header.as_deref(), &body, Timestamp::now())
                    .unwrap_or(DEFAULT_BACKOFF);
                let not_before = Instant::now()
                    .checked_add(wait)
                    .unwrap_or_else(Instant::now);
                let why = format!(
                    "rate-limited by the RDAP server {server} (429): no lookup for {} s (Retry-After)",
                    wait.as_secs()
                );
                (Err(why), Some(not_before))
            }
            _ => {
                let detail = serde_json::from_slice(&body)
                    .ok()
                    .and_then(|value| error_text(&value))
                    .map(|text| format!(" ({text})"))
                    .unwrap_or_default();
                (
                    Err(format!(
                        "the RDAP server {server} answered HTTP {status} for {}{detail}",
                        check.name
                    )),
                    None,
                )
            }
        };
        self.keep(url, outcome.clone(), not_before);
        if not_before.is_some()
            && let Cached::RateLimited {
                last_good: Some(registration),
                ..
            } = self.cached(url, check.refresh)
        {
            return Ok(registration);
        }
        outcome
    }
}

/// `host[:port]` of a URL, for messages.
fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => url.to_string(),
        },
        Err(_) => url.to_owned(),
    }
}

//! Probe agents: the protocol between `upkeep agent` and the server, and its rules, as pure
//! functions (docs/agents.md).
//!
//! - An agent posts its results in batches ([`Batch`]): one at least every [`HEARTBEAT`]
//!   (an empty one when it has nothing to send: the batch is also its heartbeat), numbered by
//!   `seq`, which the agent never reuses; the server stores each `(agent, seq)` once.
//! - A batch is taken whole or refused whole ([`check_batch`]): too many results, a result
//!   for a monitor not assigned to the agent's location, an instant far in the future or
//!   older than [`MAX_AGE`] (the buffer's maximum age), numbers out of range.
//! - Clocks: the offset is the agent's `sent_at` minus the instant the server received the
//!   batch. Beyond [`CLOCK_CORRECTED_MS`] the results' instants are corrected by it (stored in
//!   the server's frame); beyond [`CLOCK_FLAGGED_MS`] the agent is flagged ([`watch_state`]).
//! - Rounds: a result may name the round it was probed for (`round`, the round start the
//!   agent's probe loop used). A claim of the round the probe's start falls in, or of the next
//!   one starting at most [`ROUND_AHEAD_MS`] after it and after the batch's arrival (on the
//!   server's clock), is kept, and the result is judged in that round; otherwise (and for
//!   results without one, from older agents) the result is judged in the round its instant
//!   falls in. So an agent whose clock runs a little fast still votes in the round it probed
//!   for.
//! - Content: [`digest`] fingerprints a batch's results (not the rounds they claim, which an
//!   agent sends or not by what the server said it takes), so the server tells a batch posted
//!   again (same digest) from another batch numbered the same (an agent that lost its data
//!   directory).
//! - An agent not heard from for [`SILENT_AFTER`] (three heartbeats) is flagged too.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::EventState;
use crate::rounds;

/// An agent sends a batch (possibly empty) at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// An agent not heard from for this long (three heartbeats) is flagged.
pub const SILENT_AFTER: Duration = Duration::from_secs(30);
/// A clock offset beyond this (in either direction) corrects the batch's instants.
pub const CLOCK_CORRECTED_MS: i64 = 2_000;
/// A clock offset beyond this flags the agent.
pub const CLOCK_FLAGGED_MS: i64 = 5_000;
/// The oldest result accepted, and the longest an agent buffers one.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How far past the server's clock a (corrected) result's instant may lie.
pub const MAX_AHEAD_MS: i64 = 60_000;
/// How far past the probe's start and the batch's arrival (on the server's clock) a result's
/// claimed round may start: a clock this fast is not flagged either.
pub const ROUND_AHEAD_MS: i64 = CLOCK_FLAGGED_MS;
/// Most results in one batch.
pub const MAX_RESULTS: usize = 2_000;
/// Largest batch body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest failure text, in characters (the probes' own bound).
pub const MAX_FAILURE_CHARS: usize = 300;
/// Longest agent version text.
pub const MAX_VERSION_CHARS: usize = 64;
/// Longest probe latency accepted, in milliseconds (a day: a probe is bounded by its timeout).
pub const MAX_LATENCY_MS: u64 = 86_400_000;
/// The longest a request for assignments is held open when nothing changed.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// A batch of results, as posted to `POST /api/v1/agent/results`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The batch's number; never reused by the agent (idempotency key with the agent's name).
    pub seq: u64,
    /// When the agent sent it, on its own clock (RFC 3339).
    pub sent_at: Timestamp,
    /// The location the agent probes from (`--location`).
    pub location: String,
    /// The agent's version (`upkeep --version`).
    pub version: String,
    /// Results the agent dropped from its buffer since it first ran with its data directory
    /// (the buffer's bounds), as a running total.
    #[serde(default)]
    pub dropped: u64,
    /// The results, oldest first.
    pub results: Vec<AgentResult>,
}

/// One probe's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    /// The monitor's id.
    pub monitor: String,
    /// When the probe started, on the agent's clock (RFC 3339).
    pub at: Timestamp,
    pub ok: bool,
    pub latency_ms: u64,
    /// The final HTTP status (http monitors), else null.
    pub status_code: Option<u16>,
    /// Why it failed (null when ok).
    pub failure: Option<String>,
    /// The start of the round it was probed for (RFC 3339), as the agent's probe loop laid
    /// it out; absent from older agents' results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<Timestamp>,
}

/// A result accepted for storage, its instant in the server's frame: what the server queues
/// for the monitors' writer (`upkeep_store::agents::IngestBatch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub monitor: String,
    pub at: Timestamp,
    pub ok: bool,
    pub latency_ms: i64,
    pub status_code: Option<u16>,
    pub failure: Option<String>,
    /// The round it is judged in, when its claim holds ([`check_batch`]); else the round its
    /// instant falls in.
    pub round: Option<Timestamp>,
}

/// A batch accepted whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    /// The agent's clock minus the server's, in milliseconds.
    pub clock_offset_ms: i64,
    /// Whether the instants were corrected by the offset.
    pub corrected: bool,
    /// Results whose claimed round was not kept (off the monitor's grid, or too far ahead):
    /// they are judged by their instants.
    pub rounds_ignored: usize,
    pub results: Vec<Accepted>,
}

/// Why a batch is refused whole (nothing of it is stored).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("`seq` must be below 2^63")]
    Seq,
    #[error("a batch holds at most {MAX_RESULTS} results; this one holds {0}")]
    TooManyResults(usize),
    #[error("`location` must be a location id (letters, digits, `-`, `_`, `.`; not `server`)")]
    Location,
    #[error("`version` must be 1 to {MAX_VERSION_CHARS} printable characters")]
    Version,
    #[error("results for monitors not probed from location `{location}`: {}", monitors.join(", "))]
    Unassigned {
        location: String,
        monitors: Vec<String>,
    },
    #[error("result {index} (`{monitor}`) is dated {at}, more than {}s ahead of the server's clock after correcting the agent's clock", MAX_AHEAD_MS / 1000)]
    Future {
        index: usize,
        monitor: String,
        at: Timestamp,
    },
    #[error("result {index} (`{monitor}`) is dated {at}, older than the {}h an agent keeps results", MAX_AGE.as_secs() / 3600)]
    TooOld {
        index: usize,
        monitor: String,
        at: Timestamp,
    },
    #[error("result {index} (`{monitor}`): {what}")]
    Field {
        index: usize,
        monitor: String,
        what: String,
    },
}

/// Whether `name` is a location id an agent may report from: a configuration id, not the
/// server's own location.
pub fn valid_location(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && name != crate::config::SERVER_LOCATION
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Checks a batch received at `received_at`; `assigned(location, monitor)` is the interval of
/// a monitor probed from a location (`None`: not probed from it, or unknown). Instants are
/// corrected by the agent's clock offset when it exceeds [`CLOCK_CORRECTED_MS`]; claimed
/// rounds are kept when [`claimed_round`] holds them.
pub fn check_batch(
    batch: &Batch,
    received_at: Timestamp,
    assigned: impl Fn(&str, &str) -> Option<Duration>,
) -> Result<Checked, BatchError> {
    if i64::try_from(batch.seq).is_err() {
        return Err(BatchError::Seq);
    }
    if batch.results.len() > MAX_RESULTS {
        return Err(BatchError::TooManyResults(batch.results.len()));
    }
    if !valid_location(&batch.location) {
        return Err(BatchError::Location);
    }
    let version_chars = batch.version.chars().count();
    if version_chars == 0
        || version_chars > MAX_VERSION_CHARS
        || batch.version.chars().any(char::is_control)
    {
        return Err(BatchError::Version);
    }
    let mut unassigned: Vec<String> = batch
        .results
        .iter()
        .filter(|r| assigned(&batch.location, &r.monitor).is_none())
        .map(|r| r.monitor.chars().take(100).collect())
        .collect();
    if !unassigned.is_empty() {
        unassigned.sort();
        unassigned.dedup();
        return Err(BatchError::Unassigned {
            location: batch.location.clone(),
            monitors: unassigned,
        });
    }
    let (clock_offset_ms, corrected) = clock_offset(batch, received_at);
    let latest = received_at.as_millisecond().saturating_add(MAX_AHEAD_MS);
    let max_age_ms = i64::try_from(MAX_AGE.as_millis()).unwrap_or(i64::MAX);
    let oldest = received_at.as_millisecond().saturating_sub(max_age_ms);
    let mut results = Vec::with_capacity(batch.results.len());
    let mut rounds_ignored = 0;
    for (index, r) in batch.results.iter().enumerate() {
        let field = |what: String| BatchError::Field {
            index,
            monitor: r.monitor.clone(),
            what,
        };
        let ms = if corrected {
            r.at.as_millisecond().saturating_sub(clock_offset_ms)
        } else {
            r.at.as_millisecond()
        };
        let at = Timestamp::from_millisecond(ms).unwrap_or(r.at);
        if ms > latest {
            return Err(BatchError::Future {
                index,
                monitor: r.monitor.clone(),
                at,
            });
        }
        if ms < oldest {
            return Err(BatchError::TooOld {
                index,
                monitor: r.monitor.clone(),
                at,
            });
        }
        if r.latency_ms > MAX_LATENCY_MS {
            return Err(field(format!(
                "`latency_ms` {} is more than a day",
                r.latency_ms
            )));
        }
        if let Some(code) = r.status_code
            && !(100..=599).contains(&code)
        {
            return Err(field(format!(
                "`status_code` {code} is not an HTTP status (100 to 599)"
            )));
        }
        match (&r.failure, r.ok) {
            (Some(_), true) => return Err(field("a result that is ok has no `failure`".into())),
            (None, false) => {
                return Err(field(
                    "a result that is not ok says why in `failure`".into(),
                ));
            }
            (Some(text), false) if text.chars().count() > MAX_FAILURE_CHARS => {
                return Err(field(format!(
                    "`failure` is longer than {MAX_FAILURE_CHARS} characters"
                )));
            }
            _ => {}
        }
        let round = r.round.and_then(|claimed| {
            let interval = assigned(&batch.location, &r.monitor)?;
            claimed_round(&r.monitor, interval, claimed, at, received_at)
        });
        if r.round.is_some() && round.is_none() {
            rounds_ignored += 1;
        }
        results.push(Accepted {
            monitor: r.monitor.clone(),
            at,
            ok: r.ok,
            latency_ms: i64::try_from(r.latency_ms).unwrap_or(i64::MAX),
            status_code: r.status_code,
            failure: r.failure.clone(),
            round,
        });
    }
    Ok(Checked {
        clock_offset_ms,
        corrected,
        rounds_ignored,
        results,
    })
}

/// The agent's clock minus the server's, in milliseconds (its `sent_at` minus the instant
/// the batch was received), and whether the batch's instants are corrected by it (beyond
/// [`CLOCK_CORRECTED_MS`]).
pub fn clock_offset(batch: &Batch, received_at: Timestamp) -> (i64, bool) {
    let offset = batch
        .sent_at
        .as_millisecond()
        .saturating_sub(received_at.as_millisecond());
    (offset, offset.saturating_abs() > CLOCK_CORRECTED_MS)
}

/// The round a result of `monitor` (every `interval`) is judged in, when its claim holds
/// ([`rounds::judged_round`]: the round its probe's start `at` falls in, or the next one at
/// most [`ROUND_AHEAD_MS`] after it) and the round does not start more than
/// [`ROUND_AHEAD_MS`] after the batch's arrival `received_at` (both on the server's clock).
/// `None`: the claim does not hold (a reload changed the interval, a clock far off, a claim
/// of an earlier round); the result is then judged in the round its instant falls in.
pub fn claimed_round(
    monitor: &str,
    interval: Duration,
    claimed: Timestamp,
    at: Timestamp,
    received_at: Timestamp,
) -> Option<Timestamp> {
    let held =
        rounds::judged_round(monitor, interval, Some(claimed), at, ROUND_AHEAD_MS) == claimed;
    let ahead = claimed
        .as_millisecond()
        .saturating_sub(received_at.as_millisecond())
        > ROUND_AHEAD_MS;
    (held && !ahead).then_some(claimed)
}

/// A fingerprint of a batch's content: its location and its results without their claimed
/// rounds; not when it was sent or the agent's counters, which change between attempts, nor
/// the rounds, which an agent sends or leaves out by what the server last said it takes, so
/// two posts of one batch may differ in them. A batch posted again has the same one, another
/// batch numbered the same (an agent that lost its data directory) another.
pub fn digest(batch: &Batch) -> String {
    let results: Vec<AgentResult> = batch
        .results
        .iter()
        .map(|r| AgentResult {
            round: None,
            ..r.clone()
        })
        .collect();
    digest_of(&batch.location, &results)
}

/// The fingerprint releases before [`digest`] recorded: the results as posted, rounds
/// included. A batch one of them stored, posted again as it was, is still the same batch.
pub fn digest_as_posted(batch: &Batch) -> String {
    digest_of(&batch.location, &batch.results)
}

fn digest_of(location: &str, results: &[AgentResult]) -> String {
    let content = serde_json::to_vec(&(location, results)).unwrap_or_default();
    hex::encode(Sha256::digest(&content))
}

/// Whether a batch recorded with the fingerprint `stored` is the batch whose fingerprints are
/// `digest` ([`digest`]) and `as_posted` ([`digest_as_posted`]): either matches, or the
/// record has none (stored before fingerprints were kept).
pub fn same_content(stored: Option<&str>, digest: &str, as_posted: &str) -> bool {
    stored.is_none_or(|d| d == digest || d == as_posted)
}

/// Parses a batch body (JSON) and checks it: what the server does with each post, as one
/// function (and the fuzz target's entry).
pub fn parse_batch(
    body: &[u8],
    received_at: Timestamp,
    assigned: impl Fn(&str, &str) -> Option<Duration>,
) -> Result<(Batch, Checked), String> {
    if body.len() > MAX_BODY_BYTES {
        return Err(format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    }
    let batch: Batch = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let checked = check_batch(&batch, received_at, assigned).map_err(|e| e.to_string())?;
    Ok((batch, checked))
}

/// An agent's state for its operators: `warning` when it has not been heard from for
/// [`SILENT_AFTER`] or its clock is off by more than [`CLOCK_FLAGGED_MS`], with why.
pub fn watch_state(
    last_seen: Timestamp,
    clock_offset_ms: i64,
    now: Timestamp,
) -> (EventState, Option<String>) {
    let silent = now.duration_since(last_seen);
    let limit = SignedDuration::try_from(SILENT_AFTER).unwrap_or(SignedDuration::MAX);
    if silent > limit {
        return (
            EventState::Warning,
            Some(format!(
                "not heard from for {}s (it reports every {}s)",
                silent.as_secs(),
                HEARTBEAT.as_secs()
            )),
        );
    }
    if clock_offset_ms.saturating_abs() > CLOCK_FLAGGED_MS {
        return (
            EventState::Warning,
            Some(format!(
                "its clock is {:+.1}s off the server's",
                // Display only: an offset in ms fits an f64 exactly enough.
                clock_offset_ms as f64 / 1000.0
            )),
        );
    }
    (EventState::Ok, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).unwrap()
    }

    const NOW: i64 = 1_780_000_000_000;

    fn result(monitor: &str, at: i64, ok: bool) -> AgentResult {
        AgentResult {
            monitor: monitor.into(),
            at: ts(at),
            ok,
            latency_ms: 12,
            status_code: Some(200),
            failure: (!ok).then(|| "refused".to_owned()),
            round: None,
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    /// Every monitor is probed from every location, every minute.
    fn every(_: &str, _: &str) -> Option<Duration> {
        Some(MINUTE)
    }

    fn batch(sent_at: i64, results: Vec<AgentResult>) -> Batch {
        Batch {
            seq: 1,
            sent_at: ts(sent_at),
            location: "eu-1".into(),
            version: "0.1.0".into(),
            dropped: 0,
            results,
        }
    }

    #[test]
    fn a_small_offset_is_kept_and_a_large_one_corrects_the_instants() {
        let b = batch(NOW + 1_500, vec![result("api", NOW - 10_000, true)]);
        let c = check_batch(&b, ts(NOW), every).unwrap();
        assert_eq!((c.clock_offset_ms, c.corrected), (1_500, false));
        assert_eq!(c.results[0].at, ts(NOW - 10_000));

        // The agent's clock is 10 minutes fast: its instants come back to the server's frame.
        let b = batch(NOW + 600_000, vec![result("api", NOW + 590_000, false)]);
        let c = check_batch(&b, ts(NOW), every).unwrap();
        assert_eq!((c.clock_offset_ms, c.corrected), (600_000, true));
        assert_eq!(c.results[0].at, ts(NOW - 10_000));
    }

    #[test]
    fn a_batch_is_refused_whole() {
        let future = batch(NOW, vec![result("api", NOW + MAX_AHEAD_MS + 1, true)]);
        assert!(matches!(
            check_batch(&future, ts(NOW), every),
            Err(BatchError::Future { index: 0, .. })
        ));
        let max_age = i64::try_from(MAX_AGE.as_millis()).unwrap();
        let old = batch(
            NOW,
            vec![
                result("api", NOW, true),
                result("api", NOW - max_age - 1, true),
            ],
        );
        assert!(matches!(
            check_batch(&old, ts(NOW), every),
            Err(BatchError::TooOld { index: 1, .. })
        ));
        let mixed = batch(
            NOW,
            vec![
                result("api", NOW, true),
                result("db", NOW, true),
                result("x", NOW, true),
            ],
        );
        assert_eq!(
            check_batch(&mixed, ts(NOW), |_, m| (m == "api").then_some(MINUTE)),
            Err(BatchError::Unassigned {
                location: "eu-1".into(),
                monitors: vec!["db".into(), "x".into()]
            })
        );
        let mut bad = batch(NOW, vec![result("api", NOW, true)]);
        bad.results[0].status_code = Some(42);
        assert!(matches!(
            check_batch(&bad, ts(NOW), every),
            Err(BatchError::Field { .. })
        ));
        bad.results[0].status_code = None;
        bad.results[0].failure = Some("but ok".into());
        assert!(matches!(
            check_batch(&bad, ts(NOW), every),
            Err(BatchError::Field { .. })
        ));
        let mut server = batch(NOW, vec![]);
        server.location = "server".into();
        assert_eq!(
            check_batch(&server, ts(NOW), every),
            Err(BatchError::Location)
        );
        let many = batch(NOW, vec![result("api", NOW, true); MAX_RESULTS + 1]);
        assert_eq!(
            check_batch(&many, ts(NOW), every),
            Err(BatchError::TooManyResults(MAX_RESULTS + 1))
        );
    }

    #[test]
    fn the_wire_form_round_trips_and_refuses_unknown_fields() {
        let b = batch(NOW, vec![result("api", NOW - 1, false)]);
        let text = serde_json::to_string(&b).unwrap();
        assert!(text.contains("\"sent_at\":\"2026-"), "{text}");
        let (back, _) = parse_batch(text.as_bytes(), ts(NOW), every).unwrap();
        assert_eq!(back, b);
        let extra = text.replacen("{", "{\"admin\":true,", 1);
        assert!(parse_batch(extra.as_bytes(), ts(NOW), every).is_err());
        assert!(parse_batch(b"{\"seq\":-1}", ts(NOW), every).is_err());
        assert!(parse_batch(&vec![b' '; MAX_BODY_BYTES + 1], ts(NOW), every).is_err());
    }

    #[test]
    fn a_claimed_round_is_kept_when_it_is_on_the_grid_and_not_ahead() {
        let round = crate::rounds::next_round_start("api", MINUTE, ts(NOW));
        let r = round.as_millisecond();
        // The agent's clock is 3 s fast: corrected, its probe started 3 s before the round on
        // the server's clock, yet it was probed for that round.
        let mut fast = result("api", r + 20, true);
        fast.round = Some(round);
        let b = batch(r + 3_500, vec![fast.clone()]);
        let c = check_batch(&b, ts(r + 500), every).unwrap();
        assert!(c.corrected);
        assert_eq!(c.results[0].at, ts(r - 2_980));
        assert_eq!(c.results[0].round, Some(round));
        assert_eq!(c.rounds_ignored, 0);

        // Off the grid (a reload changed the interval), or far ahead of the probe's start
        // (a clock 8 s fast): judged by its instant instead.
        let off_grid = check_batch(&b, ts(r + 500), |_, _| Some(Duration::from_secs(7))).unwrap();
        assert_eq!(
            (off_grid.results[0].round, off_grid.rounds_ignored),
            (None, 1)
        );
        let b = batch(r + 8_500, vec![fast.clone()]);
        let far = check_batch(&b, ts(r + 500), every).unwrap();
        assert_eq!((far.results[0].round, far.rounds_ignored), (None, 1));
        // Ahead of the batch's arrival (the server's clock): not kept either.
        assert_eq!(
            claimed_round("api", MINUTE, round, ts(r), ts(r - ROUND_AHEAD_MS - 1)),
            None
        );
        assert_eq!(
            claimed_round(
                "api",
                MINUTE,
                round,
                ts(r - ROUND_AHEAD_MS),
                ts(r - ROUND_AHEAD_MS)
            ),
            Some(round)
        );

        // A claim of an earlier round than the probe's start (a clock 20 s slow, or a
        // hostile agent stuffing a past round): judged by its instant.
        assert_eq!(
            claimed_round(
                "api",
                MINUTE,
                round,
                ts(r + 60_000 + 20_000),
                ts(r + 80_000)
            ),
            None
        );

        // Without a claim (an older agent): no round, as before.
        let old = batch(r + 500, vec![result("api", r + 20, true)]);
        let c = check_batch(&old, ts(r + 500), every).unwrap();
        assert_eq!((c.results[0].round, c.rounds_ignored), (None, 0));
        let text = serde_json::to_string(&old).unwrap();
        assert!(!text.contains("round"), "{text}");
    }

    #[test]
    fn the_digest_is_the_content_not_the_sending() {
        let b = batch(NOW, vec![result("api", NOW - 1, false)]);
        let mut again = b.clone();
        again.sent_at = ts(NOW + 5_000);
        again.dropped = 9;
        again.version = "0.2.0".into();
        assert_eq!(digest(&b), digest(&again));
        let mut other = b.clone();
        other.results[0].latency_ms += 1;
        assert_ne!(digest(&b), digest(&other));
        assert_eq!(digest(&b).len(), 64);
        // The rounds claimed are not the content: sent or not by what the server said.
        let mut claimed = b.clone();
        claimed.results[0].round = Some(ts(NOW - 1_000));
        assert_eq!(digest(&claimed), digest(&b));
        assert_ne!(digest_as_posted(&claimed), digest_as_posted(&b));
        assert_eq!(
            digest_as_posted(&b),
            digest(&b),
            "without rounds, as before"
        );
        assert!(same_content(
            Some(&digest_as_posted(&claimed)),
            &digest(&claimed),
            &digest_as_posted(&claimed)
        ));
        assert!(same_content(None, &digest(&b), &digest_as_posted(&b)));
        assert!(!same_content(
            Some(&digest(&other)),
            &digest(&b),
            &digest_as_posted(&b)
        ));
    }

    #[test]
    fn agents_are_flagged_when_silent_or_off_clock() {
        let now = ts(NOW);
        assert_eq!(watch_state(ts(NOW - 29_000), 0, now).0, EventState::Ok);
        assert_eq!(watch_state(ts(NOW - 31_000), 0, now).0, EventState::Warning);
        assert_eq!(watch_state(ts(NOW), 4_000, now).0, EventState::Ok);
        let (state, why) = watch_state(ts(NOW), -6_000, now);
        assert_eq!(state, EventState::Warning);
        assert_eq!(why.unwrap(), "its clock is -6.0s off the server's");
    }
}

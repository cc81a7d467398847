//! The rounds of monitors probed from several locations, between their locations' results
//! and their judgement (`upkeep_domain::quorum`). Bookkeeping only — no I/O and no clock: the
//! scheduler's writer feeds it results and instants and writes what it decides
//! (docs/agents.md, "Rounds and quorum").
//!
//! - A round is judged once, in round order, as soon as its outcome is certain, else when it
//!   closes: [`CLOSE_GRACE`] after the monitor's timeout has passed since the round's start
//!   (time for agents' batches to arrive).
//! - A result for a round already judged is late: it is kept as history and shown, and never
//!   changes the monitor's state or fires an alert.
//! - An unknown round counts towards the monitor's `failure_threshold` like a failure does:
//!   one late batch does not make a monitor unknown.
//! - A location whose results fail `failure_threshold` rounds in a row while others keep the
//!   monitor up is an operator event of its own (`location:MONITOR@LOCATION`, `warning`), and
//!   `ok` again when it passes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::{Config, Monitor};
use upkeep_domain::event::EventState;
use upkeep_domain::quorum::{self, LocationResult, Verdict};
use upkeep_domain::rounds::{judged_round, next_round_start, round_start};

use super::scheduler::LastResult;

/// Time after a round's start plus the monitor's timeout until the round closes.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What one location of a monitor last said, for the live view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocationView {
    pub last: Option<LastResult>,
    /// The first failure of its current run of failing rounds.
    pub failing_since: Option<Timestamp>,
    /// Whether its `location:` event stands at `warning`.
    pub warned: bool,
    failing_rounds: u32,
}

/// A change of a location's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationChange {
    pub location: String,
    pub from: EventState,
    pub to: EventState,
    pub reason: String,
}

/// A judged round, or a closed one, for the writer to apply.
#[derive(Debug, Clone)]
pub struct Judged {
    pub monitor_id: String,
    pub round: Timestamp,
    /// The round's verdict, when it was just decided; `None` when the round only closed (its
    /// locations' alerts are judged on all the results it got, after its verdict).
    pub verdict: Option<Verdict>,
    /// For a pass or a failure: the round as one result (latency: the median of its results).
    pub summary: LastResult,
    /// Whether an unknown round makes the monitor unknown (enough of them in a row).
    pub unknown_counts: bool,
    /// Why, in words: which locations failed or were silent.
    pub reason: String,
    pub location_changes: Vec<LocationChange>,
}

/// A round not closed yet: its results, and its verdict once decided.
#[derive(Debug, Default)]
struct Open {
    results: Vec<(String, LastResult)>,
    verdict: Option<Verdict>,
}

#[derive(Debug, Default)]
struct Track {
    /// The interval its rounds were laid out for (a reload may change it).
    interval: Option<Duration>,
    /// The oldest round not closed yet.
    next: Option<Timestamp>,
    open: BTreeMap<Timestamp, Open>,
    unknown_rounds: u32,
    locations: BTreeMap<String, LocationView>,
}

/// Whether a result joined an open round or came too late for its round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Open,
    Late,
}

/// The open rounds of every monitor probed from several locations.
#[derive(Debug, Default)]
pub struct Book {
    tracks: HashMap<String, Track>,
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

fn plus(at: Timestamp, d: Duration) -> Timestamp {
    at.saturating_add(signed(d)).unwrap_or(at)
}

impl Track {
    /// Forgets the open rounds: judging starts again with the next round.
    fn start_again(&mut self) {
        self.next = None;
        self.open.clear();
        self.unknown_rounds = 0;
    }

    /// The track of `monitor`'s rounds, started again if its interval changed (its rounds
    /// are others then).
    fn for_monitor(&mut self, monitor: &Monitor) -> &mut Track {
        if self.interval != Some(monitor.interval) {
            self.start_again();
            self.interval = Some(monitor.interval);
        }
        self
    }
}

impl Book {
    /// Forgets the open rounds (not the locations' views or alerts): after a takeover, rounds
    /// are judged from the next one on (the one in progress may have been decided by the
    /// replica before); results of earlier rounds are late.
    pub fn restart(&mut self) {
        for track in self.tracks.values_mut() {
            track.start_again();
        }
    }

    /// Sets whether a location's event stands at `warning` (as stored).
    pub fn set_warned(&mut self, id: &str, location: &str, warned: bool) {
        let track = self.tracks.entry(id.to_owned()).or_default();
        track
            .locations
            .entry(location.to_owned())
            .or_default()
            .warned = warned;
    }

    /// What each location of a monitor last said.
    pub fn locations(&self, id: &str) -> BTreeMap<String, LocationView> {
        self.tracks
            .get(id)
            .map(|t| t.locations.clone())
            .unwrap_or_default()
    }

    /// Adds a location's result for `monitor` (probed from several locations) at `now`, in
    /// the round it was probed for (`claimed`, when it is a round start of the monitor's
    /// current grid: a reload may have changed the interval since), else in the round its
    /// instant falls in.
    pub fn add(
        &mut self,
        id: &str,
        monitor: &Monitor,
        location: &str,
        result: LastResult,
        claimed: Option<Timestamp>,
        now: Timestamp,
    ) -> Added {
        let round = judged_round(
            id,
            monitor.interval,
            claimed,
            result.at,
            upkeep_domain::agent::ROUND_AHEAD_MS,
        );
        let track = self
            .tracks
            .entry(id.to_owned())
            .or_default()
            .for_monitor(monitor);
        let view = track.locations.entry(location.to_owned()).or_default();
        if view.last.as_ref().is_none_or(|l| l.at <= result.at) {
            view.last = Some(result.clone());
        }
        // The round in progress may have been decided already (by another replica before a
        // takeover): judging starts with the next one.
        let next = *track
            .next
            .get_or_insert_with(|| next_round_start(id, monitor.interval, now));
        if round < next {
            return Added::Late;
        }
        if round > plus(now, monitor.interval.saturating_mul(2)) {
            // Far in the future (a clock gone wrong): kept as history, never judged.
            return Added::Late;
        }
        let open = track.open.entry(round).or_default();
        // One vote per location and round: of two, a failure counts.
        match open.results.iter_mut().find(|(l, _)| l == location) {
            Some((_, kept)) => {
                if kept.ok && !result.ok {
                    *kept = result;
                }
            }
            None => open.results.push((location.to_owned(), result)),
        }
        Added::Open
    }

    /// Judges every round that can be judged at `now`, oldest first per monitor, of the
    /// monitors `judges` picks. Forgets monitors that are no longer probed from several
    /// locations.
    pub fn settle(
        &mut self,
        config: &Config,
        now: Timestamp,
        judges: impl Fn(&str) -> bool,
    ) -> Vec<Judged> {
        self.tracks
            .retain(|id, _| config.monitors.get(id).is_some_and(|m| !m.server_only()));
        let mut judged = Vec::new();
        for (id, monitor) in &config.monitors {
            if monitor.server_only() {
                continue;
            }
            if judges(id) {
                self.settle_one(id, monitor, now, &mut judged);
            } else if let Some(track) = self.tracks.get_mut(id) {
                // Not judged now (paused, skipped by a maintenance, another replica's): its
                // rounds meanwhile are never judged later.
                track.start_again();
            }
        }
        judged
    }

    /// Judges the rounds of one monitor that can be judged at `now` into `judged`, in order:
    /// each round's verdict as soon as it is certain (and every earlier one is decided), and
    /// its locations once it closes — so a location slower than the others (a timeout) still
    /// counts for its own alert after the others decided the round.
    pub fn settle_one(
        &mut self,
        id: &str,
        monitor: &Monitor,
        now: Timestamp,
        judged: &mut Vec<Judged>,
    ) {
        let track = self
            .tracks
            .entry(id.to_owned())
            .or_default()
            .for_monitor(monitor);
        let mut next = *track
            .next
            .get_or_insert_with(|| next_round_start(id, monitor.interval, now));
        // Far behind (this replica was not judging): start again from the current round.
        if now.duration_since(next) > signed(monitor.interval.saturating_mul(10)) {
            next = round_start(id, monitor.interval, now);
            track.open.retain(|r, _| *r >= next);
        }
        let mut round = next;
        while round <= now {
            let closed = now >= plus(plus(round, monitor.timeout), CLOSE_GRACE);
            let open = track.open.entry(round).or_default();
            if open.verdict.is_none() {
                let votes: Vec<LocationResult<'_>> = open
                    .results
                    .iter()
                    .map(|(location, r)| LocationResult { location, ok: r.ok })
                    .collect();
                let Some(j) = quorum::judge(&monitor.locations, monitor.quorum, &votes, closed)
                else {
                    break;
                };
                open.verdict = Some(j.verdict);
                let verdict = judge_round(
                    id,
                    monitor,
                    round,
                    &j,
                    &open.results,
                    &mut track.unknown_rounds,
                );
                judged.push(verdict);
            }
            if closed && round == next {
                let open = track.open.remove(&round).unwrap_or_default();
                let verdict = open.verdict.unwrap_or(Verdict::Unknown);
                let changes = location_changes(monitor, verdict, &open.results, track);
                if !changes.is_empty() {
                    judged.push(Judged {
                        monitor_id: id.to_owned(),
                        round,
                        verdict: None,
                        summary: LastResult {
                            at: round,
                            ok: verdict != Verdict::Fail,
                            latency_ms: 0,
                            status_code: None,
                            failure: None,
                        },
                        unknown_counts: false,
                        reason: String::new(),
                        location_changes: changes,
                    });
                }
                next = plus(next, monitor.interval);
            }
            round = plus(round, monitor.interval);
        }
        track.next = Some(next);
    }
}

/// The judged round, and what it changes for its locations.
fn judge_round(
    id: &str,
    monitor: &Monitor,
    round: Timestamp,
    j: &quorum::Judgement<'_>,
    results: &[(String, LastResult)],
    unknown_rounds: &mut u32,
) -> Judged {
    let listed = |location: &str| monitor.probed_from(location);
    let mut latencies: Vec<u32> = results
        .iter()
        .filter(|(l, _)| listed(l))
        .map(|(_, r)| r.latency_ms)
        .collect();
    latencies.sort_unstable();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or(0);
    let first_failure = |location: &str| {
        results
            .iter()
            .find(|(l, r)| l == location && !r.ok)
            .and_then(|(_, r)| r.failure.clone())
            .unwrap_or_else(|| "failed".to_owned())
    };
    let reported = format!(
        "{} of {} locations reported",
        j.reported,
        monitor.locations.len()
    );
    let silent = if j.missing.is_empty() {
        String::new()
    } else {
        format!(" (silent: {})", j.missing.join(", "))
    };
    let reason = match j.verdict {
        Verdict::Fail => format!(
            "fails from {} of {} locations ({}), quorum {}: {}",
            j.failing.len(),
            monitor.locations.len(),
            j.failing.join(", "),
            monitor.quorum,
            j.failing
                .first()
                .map(|l| first_failure(l))
                .unwrap_or_default()
        ),
        Verdict::Pass => format!("passes: {reported}{silent}, quorum {}", monitor.quorum),
        Verdict::Unknown => format!(
            "cannot be judged: {reported}{silent}, fewer than its quorum of {}",
            monitor.quorum
        ),
    };
    if j.verdict == Verdict::Unknown {
        *unknown_rounds = unknown_rounds.saturating_add(1);
    } else {
        *unknown_rounds = 0;
    }
    // Never before its round (a result of a fast clock, judged in the round it was for).
    let at = results
        .iter()
        .map(|(_, r)| r.at)
        .min()
        .unwrap_or(round)
        .max(round);
    let summary = LastResult {
        at,
        ok: j.verdict != Verdict::Fail,
        latency_ms: median,
        status_code: None,
        failure: (j.verdict == Verdict::Fail).then(|| reason.clone()),
    };
    Judged {
        monitor_id: id.to_owned(),
        round,
        verdict: Some(j.verdict),
        summary,
        unknown_counts: *unknown_rounds >= monitor.failure_threshold.max(1),
        reason,
        location_changes: Vec::new(),
    }
}

/// What a closed round, decided `verdict`, changes for its locations' alerts: a location
/// failing `failure_threshold` rounds in a row fires, one passing again resolves; a silent
/// one changes nothing (its agent's own watch says so).
fn location_changes(
    monitor: &Monitor,
    verdict: Verdict,
    results: &[(String, LastResult)],
    track: &mut Track,
) -> Vec<LocationChange> {
    let mut location_changes = Vec::new();
    for location in &monitor.locations {
        let Some((_, r)) = results
            .iter()
            .find(|(l, r)| l == location && !r.ok)
            .or_else(|| results.iter().find(|(l, _)| l == location))
        else {
            continue; // silent: the agent's own watch says so
        };
        let view = track.locations.entry(location.clone()).or_default();
        if r.ok {
            view.failing_rounds = 0;
            view.failing_since = None;
            if view.warned {
                view.warned = false;
                location_changes.push(LocationChange {
                    location: location.clone(),
                    from: EventState::Warning,
                    to: EventState::Ok,
                    reason: format!("passes from {location} again"),
                });
            }
        } else {
            view.failing_rounds = view.failing_rounds.saturating_add(1);
            let since = *view.failing_since.get_or_insert(r.at);
            if !view.warned && view.failing_rounds >= monitor.failure_threshold.max(1) {
                view.warned = true;
                let standing = if verdict == Verdict::Fail {
                    "with a quorum of locations".to_owned()
                } else {
                    format!("below its quorum of {}", monitor.quorum)
                };
                location_changes.push(LocationChange {
                    location: location.clone(),
                    from: EventState::Ok,
                    to: EventState::Warning,
                    reason: format!(
                        "fails from {location} since {since}, {standing}: {}",
                        r.failure.as_deref().unwrap_or("failed")
                    ),
                });
            }
        }
    }
    location_changes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn config() -> Config {
        upkeep_domain::config::parse(
            "t.yaml",
            r#"
page: { name: T, url: "https://s.example", timezone: UTC }
components: { api: { name: API } }
monitors:
  m: { component: api, tcp: { address: "127.0.0.1:9" }, interval: 30s, timeout: 2s, locations: [eu-1, us-1], quorum: 2 }
"#,
            &|_| None,
            Timestamp::from_second(1_780_000_000).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{:?}", e.0))
    }

    fn failed(at: Timestamp) -> LastResult {
        LastResult {
            at,
            ok: false,
            latency_ms: 5,
            status_code: None,
            failure: Some("refused".into()),
        }
    }

    /// Two locations fail the round starting at `round`; one of them (a clock 3 s fast,
    /// corrected) is dated before it. Judged with or without its claim of the round.
    fn judge(claim: bool) -> Vec<Judged> {
        let config = config();
        let m = &config.monitors["m"];
        let start = Timestamp::from_second(1_780_000_000).unwrap();
        let round = next_round_start("m", m.interval, start);
        let before = round - SignedDuration::from_millis(2_980);
        let mut book = Book::default();
        // The book starts judging with the round after `now`.
        let now = round - SignedDuration::from_secs(10);
        let us = failed(round + SignedDuration::from_millis(15));
        assert_eq!(book.add("m", m, "us-1", us, Some(round), now), Added::Open);
        let eu = book.add("m", m, "eu-1", failed(before), claim.then_some(round), now);
        assert_eq!(eu, if claim { Added::Open } else { Added::Late });
        book.settle(&config, round + SignedDuration::from_secs(1), |_| true)
    }

    #[test]
    fn a_result_is_judged_in_the_round_it_was_probed_for() {
        let judged = judge(true);
        assert_eq!(judged.len(), 1, "{judged:?}");
        assert_eq!(judged[0].verdict, Some(Verdict::Fail), "{judged:?}");
        assert!(judged[0].summary.at >= judged[0].round, "{judged:?}");
        // Without its claim, it falls in the round before (already past here): the round
        // it was probed for lacks it and waits for its close.
        assert!(judge(false).is_empty());
    }

    #[test]
    fn a_claim_off_the_grid_falls_back_to_the_instant() {
        let config = config();
        let m = &config.monitors["m"];
        let round = next_round_start(
            "m",
            m.interval,
            Timestamp::from_second(1_780_000_000).unwrap(),
        );
        let now = round - SignedDuration::from_secs(10);
        let mut book = Book::default();
        let off = round + SignedDuration::from_secs(7);
        assert_eq!(
            book.add(
                "m",
                m,
                "eu-1",
                failed(round + SignedDuration::from_millis(5)),
                Some(off),
                now
            ),
            Added::Open
        );
        assert_eq!(
            book.add(
                "m",
                m,
                "us-1",
                failed(round + SignedDuration::from_millis(9)),
                None,
                now
            ),
            Added::Open
        );
        let judged = book.settle(&config, round + SignedDuration::from_secs(1), |_| true);
        assert_eq!(judged.len(), 1, "{judged:?}");
        assert_eq!(
            (judged[0].round, judged[0].verdict),
            (round, Some(Verdict::Fail))
        );
    }
}

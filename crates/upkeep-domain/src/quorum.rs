//! Judging a round of a monitor probed from several locations (docs/agents.md).
//!
//! Each location probes the monitor once per round (`crate::rounds`). A round **fails** when at
//! least `quorum` of its results, from distinct listed locations, fail; it **passes** when at
//! least `quorum` results arrived and fewer than `quorum` of them fail; with fewer than
//! `quorum` results it is **unknown** — never up, never down. So one location's network
//! trouble never turns a monitor down, and a quorum of dissenting locations is never outvoted
//! by silence.
//!
//! A round is decided as early as its outcome is certain (a quorum of failures, or enough
//! passes that the locations still silent could not make a quorum of failures), and otherwise
//! when it closes, with what arrived by then.

/// One location's result in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationResult<'a> {
    pub location: &'a str,
    pub ok: bool,
}

/// The outcome of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
}

/// What one round says: the verdict, and which locations failed or were silent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement<'a> {
    pub verdict: Verdict,
    /// Listed locations whose result failed, in the monitor's order.
    pub failing: Vec<&'a str>,
    /// Listed locations that sent no result, in the monitor's order.
    pub missing: Vec<&'a str>,
    /// Distinct listed locations that sent a result.
    pub reported: usize,
}

/// Judges a round of a monitor with `locations` and `quorum` on `results`. Results from
/// locations not listed are ignored; of two results from one location, a failure counts (a
/// location that saw the monitor fail once in a round saw it fail). `closed` says whether
/// the round has closed: before that, `None` unless the outcome is already certain.
pub fn judge<'a>(
    locations: &'a [String],
    quorum: usize,
    results: &[LocationResult<'_>],
    closed: bool,
) -> Option<Judgement<'a>> {
    let quorum = quorum.max(1);
    let mut failing = Vec::new();
    let mut missing = Vec::new();
    let mut reported = 0;
    for location in locations {
        let mut seen = results.iter().filter(|r| r.location == location).peekable();
        if seen.peek().is_none() {
            missing.push(location.as_str());
            continue;
        }
        reported += 1;
        if seen.any(|r| !r.ok) {
            failing.push(location.as_str());
        }
    }
    let verdict = if failing.len() >= quorum {
        Verdict::Fail
    } else if reported >= quorum && failing.len() + missing.len() < quorum {
        // The silent locations could not make a quorum of failures any more.
        Verdict::Pass
    } else if !closed {
        return None;
    } else if reported >= quorum {
        Verdict::Pass
    } else {
        Verdict::Unknown
    };
    Some(Judgement {
        verdict,
        failing,
        missing,
        reported,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn locs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn r(location: &str, ok: bool) -> LocationResult<'_> {
        LocationResult { location, ok }
    }

    const THREE: [&str; 3] = ["server", "eu-1", "us-1"];

    #[test]
    fn one_of_three_failing_passes_and_is_named() {
        let l = locs(&THREE);
        let j = judge(
            &l,
            2,
            &[r("server", true), r("eu-1", false), r("us-1", true)],
            false,
        )
        .unwrap_or_else(|| panic!("decided"));
        assert_eq!(j.verdict, Verdict::Pass);
        assert_eq!(j.failing, ["eu-1"]);
        assert!(j.missing.is_empty());
    }

    #[test]
    fn two_of_three_failing_fail_at_once() {
        let l = locs(&THREE);
        let j = judge(&l, 2, &[r("eu-1", false), r("us-1", false)], false);
        assert_eq!(j.map(|j| j.verdict), Some(Verdict::Fail));
    }

    #[test]
    fn a_round_waits_while_the_silent_could_still_make_it_fail() {
        let l = locs(&THREE);
        let results = [r("server", true), r("eu-1", false)];
        assert_eq!(judge(&l, 2, &results, false), None);
        let closed = judge(&l, 2, &results, true).map(|j| (j.verdict, j.missing));
        assert_eq!(closed, Some((Verdict::Pass, vec!["us-1"])));
        // Two passes leave one silent location: it cannot make two failures.
        let early = judge(&l, 2, &[r("server", true), r("us-1", true)], false);
        assert_eq!(early.map(|j| j.verdict), Some(Verdict::Pass));
    }

    #[test]
    fn too_few_results_are_unknown_never_up_or_down() {
        let l = locs(&THREE);
        let j = judge(&l, 2, &[r("server", false)], true).map(|j| (j.verdict, j.missing));
        assert_eq!(j, Some((Verdict::Unknown, vec!["eu-1", "us-1"])));
        let none = judge(&l, 2, &[], true).map(|j| j.verdict);
        assert_eq!(none, Some(Verdict::Unknown));
    }

    #[test]
    fn unlisted_locations_and_repeats_do_not_vote_twice() {
        let l = locs(&THREE);
        let results = [
            r("ap-1", false),
            r("eu-1", false),
            r("eu-1", false),
            r("eu-1", true),
        ];
        let j = judge(&l, 2, &results, true).unwrap_or_else(|| panic!("closed"));
        assert_eq!(
            (j.verdict, j.reported, j.failing),
            (Verdict::Unknown, 1, vec!["eu-1"])
        );
    }

    #[test]
    fn the_server_alone_is_a_quorum_of_one() {
        let l = locs(&["server"]);
        assert_eq!(
            judge(&l, 1, &[r("server", false)], false).map(|j| j.verdict),
            Some(Verdict::Fail)
        );
        assert_eq!(
            judge(&l, 1, &[r("server", true)], false).map(|j| j.verdict),
            Some(Verdict::Pass)
        );
    }

    proptest! {
        /// An early decision is the decision the closed round would reach, whatever the
        /// silent locations would have said; fail needs a quorum of failures and pass a quorum
        /// of results.
        #[test]
        fn early_decisions_stand(
            n in 1usize..6, q in 1usize..6, said in proptest::collection::vec(proptest::option::of(any::<bool>()), 6),
            later in proptest::collection::vec(any::<bool>(), 6),
        ) {
            let q = q.min(n);
            let names: Vec<String> = (0..n).map(|i| format!("l{i}")).collect();
            let now: Vec<LocationResult<'_>> = names.iter().zip(&said)
                .filter_map(|(l, s)| s.map(|ok| LocationResult { location: l, ok })).collect();
            let closed = judge(&names, q, &now, true).unwrap_or_else(|| panic!("closed rounds are decided"));
            let failures = now.iter().filter(|r| !r.ok).count();
            match closed.verdict {
                Verdict::Fail => prop_assert!(failures >= q),
                Verdict::Pass => prop_assert!(failures < q && now.len() >= q),
                Verdict::Unknown => prop_assert!(now.len() < q),
            }
            if let Some(early) = judge(&names, q, &now, false) {
                // Fill in the silent locations any way: the outcome cannot change.
                let all: Vec<LocationResult<'_>> = names.iter().zip(said.iter().zip(&later))
                    .map(|(l, (s, ok))| LocationResult { location: l, ok: s.unwrap_or(*ok) }).collect();
                let full = judge(&names, q, &all, true).unwrap_or_else(|| panic!("closed"));
                prop_assert_eq!(early.verdict, full.verdict);
            }
        }
    }
}

//! A tenant's health gate, judged from the results its monitors produced while it settled.
//!
//! The gate cannot lie: it passes only when every gate monitor produced at least `min_samples`
//! results during the settle time and none of them failed. No data is never success: a monitor
//! with too few results makes the gate inconclusive (`no_data: pause` waits for an operator,
//! `no_data: fail` fails). A result that is an answer saying "unhealthy" (an HTTP status that
//! breaks a condition) fails the gate at once; a result that is no answer at all (refused,
//! timed out, unresolvable) is a probe error, which is not a sample: three in a row from one
//! monitor fail the gate. A gate with no monitors at all is inconclusive. Every verdict keeps
//! its evidence (which monitors, how many samples, which failed and why).

use serde::{Deserialize, Serialize};

use super::{ERRORS_AS_FAILURE, GateSpec, NoData};

/// One result of a gate monitor, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The monitor's id.
    pub monitor: String,
    /// What the result says.
    pub kind: SampleKind,
    /// Why it failed, when it did.
    pub detail: Option<String>,
}

/// What a result says about the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// Healthy.
    Ok,
    /// An answer that says unhealthy.
    Failed,
    /// No answer (a probe error).
    Error,
}

/// The verdict of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every monitor produced enough healthy results and none failed.
    Pass,
    /// A monitor failed (or errored three times in a row, or no data under `no_data: fail`).
    Fail,
    /// Too few results to tell (under `no_data: pause`).
    Inconclusive,
}

/// What one gate monitor showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorEvidence {
    pub monitor: String,
    /// Healthy results.
    pub ok: u32,
    /// Unhealthy answers.
    pub failed: u32,
    /// Probe errors.
    pub errors: u32,
    /// The longest run of consecutive probe errors.
    pub consecutive_errors: u32,
    /// Why the last failure (or error) happened.
    pub last_failure: Option<String>,
}

/// A stored decision: the verdict, a sentence for people, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// "gate passed: 2 monitors, 6 healthy results" / "acme.app-health failed: HTTP 503".
    pub reason: String,
    pub monitors: Vec<MonitorEvidence>,
}

/// Judges a gate over the results of `monitors` during the settle time. `settled` says whether
/// the settle time is over: before it, only a failure is a verdict (`None` otherwise: keep
/// watching); once it is over the gate passes, fails or is inconclusive.
pub fn judge(
    gate: &GateSpec,
    monitors: &[String],
    samples: &[Sample],
    settled: bool,
) -> Option<Judgement> {
    let evidence: Vec<MonitorEvidence> = monitors
        .iter()
        .map(|monitor| {
            let mut e = MonitorEvidence {
                monitor: monitor.clone(),
                ok: 0,
                failed: 0,
                errors: 0,
                consecutive_errors: 0,
                last_failure: None,
            };
            let mut run = 0;
            for s in samples.iter().filter(|s| &s.monitor == monitor) {
                match s.kind {
                    SampleKind::Ok => {
                        e.ok += 1;
                        run = 0;
                    }
                    SampleKind::Failed => {
                        e.failed += 1;
                        run = 0;
                        e.last_failure.clone_from(&s.detail);
                    }
                    SampleKind::Error => {
                        e.errors += 1;
                        run += 1;
                        e.consecutive_errors = e.consecutive_errors.max(run);
                        e.last_failure.clone_from(&s.detail);
                    }
                }
            }
            e
        })
        .collect();

    let failing: Vec<String> = evidence
        .iter()
        .filter(|e| e.failed > 0 || e.consecutive_errors >= ERRORS_AS_FAILURE)
        .map(|e| {
            let why = e.last_failure.as_deref().unwrap_or("unhealthy");
            if e.failed > 0 {
                format!("{} failed: {why}", e.monitor)
            } else {
                format!(
                    "{} errored {} times in a row: {why}",
                    e.monitor, e.consecutive_errors
                )
            }
        })
        .collect();
    if !failing.is_empty() {
        return Some(Judgement {
            verdict: Verdict::Fail,
            reason: failing.join("; "),
            monitors: evidence,
        });
    }
    if !settled {
        return None;
    }
    let short: Vec<String> = evidence
        .iter()
        .filter(|e| e.ok < gate.min_samples)
        .map(|e| format!("{} ({} of {})", e.monitor, e.ok, gate.min_samples))
        .collect();
    let (verdict, reason) = if monitors.is_empty() {
        (
            no_data_verdict(gate.no_data),
            "no data: the gate has no monitors".to_owned(),
        )
    } else if !short.is_empty() {
        (
            no_data_verdict(gate.no_data),
            format!("no data: too few healthy results from {}", short.join(", ")),
        )
    } else {
        let total: u32 = evidence.iter().map(|e| e.ok).sum();
        (
            Verdict::Pass,
            format!(
                "gate passed: {} monitor{}, {total} healthy results, none failed",
                monitors.len(),
                if monitors.len() == 1 { "" } else { "s" }
            ),
        )
    };
    Some(Judgement {
        verdict,
        reason,
        monitors: evidence,
    })
}

fn no_data_verdict(no_data: NoData) -> Verdict {
    match no_data {
        NoData::Pause => Verdict::Inconclusive,
        NoData::Fail => Verdict::Fail,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn gate(min_samples: u32, no_data: NoData) -> GateSpec {
        GateSpec {
            monitors: None,
            min_samples,
            no_data,
        }
    }

    fn s(monitor: &str, kind: SampleKind) -> Sample {
        Sample {
            monitor: monitor.into(),
            kind,
            detail: (kind != SampleKind::Ok).then(|| "HTTP 503".to_owned()),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn passes_only_with_enough_samples_from_every_monitor() {
        let g = gate(2, NoData::Pause);
        let m = ids(&["a", "b"]);
        let samples = [
            s("a", SampleKind::Ok),
            s("a", SampleKind::Ok),
            s("b", SampleKind::Ok),
        ];
        assert_eq!(judge(&g, &m, &samples, false), None);
        let j = judge(&g, &m, &samples, true).unwrap();
        assert_eq!(j.verdict, Verdict::Inconclusive);
        assert!(j.reason.contains("b (1 of 2)"), "{}", j.reason);
        let mut more = samples.to_vec();
        more.push(s("b", SampleKind::Ok));
        assert_eq!(judge(&g, &m, &more, true).unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn one_unhealthy_answer_fails_at_once() {
        let g = gate(1, NoData::Pause);
        let m = ids(&["a"]);
        let j = judge(
            &g,
            &m,
            &[s("a", SampleKind::Ok), s("a", SampleKind::Failed)],
            false,
        )
        .unwrap();
        assert_eq!(j.verdict, Verdict::Fail);
        assert_eq!(j.monitors[0].failed, 1);
        assert!(j.reason.contains("a failed: HTTP 503"));
    }

    #[test]
    fn three_errors_in_a_row_fail_two_do_not() {
        let g = gate(1, NoData::Pause);
        let m = ids(&["a"]);
        let two = [
            s("a", SampleKind::Error),
            s("a", SampleKind::Error),
            s("a", SampleKind::Ok),
            s("a", SampleKind::Error),
        ];
        assert_eq!(judge(&g, &m, &two, true).unwrap().verdict, Verdict::Pass);
        let three = [
            s("a", SampleKind::Error),
            s("a", SampleKind::Error),
            s("a", SampleKind::Error),
        ];
        assert_eq!(judge(&g, &m, &three, false).unwrap().verdict, Verdict::Fail);
    }

    #[test]
    fn no_data_is_never_success() {
        let m = ids(&["a"]);
        assert_eq!(
            judge(&gate(1, NoData::Pause), &m, &[], true)
                .unwrap()
                .verdict,
            Verdict::Inconclusive
        );
        assert_eq!(
            judge(&gate(1, NoData::Fail), &m, &[], true)
                .unwrap()
                .verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(&gate(1, NoData::Pause), &[], &[], true)
                .unwrap()
                .verdict,
            Verdict::Inconclusive
        );
        // Errors are not samples.
        let errors = [s("a", SampleKind::Error), s("a", SampleKind::Error)];
        assert_eq!(
            judge(&gate(1, NoData::Pause), &m, &errors, true)
                .unwrap()
                .verdict,
            Verdict::Inconclusive
        );
    }
}

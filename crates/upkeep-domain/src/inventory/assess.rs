//! One deployment judged against its chart's releases at an instant: the latest stable patch,
//! minor and overall release, how many releases and days behind each, the end of life, the
//! [`State`], and which policies it breaks.
//!
//! Decisions:
//! - Latest stable is Helm's: the highest SemVer release that is not a prerelease, not
//!   deprecated and not removed (removed entries never reach here).
//! - "Days behind" a target is counted from the `created` instant of the first stable
//!   release in that target's scope newer than the deployed one, up to `now`: how long the
//!   deployment has been out of date. Unknown when the index gives no `created`.
//! - The state is `unknown` when the deployed chart version is not a version, or the index
//!   has not been read, or it holds no stable release of the chart (and no successor);
//!   `end_of_life` wins over every other state; a deployment newer than the latest stable
//!   (a prerelease or a release since withdrawn) is `ahead`.
//! - A chart whose releases are all deprecated, with a `successor`, is `behind_major`: moving
//!   to the successor's latest release is the upgrade due.

use jiff::Timestamp;
use semver::Version;
use serde::Serialize;

use super::eol::{Cycle, EolStatus, status as eol_status};
use super::index::Release;
use super::version::parse_lenient;
use crate::config::{InventoryPolicy, InventoryRule, Lag, Severity};

/// Where a deployment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Current,
    BehindPatch,
    BehindMinor,
    BehindMajor,
    Ahead,
    Unknown,
    EndOfLife,
}

impl State {
    /// Every state.
    pub const ALL: [State; 7] = [
        State::Current,
        State::BehindPatch,
        State::BehindMinor,
        State::BehindMajor,
        State::Ahead,
        State::Unknown,
        State::EndOfLife,
    ];

    /// The name used by the API and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Current => "current",
            State::BehindPatch => "behind_patch",
            State::BehindMinor => "behind_minor",
            State::BehindMajor => "behind_major",
            State::Ahead => "ahead",
            State::Unknown => "unknown",
            State::EndOfLife => "end_of_life",
        }
    }
}

/// A release to move to, and how far behind it the deployment is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Its chart version.
    pub version: String,
    /// The application version it ships.
    pub app_version: Option<String>,
    /// Stable releases in its scope newer than the deployed one.
    pub releases_behind: usize,
    /// Days since the first of those was published (0 when none is newer; `None` when the
    /// index gives no dates).
    pub days_behind: Option<i64>,
}

/// A successor chart's latest stable release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuccessorTarget {
    pub chart: String,
    pub version: String,
    pub app_version: Option<String>,
}

/// The judgement of one deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub state: State,
    /// The state from the versions alone, before the end of life is considered (what the
    /// `max_behind` policies judge).
    #[serde(skip)]
    pub version_state: State,
    /// The latest stable release with the deployed major and minor.
    pub latest_patch: Option<Target>,
    /// The latest stable release with the deployed major.
    pub latest_minor: Option<Target>,
    /// The latest stable release.
    pub latest: Option<Target>,
    /// Major releases between the deployed one and the latest.
    pub majors_behind: u64,
    /// The successor chart's latest stable release, when one is configured.
    pub successor: Option<SuccessorTarget>,
    /// The deployed application version's end of life, when an end-of-life file names it.
    pub end_of_life: Option<EolStatus>,
    /// Why the state is `unknown` or what else a person should know.
    pub note: Option<String>,
}

/// What one deployment is judged on.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The deployed chart version, as reported.
    pub chart_version: &'a str,
    /// The deployed application version, as reported.
    pub app_version: Option<&'a str>,
    /// The chart's releases (ascending), `None` when the index has not been read.
    pub releases: Option<&'a [Release]>,
    /// The successor chart's name and releases, when configured and read.
    pub successor: Option<(&'a str, &'a [Release])>,
    /// The end-of-life cycles, when configured and read.
    pub eol: Option<&'a [Cycle]>,
}

/// The highest stable release (see the module documentation).
pub fn latest_stable(releases: &[Release]) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| r.is_stable())
        .max_by(|a, b| a.version.cmp(&b.version))
}

fn target(
    releases: &[Release],
    deployed: &Version,
    in_scope: impl Fn(&Version) -> bool,
    now: Timestamp,
) -> Option<Target> {
    let stable: Vec<&Release> = releases
        .iter()
        .filter(|r| r.is_stable() && in_scope(&r.version))
        .collect();
    let best = stable.iter().max_by(|a, b| a.version.cmp(&b.version))?;
    let newer: Vec<&&Release> = stable
        .iter()
        .filter(|r| cmp_precedence(&r.version, deployed).is_gt())
        .collect();
    let days_behind = if newer.is_empty() {
        Some(0)
    } else {
        newer
            .iter()
            .filter_map(|r| r.created)
            .min()
            .map(|first| now.duration_since(first).as_secs().max(0) / 86_400)
    };
    Some(Target {
        version: best.version.to_string(),
        app_version: best.app_version.clone(),
        releases_behind: newer.len(),
        days_behind,
    })
}

/// SemVer precedence (build metadata ignored).
fn cmp_precedence(a: &Version, b: &Version) -> std::cmp::Ordering {
    a.cmp_precedence(b)
}

/// Judges one deployment at `now`.
pub fn assess(inputs: Inputs<'_>, now: Timestamp) -> Assessment {
    let end_of_life = inputs
        .eol
        .zip(inputs.app_version)
        .and_then(|(cycles, app)| eol_status(cycles, app, now));
    let successor = inputs.successor.and_then(|(chart, releases)| {
        latest_stable(releases).map(|r| SuccessorTarget {
            chart: chart.to_owned(),
            version: r.version.to_string(),
            app_version: r.app_version.clone(),
        })
    });
    let mut a = Assessment {
        state: State::Unknown,
        version_state: State::Unknown,
        latest_patch: None,
        latest_minor: None,
        latest: None,
        majors_behind: 0,
        successor,
        end_of_life,
        note: None,
    };
    let ended = a.end_of_life.as_ref().is_some_and(|e| e.ended);
    let Some(deployed) = parse_lenient(inputs.chart_version) else {
        a.note = Some(format!(
            "the deployed chart version `{}` is not a semantic version",
            inputs.chart_version
        ));
        if ended {
            a.state = State::EndOfLife;
        }
        return a;
    };
    let Some(releases) = inputs.releases else {
        a.note = Some("the chart's index has not been read yet".to_owned());
        if ended {
            a.state = State::EndOfLife;
        }
        return a;
    };
    a.latest_patch = target(
        releases,
        &deployed,
        |v| v.major == deployed.major && v.minor == deployed.minor,
        now,
    );
    a.latest_minor = target(releases, &deployed, |v| v.major == deployed.major, now);
    a.latest = target(releases, &deployed, |_| true, now);
    a.version_state = match &a.latest {
        Some(latest) => match parse_lenient(&latest.version) {
            Some(latest) => {
                a.majors_behind = latest.major.saturating_sub(deployed.major);
                match cmp_precedence(&deployed, &latest) {
                    std::cmp::Ordering::Greater => State::Ahead,
                    std::cmp::Ordering::Equal => State::Current,
                    std::cmp::Ordering::Less if deployed.major < latest.major => State::BehindMajor,
                    std::cmp::Ordering::Less if deployed.minor < latest.minor => State::BehindMinor,
                    std::cmp::Ordering::Less => State::BehindPatch,
                }
            }
            None => State::Unknown,
        },
        None if a.successor.is_some() => {
            a.majors_behind = 1;
            State::BehindMajor
        }
        None => {
            a.note = Some("the index holds no stable release of the chart".to_owned());
            State::Unknown
        }
    };
    a.state = if ended {
        State::EndOfLife
    } else {
        a.version_state
    };
    if let Some(s) = &a.successor
        && a.latest.is_none()
    {
        a.note = Some(format!(
            "the chart is deprecated: move to `{}` {}",
            s.chart, s.version
        ));
    }
    a
}

/// The policies an assessment breaks: the most severe severity among them and why each is
/// broken. `None` when none is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub severity: Severity,
    pub reasons: Vec<String>,
}

/// Judges `assessment` against `policies` (an `unknown` state breaks none).
pub fn evaluate(policies: &[InventoryPolicy], assessment: &Assessment) -> Option<PolicyVerdict> {
    let latest = || {
        assessment
            .latest
            .as_ref()
            .map(|t| t.version.clone())
            .or_else(|| {
                assessment
                    .successor
                    .as_ref()
                    .map(|s| format!("{} {}", s.chart, s.version))
            })
            .unwrap_or_default()
    };
    let mut verdict: Option<PolicyVerdict> = None;
    for policy in policies {
        let broken =
            match policy.rule {
                InventoryRule::MaxBehind(lag) => {
                    let too_far = match lag {
                        Lag::Patch => matches!(
                            assessment.version_state,
                            State::BehindMinor | State::BehindMajor
                        ),
                        Lag::Minor => assessment.version_state == State::BehindMajor,
                        Lag::Major => {
                            assessment.version_state == State::BehindMajor
                                && assessment.majors_behind >= 2
                        }
                    };
                    too_far.then(|| {
                        format!(
                            "more than {} releases behind the latest stable {}",
                            lag.as_str(),
                            latest()
                        )
                    })
                }
                InventoryRule::EndOfLife => assessment
                    .end_of_life
                    .as_ref()
                    .filter(|e| e.ended)
                    .map(|e| match e.date {
                        Some(date) => {
                            format!("cycle {} reached its end of life on {date}", e.cycle)
                        }
                        None => format!("cycle {} has reached its end of life", e.cycle),
                    }),
            };
        if let Some(reason) = broken {
            let v = verdict.get_or_insert(PolicyVerdict {
                severity: policy.severity,
                reasons: Vec::new(),
            });
            // `Severity` orders the most severe first.
            v.severity = v.severity.min(policy.severity);
            v.reasons.push(reason);
        }
    }
    verdict
}

#[cfg(test)]
mod tests;

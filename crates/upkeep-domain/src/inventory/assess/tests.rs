#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::inventory::eol::parse_eol;

fn at(s: &str) -> Timestamp {
    s.parse().expect("instant")
}

fn rel(version: &str, created: &str) -> Release {
    Release {
        version: parse_lenient(version).expect("version"),
        app_version: Some(format!("v{version}")),
        created: Some(at(created)),
        deprecated: false,
    }
}

fn releases() -> Vec<Release> {
    let mut list = vec![
        rel("1.0.0", "2024-01-01T00:00:00Z"),
        rel("1.0.1", "2024-01-11T00:00:00Z"),
        rel("1.0.2", "2024-01-21T00:00:00Z"),
        rel("1.1.0", "2024-02-01T00:00:00Z"),
        rel("1.1.1", "2024-02-11T00:00:00Z"),
        rel("2.0.0", "2024-03-01T00:00:00Z"),
        rel("2.0.1", "2024-03-11T00:00:00Z"),
        rel("3.0.0", "2024-04-01T00:00:00Z"),
        rel("3.1.0-rc.1", "2024-05-01T00:00:00Z"),
    ];
    let mut deprecated = rel("3.2.0", "2024-05-02T00:00:00Z");
    deprecated.deprecated = true;
    list.push(deprecated);
    list.sort_by(|a, b| a.version.cmp(&b.version));
    list
}

fn judge(chart_version: &str, app: Option<&str>, eol: Option<&[Cycle]>) -> Assessment {
    let list = releases();
    assess(
        Inputs {
            chart_version,
            app_version: app,
            releases: Some(&list),
            successor: None,
            eol,
        },
        at("2024-06-01T00:00:00Z"),
    )
}

#[test]
fn latest_stable_skips_prereleases_and_deprecated() {
    assert_eq!(
        latest_stable(&releases())
            .map(|r| r.version.to_string())
            .as_deref(),
        Some("3.0.0")
    );
}

#[test]
fn every_state() {
    assert_eq!(judge("3.0.0", None, None).state, State::Current);
    assert_eq!(judge("v3.0", None, None).state, State::Current);
    assert_eq!(judge("3.1.0-rc.1", None, None).state, State::Ahead);
    assert_eq!(judge("9.0.0", None, None).state, State::Ahead);
    assert_eq!(judge("not-a-version", None, None).state, State::Unknown);
    assert_eq!(judge("2.0.0", None, None).state, State::BehindMajor);
    let a = judge("1.0.1", None, None);
    assert_eq!(a.state, State::BehindMajor);
    assert_eq!(a.majors_behind, 2);
    let patch = a.latest_patch.expect("patch");
    assert_eq!(
        (
            patch.version.as_str(),
            patch.releases_behind,
            patch.days_behind
        ),
        ("1.0.2", 1, Some(132))
    );
    let minor = a.latest_minor.expect("minor");
    assert_eq!(
        (minor.version.as_str(), minor.releases_behind),
        ("1.1.1", 3)
    );
    let latest = a.latest.expect("latest");
    assert_eq!(
        (latest.version.as_str(), latest.releases_behind),
        ("3.0.0", 6)
    );
    assert_eq!(latest.app_version.as_deref(), Some("v3.0.0"));

    let list = vec![
        rel("3.0.0", "2024-04-01T00:00:00Z"),
        rel("3.0.1", "2024-04-02T00:00:00Z"),
        rel("3.1.0", "2024-04-03T00:00:00Z"),
    ];
    let judge_in = |v: &str| {
        assess(
            Inputs {
                chart_version: v,
                app_version: None,
                releases: Some(&list),
                successor: None,
                eol: None,
            },
            at("2024-06-01T00:00:00Z"),
        )
        .state
    };
    assert_eq!(judge_in("3.1.0"), State::Current);
    assert_eq!(judge_in("3.0.1"), State::BehindMinor);
    let list = vec![
        rel("3.0.0", "2024-04-01T00:00:00Z"),
        rel("3.0.1", "2024-04-02T00:00:00Z"),
    ];
    let a = assess(
        Inputs {
            chart_version: "3.0.0",
            app_version: None,
            releases: Some(&list),
            successor: None,
            eol: None,
        },
        at("2024-06-01T00:00:00Z"),
    );
    assert_eq!(a.state, State::BehindPatch);

    let cycles = parse_eol(
        r#"[{"cycle": "2.0", "eol": "2024-05-01"}, {"cycle": "3.0", "eol": "2030-01-01"}]"#,
    )
    .expect("eol");
    let a = judge("2.0.0", Some("v2.0.0"), Some(&cycles));
    assert_eq!(a.state, State::EndOfLife);
    assert_eq!(a.end_of_life.as_ref().and_then(|e| e.days_left), Some(-31));
    let a = judge("3.0.0", Some("3.0.0"), Some(&cycles));
    assert_eq!(a.state, State::Current);
    assert_eq!(a.end_of_life.as_ref().and_then(|e| e.days_left), Some(2040));

    let unread = assess(
        Inputs {
            chart_version: "1.0.0",
            app_version: None,
            releases: None,
            successor: None,
            eol: None,
        },
        at("2024-06-01T00:00:00Z"),
    );
    assert_eq!(unread.state, State::Unknown);
    assert!(unread.note.is_some());
}

#[test]
fn a_deprecated_chart_points_at_its_successor() {
    let mut old = vec![rel("1.0.0", "2024-01-01T00:00:00Z")];
    old[0].deprecated = true;
    let new = vec![rel("5.0.0", "2024-01-01T00:00:00Z")];
    let a = assess(
        Inputs {
            chart_version: "1.0.0",
            app_version: None,
            releases: Some(&old),
            successor: Some(("new-chart", &new)),
            eol: None,
        },
        at("2024-06-01T00:00:00Z"),
    );
    assert_eq!(a.state, State::BehindMajor);
    assert_eq!(
        a.successor.as_ref().map(|s| s.version.as_str()),
        Some("5.0.0")
    );
    assert!(a.note.as_deref().is_some_and(|n| n.contains("new-chart")));
}

#[test]
fn policies_break_and_hold() {
    let policies = [
        InventoryPolicy {
            rule: InventoryRule::MaxBehind(Lag::Minor),
            severity: Severity::Warning,
        },
        InventoryPolicy {
            rule: InventoryRule::EndOfLife,
            severity: Severity::Critical,
        },
    ];
    assert_eq!(evaluate(&policies, &judge("3.0.0", None, None)), None);
    let v = evaluate(&policies, &judge("2.0.1", None, None)).expect("broken");
    assert_eq!(v.severity, Severity::Warning);
    let cycles = parse_eol(r#"[{"cycle": "2.0", "eol": "2024-05-01"}]"#).expect("eol");
    let v = evaluate(&policies, &judge("2.0.1", Some("2.0.1"), Some(&cycles))).expect("broken");
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(v.reasons.len(), 2, "{:?}", v.reasons);
    let major = [InventoryPolicy {
        rule: InventoryRule::MaxBehind(Lag::Major),
        severity: Severity::Info,
    }];
    assert_eq!(evaluate(&major, &judge("2.0.1", None, None)), None);
    assert!(evaluate(&major, &judge("1.0.1", None, None)).is_some());
    let patch = [InventoryPolicy {
        rule: InventoryRule::MaxBehind(Lag::Patch),
        severity: Severity::Info,
    }];
    assert_eq!(evaluate(&patch, &judge("3.0.0", None, None)), None);
    assert_eq!(evaluate(&patch, &judge("not-a-version", None, None)), None);
}

fn arb_releases() -> impl Strategy<Value = Vec<Release>> {
    proptest::collection::vec(
        (
            0u64..4,
            0u64..4,
            0u64..4,
            any::<bool>(),
            any::<bool>(),
            0i64..1000,
        ),
        0..40,
    )
    .prop_map(|items| {
        let mut list: Vec<Release> = items
            .into_iter()
            .map(|(ma, mi, pa, pre, deprecated, day)| Release {
                version: parse_lenient(&format!(
                    "{ma}.{mi}.{pa}{}",
                    if pre { "-rc.1" } else { "" }
                ))
                .expect("version"),
                app_version: None,
                created: Some(
                    Timestamp::from_second(1_700_000_000 + day * 86_400).expect("instant"),
                ),
                deprecated,
            })
            .collect();
        list.sort_by(|a, b| a.version.cmp(&b.version));
        list.dedup_by(|a, b| a.version == b.version);
        list
    })
}

proptest! {
    #[test]
    fn latest_is_the_highest_stable(list in arb_releases()) {
        let latest = latest_stable(&list);
        for r in &list {
            if r.is_stable() {
                let latest = latest.expect("a stable release exists");
                prop_assert!(r.version <= latest.version);
            }
        }
        if let Some(l) = latest {
            prop_assert!(l.version.pre.is_empty() && !l.deprecated);
        }
    }

    #[test]
    fn state_agrees_with_the_versions(list in arb_releases(), ma in 0u64..4, mi in 0u64..4, pa in 0u64..4) {
        let deployed = format!("{ma}.{mi}.{pa}");
        let now = Timestamp::from_second(1_800_000_000).expect("instant");
        let a = assess(Inputs { chart_version: &deployed, app_version: None, releases: Some(&list), successor: None, eol: None }, now);
        let dv = parse_lenient(&deployed).expect("version");
        match latest_stable(&list) {
            None => prop_assert_eq!(a.state, State::Unknown),
            Some(l) => {
                let expected = if dv > l.version { State::Ahead } else if dv == l.version { State::Current }
                    else if dv.major < l.version.major { State::BehindMajor }
                    else if dv.minor < l.version.minor { State::BehindMinor } else { State::BehindPatch };
                prop_assert_eq!(a.state, expected);
                let t = a.latest.expect("latest");
                let newer = list.iter().filter(|r| r.is_stable() && r.version > dv).count();
                prop_assert_eq!(t.releases_behind, newer);
                prop_assert!(t.days_behind.is_some_and(|d| d >= 0));
                let p = a.latest_patch;
                if let Some(p) = p {
                    let pv = parse_lenient(&p.version).expect("version");
                    prop_assert!(pv.major == dv.major && pv.minor == dv.minor);
                    prop_assert!(p.releases_behind <= newer);
                }
            }
        }
    }
}

//! Availability and SLO arithmetic: budgets of leap and common years, downtime split at new
//! year, planned time winning over an incident, 23 h and 25 h days, the exact 0.3 weight of
//! partial outage, and properties of the figures over random histories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;
use upkeep_domain::availability::{
    self, Figures, Level, MonitorState, PPM, Period, Planned, PlannedWindow, Timed, Timeline,
    component_levels, compute, incident_levels, spans, year_period,
};
use upkeep_domain::component_status::ComponentStatus;
use upkeep_domain::config::{BurnRate, Severity, SloWindow};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_domain::slo;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn ms(s: &str) -> i64 {
    s.parse::<Timestamp>().unwrap().as_millisecond()
}

fn rome() -> TimeZone {
    TimeZone::get("Europe/Rome").unwrap()
}

/// Levels of a component observed all the time.
fn seen(levels: &[Timed<Level>]) -> Timeline {
    Timeline::from_levels(levels.to_vec(), &[(i64::MIN / 4, i64::MAX / 4)])
}

fn major(start: i64, end: i64) -> Timed<Level> {
    Timed {
        start,
        end,
        value: Level::Major,
    }
}

#[test]
fn budget_of_99_9_percent_of_2026_and_of_leap_2028() {
    let y2026 = year_period(2026, &rome()).unwrap();
    assert_eq!(y2026.year_days, Some(365));
    assert_eq!(y2026.from_ms, ms("2025-12-31T23:00:00Z"));
    assert_eq!(y2026.len_ms(), 365 * DAY);
    let budget = slo::budget_ms(y2026.len_ms(), 999_000);
    assert_eq!(budget, 31_536_000);
    assert_eq!(budget, (8 * 60 + 45) * 60_000 + 36_000); // 8 h 45 m 36 s

    let y2028 = year_period(2028, &rome()).unwrap();
    assert_eq!(y2028.year_days, Some(366));
    assert_eq!(y2028.len_ms(), 366 * DAY);
    let budget = slo::budget_ms(y2028.len_ms(), 999_000);
    assert_eq!(budget, 31_622_400);
    assert_eq!(budget, (8 * 60 + 47) * 60_000 + 2_400); // 8 h 47 m 2.4 s

    // The window containing an instant of 2028 is that year, with its days.
    let w = slo::window_containing(
        SloWindow::CalendarYear,
        "2028-06-01T00:00:00Z".parse().unwrap(),
        &rome(),
    )
    .unwrap();
    assert_eq!(w, y2028);
    let q = slo::window_containing(
        SloWindow::CalendarQuarter,
        "2026-05-10T00:00:00Z".parse().unwrap(),
        &rome(),
    )
    .unwrap();
    assert_eq!(q.from_ms, ms("2026-03-31T22:00:00Z"));
    assert_eq!(q.to_ms, ms("2026-06-30T22:00:00Z"));
}

#[test]
fn slo_status_spends_and_overspends() {
    let window = 365 * DAY;
    let s = slo::status(999_000, window, 3 * HOUR * PPM);
    assert_eq!(s.budget_ms, 31_536_000);
    assert_eq!(s.spent_ms, 3 * HOUR);
    assert_eq!(s.left_ms, 31_536_000 - 3 * HOUR);
    assert!(s.met);
    let s = slo::status(999_000, window, 9 * HOUR * PPM);
    assert_eq!(s.left_ms, 31_536_000 - 9 * HOUR);
    assert!(s.left_ms < 0);
    assert!(!s.met);
    assert!(s.spent_of_budget_ppm > 1_000_000);
}

#[test]
fn an_incident_over_new_years_eve_is_split_between_the_years() {
    let tz = rome();
    let (y26, y27) = (
        year_period(2026, &tz).unwrap(),
        year_period(2027, &tz).unwrap(),
    );
    // 22:00 to 04:00 local: 2 h in 2026, 4 h in 2027.
    let start = ms("2026-12-31T21:00:00Z");
    let end = ms("2027-01-01T03:00:00Z");
    let both = Period::new(y26.from_ms, y27.to_ms);
    let levels = incident_levels(
        both,
        start,
        &[
            (start, Some(ComponentStatus::MajorOutage)),
            (end, None), // resolved
        ],
        Some(end),
    );
    assert_eq!(levels, vec![major(start, end)]);
    let none = Planned::default();
    let a = compute(y26, &seen(&levels), &none, 300_000);
    let b = compute(y27, &seen(&levels), &none, 300_000);
    assert_eq!(a.major_ms, 2 * HOUR);
    assert_eq!(b.major_ms, 4 * HOUR);
    assert_eq!(a.year_days, Some(365));
    assert_eq!(
        a.sla_weighted + b.sla_weighted,
        compute(both, &seen(&levels), &none, 300_000).sla_weighted
    );
    // 2 h of 365 days: 1 − 2/8760 = 0.999771689..., rounded down.
    assert_eq!(a.sla_ppm, Some(999_771));
    assert_eq!(a.sla_downtime_ms, 2 * HOUR);
}

#[test]
fn planned_time_wins_where_it_covers_an_incident() {
    let day = Period::new(ms("2026-06-01T00:00:00Z"), ms("2026-06-02T00:00:00Z"));
    let levels = vec![major(
        ms("2026-06-01T10:00:00Z"),
        ms("2026-06-01T12:00:00Z"),
    )];
    let window = |counts| PlannedWindow {
        start_ms: ms("2026-06-01T11:00:00Z"),
        end_ms: ms("2026-06-01T13:00:00Z"),
        counts_as_downtime: counts,
    };

    let f = compute(
        day,
        &seen(&levels),
        &Planned::new(&[window(false)]),
        300_000,
    );
    assert_eq!(f.major_ms, 2 * HOUR);
    assert_eq!(f.planned_ms, 2 * HOUR);
    assert_eq!(f.excused_ms, 2 * HOUR);
    assert_eq!(f.down_weighted, 2 * HOUR * PPM);
    assert_eq!(f.planned_weighted, HOUR * PPM);
    assert_eq!(f.unplanned_weighted, HOUR * PPM);
    assert_eq!(f.sla_weighted, HOUR * PPM);
    assert_eq!(f.downtime_ms, 2 * HOUR);
    assert_eq!(f.planned_downtime_ms, HOUR);
    assert_eq!(f.sla_downtime_ms, HOUR);
    assert_eq!(f.raw_ppm, Some(1_000_000 - 2 * 1_000_000 / 24 - 1)); // 0.91666..., rounded down
    assert_eq!(f.sla_ppm, Some(958_333));

    // A window that counts as downtime is still planned, but counts for SLA.
    let f = compute(day, &seen(&levels), &Planned::new(&[window(true)]), 300_000);
    assert_eq!(f.planned_weighted, HOUR * PPM);
    assert_eq!(f.unplanned_weighted, HOUR * PPM);
    assert_eq!(f.excused_ms, 0);
    assert_eq!(f.sla_weighted, 2 * HOUR * PPM);

    // Where a counting and an excused window overlap, the instant counts.
    let other = PlannedWindow {
        start_ms: ms("2026-06-01T11:30:00Z"),
        end_ms: ms("2026-06-01T12:00:00Z"),
        counts_as_downtime: true,
    };
    let f = compute(
        day,
        &seen(&levels),
        &Planned::new(&[window(false), other]),
        300_000,
    );
    assert_eq!(f.planned_ms, 2 * HOUR);
    assert_eq!(f.excused_ms, 2 * HOUR - HOUR / 2);
    assert_eq!(f.sla_weighted, (HOUR + HOUR / 2) * PPM);
}

#[test]
fn daily_series_has_days_of_23_and_25_hours_in_rome() {
    let tz = rome();
    let year = year_period(2026, &tz).unwrap();
    let days = availability::days(year, &tz).unwrap();
    assert_eq!(days.len(), 365);
    assert_eq!(
        days.iter().map(|(_, p)| p.len_ms()).sum::<i64>(),
        year.len_ms()
    );
    let length = |date: &str| {
        days.iter()
            .find(|(d, _)| d.to_string() == date)
            .map(|(_, p)| p.len_ms())
            .unwrap()
    };
    assert_eq!(length("2026-03-29"), 23 * HOUR);
    assert_eq!(length("2026-10-25"), 25 * HOUR);
    assert_eq!(length("2026-06-01"), 24 * HOUR);

    // Down all of the 25-hour day: 25 h of downtime, 0 % that day.
    let (_, fall) = *days
        .iter()
        .find(|(d, _)| d.to_string() == "2026-10-25")
        .unwrap();
    let levels = vec![major(fall.from_ms, fall.to_ms)];
    let series = availability::daily(&days, &seen(&levels), &Planned::default(), 300_000);
    let day = series
        .iter()
        .find(|d| d.date.to_string() == "2026-10-25")
        .unwrap();
    assert_eq!(day.length_ms, 25 * HOUR);
    assert_eq!(day.major_ms, 25 * HOUR);
    assert_eq!(day.sla_ppm, Some(0));
    assert_eq!(series.iter().filter(|d| d.major_ms > 0).count(), 1);
    assert_eq!(series[0].sla_ppm, Some(1_000_000));
}

#[test]
fn partial_outage_weighs_exactly_three_tenths() {
    let day = Period::new(0, DAY);
    let levels = vec![Timed {
        start: 0,
        end: HOUR,
        value: Level::Partial,
    }];
    let f = compute(
        day,
        &seen(&levels),
        &Planned::default(),
        availability::DEFAULT_PARTIAL_WEIGHT_PPM,
    );
    assert_eq!(f.partial_ms, HOUR);
    assert_eq!(f.down_weighted, HOUR * 300_000);
    assert_eq!(f.sla_downtime_ms, 18 * 60_000); // 0.3 h
    assert_eq!(f.sla_ppm, Some(987_500)); // 1 − 0.3/24
    // Degraded is reported, never counted.
    let levels = vec![Timed {
        start: 0,
        end: HOUR,
        value: Level::Degraded,
    }];
    let f = compute(day, &seen(&levels), &Planned::default(), 300_000);
    assert_eq!(f.degraded_ms, HOUR);
    assert_eq!(f.sla_ppm, Some(1_000_000));
}

#[test]
fn levels_combine_monitors_rules_and_incidents() {
    let p = Period::new(0, 100);
    // Monitor a: up, down 10..50, up. Monitor b: down 30..40, paused from 60 (down 60.. is
    // not down: paused is inactive). Monitor c: pending the whole time.
    let a = spans(
        p,
        Some(MonitorState::Up),
        [(10, MonitorState::Down), (50, MonitorState::Up)],
    );
    let b = spans(
        p,
        Some(MonitorState::Up),
        [
            (30, MonitorState::Down),
            (40, MonitorState::Up),
            (60, MonitorState::Inactive),
        ],
    );
    let c = spans(p, Some(MonitorState::from(MonitorStatus::Pending)), []);
    let monitors: Vec<_> = a.into_iter().chain(b).chain(c).collect();
    let rules = vec![Timed {
        start: 70,
        end: 80,
        value: Severity::Warning,
    }];
    let incidents = incident_levels(
        p,
        85,
        &[
            (88, Some(ComponentStatus::PartialOutage)),
            (95, Some(ComponentStatus::UnderMaintenance)),
        ],
        None,
    );
    let levels = component_levels(&monitors, &rules, &incidents);
    let t = |start, end, value| Timed { start, end, value };
    assert_eq!(
        levels,
        vec![
            t(10, 30, Level::Partial),
            t(30, 40, Level::Major),
            t(40, 50, Level::Partial),
            t(70, 80, Level::Degraded),
            t(85, 95, Level::Partial),
        ]
    );
    // With only b up and a down, one down of one active after 60: major.
    let a = spans(p, Some(MonitorState::Down), []);
    let b = spans(p, Some(MonitorState::Inactive), [(50, MonitorState::Up)]);
    let monitors: Vec<_> = a.into_iter().chain(b).collect();
    assert_eq!(
        component_levels(&monitors, &[], &[]),
        vec![t(0, 50, Level::Major), t(50, 100, Level::Partial)]
    );
}

#[test]
fn spans_start_from_the_status_before_the_period() {
    let p = Period::new(100, 200);
    let s = spans(
        p,
        Some("up"),
        [(50, "down"), (150, "up"), (150, "down"), (250, "up")],
    );
    assert_eq!(
        s,
        vec![Timed {
            start: 100,
            end: 200,
            value: "down"
        }]
    );
    assert!(spans::<&str>(p, None, []).is_empty());
}

fn tier(factor_milli: u32, long_min: u64, short_min: u64) -> BurnRate {
    BurnRate {
        factor_milli,
        long: std::time::Duration::from_secs(long_min * 60),
        short: std::time::Duration::from_secs(short_min * 60),
        severity: Severity::Critical,
    }
}

#[test]
fn burn_rates_fire_only_when_both_windows_burn_faster() {
    // 99.9 %: over 1 h the budget is 3.6 s; 14.4× is 51.84 s of downtime.
    let obj = 999_000;
    assert_eq!(slo::burn_rate_milli(51_840 * PPM, HOUR, obj), 14_400);
    assert!(!slo::burns_faster(51_840 * PPM, HOUR, obj, 14_400));
    assert!(slo::burns_faster(51_840 * PPM + 1, HOUR, obj, 14_400));
    let tiers = [tier(14_400, 60, 5)];
    // Long window over, short window (5 min: 14.4× is 4.32 s) over too: fires.
    let firing = slo::tiers_firing(&tiers, obj, |w| {
        if w == HOUR { 60_000 * PPM } else { 5_000 * PPM }
    });
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].long_burn_milli, 16_666);
    // The short window has recovered: does not fire.
    let all = slo::tiers(&tiers, obj, |w| {
        if w == HOUR { 60_000 * PPM } else { 4_000 * PPM }
    });
    assert!(!all[0].firing);
    assert!(slo::tiers_firing(&tiers, obj, |_| 0).is_empty());
}

fn arb_levels() -> impl Strategy<Value = Vec<Timed<Level>>> {
    prop::collection::vec((0i64..50, 1i64..50, 0u8..4), 0..20).prop_map(|v| {
        let mut t = 0;
        let mut out = Vec::new();
        for (gap, len, level) in v {
            let start = t + gap;
            let end = start + len;
            t = end;
            let value = match level {
                0 => Level::Degraded,
                1 => Level::Partial,
                _ => Level::Major,
            };
            out.push(Timed { start, end, value });
        }
        out
    })
}

fn arb_windows() -> impl Strategy<Value = Vec<PlannedWindow>> {
    prop::collection::vec((0i64..1000, 1i64..200, any::<bool>()), 0..6).prop_map(|v| {
        v.into_iter()
            .map(|(start_ms, len, counts_as_downtime)| PlannedWindow {
                start_ms,
                end_ms: start_ms + len,
                counts_as_downtime,
            })
            .collect()
    })
}

fn arb_observed() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((0i64..1200, 0i64..300), 0..8)
        .prop_map(|v| v.into_iter().map(|(s, l)| (s, s + l)).collect())
}

proptest! {
    #[test]
    fn figures_are_consistent(
        levels in arb_levels(),
        observed in arb_observed(),
        windows in arb_windows(),
        from in 0i64..500,
        len in 0i64..1200,
        cut in 0i64..1200,
        weight in 0u32..=1_000_000,
    ) {
        let planned = Planned::new(&windows);
        let timeline = Timeline::from_levels(levels, &observed);
        let period = Period::new(from, from + len);
        let f = compute(period, &timeline, &planned, weight);
        prop_assert!(f.sla_weighted <= f.down_weighted);
        prop_assert!(f.planned_weighted <= f.down_weighted);
        prop_assert!(f.down_weighted - f.sla_weighted <= f.planned_weighted);
        prop_assert!(f.raw_ppm <= f.sla_ppm);
        prop_assert!(f.sla_ppm <= f.unplanned_ppm);
        prop_assert!(f.major_ms + f.partial_ms + f.degraded_ms <= f.observed_ms);
        prop_assert!(f.planned_ms <= f.period_ms && f.excused_ms <= f.planned_ms);
        // Down time is observed time: availability over observed time stays within 0..=100 %.
        prop_assert!(f.down_weighted <= f.observed_ms * PPM);
        prop_assert!(f.raw_ppm.is_none_or(|v| (0..=PPM).contains(&v)));
        // Coverage: observed plus unobserved is the period; no figure without observed time,
        // and 100 % coverage only when every millisecond was observed.
        prop_assert!(0 <= f.observed_ms && f.observed_ms <= f.period_ms);
        prop_assert_eq!(f.observed_ms + f.unobserved_ms, f.period_ms);
        prop_assert_eq!(f.raw_ppm.is_none(), f.observed_ms == 0);
        prop_assert_eq!(f.sla_ppm.is_none(), f.observed_ms == 0);
        prop_assert_eq!(f.coverage_ppm == PPM, f.period_ms > 0 && f.unobserved_ms == 0);
        prop_assert!((0..=PPM).contains(&f.coverage_ppm));
        let exact_observed: i64 = availability::union(
            observed.iter().copied().chain(timeline.levels().iter().map(|l| (l.start, l.end))),
        )
        .iter()
        .map(|&(s, e)| (e.min(from + len) - s.max(from)).max(0))
        .sum();
        prop_assert_eq!(f.observed_ms, exact_observed);

        // Splitting the period in two and summing gives the whole.
        let mid = from + cut.min(len);
        let (a, b) = (
            compute(Period::new(from, mid), &timeline, &planned, weight),
            compute(Period::new(mid, from + len), &timeline, &planned, weight),
        );
        prop_assert_eq!(a.period_ms + b.period_ms, f.period_ms);
        prop_assert_eq!(a.observed_ms + b.observed_ms, f.observed_ms);
        prop_assert_eq!(a.major_ms + b.major_ms, f.major_ms);
        prop_assert_eq!(a.partial_ms + b.partial_ms, f.partial_ms);
        prop_assert_eq!(a.degraded_ms + b.degraded_ms, f.degraded_ms);
        prop_assert_eq!(a.planned_ms + b.planned_ms, f.planned_ms);
        prop_assert_eq!(a.excused_ms + b.excused_ms, f.excused_ms);
        prop_assert_eq!(a.down_weighted + b.down_weighted, f.down_weighted);
        prop_assert_eq!(a.planned_weighted + b.planned_weighted, f.planned_weighted);
        prop_assert_eq!(a.sla_weighted + b.sla_weighted, f.sla_weighted);

        // The mean of one component is itself; the mean of two pools their observed time.
        prop_assert_eq!(Figures::mean(&[f]), Some(f));
        let m = Figures::mean(&[a, b]).unwrap();
        let observed_sum = i128::from(a.observed_ms + b.observed_ms);
        prop_assert_eq!(
            m.sla_ppm,
            availability::availability_ppm(observed_sum, i128::from(a.sla_weighted + b.sla_weighted))
        );
        prop_assert_eq!(m.coverage_ppm, availability::share_ppm(observed_sum, i128::from(f.period_ms)));
    }

    /// A week around each of Rome's clock changes, observed at random: the days are 23, 24 or
    /// 25 hours long, their observed time adds up to the week's, a day is fully covered only
    /// when all of its real length was observed, and a day with nothing observed has no figure.
    #[test]
    fn daily_coverage_adds_up_across_clock_changes(
        spring in any::<bool>(),
        observed in prop::collection::vec((0i64..7 * 24 * 60, 1i64..3 * 24 * 60), 0..6),
        down in prop::collection::vec((0i64..7 * 24 * 60, 1i64..600), 0..4),
    ) {
        let tz = rome();
        let first = if spring { "2026-03-26" } else { "2026-10-22" };
        let first: jiff::civil::Date = first.parse().unwrap();
        let start = availability::local_midnight(first, &tz).unwrap();
        let end = availability::local_midnight(first.checked_add(jiff::ToSpan::days(7)).unwrap(), &tz).unwrap();
        let week = Period::new(start, end);
        prop_assert_eq!(week.len_ms(), 7 * DAY + if spring { -HOUR } else { HOUR });
        let minute = 60_000;
        let observed: Vec<(i64, i64)> = observed
            .iter()
            .map(|&(s, l)| (start + s * minute, (start + (s + l) * minute).min(end)))
            .collect();
        // Down only where observed, as sources give it.
        let observed_set = availability::union(observed.iter().copied());
        let levels: Vec<Timed<Level>> = availability::union(
            down.iter().map(|&(s, l)| (start + s * minute, start + (s + l) * minute)),
        )
        .iter()
        .flat_map(|&(s, e)| {
            observed_set.iter().filter_map(move |&(os, oe)| {
                let (a, b) = (s.max(os), e.min(oe));
                (a < b).then_some(major(a, b))
            })
        })
        .collect();
        let timeline = Timeline::from_levels(levels, &observed);
        prop_assert_eq!(timeline.observed(), observed_set.as_slice());
        let days = availability::days(week, &tz).unwrap();
        prop_assert_eq!(days.len(), 7);
        let series = availability::daily(&days, &timeline, &Planned::default(), 300_000);
        let whole = compute(week, &timeline, &Planned::default(), 300_000);
        prop_assert_eq!(series.iter().map(|d| d.observed_ms).sum::<i64>(), whole.observed_ms);
        prop_assert_eq!(series.iter().map(|d| d.length_ms).sum::<i64>(), week.len_ms());
        prop_assert_eq!(series.iter().map(|d| d.major_ms).sum::<i64>(), whole.major_ms);
        for d in &series {
            let expected = if d.date.to_string() == "2026-03-29" {
                23 * HOUR
            } else if d.date.to_string() == "2026-10-25" {
                25 * HOUR
            } else {
                24 * HOUR
            };
            prop_assert_eq!(d.length_ms, expected);
            prop_assert_eq!(d.coverage_ppm == PPM, d.observed_ms == d.length_ms);
            prop_assert_eq!(d.sla_ppm.is_none(), d.observed_ms == 0);
            prop_assert!(d.major_ms <= d.observed_ms);
        }
    }

    #[test]
    fn levels_are_sorted_and_disjoint(
        a in prop::collection::vec((0i64..100, 1i64..30, 0u8..3), 0..10),
        b in prop::collection::vec((0i64..100, 1i64..30, 0u8..4), 0..10),
    ) {
        // Each monitor's spans must not overlap each other: one monitor per span here.
        let monitors: Vec<_> = a.iter().map(|&(s, l, v)| Timed {
            start: s,
            end: s + l,
            value: [MonitorState::Up, MonitorState::Down, MonitorState::Inactive][usize::from(v)],
        }).collect();
        let incidents: Vec<_> = b.iter().map(|&(s, l, v)| Timed {
            start: s,
            end: s + l,
            value: [Level::Operational, Level::Degraded, Level::Partial, Level::Major][usize::from(v)],
        }).collect();
        let levels = component_levels(&monitors, &[], &incidents);
        for w in levels.windows(2) {
            prop_assert!(w[0].end <= w[1].start);
            prop_assert!(w[0].end < w[1].start || w[0].value != w[1].value);
        }
        for l in &levels {
            prop_assert!(l.start < l.end && l.value != Level::Operational);
        }
    }
}

/// A component upkeep began watching today: its year is covered for about a day out of 365,
/// every earlier day has no figure, and what was observed is what the figure is made of.
#[test]
fn a_component_first_watched_today_covers_a_day_of_its_year() {
    let tz = rome();
    let year = year_period(2026, &tz).unwrap();
    let today = ms("2026-12-04T23:00:00Z"); // 5 December, midnight in Rome
    let now = today + 21 * HOUR;
    let monitor = spans(
        year.until(now),
        None,
        [(today + 10 * HOUR, MonitorState::Up)],
    );
    let timeline = Timeline::new(&monitor, &[], &[]);
    let f = compute(year, &timeline, &Planned::default(), 300_000);
    assert_eq!(f.observed_ms, 11 * HOUR);
    assert_eq!(f.unobserved_ms, 365 * DAY - 11 * HOUR);
    // 11 h of 8,760 h: 1,255 ppm, about a day in 365 at most.
    assert_eq!(f.coverage_ppm, 1_255);
    assert!(f.coverage_ppm <= PPM / 365);
    assert_eq!(f.sla_ppm, Some(PPM), "up all the time it was watched");

    let days = availability::days(year.until(now), &tz).unwrap();
    let series = availability::daily(&days, &timeline, &Planned::default(), 300_000);
    assert_eq!(series.len(), 339, "no day after today");
    let (before, last) = series.split_at(338);
    assert!(
        before
            .iter()
            .all(|d| d.observed_ms == 0 && d.sla_ppm.is_none() && d.raw_ppm.is_none())
    );
    assert_eq!(last[0].date.to_string(), "2026-12-05");
    assert_eq!(last[0].observed_ms, 11 * HOUR);
    assert_eq!(last[0].length_ms, 21 * HOUR, "measured up to now");

    // Nothing observed: no figure at all, for one component and for a mean.
    let f = compute(year, &Timeline::EMPTY, &Planned::default(), 300_000);
    assert_eq!((f.raw_ppm, f.sla_ppm, f.unplanned_ppm), (None, None, None));
    assert_eq!(f.coverage_ppm, 0);
    assert_eq!(Figures::mean(&[f, f]).unwrap().sla_ppm, None);
}

/// Pending, paused and unknown monitors observe nothing; an incident that declares a status
/// (even operational) observes; a firing rule observes.
#[test]
fn only_judgements_and_declarations_observe() {
    let p = Period::new(0, 100);
    let pending = spans(p, Some(MonitorState::Inactive), [(60, MonitorState::Up)]);
    let incidents = incident_levels(
        p,
        10,
        &[
            (10, Some(ComponentStatus::Operational)),
            (20, Some(ComponentStatus::MajorOutage)),
            (30, None),
        ],
        None,
    );
    assert_eq!(
        incidents,
        vec![
            Timed {
                start: 10,
                end: 20,
                value: Level::Operational
            },
            major(20, 30),
        ]
    );
    let rules = vec![Timed {
        start: 40,
        end: 45,
        value: Severity::Warning,
    }];
    let t = Timeline::new(&pending, &rules, &incidents);
    assert_eq!(t.observed(), &[(10, 30), (40, 45), (60, 100)]);
    assert_eq!(
        t.levels(),
        &[
            major(20, 30),
            Timed {
                start: 40,
                end: 45,
                value: Level::Degraded
            }
        ]
    );
    let f = compute(p, &t, &Planned::default(), 300_000);
    assert_eq!(f.observed_ms, 65);
    assert_eq!(f.coverage_ppm, 650_000);
    // 10 of 65 observed milliseconds down.
    assert_eq!(f.raw_ppm, Some(846_153));
}

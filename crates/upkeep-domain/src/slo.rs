//! Service-level objectives (`docs/decisions.md#continuity-numbers`): the downtime budget of an
//! objective over its window, how much of it is spent, and multi-window burn-rate alerts.
//!
//! Integer arithmetic only. Bad time arrives as weighted downtime in ppm·ms (see
//! [`crate::availability`]); SLOs count SLA downtime, so maintenance that does not count as
//! downtime never spends budget.
//!
//! - `budget = window_ms × (10⁶ − objective_ppm) / 10⁶`, exactly in ppm·ms; the millisecond
//!   figure is rounded down (99.9 % of 2026 is 31_536_000 ms = 8 h 45 m 36 s, of 2028
//!   31_622_400 ms = 8 h 47 m 2.4 s). Spent milliseconds are rounded up, what is left is
//!   exact in ppm·ms and rounded down in ms; it goes negative once the budget is overspent.
//! - The burn rate over a window `W` is `(bad / W) / (1 − objective)`; a tier fires when both its
//!   long and its short window burn strictly faster than `factor_milli / 1000`, compared exactly
//!   (`bad × 1000 > factor_milli × W × (10⁶ − objective)`).
//! - The SLO window is the calendar year, quarter or month in the page's zone that contains
//!   `now`, or the rolling period ending at `now` ([`window_containing`]).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use crate::availability::{PPM, Period, local_midnight};
use crate::config::{BurnRate, Severity, SloWindow};

/// The budget in ppm·ms: `window_ms × (10⁶ − objective_ppm)`.
pub fn budget_weighted(window_ms: i64, objective_ppm: u32) -> i128 {
    i128::from(window_ms) * (i128::from(PPM) - i128::from(objective_ppm))
}

/// The budget in milliseconds, rounded down.
pub fn budget_ms(window_ms: i64, objective_ppm: u32) -> i64 {
    to_i64(budget_weighted(window_ms, objective_ppm).div_euclid(i128::from(PPM)))
}

fn to_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The burn rate in thousandths (rounded down) of `bad_weighted` ppm·ms over `window_ms`.
/// 0 for an empty window or a 100 % objective.
pub fn burn_rate_milli(bad_weighted: i64, window_ms: i64, objective_ppm: u32) -> i64 {
    let denominator = budget_weighted(window_ms, objective_ppm);
    if denominator <= 0 {
        return 0;
    }
    to_i64((i128::from(bad_weighted) * 1000).div_euclid(denominator))
}

/// Whether `bad_weighted` over `window_ms` burns strictly faster than `factor_milli / 1000`.
pub fn burns_faster(
    bad_weighted: i64,
    window_ms: i64,
    objective_ppm: u32,
    factor_milli: u32,
) -> bool {
    let denominator = budget_weighted(window_ms, objective_ppm);
    denominator > 0 && i128::from(bad_weighted) * 1000 > i128::from(factor_milli) * denominator
}

/// One burn-rate tier evaluated at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = BurnRateTier))]
pub struct TierStatus {
    pub factor_milli: u32,
    pub long_ms: i64,
    pub short_ms: i64,
    pub severity: &'static str,
    /// Burn over the long and the short window, thousandths, rounded down.
    pub long_burn_milli: i64,
    pub short_burn_milli: i64,
    /// Both windows burn faster than the factor.
    pub firing: bool,
}

fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Evaluates every tier: `bad(window_ms)` is the weighted bad time (ppm·ms) in the `window_ms`
/// before now.
pub fn tiers(
    burn_rates: &[BurnRate],
    objective_ppm: u32,
    mut bad: impl FnMut(i64) -> i64,
) -> Vec<TierStatus> {
    burn_rates
        .iter()
        .map(|t| {
            let (long_ms, short_ms) = (duration_ms(t.long), duration_ms(t.short));
            let (long_bad, short_bad) = (bad(long_ms), bad(short_ms));
            TierStatus {
                factor_milli: t.factor_milli,
                long_ms,
                short_ms,
                severity: severity_str(t.severity),
                long_burn_milli: burn_rate_milli(long_bad, long_ms, objective_ppm),
                short_burn_milli: burn_rate_milli(short_bad, short_ms, objective_ppm),
                firing: burns_faster(long_bad, long_ms, objective_ppm, t.factor_milli)
                    && burns_faster(short_bad, short_ms, objective_ppm, t.factor_milli),
            }
        })
        .collect()
}

fn severity_str(s: Severity) -> &'static str {
    s.as_str()
}

/// The tiers of [`tiers`] that fire.
pub fn tiers_firing(
    burn_rates: &[BurnRate],
    objective_ppm: u32,
    bad: impl FnMut(i64) -> i64,
) -> Vec<TierStatus> {
    let mut all = tiers(burn_rates, objective_ppm, bad);
    all.retain(|t| t.firing);
    all
}

/// Budget of an SLO over its window, spent so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = SloBudget))]
pub struct Status {
    pub objective_ppm: u32,
    /// The window's length.
    pub window_ms: i64,
    /// The budget over the whole window, ms rounded down.
    pub budget_ms: i64,
    /// SLA weighted downtime so far, ms rounded up.
    pub spent_ms: i64,
    /// Budget minus spent, ms rounded down; negative once overspent.
    pub left_ms: i64,
    /// The same three in ppm·ms, exact.
    pub budget_weighted: i64,
    pub spent_weighted: i64,
    pub left_weighted: i64,
    /// Share of the budget spent, ppm rounded up (above 10⁶ once overspent); 10⁶ when
    /// there is no budget and something was spent, 0 when nothing was.
    pub spent_of_budget_ppm: i64,
    /// Whether the objective still holds (something left, or exactly nothing).
    pub met: bool,
}

/// The status of an objective over a window of `window_ms` with `spent_weighted` ppm·ms spent.
pub fn status(objective_ppm: u32, window_ms: i64, spent_weighted: i64) -> Status {
    let budget = budget_weighted(window_ms, objective_ppm);
    let spent = i128::from(spent_weighted);
    let left = budget - spent;
    let p = i128::from(PPM);
    let spent_of_budget_ppm = if budget > 0 {
        let n = spent * p;
        to_i64(n.div_euclid(budget) + i128::from(n.rem_euclid(budget) != 0))
    } else if spent > 0 {
        PPM
    } else {
        0
    };
    Status {
        objective_ppm,
        window_ms,
        budget_ms: to_i64(budget.div_euclid(p)),
        spent_ms: to_i64(spent.div_euclid(p) + i128::from(spent.rem_euclid(p) != 0)),
        left_ms: to_i64(left.div_euclid(p)),
        budget_weighted: to_i64(budget),
        spent_weighted,
        left_weighted: to_i64(left),
        spent_of_budget_ppm,
        met: left >= 0,
    }
}

/// The window of kind `window` that contains `now`, in zone `tz` for calendar windows. A
/// calendar year carries its length in days.
pub fn window_containing(
    window: SloWindow,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<Period, jiff::Error> {
    let now_ms = now.as_millisecond();
    let date = now.to_zoned(tz.clone()).date();
    let (start, end) = match window {
        SloWindow::Rolling(d) => {
            return Ok(Period::new(now_ms.saturating_sub(duration_ms(d)), now_ms));
        }
        SloWindow::CalendarYear => {
            return crate::availability::year_period(date.year(), tz);
        }
        SloWindow::CalendarQuarter => {
            let month = (date.month() - 1) / 3 * 3 + 1;
            let start = Date::new(date.year(), month, 1)?;
            (start, start.checked_add(3.months())?)
        }
        SloWindow::CalendarMonth => {
            let start = date.first_of_month();
            (start, start.checked_add(1.month())?)
        }
    };
    Ok(Period::new(
        local_midnight(start, tz)?,
        local_midnight(end, tz)?,
    ))
}

/// The name of a window kind, for reports.
pub fn window_name(window: SloWindow) -> String {
    match window {
        SloWindow::CalendarYear => "calendar_year".into(),
        SloWindow::CalendarQuarter => "calendar_quarter".into(),
        SloWindow::CalendarMonth => "calendar_month".into(),
        SloWindow::Rolling(d) => format!("rolling {}", crate::duration::format_duration(d)),
    }
}

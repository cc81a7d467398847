//! `backups`, `self_backup` and `slos`, with the exact parsing of objectives and windows.

use super::*;

pub(super) fn read_burn_rate(d: &mut Decoder, node: &Node) -> Option<BurnRate> {
    let mut f = d.fields(node)?;
    let factor = f.required(d, "factor", |d, n| {
        d.parsed(n, |text| {
            let milli = parse_scaled_decimal(text, 3)?;
            u32::try_from(milli)
                .ok()
                .filter(|milli| *milli > 0)
                .ok_or_else(|| format!("a burn-rate factor must be above 0, found `{text}`"))
        })
    });
    let long = f.required(d, "long", positive_duration);
    let short = f.required(d, "short", positive_duration);
    let severity = f.optional(d, "severity", read_severity);
    f.finish(d);
    let (long, short) = (long?, short?);
    if short >= long {
        d.error(
            node.pos,
            "a burn-rate tier's `short` window must be shorter than `long`",
        );
        return None;
    }
    Some(BurnRate {
        factor_milli: factor?,
        long,
        short,
        severity: severity.unwrap_or(Severity::Critical),
    })
}

/// Parses a decimal written with at most `decimals` digits after the point into an integer
/// scaled by 10^decimals, exactly (no floating point): `99.9` with 4 decimals is 999_000.
pub(super) fn parse_scaled_decimal(text: &str, decimals: u32) -> Result<u64, String> {
    let bad = || format!("bad number `{text}`: write e.g. 99.9 (at most {decimals} decimals)");
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    let fraction_len = u32::try_from(fraction.len()).map_err(|_| bad())?;
    if fraction_len > decimals {
        return Err(bad());
    }
    let scale = 10u64.pow(decimals);
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u64>().map_err(|_| bad())? * 10u64.pow(decimals - fraction_len)
    };
    whole
        .checked_mul(scale)
        .and_then(|scaled| scaled.checked_add(fraction))
        .ok_or_else(bad)
}

/// Parses an SLO objective in percent (`99.9`, `99.95%`) into parts per million.
pub fn parse_objective_ppm(text: &str) -> Result<u32, String> {
    let number = text.trim().trim_end_matches('%');
    let ppm = parse_scaled_decimal(number, 4)?;
    match u32::try_from(ppm) {
        Ok(ppm) if ppm > 0 && ppm < 1_000_000 => Ok(ppm),
        _ => Err(format!(
            "an objective is a percentage above 0 and below 100, found `{text}`"
        )),
    }
}

pub(super) fn parse_slo_window(text: &str) -> Result<SloWindow, String> {
    match text.trim() {
        "calendar_year" => Ok(SloWindow::CalendarYear),
        "calendar_quarter" => Ok(SloWindow::CalendarQuarter),
        "calendar_month" => Ok(SloWindow::CalendarMonth),
        other => {
            let period = other.strip_prefix("rolling").unwrap_or(other).trim();
            crate::duration::parse_duration(period)
                .ok()
                .filter(|period| !period.is_zero())
                .map(SloWindow::Rolling)
                .ok_or_else(|| {
                    format!(
                        "unknown SLO window `{text}`: use calendar_year, calendar_quarter, calendar_month or rolling 30d"
                    )
                })
        }
    }
}

impl Sections {
    pub(super) fn backup(&mut self, d: &mut Decoder, node: &Node) -> Option<Backup> {
        let mut f = d.fields(node)?;
        let rpo = f.required(d, "rpo", positive_duration);
        let rto = f.required(d, "rto", positive_duration);
        let drill_every = f.optional(d, "drill_every", positive_duration);
        let push_key = f.required(d, "push_key", |d, n| self.push_key(d, n));
        f.finish(d);
        Some(Backup {
            rpo: rpo?,
            rto: rto?,
            drill_every,
            push_key: push_key?,
        })
    }

    pub(super) fn self_backup(&mut self, d: &mut Decoder, node: &Node) -> Option<SelfBackup> {
        let mut f = d.fields(node)?;
        let every = f.required(d, "every", positive_duration);
        let dir = f.required(d, "dir", |d, n| {
            let dir = d.string(n)?;
            if dir.trim().is_empty() {
                d.error(n.pos, "must name a directory");
                return None;
            }
            Some(std::path::PathBuf::from(dir))
        });
        let keep = f.optional(d, "keep", positive_count);
        let backup_set = f.optional(d, "backup_set", |d, n| self.id_ref(d, n, IdKind::Backup));
        f.finish(d);
        Some(SelfBackup {
            every: every?,
            dir: dir?,
            keep: keep.unwrap_or(7),
            backup_set,
        })
    }

    pub(super) fn slo(&mut self, d: &mut Decoder, entry: &Entry) -> Option<Slo> {
        self.reference(IdKind::Component, &entry.key, entry.key_pos);
        let mut f = d.fields(&entry.value)?;
        let objective = f.required(d, "objective", |d, n| d.parsed(n, parse_objective_ppm));
        let window = f.optional(d, "window", |d, n| d.parsed(n, parse_slo_window));
        let burn_rates = f.optional(d, "burn_rates", |d, n| d.list(n, read_burn_rate));
        f.finish(d);
        Some(Slo {
            objective_ppm: objective?,
            window: window.unwrap_or(SloWindow::CalendarYear),
            burn_rates: burn_rates.unwrap_or_else(BurnRate::defaults),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn objectives_are_exact() {
        assert_eq!(parse_objective_ppm("99.9"), Ok(999_000));
        assert_eq!(parse_objective_ppm("99.95%"), Ok(999_500));
        assert_eq!(parse_objective_ppm("99.9999"), Ok(999_999));
        assert_eq!(parse_objective_ppm("90"), Ok(900_000));
        for bad in ["100", "0", "99.99999", "abc", "-1", "99,9", ".9", "9.x"] {
            assert!(parse_objective_ppm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slo_windows() {
        assert_eq!(
            parse_slo_window("calendar_month"),
            Ok(SloWindow::CalendarMonth)
        );
        assert_eq!(
            parse_slo_window("rolling 30d"),
            Ok(SloWindow::Rolling(Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(
            parse_slo_window("28d"),
            Ok(SloWindow::Rolling(Duration::from_secs(28 * 86_400)))
        );
        assert!(parse_slo_window("weekly").is_err());
    }

    proptest! {
        #[test]
        fn objective_ppm_matches_integer_arithmetic(whole in 1u32..100, fraction in 0u32..10_000) {
            let text = format!("{whole}.{fraction:04}");
            let expected = whole * 10_000 + fraction;
            prop_assume!(expected < 1_000_000);
            prop_assert_eq!(parse_objective_ppm(&text), Ok(expected));
        }
    }
}

//! Human-written durations: `500ms`, `30s`, `5m`, `4h`, `14d`, `1w` and compounds such as
//! `1h30m`. A bare number is refused with a hint, because `30` could mean seconds or minutes.
//! [`format_duration`] writes the shortest form that [`parse_duration`] reads back.

use std::time::Duration;

/// Units accepted after a number, longest spelling first so that `ms` wins over `m`.
const UNITS: [(&str, u64); 6] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// Parses a duration such as `30s`, `5m`, `4h`, `14d`, `1w`, `500ms` or `1h30m`.
///
/// The error is a message meant for a person, e.g. ``bad duration `30`: write 30s``.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration: write e.g. 30s, 5m, 4h or 14d".to_owned());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "bad duration `{trimmed}`: a unit is required, write {trimmed}s (or ms, m, h, d, w)"
        ));
    }
    let mut rest = trimmed;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "bad duration `{trimmed}`: expected a number at `{rest}` (write e.g. 30s, 5m, 1h30m)"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let Some((unit_ms, remainder)) = UNITS
            .iter()
            .find_map(|(unit, unit_ms)| after.strip_prefix(unit).map(|rest| (*unit_ms, rest)))
        else {
            return Err(format!(
                "bad duration `{trimmed}`: unknown unit after {number} (use ms, s, m, h, d or w)"
            ));
        };
        let amount: u64 = number
            .parse()
            .map_err(|_| format!("bad duration `{trimmed}`: {number} is too large"))?;
        total_ms = amount
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("bad duration `{trimmed}`: too large"))?;
        rest = remainder;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration in the compound syntax [`parse_duration`] accepts (`1h30m`, `500ms`, `0s`).
/// Sub-millisecond precision is dropped.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, unit_ms) in UNITS.iter().rev() {
        let amount = ms / unit_ms;
        if amount > 0 {
            out.push_str(&format!("{amount}{unit}"));
            ms %= unit_ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn simple_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("4h"), Ok(Duration::from_secs(4 * 3600)));
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn compounds() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
        assert_eq!(parse_duration("1d2h"), Ok(Duration::from_secs(93_600)));
    }

    #[test]
    fn bare_number_has_a_hint() {
        let err = parse_duration("30").unwrap_err();
        assert!(err.contains("write 30s"), "{err}");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "s",
            "5x",
            "5 m",
            "-5s",
            "1.5h",
            "5m5",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse_duration("18446744073709551615w").is_err());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in 0u64..=10_000_000_000_000) {
            let duration = Duration::from_millis(ms);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn never_panics(text in "\\PC{0,20}") {
            let _ = parse_duration(&text);
        }
    }
}

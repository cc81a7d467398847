//! End of life from a file in endoflife.date's `/api/PRODUCT.json` shape: an array of release
//! cycles `{cycle, eol, latest, ...}` where `eol` is a date (`2025-01-31`) or a boolean
//! (`true`: ended, date unknown; `false`: no end announced). Other fields are ignored.
//!
//! An application version belongs to the longest cycle that is a prefix of it at a dot
//! boundary: `3.1.4` (or `v3.1.4`) is in cycle `3.1` rather than `3`; `3.10.0` is not in `3.1`.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;

/// One release cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// Its name (`3.1`).
    pub cycle: String,
    /// When it ends.
    pub eol: EndOfLife,
    /// Its latest release, if given.
    pub latest: Option<String>,
}

/// When a cycle ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndOfLife {
    /// No end announced (`false`).
    None,
    /// Ended, date not given (`true`).
    Ended,
    /// On this date (UTC; it ends at the start of the day).
    On(Date),
}

/// The end of life of a deployed application version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EolStatus {
    /// The cycle the version belongs to.
    pub cycle: String,
    /// The end-of-life date, when known.
    pub date: Option<Date>,
    /// Days from now to that date (negative once past).
    pub days_left: Option<i64>,
    /// Whether the cycle has reached its end.
    pub ended: bool,
    /// The cycle's latest release, if the file gives it.
    pub latest: Option<String>,
}

/// Reads an endoflife.date file; the error says which element is wrong.
pub fn parse_eol(text: &str) -> Result<Vec<Cycle>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Array(items) = value else {
        return Err(
            "expected an array of release cycles (endoflife.date's /api/PRODUCT.json)".to_owned(),
        );
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = |what: &str| format!("element {i}: {what}");
            let cycle = match item.get("cycle") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(at("needs a `cycle` (a string)")),
            };
            let eol = match item.get("eol") {
                Some(Value::Bool(true)) => EndOfLife::Ended,
                Some(Value::Bool(false)) | Some(Value::Null) | None => EndOfLife::None,
                Some(Value::String(s)) => EndOfLife::On(
                    s.parse::<Date>()
                        .map_err(|_| at(&format!("`eol` `{s}` is not a date (YYYY-MM-DD)")))?,
                ),
                Some(_) => return Err(at("`eol` must be a date or a boolean")),
            };
            let latest = match item.get("latest") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            Ok(Cycle { cycle, eol, latest })
        })
        .collect()
}

/// The cycle `app_version` belongs to, if any.
pub fn cycle_of<'c>(cycles: &'c [Cycle], app_version: &str) -> Option<&'c Cycle> {
    let app = app_version.trim();
    let app = app.strip_prefix(['v', 'V']).unwrap_or(app);
    cycles
        .iter()
        .filter(|c| {
            let name = c.cycle.strip_prefix(['v', 'V']).unwrap_or(&c.cycle);
            app == name
                || app
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['.', '-', '+']))
        })
        .max_by_key(|c| c.cycle.len())
}

/// The end of life of `app_version` at `now`, if the cycles name it.
pub fn status(cycles: &[Cycle], app_version: &str, now: Timestamp) -> Option<EolStatus> {
    let cycle = cycle_of(cycles, app_version)?;
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let (date, days_left, ended) = match cycle.eol {
        EndOfLife::None => (None, None, false),
        EndOfLife::Ended => (None, None, true),
        EndOfLife::On(date) => (Some(date), days_between(today, date), date <= today),
    };
    Some(EolStatus {
        cycle: cycle.cycle.clone(),
        date,
        days_left,
        ended,
        latest: cycle.latest.clone(),
    })
}

fn days_between(from: Date, to: Date) -> Option<i64> {
    let span = from.until((jiff::Unit::Day, to)).ok()?;
    Some(i64::from(span.get_days()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const FILE: &str = r#"[
      {"cycle": "3.1", "releaseDate": "2024-07-01", "eol": false, "latest": "3.1.4"},
      {"cycle": "3.0", "releaseDate": "2024-04-29", "eol": "2024-12-31", "latest": "3.0.4"},
      {"cycle": "2.11", "eol": true, "latest": "2.11.10"},
      {"cycle": "3", "eol": "2030-01-01"}
    ]"#;

    #[test]
    fn cycles_and_days_left() {
        let cycles = parse_eol(FILE).expect("parses");
        let now: Timestamp = "2024-12-01T12:00:00Z".parse().expect("instant");
        let s = status(&cycles, "v3.0.2", now).expect("in a cycle");
        assert_eq!(
            (s.cycle.as_str(), s.days_left, s.ended),
            ("3.0", Some(30), false)
        );
        let s = status(&cycles, "3.1.4", now).expect("in a cycle");
        assert_eq!(
            (s.cycle.as_str(), s.days_left, s.ended),
            ("3.1", None, false)
        );
        let s = status(&cycles, "2.11.1", now).expect("in a cycle");
        assert!(s.ended);
        assert_eq!(
            status(&cycles, "3.10.0", now).map(|s| s.cycle),
            Some("3".to_owned())
        );
        assert_eq!(status(&cycles, "4.0.0", now), None);
        let later: Timestamp = "2025-01-02T00:00:00Z".parse().expect("instant");
        let s = status(&cycles, "3.0.2", later).expect("in a cycle");
        assert_eq!((s.days_left, s.ended), (Some(-2), true));
    }

    #[test]
    fn bad_files_say_where() {
        assert!(parse_eol("{}").unwrap_err().contains("array"));
        assert!(
            parse_eol(r#"[{"eol": true}]"#)
                .unwrap_err()
                .contains("element 0")
        );
        assert!(
            parse_eol(r#"[{"cycle": "1", "eol": "soon"}]"#)
                .unwrap_err()
                .contains("not a date")
        );
        assert!(parse_eol("[").is_err());
    }
}

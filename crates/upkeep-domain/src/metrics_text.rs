//! A parser of the Prometheus text exposition format (version 0.0.4), for alert rules that
//! scrape a target's `/metrics`.
//!
//! Every sample line is one series, as Prometheus itself sees it: `_bucket`, `_sum` and
//! `_count` lines of histograms and summaries are series of their own, so a rule can name any
//! of them. Comments (`# HELP`, `# TYPE`) are skipped; timestamps are read and ignored. As in
//! Prometheus, one malformed line fails the whole scrape, with its line number.
//!
//! Written here rather than taken from a crate: the available parser folds histogram and
//! summary lines into grouped values (so their series cannot be named) and reads the clock.

use std::collections::BTreeMap;

/// One series and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Most sample lines accepted from one scrape.
pub const MAX_SAMPLES: usize = 200_000;

/// Parses a whole exposition. Errors name the line: `line 3: expected a value after the labels`.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if samples.len() >= MAX_SAMPLES {
            return Err(format!("more than {MAX_SAMPLES} samples"));
        }
        samples.push(parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(samples)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .char_indices()
        .find(|&(i, c)| {
            if i == 0 {
                !is_name_start(c)
            } else {
                !is_name_char(c)
            }
        })
        .map_or(line.len(), |(i, _)| i);
    if name_end == 0 {
        return Err("expected a metric name".into());
    }
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("expected a value for `{name}`"))?;
    let value = parse_value(value).ok_or_else(|| format!("`{value}` is not a number"))?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("`{ts}` is not a timestamp in milliseconds"))?;
    }
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected `{extra}` after the value"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `name="value",...}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut s: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let end = s
            .char_indices()
            .find(|&(i, c)| {
                if i == 0 {
                    !(c.is_ascii_alphabetic() || c == '_')
                } else {
                    !(c.is_ascii_alphanumeric() || c == '_')
                }
            })
            .map_or(s.len(), |(i, _)| i);
        if end == 0 {
            return Err("expected a label name".into());
        }
        let label = &s[..end];
        s = s[end..].trim_start();
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected `=` after label `{label}`"))?
            .trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected a quoted value for label `{label}`"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let close = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => return Err(format!("unterminated value for label `{label}`")),
                },
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated value for label `{label}`")),
            }
        };
        labels.insert(label.to_owned(), value);
        s = s[close + 1..].trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label `{label}`"));
        }
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = r#"
# HELP cpu_usage CPU use in percent.
# TYPE cpu_usage gauge
cpu_usage 83.5
http_errors_rate{job="api",env="prod"} 0.07 1700000000000
http_errors_rate{job="web" , env="prod",} 0.01
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 12
latency_seconds_bucket{le="+Inf"} 15
latency_seconds_sum 1.5e0
latency_seconds_count 15
escaped{path="C:\\dir\"x\"\nline"} -Inf
up 1
"#;

    #[test]
    fn every_line_is_a_series() {
        let samples = parse(EXPOSITION).unwrap_or_default();
        assert_eq!(samples.len(), 9);
        assert_eq!(
            samples[0],
            Sample {
                name: "cpu_usage".into(),
                labels: BTreeMap::new(),
                value: 83.5
            }
        );
        assert_eq!(
            samples[1].labels.get("job").map(String::as_str),
            Some("api")
        );
        assert_eq!(
            samples[2].labels.get("env").map(String::as_str),
            Some("prod")
        );
        assert_eq!(
            samples[4].labels.get("le").map(String::as_str),
            Some("+Inf")
        );
        assert_eq!(samples[5].name, "latency_seconds_sum");
        assert_eq!(
            samples[7].labels.get("path").map(String::as_str),
            Some("C:\\dir\"x\"\nline")
        );
        assert_eq!(samples[7].value, f64::NEG_INFINITY);
    }

    #[test]
    fn a_malformed_line_fails_the_scrape_with_its_number() {
        assert_eq!(
            parse("ok 1\nbad{job=\"x\" 2\n"),
            Err("line 2: expected `,` or `}` after label `job`".into())
        );
        assert_eq!(
            parse("cpu\n"),
            Err("line 1: expected a value for `cpu`".into())
        );
        assert_eq!(
            parse("cpu high\n"),
            Err("line 1: `high` is not a number".into())
        );
        assert_eq!(
            parse("{a=\"b\"} 1"),
            Err("line 1: expected a metric name".into())
        );
        assert_eq!(
            parse("m{a=\"b} 1"),
            Err("line 1: unterminated value for label `a`".into())
        );
        assert_eq!(
            parse("m 1 2 3"),
            Err("line 1: unexpected `3` after the value".into())
        );
        assert_eq!(
            parse("m 1 soon"),
            Err("line 1: `soon` is not a timestamp in milliseconds".into())
        );
    }

    #[test]
    fn nan_and_infinities_are_values() {
        let s = parse("a NaN\nb +Inf\n").unwrap_or_default();
        assert!(s[0].value.is_nan());
        assert_eq!(s[1].value, f64::INFINITY);
    }
}

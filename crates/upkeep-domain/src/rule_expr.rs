//! Alert-rule expressions over a Prometheus text-format scrape: `METRIC OP NUMBER` with optional
//! label matchers, e.g. `cpu_usage > 80`, `up == 0` or
//! `http_errors_rate{job="api",env!="dev"} > 0.05`.
//!
//! Matchers use Prometheus' operators `=`, `!=`, `=~`, `!~`; regular expressions are anchored
//! at both ends, as in Prometheus, and compiled when the expression is parsed. The threshold is
//! an `f64` because it is compared with metric samples, which are `f64` themselves.

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;

use crate::condition::{Operator, compare_numbers};
use crate::syntax::{Cursor, SyntaxError};

/// A parsed rule expression.
#[derive(Clone, Debug)]
pub struct RuleExpr {
    /// Metric name, e.g. `cpu_usage`.
    pub metric: String,
    /// Label matchers; every one must hold for a series to be selected.
    pub matchers: Vec<LabelMatcher>,
    /// Comparison between a selected sample and the threshold (never `contains`/`matches`).
    pub op: Operator,
    /// The number the sample is compared with.
    pub threshold: f64,
    /// The expression as written.
    pub source: String,
}

/// One `label OP "value"` matcher.
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    /// Label name.
    pub name: String,
    /// How the label's value is matched.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    /// The compiled, anchored pattern for `=~` and `!~`.
    pattern: Option<Regex>,
}

/// A label-matching operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// Comparison operators a rule may use, longest spelling first.
const COMPARISONS: [(&str, Operator); 6] = [
    ("==", Operator::Eq),
    ("!=", Operator::Ne),
    ("<=", Operator::Le),
    (">=", Operator::Ge),
    ("<", Operator::Lt),
    (">", Operator::Gt),
];

/// Matcher operators, two-character spellings first.
const MATCH_OPS: [(&str, MatchOp); 4] = [
    ("=~", MatchOp::Regex),
    ("!~", MatchOp::NotRegex),
    ("!=", MatchOp::NotEqual),
    ("=", MatchOp::Equal),
];

impl LabelMatcher {
    /// Whether a label value (absent labels count as the empty string) satisfies the matcher.
    pub fn matches(&self, label_value: &str) -> bool {
        match (self.op, &self.pattern) {
            (MatchOp::Equal, _) => label_value == self.value,
            (MatchOp::NotEqual, _) => label_value != self.value,
            (MatchOp::Regex, Some(pattern)) => pattern.is_match(label_value),
            (MatchOp::NotRegex, Some(pattern)) => !pattern.is_match(label_value),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl RuleExpr {
    /// Parses an expression; the error's offset points at the offending byte.
    pub fn parse(text: &str) -> Result<RuleExpr, SyntaxError> {
        let mut cursor = Cursor::new(text);
        cursor.skip_spaces();
        let metric = cursor.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':'));
        if metric.is_empty() || metric.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(cursor.error("expected a metric name such as `cpu_usage`"));
        }
        let matchers = if cursor.eat("{") {
            parse_matchers(&mut cursor)?
        } else {
            Vec::new()
        };
        cursor.skip_spaces();
        let Some(op) = COMPARISONS
            .iter()
            .find(|(token, _)| cursor.eat(token))
            .map(|(_, op)| *op)
        else {
            return Err(cursor.error("expected a comparison: == != < <= > >="));
        };
        cursor.skip_spaces();
        let number = cursor.rest().trim_end();
        let threshold = match number.parse::<f64>() {
            Ok(value) if value.is_finite() => value,
            _ => {
                return Err(cursor.error(format!(
                    "expected a number after the comparison, found `{number}`"
                )));
            }
        };
        Ok(RuleExpr {
            metric: metric.to_owned(),
            matchers,
            op,
            threshold,
            source: text.trim().to_owned(),
        })
    }

    /// Whether a series with these labels is selected by the expression's matchers.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers
            .iter()
            .all(|matcher| matcher.matches(labels.get(&matcher.name).map_or("", String::as_str)))
    }

    /// Whether a sample value makes the expression true.
    pub fn holds(&self, sample: f64) -> bool {
        compare_numbers(self.op, sample, self.threshold)
    }
}

impl fmt::Display for RuleExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn parse_matchers(cursor: &mut Cursor<'_>) -> Result<Vec<LabelMatcher>, SyntaxError> {
    let mut matchers = Vec::new();
    loop {
        cursor.skip_spaces();
        if cursor.eat("}") {
            return Ok(matchers);
        }
        let name = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(cursor.error("expected a label name or `}`"));
        }
        cursor.skip_spaces();
        let Some(op) = MATCH_OPS
            .iter()
            .find(|(token, _)| cursor.eat(token))
            .map(|(_, op)| *op)
        else {
            return Err(cursor.error("expected a label matcher: = != =~ !~"));
        };
        cursor.skip_spaces();
        let value_offset = cursor.pos();
        let value = cursor.quoted()?;
        let pattern = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|err| SyntaxError {
                    offset: value_offset,
                    message: format!("bad regular expression: {err}"),
                })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        matchers.push(LabelMatcher {
            name: name.to_owned(),
            op,
            value,
            pattern,
        });
        cursor.skip_spaces();
        if !cursor.eat(",") && !cursor.rest().starts_with('}') {
            return Err(cursor.error("expected `,` or `}` after a label matcher"));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_comparisons() {
        let cpu = RuleExpr::parse("cpu_usage > 80").unwrap();
        assert_eq!(cpu.metric, "cpu_usage");
        assert_eq!(cpu.op, Operator::Gt);
        assert_eq!(cpu.threshold, 80.0);
        assert!(cpu.holds(81.0) && !cpu.holds(80.0));
        let up = RuleExpr::parse("up == 0").unwrap();
        assert!(up.holds(0.0) && !up.holds(1.0));
        assert!(RuleExpr::parse("node:load1 >= 1e3").unwrap().holds(1000.0));
    }

    #[test]
    fn label_matchers() {
        let expr = RuleExpr::parse(
            r#"http_errors_rate{job="api",env!="dev", zone=~"eu-.*", x!~"a|b"} > 0.05"#,
        )
        .unwrap();
        assert_eq!(expr.matchers.len(), 4);
        assert_eq!(expr.threshold, 0.05);
        assert!(expr.selects(&labels(&[
            ("job", "api"),
            ("env", "prod"),
            ("zone", "eu-1")
        ])));
        assert!(!expr.selects(&labels(&[("job", "api"), ("env", "dev"), ("zone", "eu-1")])));
        assert!(!expr.selects(&labels(&[("job", "api"), ("zone", "xeu-1")])));
        assert!(!expr.selects(&labels(&[("job", "api"), ("zone", "eu-1"), ("x", "a")])));
        assert!(RuleExpr::parse(r#"m{job="a",} < 1"#).is_ok());
    }

    #[test]
    fn errors_carry_offsets() {
        let at = |text: &str| RuleExpr::parse(text).unwrap_err().offset;
        assert_eq!(at("> 80"), 0);
        assert_eq!(at("cpu_usage 80"), 10);
        assert_eq!(at("cpu_usage > high"), 12);
        assert_eq!(at(r#"m{job=api} > 1"#), 6);
        assert_eq!(at(r#"m{job="api" env="x"} > 1"#), 12);
        assert_eq!(at(r#"m{job=~"("} > 1"#), 7);
        assert_eq!(at(r#"m{job:"a"} > 1"#), 5);
        assert_eq!(at("cpu_usage > 80 90"), 12);
    }

    proptest! {
        #[test]
        fn never_panics_and_offsets_are_in_bounds(text in "\\PC{0,40}") {
            if let Err(err) = RuleExpr::parse(&text) {
                prop_assert!(err.offset <= text.len());
                prop_assert!(text.is_char_boundary(err.offset));
            }
        }

        #[test]
        fn thresholds_round_trip(value in -1.0e9f64..1.0e9) {
            let expr = RuleExpr::parse(&format!("m > {value}")).unwrap();
            prop_assert_eq!(expr.threshold, value);
        }
    }
}

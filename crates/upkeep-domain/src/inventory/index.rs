//! A Helm repository's `index.yaml`, read as Helm reads it and streamed rather than built
//! into a tree: only `entries.CHART[].{version, appVersion, created, deprecated, removed}`
//! are kept (of the charts asked for), everything else is skipped as it goes, so a
//! 15,000-entry index costs one pass over its events and the releases kept.
//!
//! Leniency is Helm's: `v1.2.3` and `1.2` are versions (normalised by
//! [`parse_lenient`](super::version::parse_lenient)); an entry whose version is not one is
//! skipped with a warning; an entry marked `removed: true` is not a release. A file that is
//! not YAML, or whose top level or `entries` is not a mapping, is an error with its line and
//! column.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use saphyr_parser::{Event, Parser, Span};
use semver::Version;
use serde::Serialize;

use super::version::parse_lenient;

/// Warnings kept at most per index (the rest are counted).
const MAX_WARNINGS: usize = 20;
/// Deepest nesting read.
const MAX_DEPTH: usize = 64;

/// One release of a chart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Release {
    /// The chart version, normalised.
    pub version: Version,
    /// The application version it ships, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// When it was published (`created`), if given and readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// Whether the chart author marked it deprecated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
}

impl Release {
    /// Whether Helm would pick it as a stable release: not a prerelease, not deprecated.
    pub fn is_stable(&self) -> bool {
        self.version.pre.is_empty() && !self.deprecated
    }
}

/// What was read from an index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    /// Releases by chart name, in ascending version order.
    pub charts: BTreeMap<String, Vec<Release>>,
    /// Entries skipped, for a person (at most a few; see `skipped`).
    pub warnings: Vec<String>,
    /// How many entries were skipped in all.
    pub skipped: usize,
    /// How many entries were read in all (of every chart).
    pub entries: usize,
}

/// Why an index could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexError {
    /// Line, from 1 (0 when unknown).
    pub line: usize,
    /// Column, from 1 (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for IndexError {}

/// Reads `text` as an `index.yaml`; keeps the charts in `wanted` (every chart when `None`).
pub fn parse_index(text: &str, wanted: Option<&BTreeSet<String>>) -> Result<Index, IndexError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        last: None,
    };
    let mut index = Index::default();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart(_) => {}
            Event::MappingStart(..) => break,
            Event::StreamEnd => return Err(reader.error(span, "the index is empty")),
            _ => {
                return Err(reader.error(span, "an index.yaml is a mapping with `entries`"));
            }
        }
    }
    let mut saw_entries = false;
    while let Some((key, _)) = reader.key()? {
        if key == "entries" {
            saw_entries = true;
            read_entries(&mut reader, wanted, &mut index)?;
        } else {
            reader.skip_value()?;
        }
    }
    if !saw_entries {
        return Err(IndexError {
            line: 1,
            column: 1,
            message: "the index has no `entries`".to_owned(),
        });
    }
    for releases in index.charts.values_mut() {
        releases.sort_by(|a, b| a.version.cmp(&b.version));
        releases.dedup_by(|a, b| a.version == b.version);
    }
    Ok(index)
}

fn read_entries(
    reader: &mut Reader<'_>,
    wanted: Option<&BTreeSet<String>>,
    index: &mut Index,
) -> Result<(), IndexError> {
    let (event, span) = reader.next()?;
    match event {
        Event::MappingStart(..) => {}
        Event::Scalar(text, ..) if text.is_empty() || text == "null" || text == "~" => {
            return Ok(());
        }
        _ => return Err(reader.error(span, "`entries` must map chart names to lists of releases")),
    }
    while let Some((chart, _)) = reader.key()? {
        let keep = wanted.is_none_or(|w| w.contains(&chart));
        let (event, span) = reader.next()?;
        match event {
            Event::SequenceStart(..) => {}
            Event::Scalar(text, ..) if text.is_empty() || text == "null" || text == "~" => continue,
            _ => {
                return Err(reader.error(
                    span,
                    format!("`entries.{chart}` must be a list of releases"),
                ));
            }
        }
        loop {
            let (event, span) = reader.next()?;
            match event {
                Event::SequenceEnd => break,
                Event::MappingStart(..) => {
                    index.entries += 1;
                    let entry = read_entry(reader)?;
                    if !keep {
                        continue;
                    }
                    match entry.into_release() {
                        Ok(Some(release)) => {
                            index.charts.entry(chart.clone()).or_default().push(release)
                        }
                        Ok(None) => {}
                        Err(why) => {
                            index.skipped += 1;
                            if index.warnings.len() < MAX_WARNINGS {
                                index.warnings.push(format!(
                                    "line {}: entry of `{chart}` skipped: {why}",
                                    span.start.line()
                                ));
                            }
                        }
                    }
                }
                _ => {
                    reader.skip_started(&event)?;
                    if keep {
                        index.skipped += 1;
                        if index.warnings.len() < MAX_WARNINGS {
                            index.warnings.push(format!(
                                "line {}: entry of `{chart}` skipped: not a mapping",
                                span.start.line()
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The fields of one entry, as written.
#[derive(Default)]
struct RawEntry {
    version: Option<String>,
    app_version: Option<String>,
    created: Option<String>,
    deprecated: bool,
    removed: bool,
}

impl RawEntry {
    /// The release, `None` when it was removed, or why it is skipped.
    fn into_release(self) -> Result<Option<Release>, String> {
        if self.removed {
            return Ok(None);
        }
        let Some(raw) = self.version else {
            return Err("no `version`".to_owned());
        };
        let version =
            parse_lenient(&raw).ok_or_else(|| format!("`{raw}` is not a semantic version"))?;
        Ok(Some(Release {
            version,
            app_version: self.app_version.filter(|a| !a.trim().is_empty()),
            created: self
                .created
                .and_then(|c| c.trim().parse::<Timestamp>().ok()),
            deprecated: self.deprecated,
        }))
    }
}

fn read_entry(reader: &mut Reader<'_>) -> Result<RawEntry, IndexError> {
    let mut entry = RawEntry::default();
    while let Some((key, _)) = reader.key()? {
        let slot = match key.as_str() {
            "version" => &mut entry.version,
            "appVersion" => &mut entry.app_version,
            "created" => &mut entry.created,
            "deprecated" | "removed" => {
                let flag = reader.scalar()?.is_some_and(|t| truthy(&t));
                if key == "deprecated" {
                    entry.deprecated = flag;
                } else {
                    entry.removed = flag;
                }
                continue;
            }
            _ => {
                reader.skip_value()?;
                continue;
            }
        };
        *slot = reader.scalar()?;
    }
    Ok(entry)
}

fn truthy(text: &str) -> bool {
    matches!(text, "true" | "True" | "TRUE")
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    last: Option<Span>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), IndexError> {
        match self.parser.next() {
            Some(Ok((event, span))) => {
                self.last = Some(span);
                Ok((event, span))
            }
            Some(Err(err)) => Err(IndexError {
                line: err.marker().line(),
                column: err.marker().col() + 1,
                message: format!("YAML syntax error: {}", err.info()),
            }),
            None => Err(self.error_at_end("the index ends early")),
        }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> IndexError {
        IndexError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: message.into(),
        }
    }

    fn error_at_end(&self, message: &str) -> IndexError {
        match self.last {
            Some(span) => self.error(span, message),
            None => IndexError {
                line: 0,
                column: 0,
                message: message.to_owned(),
            },
        }
    }

    /// The next key of the mapping being read, or `None` at its end. Non-scalar keys are
    /// refused.
    fn key(&mut self) -> Result<Option<(String, Span)>, IndexError> {
        let (event, span) = self.next()?;
        match event {
            Event::MappingEnd => Ok(None),
            Event::Scalar(text, ..) => Ok(Some((text.into_owned(), span))),
            _ => Err(self.error(span, "a key must be a plain string")),
        }
    }

    /// A scalar value (`None` for null or a value that is not a scalar, which is skipped).
    fn scalar(&mut self) -> Result<Option<String>, IndexError> {
        let (event, _) = self.next()?;
        match event {
            Event::Scalar(text, style, ..) => {
                let null = style == saphyr_parser::ScalarStyle::Plain
                    && matches!(text.as_ref(), "" | "~" | "null");
                Ok((!null).then(|| text.into_owned()))
            }
            other => {
                self.skip_started(&other)?;
                Ok(None)
            }
        }
    }

    fn skip_value(&mut self) -> Result<(), IndexError> {
        let (event, _) = self.next()?;
        self.skip_started(&event)
    }

    /// Skips the rest of the node `event` started.
    fn skip_started(&mut self, event: &Event<'_>) -> Result<(), IndexError> {
        if !matches!(event, Event::MappingStart(..) | Event::SequenceStart(..)) {
            return Ok(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            let (event, span) = self.next()?;
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(self.error(span, "nested too deeply"));
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => depth -= 1,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const INDEX: &str = r#"apiVersion: v1
entries:
  traefik:
    - name: traefik
      version: 30.1.0
      appVersion: v3.1.2
      created: "2024-08-01T10:00:00.123456789Z"
      urls: [https://example.invalid/traefik-30.1.0.tgz]
      maintainers:
        - { name: a, email: a@example.invalid }
    - name: traefik
      version: v30.0
      appVersion: v3.1.0
      created: "2024-07-01T10:00:00+02:00"
    - name: traefik
      version: 31.0.0-rc.1
    - name: traefik
      version: 30.2.0
      deprecated: true
    - name: traefik
      version: 30.3.0
      removed: true
    - name: traefik
      version: latest
  other:
    - version: 1.0.0
generated: "2024-08-02T00:00:00Z"
"#;

    #[test]
    fn reads_as_helm_does() {
        let index = parse_index(INDEX, None).expect("parses");
        let traefik = &index.charts["traefik"];
        let versions: Vec<String> = traefik.iter().map(|r| r.version.to_string()).collect();
        assert_eq!(versions, ["30.0.0", "30.1.0", "30.2.0", "31.0.0-rc.1"]);
        assert_eq!(index.skipped, 1);
        assert!(
            index.warnings[0].contains("`latest` is not a semantic version"),
            "{:?}",
            index.warnings
        );
        assert_eq!(
            traefik[0].created.map(|t| t.to_string()).as_deref(),
            Some("2024-07-01T08:00:00Z")
        );
        assert_eq!(traefik[1].app_version.as_deref(), Some("v3.1.2"));
        assert!(traefik[2].deprecated);
        assert_eq!(index.entries, 7);
        let only: BTreeSet<String> = ["other".to_owned()].into();
        let index = parse_index(INDEX, Some(&only)).expect("parses");
        assert_eq!(index.charts.keys().collect::<Vec<_>>(), ["other"]);
    }

    #[test]
    fn malformed_indexes_are_errors_with_positions() {
        let err = parse_index("entries:\n  traefik: 'oops\n", None).unwrap_err();
        assert!(err.message.contains("YAML syntax error"), "{err}");
        let err = parse_index("- a\n- b\n", None).unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        let err = parse_index("apiVersion: v1\n", None).unwrap_err();
        assert!(err.message.contains("no `entries`"));
        let err = parse_index("entries:\n  x: 3\n", None).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(parse_index("", None).is_err());
        assert_eq!(parse_index("entries:\n", None).map(|i| i.entries), Ok(0));
    }
}

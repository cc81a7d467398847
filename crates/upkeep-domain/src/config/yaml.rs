//! A YAML tree that remembers where every node came from, built from `saphyr_parser` events.
//!
//! Every node keeps its 1-based line and column; scalars also remember whether their text maps
//! one-to-one onto the source line, so an error inside a scalar (a condition, a `${VAR}`) can
//! point at its exact column. Building the tree already rejects duplicate keys (at the second
//! key), non-scalar keys, more than one document, and alias expansion beyond a node budget
//! (so a "billion laughs" file fails fast). Tags are ignored.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

/// A 1-based position in the configuration file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// A problem found while reading the file, before decoding.
pub type Problem = (Pos, String);

/// Most nodes the anchors and aliases of a file may copy, a scalar counting one node per 64
/// bytes of text as well. Nodes written out in the file are bounded by its size (a
/// configuration of 30,000 monitors has more than a million); what an alias copies is not,
/// which is what a "billion laughs" file exploits, and neither is what nested anchors keep.
const COPY_BUDGET: usize = 200_000;
/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// A node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: NodeKind,
}

/// The three kinds of YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar (plain, quoted or block).
    Scalar(Scalar),
    /// A sequence.
    Sequence(Vec<Node>),
    /// A mapping, in source order, keys unique.
    Mapping(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key's text.
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// A scalar's text and how it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The text after YAML unescaping (and, later, `${VAR}` substitution).
    pub text: String,
    /// Whether it was written without quotes (only plain scalars can be null).
    pub plain: bool,
    /// When the text maps char-for-char onto one source line: the column of its first char.
    pub content_column: Option<usize>,
}

impl Scalar {
    /// Whether this is YAML's null: an empty plain scalar, `~` or `null`.
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

impl Node {
    /// The position of the char at `byte_offset` inside this scalar's text when it can be
    /// known exactly, else the position of the node.
    pub fn pos_in_text(&self, byte_offset: usize) -> Pos {
        match &self.kind {
            NodeKind::Scalar(Scalar {
                text,
                content_column: Some(column),
                ..
            }) => Pos {
                line: self.pos.line,
                column: column + text.get(..byte_offset).map_or(0, |s| s.chars().count()),
            },
            _ => self.pos,
        }
    }

    /// The scalar, if this node is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// Whether this node is a null scalar.
    pub fn is_null(&self) -> bool {
        self.scalar().is_some_and(Scalar::is_null)
    }

    /// What a copy of this node costs against [`COPY_BUDGET`]: its nodes, and its text by
    /// 64-byte units.
    fn weight(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(scalar) => 1 + scalar.text.len() / 64,
            NodeKind::Sequence(items) => 1 + items.iter().map(Node::weight).sum::<usize>(),
            NodeKind::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|e| 1 + e.key.len() / 64 + e.value.weight())
                    .sum::<usize>()
            }
        }
    }
}

/// Parses the text into a tree. `Ok(None)` is an empty file. Duplicate keys and similar
/// problems are returned beside the tree; a syntax error stops reading.
pub fn parse(text: &str) -> Result<(Option<Node>, Vec<Problem>), Problem> {
    let mut builder = Builder {
        source: SourceChars::new(text),
        stack: Vec::new(),
        anchors: HashMap::new(),
        copied: 0,
        root: None,
        problems: Vec::new(),
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| scan_problem(text, &err))?;
        builder.on_event(event, span)?;
    }
    Ok((builder.root, builder.problems))
}

fn pos_of(marker: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

fn scan_problem(text: &str, err: &ScanError) -> Problem {
    let info = err.info();
    if info.contains("tab")
        && let Some(problem) = tab_problem(text, err.marker().index())
    {
        return problem;
    }
    let line = text
        .lines()
        .nth(err.marker().line().saturating_sub(1))
        .unwrap_or("");
    let unquoted_condition = ["- [", ": ["].iter().any(|lead| {
        [
            "STATUS]",
            "BODY]",
            "RESPONSE_TIME]",
            "CERT_EXPIRY]",
            "PACKET_LOSS]",
            "RTT_MIN]",
            "RTT_AVG]",
            "RTT_MAX]",
            "DOMAIN_EXPIRY]",
        ]
        .iter()
        .any(|subject| line.contains(&format!("{lead}{subject}")))
    });
    let hint = if unquoted_condition {
        "; a condition that starts with `[` must be quoted: \"[STATUS] == 200\""
    } else {
        ""
    };
    (
        pos_of(err.marker()),
        format!("YAML syntax error: {info}{hint}"),
    )
}

/// The scanner reports tabs near, not at, the tab: find the first tab from that point (or,
/// failing that, the last one before it) and say plainly what is wrong there.
fn tab_problem(text: &str, near_char: usize) -> Option<Problem> {
    let chars: Vec<char> = text.chars().collect();
    let index = (near_char..chars.len())
        .find(|&i| chars.get(i) == Some(&'\t'))
        .or_else(|| {
            (0..near_char.min(chars.len()))
                .rev()
                .find(|&i| chars.get(i) == Some(&'\t'))
        })?;
    let before = chars.get(..index)?;
    let line_start = before.iter().rposition(|&c| c == '\n').map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&c| c == '\n').count();
    let column = index - line_start + 1;
    let indenting = before
        .get(line_start..)?
        .iter()
        .all(|c| *c == ' ' || *c == '\t');
    let message = if indenting {
        "a tab is used for indentation: YAML indents with spaces only"
    } else {
        "a tab is not allowed here: use spaces"
    };
    Some((Pos { line, column }, message.to_owned()))
}

/// Byte offsets of every char of the source, to cut the raw text of a scalar.
struct SourceChars<'a> {
    text: &'a str,
    offsets: Vec<usize>,
}

impl<'a> SourceChars<'a> {
    fn new(text: &'a str) -> Self {
        let mut offsets: Vec<usize> = text.char_indices().map(|(offset, _)| offset).collect();
        offsets.push(text.len());
        SourceChars { text, offsets }
    }

    fn slice(&self, start_char: usize, end_char: usize) -> Option<&'a str> {
        let start = *self.offsets.get(start_char)?;
        let end = *self.offsets.get(end_char)?;
        self.text.get(start..end)
    }
}

enum Frame {
    Sequence {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The line of each key so far, so a duplicate is found without a scan (a file of
        /// 30,000 monitors has a mapping of 30,000 keys).
        lines: HashMap<String, usize>,
        pending_key: Option<PendingKey>,
    },
}

struct PendingKey {
    key: String,
    pos: Pos,
    /// The key was refused (duplicate or not a scalar): drop its value.
    skip: bool,
}

struct Builder<'a> {
    source: SourceChars<'a>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    copied: usize,
    root: Option<Node>,
    problems: Vec<Problem>,
    documents: usize,
}

impl Builder<'_> {
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), Problem> {
        let pos = pos_of(&span.start);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err((pos, "only one YAML document is allowed in the file".into()));
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let content_column = self.content_column(&text, style, span);
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        content_column,
                    }),
                };
                self.complete(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err((
                        pos,
                        "this alias refers to a node that contains it (recursive alias)".into(),
                    ));
                };
                let weight = target.weight();
                self.charge(weight, pos)?;
                let Some(target) = self.anchors.get(&id) else {
                    return Err((pos, "this alias refers to an unknown anchor".into()));
                };
                let mut node = target.clone();
                node.pos = pos;
                self.complete(node, 0)?;
            }
            Event::SequenceStart(anchor, _tag) => {
                self.open(
                    Frame::Sequence {
                        pos,
                        anchor,
                        items: Vec::new(),
                    },
                    pos,
                )?;
            }
            Event::MappingStart(anchor, _tag) => {
                self.open(
                    Frame::Mapping {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        lines: HashMap::new(),
                        pending_key: None,
                    },
                    pos,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence { pos, anchor, items }) => (
                        Node {
                            pos,
                            kind: NodeKind::Sequence(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        pos,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            pos,
                            kind: NodeKind::Mapping(entries),
                        },
                        anchor,
                    ),
                    None => return Err((pos, "unbalanced YAML structure".into())),
                };
                self.complete(node, anchor)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// Counts a copy made for an anchor or an alias against [`COPY_BUDGET`].
    fn charge(&mut self, weight: usize, pos: Pos) -> Result<(), Problem> {
        self.copied = self.copied.saturating_add(weight);
        if self.copied > COPY_BUDGET {
            return Err((
                pos,
                format!(
                    "the anchors and aliases of this file copy more than {COPY_BUDGET} nodes \
                     (an alias copies its whole anchored node; write large repeated parts out \
                     or use fewer levels of anchors and aliases)"
                ),
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err((pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// The column of the first char of a one-line scalar whose text equals its source.
    fn content_column(&self, text: &str, style: ScalarStyle, span: Span) -> Option<usize> {
        let quote = match style {
            ScalarStyle::Plain => 0,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => 1,
            _ => return None,
        };
        if span.start.line() != span.end.line() {
            return None;
        }
        let start = span.start.index() + quote;
        let raw = self
            .source
            .slice(start, span.end.index().checked_sub(quote)?)?;
        // Inside a flow collection the parser may end a quoted scalar's span after the blank
        // that follows its closing quote: compare the text with the source right after the
        // opening quote, then require the closing quote.
        let exact = raw == text
            || (quote == 1 && {
                let end = start + text.chars().count();
                self.source.slice(start, end) == Some(text)
                    && self.source.slice(end, end + 1) == self.source.slice(start - 1, start)
            });
        exact.then_some(span.start.col() + 1 + quote)
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Problem> {
        if anchor != 0 {
            self.charge(node.weight(), node.pos)?;
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries,
                lines,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(key) => {
                    if !key.skip {
                        entries.push(Entry {
                            key: key.key,
                            key_pos: key.pos,
                            value: node,
                        });
                    }
                }
                None => {
                    let new_key = match &node.kind {
                        NodeKind::Scalar(scalar) => {
                            let first = lines.get(&scalar.text).copied();
                            match first {
                                Some(line) => self.problems.push((
                                    node.pos,
                                    format!(
                                        "duplicate key `{}`, first defined at line {line}",
                                        scalar.text
                                    ),
                                )),
                                None => {
                                    lines.insert(scalar.text.clone(), node.pos.line);
                                }
                            }
                            PendingKey {
                                key: scalar.text.clone(),
                                pos: node.pos,
                                skip: first.is_some(),
                            }
                        }
                        _ => {
                            self.problems
                                .push((node.pos, "a mapping key must be plain text".into()));
                            PendingKey {
                                key: String::new(),
                                pos: node.pos,
                                skip: true,
                            }
                        }
                    };
                    *pending_key = Some(new_key);
                }
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn tree(text: &str) -> Node {
        let (root, problems) = parse(text).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        root.unwrap()
    }

    fn entries(node: &Node) -> &[Entry] {
        match &node.kind {
            NodeKind::Mapping(entries) => entries,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    fn at(line: usize, column: usize) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn positions_are_one_based() {
        let root = tree("page:\n  name: Acme\n  list: [a, \"b\"]\n");
        assert_eq!(root.pos, at(1, 1));
        let page = &entries(&root)[0];
        assert_eq!(page.key_pos, at(1, 1));
        let fields = entries(&page.value);
        assert_eq!(fields[0].key_pos, at(2, 3));
        assert_eq!(fields[0].value.pos, at(2, 9));
        let NodeKind::Sequence(items) = &fields[1].value.kind else {
            panic!()
        };
        assert_eq!(fields[1].value.pos, at(3, 9));
        assert_eq!(items[1].pos, at(3, 13));
        assert_eq!(items[1].scalar().unwrap().content_column, Some(14));
    }

    #[test]
    fn positions_inside_scalars() {
        let root = tree("a: \"x ${V}\"\nb: 'y ${V}'\nc: z ${V}\nd: \"\\t${V}\"\ne: |\n  ${V}\n");
        let fields = entries(&root);
        assert_eq!(fields[0].value.pos_in_text(2), at(1, 7));
        assert_eq!(fields[1].value.pos_in_text(2), at(2, 7));
        assert_eq!(fields[2].value.pos_in_text(2), at(3, 6));
        // Escapes and block scalars fall back to the scalar's start.
        assert_eq!(fields[3].value.pos_in_text(1), at(4, 4));
        assert_eq!(fields[4].value.pos_in_text(0), fields[4].value.pos);
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let (_, problems) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(
            problems,
            vec![(
                at(3, 1),
                "duplicate key `a`, first defined at line 1".into()
            )]
        );
    }

    #[test]
    fn tabs_are_refused_clearly() {
        let (pos, message) = parse("page:\n\tname: x\n").unwrap_err();
        assert_eq!(
            (pos, message.as_str()),
            (
                at(2, 1),
                "a tab is used for indentation: YAML indents with spaces only"
            )
        );
        let (pos, _) = parse("page:\n  name: x\n\turl: y\n").unwrap_err();
        assert_eq!(pos, at(3, 1));
    }

    #[test]
    fn aliases_expand_and_bombs_do_not() {
        let root = tree("base: &b { x: 1 }\ncopy: *b\n");
        assert_eq!(entries(&root)[1].value.pos, at(2, 7));
        assert_eq!(entries(&entries(&root)[1].value)[0].key, "x");

        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let prev = level - 1;
            bomb.push_str(&format!(
                "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let (pos, message) = parse(&bomb).unwrap_err();
        assert!(message.contains("copy more than 200000 nodes"), "{message}");
        assert!(pos.line > 1, "the error points at an alias: {pos:?}");

        // One long scalar, aliased many times: bounded by its bytes, not its one node.
        let long = "x".repeat(1 << 20);
        let mut bytes = format!("a: &a \"{long}\"\nb: [");
        for _ in 0..1_000 {
            bytes.push_str("*a, ");
        }
        bytes.push_str("]\n");
        let (_, message) = parse(&bytes).unwrap_err();
        assert!(message.contains("copy more than"), "{message}");

        // Nested anchors each keep a copy of what they hold: bounded too.
        let mut nested = String::from("a: ");
        for level in 0..60 {
            nested.push_str(&format!("&n{level} ["));
        }
        nested.push_str(&"x, ".repeat(10_000));
        nested.push_str(&"]".repeat(60));
        nested.push('\n');
        let (_, message) = parse(&nested).unwrap_err();
        assert!(message.contains("copy more than"), "{message}");

        // Anchors and aliases of ordinary size are fine.
        let mut usual = String::from("base: &b { interval: 10s, timeout: 5s }\nmonitors:\n");
        for i in 0..2_000 {
            usual.push_str(&format!("  m{i}: *b\n"));
        }
        assert!(parse(&usual).is_ok());
    }

    #[test]
    fn a_large_file_without_aliases_is_read_whole() {
        // 60,000 monitors' worth of entries: far more nodes than the alias budget.
        let mut text = String::from("monitors:\n");
        for i in 0..60_000 {
            text.push_str(&format!("  m{i}: {{ interval: 10s, timeout: 5s }}\n"));
        }
        let root = tree(&text);
        assert_eq!(entries(&entries(&root)[0].value).len(), 60_000);
    }

    #[test]
    fn recursive_aliases_and_more_documents_are_refused() {
        assert!(parse("a: &x [ *x ]\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(parse("").unwrap().0, None);
        assert_eq!(parse("# only a comment\n").unwrap().0, None);
    }

    #[test]
    fn quoted_scalars_in_flow_mappings_know_their_columns() {
        let (root, _) = parse("a: { url: \"x{y}\" , b: 'q' }\n").unwrap();
        let root = root.unwrap();
        let NodeKind::Mapping(top) = &root.kind else {
            panic!("a mapping")
        };
        let NodeKind::Mapping(fields) = &top[0].value.kind else {
            panic!("a mapping")
        };
        assert_eq!(fields[0].value.scalar().unwrap().content_column, Some(12));
        assert_eq!(fields[1].value.scalar().unwrap().content_column, Some(24));
        assert_eq!(fields[0].value.pos_in_text(1), at(1, 13));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err());
    }
}

//! What a probe agent is sent: the definitions of the monitors its location probes, decoded
//! on the agent by the same reader as the server's (one validator for both).
//!
//! The server keeps the tree of each monitor probed from an agent's location
//! ([`Config::agent_definitions`]: after `${VAR}` substitution and tenant-template
//! instantiation) and writes it as a YAML document of its own ([`render`]: JSON, YAML's flow
//! subset, every scalar a double-quoted string but nulls). The agent reads each document back
//! into a positioned tree and decodes it with the monitor reader of the configuration file
//! ([`decode`]), its component checked against the ids the server sends beside it. A
//! definition is decoded alone, so an agent of an older version that cannot read one monitor
//! (a kind it does not know) still runs the others.
//!
//! The definitions carry the monitors' secrets (headers, passwords, substituted variables):
//! only an agent token may read them, and the agent keeps them in memory only.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::yaml::{self, Node, NodeKind};
use super::{Config, Diagnostics, Monitor};

/// The monitors of one location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Each monitor's id and its definition ([`render`]), in id order.
    pub monitors: Vec<(String, String)>,
    /// The ids of the components they belong to.
    pub components: BTreeSet<String>,
}

/// The monitors `config` probes from `location`, rendered. The server's own location gets
/// none: the server probes those itself.
pub fn assigned(config: &Config, location: &str) -> Assignment {
    let mut out = Assignment::default();
    if location == super::SERVER_LOCATION {
        return out;
    }
    for (id, node) in &config.agent_definitions {
        let Some(monitor) = config.monitors.get(id) else {
            continue;
        };
        if monitor.probed_from(location) {
            out.monitors.push((id.clone(), render(node)));
            out.components.insert(monitor.component.clone());
        }
    }
    out
}

/// Writes a tree as a YAML document (in JSON form). Null scalars stay plain nulls; every other
/// scalar becomes a double-quoted string, which the reader treats as the same text (only
/// plain scalars can be null).
pub fn render(node: &Node) -> String {
    let mut out = String::new();
    write_node(&mut out, node);
    out
}

fn write_node(out: &mut String, node: &Node) {
    match &node.kind {
        NodeKind::Scalar(scalar) if scalar.is_null() => out.push_str("null"),
        NodeKind::Scalar(scalar) => write_string(out, &scalar.text),
        NodeKind::Sequence(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_node(out, item);
            }
            out.push(']');
        }
        NodeKind::Mapping(entries) => {
            out.push('{');
            for (index, entry) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, &entry.key);
                out.push(':');
                write_node(out, &entry.value);
            }
            out.push('}');
        }
    }
}

/// A double-quoted string: JSON's escapes, which YAML's double-quoted scalars share.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Control characters, and the line breaks YAML folds (NEL, LS, PS), escaped.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decodes the definition of monitor `id` (as [`render`] wrote it) with the monitor reader of
/// the configuration file; its component must be one of `components`. Problems are reported
/// as `assignment:ID:LINE:COLUMN: message`.
pub fn decode(id: &str, text: &str, components: &BTreeSet<String>) -> Result<Monitor, Diagnostics> {
    let file = format!("assignment:{id}");
    let (root, mut problems) =
        yaml::parse(text).map_err(|problem| super::diagnostics_of(&file, vec![problem]))?;
    let Some(root) = root else {
        return Err(super::diagnostics_of(
            &file,
            vec![(
                yaml::Pos { line: 1, column: 1 },
                "the definition is empty".to_owned(),
            )],
        ));
    };
    let (monitor, decode_problems) = super::sections::decode_monitor(&root, components);
    problems.extend(decode_problems);
    super::decoded(
        &file,
        monitor,
        problems,
        root.pos,
        "the definition could not be read",
    )
}

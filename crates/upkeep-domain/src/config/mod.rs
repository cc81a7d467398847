//! The configuration subsystem: one YAML file in, a validated [`Config`] or every problem out.
//!
//! Reading happens in stages, each keeping source positions: [`yaml`] builds a tree whose nodes
//! know their line and column (refusing tabs, duplicate keys and alias bombs), [`env`] replaces
//! `${VAR}` in scalar values on that tree, and the decoder reads the tree into the model,
//! collecting every problem (unknown keys with suggestions, wrong types, bad durations, zones,
//! rules, expressions, dangling references, cycles) instead of stopping at the first. Problems
//! come back as [`Diagnostics`], sorted by position, each printed as `FILE:LINE:COLUMN: message`.
//! Like the rest of the crate, parsing performs no I/O: the text, the environment and the
//! current instant are parameters.

pub mod assignment;
pub(crate) mod decode;
pub mod env;
mod model;
mod sections;
pub mod yaml;

use std::fmt;

use jiff::Timestamp;

pub use model::*;
pub use sections::{MONITOR_KINDS, decode_rollout_json, parse_objective_ppm, parse_size};

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given to [`parse`].
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every problem found in a file, sorted by position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Parses and validates a configuration file.
///
/// `file` names the file in diagnostics; `env` looks up environment variables for `${VAR}`;
/// `now` is the current instant (recurring windows must occur within ten years of it).
pub fn parse(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    now: Timestamp,
) -> Result<Config, Diagnostics> {
    let diagnostics = |problems| diagnostics_of(file, problems);
    let (root, mut problems) = yaml::parse(text).map_err(|problem| diagnostics(vec![problem]))?;
    let Some(mut root) = root else {
        problems.push((
            yaml::Pos { line: 1, column: 1 },
            "the file is empty: it needs at least a `page:` section".to_owned(),
        ));
        return Err(diagnostics(problems));
    };
    env::substitute(&mut root, env, &mut problems);
    let (config, decode_problems) = sections::decode(&root, now);
    problems.extend(decode_problems);
    decoded(
        file,
        config,
        problems,
        root.pos,
        "the configuration could not be read",
    )
}

/// Problems as [`Diagnostics`] of `file`, sorted by position, each once.
fn diagnostics_of(file: &str, problems: Vec<yaml::Problem>) -> Diagnostics {
    let mut list: Vec<Diagnostic> = problems
        .into_iter()
        .map(|(pos, message)| Diagnostic {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            message,
        })
        .collect();
    list.sort_by_key(|d| (d.line, d.column));
    list.dedup();
    Diagnostics(list)
}

/// What a decoder made of a tree: the value when it found no problem, else every problem (or,
/// when it found none but made nothing, `unreadable` at `pos`).
fn decoded<T>(
    file: &str,
    value: Option<T>,
    problems: Vec<yaml::Problem>,
    pos: yaml::Pos,
    unreadable: &str,
) -> Result<T, Diagnostics> {
    match value {
        Some(value) if problems.is_empty() => Ok(value),
        _ if problems.is_empty() => Err(diagnostics_of(file, vec![(pos, unreadable.to_owned())])),
        _ => Err(diagnostics_of(file, problems)),
    }
}

//! `${VAR}` and `${VAR:-default}` substitution in scalar values of the tree (never in keys).
//!
//! Substitution runs on the parsed tree, so every position stays true to the file: a missing
//! variable is reported at the column of its `${`. `$$` writes one `$`; a `$` followed by
//! anything else is kept as written. As in the shell, `:-` also replaces a variable that is set
//! but empty.

use super::yaml::{Node, NodeKind, Problem};

/// Replaces variables in every scalar value under `node`, collecting problems.
pub fn substitute(
    node: &mut Node,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match &mut node.kind {
        NodeKind::Sequence(items) => {
            for item in items {
                substitute(item, env, problems);
            }
        }
        NodeKind::Mapping(entries) => {
            for entry in entries {
                substitute(&mut entry.value, env, problems);
            }
        }
        NodeKind::Scalar(scalar) => {
            if !scalar.text.contains('$') {
                return;
            }
            match expand(&scalar.text, env) {
                Ok(expanded) => {
                    if expanded != scalar.text {
                        scalar.text = expanded;
                        scalar.content_column = None;
                    }
                }
                Err((offset, message)) => {
                    let pos = node.pos_in_text(offset);
                    problems.push((pos, message));
                }
            }
        }
    }
}

/// Expands one scalar's text; the error carries the byte offset of the offending `${`.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        let at = offset + before.len();
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            offset = at + 2;
            rest = tail;
        } else if let Some(inner_and_tail) = after.strip_prefix('{') {
            let Some((inner, tail)) = inner_and_tail.split_once('}') else {
                return Err((at, "unterminated `${`: close it with `}`".to_owned()));
            };
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if !is_variable_name(name) {
                return Err((
                    at,
                    format!(
                        "bad variable name `{name}` in `${{{inner}}}`: use letters, digits and `_` (write $$ for a literal $)"
                    ),
                ));
            }
            let value = env(name).filter(|value| !value.is_empty() || default.is_none());
            match (value, default) {
                (Some(value), _) => out.push_str(&value),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err((
                        at,
                        format!(
                            "environment variable `{name}` is not set; set it or write ${{{name}:-default}}"
                        ),
                    ));
                }
            }
            offset = at + "${".len() + inner.len() + "}".len();
            rest = tail;
        } else {
            out.push('$');
            offset = at + 1;
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(expand("${HOST}:5432", &env).unwrap(), "db.internal:5432");
        assert_eq!(expand("${NOPE:-x}y", &env).unwrap(), "xy");
        assert_eq!(expand("${HOST:-x}", &env).unwrap(), "db.internal");
        assert_eq!(expand("${EMPTY:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(expand("cost $$5 and $x", &env).unwrap(), "cost $5 and $x");
        assert_eq!(expand("$${HOST}", &env).unwrap(), "${HOST}");
    }

    #[test]
    fn errors_point_at_the_dollar() {
        let (offset, message) = expand("a ${PD_KEY} b", &env).unwrap_err();
        assert_eq!(offset, 2);
        assert_eq!(
            message,
            "environment variable `PD_KEY` is not set; set it or write ${PD_KEY:-default}"
        );
        assert_eq!(expand("${HOST} ${X", &env).unwrap_err().0, 8);
        assert_eq!(expand("é${1X}", &env).unwrap_err().0, 2);
    }

    proptest! {
        #[test]
        fn never_panics_and_offsets_are_char_boundaries(text in "\\PC{0,30}") {
            if let Err((offset, _)) = expand(&text, &env) {
                prop_assert!(text.is_char_boundary(offset));
            }
        }

        #[test]
        fn text_without_dollars_is_unchanged(text in "[^$]{0,30}") {
            prop_assert_eq!(expand(&text, &env).unwrap(), text);
        }
    }
}

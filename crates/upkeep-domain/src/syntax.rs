//! Shared pieces of the small hand-written parsers (conditions, rule expressions): a
//! [`SyntaxError`] that carries the byte offset of the problem, so the configuration layer can
//! point at the exact column in the YAML file, and the byte cursor that produces it.

use std::fmt;

/// A problem in a one-line expression, at a byte offset inside the text that was parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the problem inside the parsed text (always a char boundary).
    pub offset: usize,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// A cursor over expression text that remembers the byte offset for errors.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to an offset obtained from [`Cursor::pos`].
    pub(crate) fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.text.len());
    }

    pub(crate) fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    pub(crate) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub(crate) fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes `token` when the text continues with it.
    pub(crate) fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes and returns the longest prefix whose chars satisfy `accept`.
    pub(crate) fn take_while(&mut self, accept: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c: char| !accept(c)).unwrap_or(rest.len());
        self.pos += len;
        rest.get(..len).unwrap_or("")
    }

    /// Consumes a double-quoted string with `\"`, `\\`, `\n` and `\t` escapes (any other
    /// backslash is kept as written, so regular expressions like `"^\d+$"` read naturally); the
    /// cursor must be on the opening quote.
    pub(crate) fn quoted(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        if !self.eat("\"") {
            return Err(self.error("expected a double-quoted string"));
        }
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += index + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => {
                        value.push('\\');
                        value.push(other);
                    }
                    None => value.push('\\'),
                },
                c => value.push(c),
            }
        }
        self.pos = open;
        Err(self.error("unterminated string: add the closing `\"`"))
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            message: message.into(),
        }
    }
}

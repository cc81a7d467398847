//! Text helpers: one-line values, subjects, wrapping and tidy plain text.

use super::*;

/// Column the text part wraps at.
pub(super) const WRAP: usize = 72;

/// One line: every run of whitespace (CR, LF, tabs...) becomes one space, other control
/// characters are dropped, the ends are trimmed.
pub(super) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = true;
        } else if c.is_control() {
            continue;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

pub(super) use upkeep_domain::notify::text::truncate_chars;

/// A subject: one line, at most [`SUBJECT_MAX_CHARS`] characters.
pub(super) fn clean_subject(s: &str) -> String {
    truncate_chars(&one_line(s), SUBJECT_MAX_CHARS)
}

/// Greedy word wrap of one paragraph at `width` columns; continuation lines start with
/// `indent`. Words longer than the width (URLs) stay whole on their own line.
pub(super) fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if col > 0 && col + 1 + len > width {
            out.push('\n');
            out.push_str(indent);
            col = indent.chars().count();
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
    }
    out
}

/// The text part tidied: no trailing spaces, at most one blank line in a row, one final newline.
pub(super) fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        // The mail signature separator keeps its trailing space.
        let line = if line == "-- " { line } else { line.trim_end() };
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

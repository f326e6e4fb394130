//! Text from outside (model names, paths, upstream error text, header values) on its way to a
//! terminal: CLI tables and log lines show it with control characters escaped, so that nothing a
//! client or an upstream sends can move the cursor, retitle the window or forge a table row.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Whether `c` is a control character: C0 (including CR, LF, TAB and ESC), DEL, or C1.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `text` has any control character.
pub fn has_controls(text: &str) -> bool {
    text.chars().any(is_control)
}

/// `text` with each control character written as `\n`, `\r`, `\t` or `\u{XX}`; borrowed when
/// there is none.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !has_controls(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    // Writing into a String cannot fail.
    let _ = write_escaped(&mut out, text);
    Cow::Owned(out)
}

/// Writes `text` to `out` with control characters escaped (see [`escape_controls`]).
pub fn write_escaped<W: Write>(out: &mut W, text: &str) -> fmt::Result {
    let mut rest = text;
    while let Some(at) = rest.find(is_control) {
        out.write_str(&rest[..at])?;
        let c = rest[at..].chars().next().unwrap_or('\0');
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c => write!(out, "\\u{{{:x}}}", c as u32)?,
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.write_str(rest)
}

/// Shows a value with control characters escaped: `format!("{}", Printable(model))`.
#[derive(Debug, Clone, Copy)]
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0)
    }
}

/// A `fmt::Write` that escapes control characters in everything written through it; the log
/// formatter sends each record's message through one, so no log line can carry a raw escape.
pub struct EscapingWriter<W>(pub W);

impl<W: Write> Write for EscapingWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(&mut self.0, s)
    }
}

/// A byte count for a message: whole MiB or KiB when it is one, else bytes.
pub fn size_words(bytes: usize) -> String {
    for (unit, factor) in [("MiB", 1usize << 20), ("KiB", 1 << 10)] {
        if bytes >= factor && bytes % factor == 0 {
            return format!("{} {unit}", bytes / factor);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_and_line_breaks_are_shown_not_obeyed() {
        let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nINJECTED\u{9b}x\u{7f}";
        let shown = escape_controls(hostile);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert_eq!(
            shown,
            "\\u{1b}]0;PWNED\\u{7}\\u{1b}[2J\\r\\nINJECTED\\u{9b}x\\u{7f}"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for text in ["claude-sonnet-4-5", "", "modèle/ü 漢字"] {
            assert!(matches!(escape_controls(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn printable_and_the_writer_escape_alike() {
        let text = "a\tb\u{1b}c";
        let mut through_writer = EscapingWriter(String::new());
        through_writer.write_str(text).unwrap();
        assert_eq!(through_writer.0, Printable(text).to_string());
        assert_eq!(through_writer.0, escape_controls(text));
    }
}

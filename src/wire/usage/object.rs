//! One pass over the members of a usage object: each key and the byte range of its value, handed
//! to the caller as they come. The object is checked as [`crate::scan::top_level_members`] checks
//! a body (every key, `:` and `,`, strings, the nesting of brackets, the tokens of top-level
//! values), so a usage object is one exactly when the scanner reads it as one; nothing is listed.

use super::find::{quote_or_backslash, quote_or_bracket};
use std::ops::Range;

/// Nesting deeper than this is refused, as the scanner refuses it.
const MAX_DEPTH: u32 = 128;

/// Calls `member(key, value)` for each member of the JSON object `body`, in order (a key named
/// twice is handed over twice, its escapes decoded); `None` when `body` is not one object. The
/// calls made before a fault is found are not taken back: the caller keeps what they gave until
/// this returns.
pub(super) fn each_member(body: &[u8], mut member: impl FnMut(&[u8], Range<usize>)) -> Option<()> {
    let mut w = Walk { b: body, i: 0 };
    w.space();
    w.eat(b'{')?;
    w.space();
    if w.peek() == Some(b'}') {
        w.i += 1;
    } else {
        loop {
            w.space();
            w.eat(b'"')?;
            let key_start = w.i;
            let (key_end, escaped_key) = w.string_end()?;
            w.space();
            w.eat(b':')?;
            w.space();
            let value_start = w.i;
            w.skip_value()?;
            let value = value_start..w.i;
            let raw = &body[key_start..key_end];
            if !escaped_key {
                if !raw.is_ascii() && std::str::from_utf8(raw).is_err() {
                    return None;
                }
                member(raw, value);
            } else {
                // Escaped keys are rare: serde_json decodes them as the scanner does.
                let key = serde_json::from_slice::<String>(&body[key_start - 1..=key_end]).ok()?;
                member(key.as_bytes(), value);
            }
            w.space();
            match w.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return None,
            }
        }
    }
    w.space();
    (w.i == body.len()).then_some(())
}

/// A cursor in the object's bytes.
struct Walk<'a> {
    b: &'a [u8],
    i: usize,
}

impl Walk<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// After an opening quote: moves past the closing one and returns its index, and whether
    /// the string has an escape.
    #[inline(always)]
    fn string_end(&mut self) -> Option<(usize, bool)> {
        let mut from = self.i;
        let mut escaped = false;
        loop {
            let at = quote_or_backslash(self.b, from)?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some((at, escaped));
            }
            // A backslash escapes the byte after it, whatever it is.
            escaped = true;
            from = at + 2;
        }
    }

    /// Skips one value, checked as the scanner checks a top-level one.
    #[inline(always)]
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string_end().map(|_| ())
            }
            b'{' | b'[' => self.skip_nested(),
            _ => {
                self.i = token_end(self.b, self.i)?;
                Some(())
            }
        }
    }

    /// Skips an object or array: its strings, and brackets that close the ones opened (bit `k` of
    /// `curly` says whether the bracket `k` levels down is a `{`).
    fn skip_nested(&mut self) -> Option<()> {
        let mut curly: u128 = 0;
        let mut depth = 0u32;
        loop {
            let at = quote_or_bracket(self.b, self.i)?;
            // A backslash outside a string is refused, as the scanner refuses it (the bytes
            // between strings and brackets are a few numbers, literals and separators).
            if self.b[self.i..at].contains(&b'\\') {
                return None;
            }
            let c = self.b[at];
            self.i = at + 1;
            match c {
                b'"' => {
                    self.string_end()?;
                }
                b'{' | b'[' => {
                    if depth >= MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    curly = (curly << 1) | u128::from(c == b'{');
                }
                _ => {
                    if (c == b'}') != (curly & 1 == 1) {
                        return None;
                    }
                    curly >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
            }
        }
    }
}

/// Where the number or literal at `at` ends, by the scanner's rule: a run of letters, digits, `+`,
/// `-` and `.` is a value when it is `true`, `false` or `null`, or starts with a digit, or with
/// `-` and has a digit. `None` when the byte at `at` starts no such value.
pub(super) fn token_end(b: &[u8], at: usize) -> Option<usize> {
    let rest = b.get(at..)?;
    let len = rest
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        .count();
    let token = &rest[..len];
    let value = match token.first()? {
        b'0'..=b'9' => true,
        b'-' => token.iter().any(u8::is_ascii_digit),
        b't' | b'f' | b'n' => matches!(token, b"true" | b"false" | b"null"),
        _ => false,
    };
    value.then_some(at + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::top_level_members;
    use proptest::prelude::*;

    /// The members as the walk hands them over, or `None`.
    fn walked(body: &[u8]) -> Option<Vec<(Vec<u8>, Range<usize>)>> {
        let mut members = Vec::new();
        each_member(body, |key, value| members.push((key.to_vec(), value)))?;
        Some(members)
    }

    /// The members as the scanner lists them, or `None`.
    fn scanned(body: &[u8]) -> Option<Vec<(Vec<u8>, Range<usize>)>> {
        let members = top_level_members(body).ok()?;
        Some(
            members
                .into_iter()
                .map(|m| (m.key.as_bytes().to_vec(), m.value))
                .collect(),
        )
    }

    fn usage_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"{"[..]),
            Just(&b"}"[..]),
            Just(&b"["[..]),
            Just(&b"]"[..]),
            Just(&b"\""[..]),
            Just(&b"\\"[..]),
            Just(&b":"[..]),
            Just(&b","[..]),
            Just(&b" "[..]),
            Just(&b"\"input_tokens\":12"[..]),
            Just(&b"\"us\\u0061ge\""[..]),
            Just(&b"\"a\":{\"b\":[1,\"]\"]}"[..]),
            Just(&b"null"[..]),
            Just(&b"nul"[..]),
            Just(&b"-"[..]),
            Just(&b"1e5"[..]),
            Just(&b"12ab"[..]),
            Just(&b"\xff"[..]),
            Just(&b"\"\xc3\xa9\""[..]),
        ];
        prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        /// On any bytes, the walk hands over what the scanner lists, or refuses what it refuses.
        #[test]
        fn the_walk_reads_what_the_scanner_reads(body in usage_like()) {
            prop_assert_eq!(walked(&body), scanned(&body));
        }

        /// The same on well-formed objects around a few pieces.
        #[test]
        fn the_walk_reads_objects_as_the_scanner_does(body in usage_like()) {
            let mut object = b"{\"k\":".to_vec();
            object.extend_from_slice(&body);
            object.push(b'}');
            prop_assert_eq!(walked(&object), scanned(&object));
        }
    }

    #[test]
    fn nesting_is_refused_past_the_scanners_limit() {
        let nested = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
        for n in [1, 127, 128, 129, 200] {
            let body = nested(n);
            assert_eq!(walked(body.as_bytes()), scanned(body.as_bytes()), "{n}");
        }
        assert!(walked(nested(128).as_bytes()).is_some());
        assert!(walked(nested(129).as_bytes()).is_none());
    }

    #[test]
    fn a_quote_after_a_backslash_outside_strings_is_read_as_the_scanner_reads_it() {
        for body in [
            &br#"{"a":["]}"#[..],
            br#"{"a":[\"]"]}"#,
            br#"{"a":{"b":""c"d":"]"}}"#,
        ] {
            assert_eq!(
                walked(body),
                scanned(body),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn mismatched_brackets_and_cut_strings_are_refused() {
        for body in [
            &br#"{"a":{"b":1]}"#[..],
            br#"{"a":[1}"#,
            br#"{"a":"\"}"#,
            br#"{"a":"b"#,
            br#"{"a":1,}"#,
            br#"{"a":1}x"#,
        ] {
            assert_eq!(walked(body), None, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(scanned(body), None);
        }
    }
}

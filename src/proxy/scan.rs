//! A scanner for the top level of a JSON object: it finds where each top-level value lies without
//! building any of them, so routing reads `model` and `stream` from a 500 KiB Claude Code request
//! at memory speed. The top level is checked strictly (every key, `:` and `,`), strings and the
//! nesting of brackets inside values too, so a top-level key is always the one any JSON parser
//! finds; the tokens inside nested values (numbers, literals) are skipped, not checked.

use std::borrow::Cow;
use std::ops::Range;

/// One top-level member: its key (escapes decoded) and the byte range of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// Borrowed from the body unless the key had escapes.
    pub key: Cow<'a, str>,
    pub value: Range<usize>,
}

/// Why a body is not one JSON object, with the byte offset where that showed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub struct ScanError {
    pub what: &'static str,
    pub at: usize,
}

/// Nesting deeper than this is refused (serde_json's own limit is 128).
const MAX_DEPTH: usize = 128;

/// The members of the top-level object in `body`, in order (duplicates included).
pub fn top_level_members(body: &[u8]) -> Result<Vec<Member<'_>>, ScanError> {
    let mut s = Scanner { b: body, i: 0 };
    s.ws();
    s.expect(b'{', "expected `{`")?;
    // Requests and answers have a dozen top-level members at most: one allocation.
    let mut members = Vec::with_capacity(16);
    s.ws();
    if s.peek() == Some(b'}') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            let key_start = s.i;
            s.expect(b'"', "expected a key")?;
            let key_end = s.skip_string()?;
            let key = decode_key(&body[key_start..key_end])
                .ok_or(s.error_at("invalid key", key_start))?;
            s.ws();
            s.expect(b':', "expected `:`")?;
            s.ws();
            let value_start = s.i;
            s.skip_value()?;
            members.push(Member {
                key,
                value: value_start..s.i,
            });
            s.ws();
            match s.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(s.error("expected `,` or `}`")),
            }
        }
    }
    s.ws();
    if s.i != body.len() {
        return Err(s.error("trailing characters after the object"));
    }
    Ok(members)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn error(&self, what: &'static str) -> ScanError {
        self.error_at(what, self.i)
    }

    fn error_at(&self, what: &'static str, at: usize) -> ScanError {
        ScanError {
            what,
            at: at.min(self.b.len()),
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ScanError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// After an opening `"`: moves past the closing one and returns that index. Only quotes are
    /// searched for (escapes are frequent in file contents, quotes rarer); a quote preceded by an
    /// odd run of backslashes is escaped. Inlined into its callers: a request has thousands of
    /// short strings, and a call per string cost more than most of them take to skip.
    #[inline(always)]
    fn skip_string(&mut self) -> Result<usize, ScanError> {
        let start = self.i;
        let mut from = start;
        loop {
            let Some(quote) = find_quote(self.b, from) else {
                return Err(self.error_at("unterminated string", self.b.len()));
            };
            if quote == start || self.b[quote - 1] != b'\\' {
                self.i = quote + 1;
                return Ok(self.i);
            }
            let backslashes = self.b[start..quote]
                .iter()
                .rev()
                .take_while(|c| **c == b'\\')
                .count();
            if backslashes % 2 == 0 {
                self.i = quote + 1;
                return Ok(self.i);
            }
            from = quote + 1;
        }
    }

    /// Skips one value of any kind, checking strings and the nesting of brackets.
    fn skip_value(&mut self) -> Result<(), ScanError> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                self.skip_string().map(|_| ())
            }
            Some(b'{' | b'[') => self.skip_nested(),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
                {
                    self.i += 1;
                }
                let token = &self.b[start..self.i];
                let literal = matches!(token, b"true" | b"false" | b"null");
                let number = token[0] == b'-' || token[0].is_ascii_digit();
                if literal || (number && token.iter().any(u8::is_ascii_digit)) {
                    Ok(())
                } else {
                    Err(self.error_at("invalid value", start))
                }
            }
            _ => Err(self.error("expected a value")),
        }
    }

    /// Skips an object or array, with a stack of the brackets opened: one `match` per byte
    /// outside strings (between strings there are only a few).
    fn skip_nested(&mut self) -> Result<(), ScanError> {
        let mut stack: Vec<u8> = Vec::with_capacity(16);
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.error_at("unclosed bracket", self.b.len()));
            };
            self.i += 1;
            match c {
                b'"' => {
                    self.skip_string()?;
                }
                b'{' | b'[' => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error("nested too deep"));
                    }
                    stack.push(if c == b'{' { b'}' } else { b']' });
                }
                b'}' | b']' => {
                    if stack.pop() != Some(c) {
                        return Err(self.error_at("mismatched bracket", self.i - 1));
                    }
                    if stack.is_empty() {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }
}

/// The index of the first `"` at or after `from`. Most strings in a request are short (keys,
/// `type` values), so the next 16 bytes are looked at eight at a time in a register before the
/// search is handed to `memchr`, whose set-up costs more than such a string.
#[inline(always)]
fn find_quote(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    let mut at = from;
    for _ in 0..2 {
        let Some(word) = b.get(at..at + 8) else {
            break;
        };
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        // A byte of `x` is zero exactly where the word holds a quote; the classic test sets the
        // high bit of the first such byte (bits above it may be wrong, so only the lowest counts).
        let x = u64::from_le_bytes(bytes) ^ QUOTES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = b.get(at..)?;
    memchr::memchr(b'"', rest).map(|i| at + i)
}

/// A key's text: the bytes between its quotes, with escapes decoded (keys are short, so the
/// rare escaped one goes through serde_json).
fn decode_key(quoted: &[u8]) -> Option<Cow<'_, str>> {
    let inner = &quoted[1..quoted.len() - 1];
    if !inner.contains(&b'\\') {
        return std::str::from_utf8(inner).ok().map(Cow::Borrowed);
    }
    serde_json::from_slice::<String>(quoted)
        .ok()
        .map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e12f64..1e12).prop_map(serde_json::Value::from),
            "\\PC{0,20}".prop_map(serde_json::Value::from),
            "[\"\\\\/\n\t\u{0}-\u{1f}\u{7f}-\u{ffff}]{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// On every JSON document the scanner agrees with serde_json: an object gives its members
        /// with values that parse to serde_json's own, anything else is refused.
        #[test]
        fn the_scanner_agrees_with_serde_json(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            // Compared with serde_json's reading of the same text (its float parsing is lossy).
            let reread: serde_json::Value = serde_json::from_slice(&text).unwrap();
            match (&reread, top_level_members(&text)) {
                (serde_json::Value::Object(map), Ok(members)) => {
                    prop_assert_eq!(members.len(), map.len());
                    for m in members {
                        let parsed: serde_json::Value = serde_json::from_slice(&text[m.value]).unwrap();
                        prop_assert_eq!(Some(&parsed), map.get(m.key.as_ref()));
                    }
                }
                (serde_json::Value::Object(_), Err(e)) => prop_assert!(false, "refused an object: {}", e),
                (_, result) => prop_assert!(result.is_err()),
            }
        }

        /// A body cut anywhere is refused, or (cut in trailing space) read the same.
        #[test]
        fn a_cut_body_is_never_read_as_something_else(value in json_value(), cut in any::<prop::sample::Index>()) {
            let object = serde_json::json!({"model": "m", "x": value});
            let text = serde_json::to_vec(&object).unwrap();
            let at = cut.index(text.len());
            prop_assert!(top_level_members(&text[..at]).is_err());
        }

        /// Arbitrary bytes never panic, and whatever serde_json reads as an object the scanner reads too.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let scanned = top_level_members(&bytes);
            if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).is_ok() {
                prop_assert!(scanned.is_ok());
            }
        }
    }

    fn keys(body: &str) -> Vec<(String, String)> {
        top_level_members(body.as_bytes())
            .unwrap()
            .into_iter()
            .map(|m| (m.key.into_owned(), body[m.value].to_string()))
            .collect()
    }

    proptest! {
        /// The quick look at the next 16 bytes finds the same quote as a plain search.
        #[test]
        fn find_quote_agrees_with_a_plain_search(bytes in prop::collection::vec(prop_oneof![Just(b'"'), Just(b'a'), Just(0x22u8 ^ 0x80), Just(0u8), any::<u8>()], 0..40), from in 0usize..45) {
            let plain = bytes.iter().skip(from).position(|c| *c == b'"').map(|i| from + i);
            prop_assert_eq!(find_quote(&bytes, from), plain);
        }
    }

    #[test]
    fn members_and_their_value_ranges_are_found() {
        let body = r#" {"model" : "m-1", "x":{"model":"inner","a":[1,{"b":"]"}]},"stream":true, "n":-1.5e3,"s":"q\"}"} "#;
        assert_eq!(
            keys(body),
            [
                ("model".into(), r#""m-1""#.into()),
                ("x".into(), r#"{"model":"inner","a":[1,{"b":"]"}]}"#.into()),
                ("stream".into(), "true".into()),
                ("n".into(), "-1.5e3".into()),
                ("s".into(), r#""q\"}""#.into()),
            ]
        );
        assert_eq!(keys("{}"), []);
    }

    #[test]
    fn escaped_and_duplicate_keys_are_reported_as_they_are() {
        let k = keys(r#"{"model":"a","mod\u0065l":"b"}"#);
        assert_eq!(k[0].0, "model");
        assert_eq!(k[1].0, "model");
    }

    #[test]
    fn anything_but_one_object_is_refused() {
        for body in [
            "",
            "[1]",
            "\"s\"",
            "{",
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":[1}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":x}"#,
            r#"{a:1}"#,
            r#"{"a":"b"#,
            r#"{"a":1 /* c */}"#,
            r#"{"a":"\"}"#,
        ] {
            assert!(top_level_members(body.as_bytes()).is_err(), "{body:?}");
        }
    }
}

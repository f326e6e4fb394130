//! One pass over a JSON document that checks it as strictly as serde_json does and notes where
//! each of its objects and arrays begins and ends, so that a reader can skip a nested value with
//! one look-up instead of reading through it.
//!
//! It accepts exactly what `serde_json::from_slice::<&RawValue>` accepts, with serde_json's own
//! messages and positions, except for depth: serde_json's raw values have no nesting limit, and
//! this check keeps the limit serde_json holds when it parses values (a 128th level is refused).
//! Strings, most of a request's bytes, are passed sixteen bytes at a time (SSE2, part of every
//! x86-64 processor; a byte at a time elsewhere), and UTF-8 is checked by `simdutf8`.
//!
//! A leaf: the translation reads request and answer bodies with it.

use std::fmt;

/// Nesting this deep is refused, as serde_json refuses it when it parses a value.
const RECURSION_LIMIT: usize = 128;

/// A checked document: the value's text (without the whitespace around it) and its objects and
/// arrays.
#[derive(Debug)]
pub struct Checked<'a> {
    pub text: &'a str,
    /// `(start, end)` of each object and array: the offsets of its opening bracket and of the
    /// byte after its closing one, from the input's first byte, in the order they open. Empty
    /// for an input of 4 GiB or more.
    pub spans: Vec<(u32, u32)>,
    /// A string or key holds a `\u` escape of a UTF-16 surrogate (`\ud800`–`\udfff`): only
    /// such an escape can fail to decode, so a reader of a document without one need not look.
    pub surrogate_escapes: bool,
}

/// Why a text is not one JSON value, and where: serde_json's words and position, so a message
/// reads the same whichever of the two refused the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub what: &'static str,
    pub line: usize,
    /// Counted in bytes from the start of the line, as serde_json counts.
    pub column: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

impl std::error::Error for JsonError {}

const EOF_LIST: &str = "EOF while parsing a list";
const EOF_OBJECT: &str = "EOF while parsing an object";
const EOF_STRING: &str = "EOF while parsing a string";
const EOF_VALUE: &str = "EOF while parsing a value";
const EXPECTED_COLON: &str = "expected `:`";
const EXPECTED_LIST_COMMA: &str = "expected `,` or `]`";
const EXPECTED_OBJECT_COMMA: &str = "expected `,` or `}`";
const EXPECTED_IDENT: &str = "expected ident";
const EXPECTED_VALUE: &str = "expected value";
const INVALID_ESCAPE: &str = "invalid escape";
const INVALID_NUMBER: &str = "invalid number";
const INVALID_UNICODE: &str = "invalid unicode code point";
const CONTROL_CHARACTER: &str = "control character (\\u0000-\\u001F) found while parsing a string";
const KEY_MUST_BE_A_STRING: &str = "key must be a string";
const TRAILING_CHARACTERS: &str = "trailing characters";
const RECURSION_LIMIT_EXCEEDED: &str = "recursion limit exceeded";

/// A refusal before its line and column are counted: serde_json's position index (the number of
/// bytes before the point it names), counted into line and column only when the text is refused.
struct Fault {
    what: &'static str,
    at: usize,
}

type Step<T> = Result<T, Fault>;

/// `what` at index `at`: serde_json's `error`, the position after the bytes it consumed.
fn fault(what: &'static str, at: usize) -> Fault {
    Fault { what, at }
}

/// `what` about the byte at `i`: serde_json's `peek_error`, which names the position after it.
fn peek_fault(b: &[u8], what: &'static str, i: usize) -> Fault {
    Fault {
        what,
        at: (i + 1).min(b.len()),
    }
}

impl Fault {
    /// The line and column of the position, counted as serde_json counts them.
    #[cold]
    fn located(self, b: &[u8]) -> JsonError {
        let before = &b[..self.at.min(b.len())];
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |nl| nl + 1);
        JsonError {
            what: self.what,
            line: 1 + memchr::memchr_iter(b'\n', &before[..line_start]).count(),
            column: self.at - line_start,
        }
    }
}

/// Checks that `bytes` is one JSON value, with nothing but whitespace around it, and notes its
/// objects and arrays.
pub fn check(bytes: &[u8]) -> Result<Checked<'_>, JsonError> {
    check_as::<{ cfg!(target_arch = "x86_64") }>(bytes)
}

/// [`check`], with strings passed in SSE2 blocks or a byte at a time.
fn check_as<const SSE2: bool>(bytes: &[u8]) -> Result<Checked<'_>, JsonError> {
    let Shape {
        start,
        end,
        spans,
        surrogate_escapes,
    } = structure::<SSE2>(bytes).map_err(|f| f.located(bytes))?;
    let value = &bytes[start..end];
    let text = match simdutf8::basic::from_utf8(value) {
        Ok(text) => text,
        Err(_) => {
            // serde_json checks a raw value's UTF-8 after its syntax, and names the bad byte.
            let valid = std::str::from_utf8(value)
                .err()
                .map_or(0, |e| e.valid_up_to());
            return Err(fault(INVALID_UNICODE, start + valid + 1).located(bytes));
        }
    };
    let after = skip_space(bytes, end);
    if after < bytes.len() {
        return Err(peek_fault(bytes, TRAILING_CHARACTERS, after).located(bytes));
    }
    Ok(Checked {
        text,
        spans,
        surrogate_escapes,
    })
}

/// Where a text's value lies (`start..end`), the spans of its objects and arrays, and whether a
/// string in it escapes a surrogate.
struct Shape {
    start: usize,
    end: usize,
    spans: Vec<(u32, u32)>,
    surrogate_escapes: bool,
}

/// The first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        i += 1;
    }
    i
}

/// The value's syntax, read as serde_json reads a raw value (the same refusals at the same
/// places): where the value starts and ends, and the spans of its objects and arrays. An
/// explicit stack, not recursion: nesting costs no call stack.
fn structure<const SSE2: bool>(b: &[u8]) -> Step<Shape> {
    let record = u32::try_from(b.len()).is_ok();
    let mut spans: Vec<(u32, u32)> = Vec::new();
    // Per open container: whether it is an object, and the index of its span.
    let mut open = [(false, 0usize); RECURSION_LIMIT];
    let mut depth = 0usize;
    let mut surrogate_escapes = false;
    let mut i = skip_space(b, 0);
    let start = i;
    'value: loop {
        i = skip_space(b, i);
        let Some(&c) = b.get(i) else {
            return Err(peek_fault(b, EOF_VALUE, i));
        };
        match c {
            b'"' => i = string_end::<SSE2>(b, i + 1, &mut surrogate_escapes)?,
            b'{' | b'[' => {
                if depth + 1 >= RECURSION_LIMIT {
                    return Err(peek_fault(b, RECURSION_LIMIT_EXCEEDED, i));
                }
                let object = c == b'{';
                open[depth] = (object, spans.len());
                depth += 1;
                if record {
                    spans.push((i as u32, 0));
                }
                i = skip_space(b, i + 1);
                match b.get(i) {
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    None => return Err(peek_fault(b, eof_in(object), i)),
                    Some(_) => {
                        if object {
                            i = key::<SSE2>(b, i, &mut surrogate_escapes)?;
                        }
                        continue 'value;
                    }
                }
                // An empty object or array: closed below, as after its last value.
            }
            b't' => i = literal(b, i + 1, b"rue")?,
            b'f' => i = literal(b, i + 1, b"alse")?,
            b'n' => i = literal(b, i + 1, b"ull")?,
            b'-' => i = number(b, i + 1)?,
            b'0'..=b'9' => i = number(b, i)?,
            _ => return Err(peek_fault(b, EXPECTED_VALUE, i)),
        }
        // After a value: a comma and the next one, or the closing bracket of what holds it.
        loop {
            if depth == 0 {
                break 'value;
            }
            let (object, span) = open[depth - 1];
            i = skip_space(b, i);
            match b.get(i) {
                Some(b'}') if object => {}
                Some(b']') if !object => {}
                Some(b',') => {
                    i += 1;
                    if object {
                        i = key::<SSE2>(b, skip_space(b, i), &mut surrogate_escapes)?;
                    }
                    continue 'value;
                }
                Some(_) => {
                    let what = if object {
                        EXPECTED_OBJECT_COMMA
                    } else {
                        EXPECTED_LIST_COMMA
                    };
                    return Err(peek_fault(b, what, i));
                }
                None => return Err(peek_fault(b, eof_in(object), i)),
            }
            i += 1;
            depth -= 1;
            if let Some(span) = spans.get_mut(span) {
                span.1 = i as u32;
            }
        }
    }
    Ok(Shape {
        start,
        end: i,
        spans,
        surrogate_escapes,
    })
}

/// The refusal of a text that ends inside an object or array.
fn eof_in(object: bool) -> &'static str {
    if object {
        EOF_OBJECT
    } else {
        EOF_LIST
    }
}

/// A member's key at `i` and the `:` after it: where its value may start. `surrogates` is set
/// when the key escapes a surrogate.
#[inline(always)]
fn key<const SSE2: bool>(b: &[u8], i: usize, surrogates: &mut bool) -> Step<usize> {
    match b.get(i) {
        Some(b'"') => {}
        Some(_) => return Err(peek_fault(b, KEY_MUST_BE_A_STRING, i)),
        None => return Err(peek_fault(b, EOF_OBJECT, i)),
    }
    let i = skip_space(b, string_end::<SSE2>(b, i + 1, surrogates)?);
    match b.get(i) {
        Some(b':') => Ok(i + 1),
        Some(_) => Err(peek_fault(b, EXPECTED_COLON, i)),
        None => Err(peek_fault(b, EOF_OBJECT, i)),
    }
}

/// The rest of `true`, `false` or `null` from `i`: where it ends.
fn literal(b: &[u8], i: usize, rest: &[u8]) -> Step<usize> {
    for (k, &expected) in rest.iter().enumerate() {
        match b.get(i + k) {
            None => return Err(fault(EOF_VALUE, b.len())),
            Some(&c) if c != expected => return Err(fault(EXPECTED_IDENT, i + k + 1)),
            Some(_) => {}
        }
    }
    Ok(i + rest.len())
}

/// A number's digits from `i` (after its sign): where it ends. JSON's grammar: no leading zero,
/// a digit on each side of a `.`, and at least one in an exponent.
fn number(b: &[u8], mut i: usize) -> Step<usize> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    match b.get(i) {
        None => return Err(fault(INVALID_NUMBER, i)),
        Some(b'0') => {
            i += 1;
            if b.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(peek_fault(b, INVALID_NUMBER, i));
            }
        }
        Some(b'1'..=b'9') => i = digits(i + 1),
        Some(_) => return Err(fault(INVALID_NUMBER, i + 1)),
    }
    if b.get(i) == Some(&b'.') {
        let fraction = digits(i + 1);
        if fraction == i + 1 {
            return Err(peek_fault(b, INVALID_NUMBER, fraction));
        }
        i = fraction;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match b.get(i) {
            None => return Err(fault(INVALID_NUMBER, i)),
            Some(b'0'..=b'9') => i = digits(i + 1),
            Some(_) => return Err(fault(INVALID_NUMBER, i + 1)),
        }
    }
    Ok(i)
}

/// The bytes [`specials`] looks at together.
pub(crate) const BLOCK: usize = 16;

/// The bytes a long string is passed in at a time: four blocks, one mask.
const WIDE: usize = 4 * BLOCK;

/// The end of the string whose text starts at `i` (after its opening quote): one past its
/// closing quote. Its escapes are checked as serde_json checks them (a `\u` needs four hex
/// digits, and a surrogate without its pair passes, as serde_json passes it in a raw value), and
/// a control character refused. `surrogates` is set when one of its escapes is a surrogate's.
#[inline(always)]
fn string_end<const SSE2: bool>(b: &[u8], i: usize, surrogates: &mut bool) -> Step<usize> {
    // Most strings (keys, `type` values) end within a block: one look at it first. Longer ones
    // are passed four blocks at a time, each escape in them cleared from the mask in place.
    let mut at = i;
    let mut width = BLOCK;
    let mut mask = u64::from(block_specials::<SSE2>(b, at));
    loop {
        while mask != 0 {
            let j = at + mask.trailing_zeros() as usize;
            match b.get(j) {
                Some(b'"') => return Ok(j + 1),
                Some(b'\\') => {
                    let next = escape_end(b, j + 1, surrogates)?;
                    let skipped = next - at;
                    if skipped >= width {
                        // The escape ends past this mask: the next one starts where it ends.
                        (at, width, mask) = (next, 0, 0);
                    } else {
                        mask &= !0 << skipped;
                    }
                }
                Some(_) => return Err(fault(CONTROL_CHARACTER, j)),
                // The padding after the text's last byte.
                None => return Err(fault(EOF_STRING, b.len())),
            }
        }
        at += width;
        width = WIDE;
        mask = wide_specials::<SSE2>(b, at);
    }
}

/// The end of the escape whose letter is at `i` (after its backslash); `surrogates` is set when
/// it is the `\u` escape of a UTF-16 surrogate.
#[inline(always)]
fn escape_end(b: &[u8], i: usize, surrogates: &mut bool) -> Step<usize> {
    match b.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => unicode_escape_end(b, i, surrogates),
        Some(_) => Err(fault(INVALID_ESCAPE, i + 1)),
        None => Err(fault(EOF_STRING, b.len())),
    }
}

/// The end of the `\u` escape whose `u` is at `i`; `surrogates` is set when it is a surrogate's.
/// Out of line, unlike the other escapes: inlined, the flag took a register of the string loop,
/// and the whole check ran a quarter slower.
#[inline(never)]
fn unicode_escape_end(b: &[u8], i: usize, surrogates: &mut bool) -> Step<usize> {
    match b.get(i + 1..i + 5) {
        Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
            *surrogates |= is_surrogate_escape(hex);
            Ok(i + 5)
        }
        Some(_) => Err(fault(INVALID_ESCAPE, i + 5)),
        None => Err(fault(EOF_STRING, b.len())),
    }
}

/// Whether the four hex digits of a `\u` escape name a UTF-16 surrogate (`D800`–`DFFF`).
#[inline(always)]
fn is_surrogate_escape(hex: &[u8]) -> bool {
    matches!(
        hex,
        [b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F', ..]
    )
}

/// Bit `k` is set when byte `at + k` ends a run of plain string text: a quote, a backslash, a
/// control character, or a position past the text's end.
#[inline(always)]
fn block_specials<const SSE2: bool>(b: &[u8], at: usize) -> u32 {
    let block = match b
        .get(at..at + BLOCK)
        .and_then(|s| <&[u8; BLOCK]>::try_from(s).ok())
    {
        Some(whole) => *whole,
        None => last_block(b, at),
    };
    if SSE2 {
        specials(&block)
    } else {
        specials_bytes(&block)
    }
}

/// [`block_specials`] for the [`WIDE`] bytes from `at`.
#[inline(always)]
fn wide_specials<const SSE2: bool>(b: &[u8], at: usize) -> u64 {
    let Some(wide) = b.get(at..at + WIDE) else {
        return (0..WIDE / BLOCK).fold(0, |mask, k| {
            mask | u64::from(block_specials::<SSE2>(b, at + k * BLOCK)) << (k * BLOCK)
        });
    };
    wide.chunks_exact(BLOCK)
        .enumerate()
        .fold(0, |mask, (k, lane)| {
            let mut block = [0u8; BLOCK];
            block.copy_from_slice(lane);
            let lane = if SSE2 {
                specials(&block)
            } else {
                specials_bytes(&block)
            };
            mask | u64::from(lane) << (k * BLOCK)
        })
}

/// The text's bytes from `at` to its end, then zero bytes: control characters past the end, so
/// a search for the end of a string stops there. Apart, so that the copy of a whole block stays
/// one load.
#[cold]
#[inline(never)]
fn last_block(b: &[u8], at: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let rest = b.get(at..).unwrap_or_default();
    block[..rest.len()].copy_from_slice(rest);
    block
}

/// A byte ends a run of plain string text: one a JSON string holds only escaped.
pub(crate) fn is_special(c: u8) -> bool {
    c < 0x20 || c == b'"' || c == b'\\'
}

/// Bit `i` is set when byte `i` of `block` is [special](is_special): sixteen bytes at once where
/// the slice is a block long, else a byte at a time.
#[inline(always)]
pub(crate) fn specials_in(block: &[u8]) -> u32 {
    match <&[u8; BLOCK]>::try_from(block) {
        Ok(block) => specials(block),
        Err(_) => block
            .iter()
            .enumerate()
            .fold(0, |mask, (i, &b)| mask | (u32::from(is_special(b)) << i)),
    }
}

/// Sixteen bytes in three compares (SSE2 is part of every x86-64 processor).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn specials(block: &[u8; BLOCK]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let v = load_unaligned_m128i(block);
    let splat = |c: u8| set_splat_i8_m128i(c as i8);
    // A control byte is one no greater than 0x1f: the smaller of it and 0x1f is itself.
    let control = cmp_eq_mask_i8_m128i(min_u8_m128i(v, splat(0x1f)), v);
    let quote = cmp_eq_mask_i8_m128i(v, splat(b'"'));
    let backslash = cmp_eq_mask_i8_m128i(v, splat(b'\\'));
    move_mask_i8_m128i(bitor_m128i(control, bitor_m128i(quote, backslash))) as u32 & 0xffff
}

/// Without SSE2, a byte at a time.
#[cfg(not(target_arch = "x86_64"))]
fn specials(block: &[u8; BLOCK]) -> u32 {
    specials_bytes(block)
}

/// A byte at a time: the way without SSE2, and the reference the SSE2 masks are tested against.
fn specials_bytes(block: &[u8; BLOCK]) -> u32 {
    block
        .iter()
        .enumerate()
        .fold(0, |mask, (k, &c)| mask | (u32::from(is_special(c)) << k))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    /// Both ways of passing strings: SSE2 blocks (where there is SSE2) and a byte at a time.
    fn both(bytes: &[u8]) -> Result<Vec<(u32, u32)>, String> {
        let sse2 = check_as::<{ cfg!(target_arch = "x86_64") }>(bytes);
        let bytewise = check_as::<false>(bytes);
        let read =
            |r: Result<Checked<'_>, JsonError>| r.map(|c| c.spans).map_err(|e| e.to_string());
        let (sse2, bytewise) = (read(sse2), read(bytewise));
        assert_eq!(
            sse2,
            bytewise,
            "the two ways differ on {:?}",
            String::from_utf8_lossy(bytes)
        );
        sse2
    }

    /// The deepest nesting in JSON text that is valid up to its end (brackets outside strings).
    fn deepest(bytes: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for &c in bytes {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == b'\\' {
                    escaped = true;
                } else if c == b'"' {
                    in_string = false;
                }
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    /// What serde_json answers, with the nesting limit it holds when it parses values.
    fn serde_json_answer(bytes: &[u8]) -> Result<(), String> {
        match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(_) if deepest(bytes) >= RECURSION_LIMIT => Err(RECURSION_LIMIT_EXCEEDED.into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The check answers as serde_json answers: the same verdict, and when it refuses, the same
    /// message at the same line and column (a recursion refusal is checked on its own: serde_json's
    /// raw values have no limit, so it may name a later fault or none).
    fn assert_answers_like_serde_json(bytes: &[u8]) -> Result<(), TestCaseError> {
        let ours = both(bytes);
        let theirs = serde_json_answer(bytes);
        let shown = String::from_utf8_lossy(bytes);
        prop_assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "{:?}: {:?} vs {:?}",
            shown,
            ours,
            theirs
        );
        if let Err(ours) = &ours {
            if ours.starts_with(RECURSION_LIMIT_EXCEEDED) {
                let at = structure::<false>(bytes).err().map_or(0, |f| f.at);
                prop_assert_eq!(deepest(&bytes[..at]), RECURSION_LIMIT, "{:?}", shown);
            } else {
                prop_assert_eq!(Some(ours), theirs.as_ref().err(), "{:?}", shown);
            }
        }
        Ok(())
    }

    fn assert_like_serde_json(text: &[u8]) {
        if let Err(e) = assert_answers_like_serde_json(text) {
            panic!("{e}");
        }
    }

    #[test]
    fn values_of_every_kind_pass_with_the_spaces_json_allows() {
        for text in [
            &b"null"[..],
            b"true",
            b"false",
            b" \t\r\n{} \n",
            b"[]",
            b"0",
            b"-0",
            b"-0.0e-0",
            b"1E5",
            b"1e+5",
            b"12.5E-07",
            b"123456789012345678901234567890",
            b"1e999",
            br#"{"a" : [1, "x", {"b": null}], "c": {}}"#,
            br#""\"\\\/\b\f\n\r\t \u00e9 \uD83D\uDE00 \u0000""#,
            "\"é ☃ 😀 \u{7f}\"".as_bytes(),
        ] {
            assert!(both(text).is_ok(), "{:?}", String::from_utf8_lossy(text));
            assert_like_serde_json(text);
        }
    }

    #[test]
    fn a_surrogate_without_its_pair_passes_as_in_a_raw_value() {
        for text in [&br#""\ud800""#[..], br#""\udc00x""#, br#""\ud800\u0041""#] {
            assert!(serde_json::from_slice::<&RawValue>(text).is_ok());
            assert!(both(text).is_ok(), "{:?}", String::from_utf8_lossy(text));
        }
    }

    /// Whether checked JSON text escapes a surrogate, read a byte at a time: outside strings
    /// checked JSON has no backslash, and inside one each backslash starts an escape.
    fn escapes_a_surrogate(text: &[u8]) -> bool {
        let mut at = 0;
        while let Some(&c) = text.get(at) {
            if c != b'\\' {
                at += 1;
                continue;
            }
            if text.get(at + 1) == Some(&b'u') {
                let hex = std::str::from_utf8(&text[at + 2..at + 6]).unwrap();
                if (0xD800..=0xDFFF).contains(&u32::from_str_radix(hex, 16).unwrap()) {
                    return true;
                }
            }
            at += 2;
        }
        false
    }

    #[test]
    fn a_document_tells_whether_it_escapes_a_surrogate() {
        let flag = |text: &str| check(text.as_bytes()).unwrap().surrogate_escapes;
        for escaped in [
            r#""\ud800""#,
            r#"["a", "\uDE00"]"#,
            r#"{"\udbff\udfff": 1}"#,
            r#"{"k": {"n": "x\\\uDc00"}}"#,
        ] {
            assert!(flag(escaped), "{escaped}");
        }
        for plain in [
            r#""\u00e9 \ud7ff \ue000 \\ud800""#,
            r#"{"ud800": "\\\\ud800", "k": ["\n\u0041"]}"#,
            "[1, 2]",
            "\"\u{1f600}\"",
        ] {
            assert!(!flag(plain), "{plain}");
        }
    }

    #[test]
    fn malformed_numbers_are_refused_where_serde_json_refuses_them() {
        for text in [
            &b"01"[..],
            b"-01",
            b"1.",
            b".5",
            b"-",
            b"-a",
            b"1e",
            b"1e+",
            b"1E-x",
            b"1.e5",
            b"+1",
            b"[1.]",
            b"[01]",
            b"1x",
            b"0x10",
            b"[-]",
        ] {
            assert!(both(text).is_err(), "{:?}", String::from_utf8_lossy(text));
            assert_like_serde_json(text);
        }
    }

    #[test]
    fn malformed_literals_strings_and_escapes_are_refused_with_serde_jsons_words() {
        for text in [
            &b"tru"[..],
            b"nul",
            b"truex",
            b"fals",
            b"nulL",
            b"True",
            b"\"abc",
            b"\"a\x01b\"",
            b"\"tab\there\"",
            b"\"line\nbreak\"",
            b"\"\\x\"",
            b"\"\\",
            b"\"\\u12",
            b"\"\\u12G4\"",
            b"\"\\u12\"\"",
            b"\"\\U0041\"",
            b"[\"a\" \"b\"]",
            b"\"\\",
        ] {
            assert!(both(text).is_err(), "{:?}", String::from_utf8_lossy(text));
            assert_like_serde_json(text);
        }
    }

    #[test]
    fn malformed_structure_is_refused_with_serde_jsons_words() {
        let cases: [&[u8]; 24] = [
            b"",
            b"   ",
            b"[1,]",
            b"{\"a\":1,}",
            b"[,1]",
            b"{,}",
            b"{} x",
            b"[] []",
            b"{\"a\" 1}",
            b"{1:2}",
            b"{\"a\":1]",
            b"[1}",
            b"[1 2]",
            b"{\"a\"",
            b"{\"a\":",
            b"[1,",
            b"[",
            b"{",
            b"]",
            b"\x0c1",
            b"\xef\xbb\xbf{}",
            b"{\"a\":1}\x00",
            b"[1,\n 2,\n x]",
            b"\"a\"\n\n  ,",
        ];
        for text in cases {
            assert!(both(text).is_err(), "{:?}", String::from_utf8_lossy(text));
            assert_like_serde_json(text);
        }
    }

    #[test]
    fn invalid_utf8_is_refused_in_strings_and_elsewhere() {
        for text in [
            &b"\"\xff\""[..],
            b"\"a\xc3\"",
            b"\"\xed\xa0\x80\"",
            b"\"\xf4\x90\x80\x80\"",
            b"\"\xc0\xaf\"",
            b"[\"ok\",\n \"\xe2\x82\"]",
            b"\xff",
            b"{\"a\":\xff}",
            b"[1,\n\xff]",
            b"{\"\xff\":1}",
            b"{} \xff",
        ] {
            assert!(both(text).is_err(), "{:?}", String::from_utf8_lossy(text));
            assert_like_serde_json(text);
        }
        // A string long enough for several blocks, the bad byte far in.
        let mut long = b"[\"".to_vec();
        long.extend(std::iter::repeat_n(b'a', 100));
        long.extend(b"\xe2\x86\x92 \xe2\x86\n\"]");
        assert_like_serde_json(&long);
        assert!(both(&long).is_err());
    }

    #[test]
    fn nesting_is_refused_at_serde_jsons_limit() {
        let arrays = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let objects = |n: usize| format!("{}1{}", "{\"k\":".repeat(n), "}".repeat(n));
        for n in [1, 126, 127] {
            assert!(both(arrays(n).as_bytes()).is_ok(), "{n}");
            assert!(both(objects(n).as_bytes()).is_ok(), "{n}");
        }
        for n in [128, 129, 1000, 100_000] {
            for text in [arrays(n), objects(n)] {
                let refused = both(text.as_bytes()).unwrap_err();
                // The words and place serde_json gives when it parses the text as a value.
                let value = serde_json::from_str::<serde_json::Value>(&text).unwrap_err();
                assert_eq!(refused, value.to_string(), "{n}");
            }
        }
    }

    #[test]
    fn spans_are_the_objects_and_arrays_from_the_first_byte() {
        let text = br#" {"a": [ {"b": "}]\"{["}, [[]] ], "c": {"d": {}} } "#;
        let spans = both(text).unwrap();
        let of = |s: &str| {
            let start = text
                .windows(s.len())
                .position(|w| w == s.as_bytes())
                .unwrap();
            (start as u32, (start + s.len()) as u32)
        };
        assert_eq!(spans.len(), 7);
        assert_eq!(spans[0], (1, text.len() as u32 - 1));
        assert_eq!(spans[1], of(r#"[ {"b": "}]\"{["}, [[]] ]"#));
        assert_eq!(spans[2], of(r#"{"b": "}]\"{["}"#));
        assert_eq!(spans[3], of("[[]]"));
        assert_eq!(spans[4], of("[]"));
        assert_eq!(spans[5], of(r#"{"d": {}}"#));
        assert_eq!(spans[6], of("{}"));
        assert_eq!(check(b" [1] ").unwrap().text, "[1]");
    }

    /// JSON whitespace, mostly none.
    fn space() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            4 => Just(""),
            1 => Just(" "),
            1 => Just("\n  "),
            1 => Just("\t"),
            1 => Just("\r\n"),
        ]
    }

    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
            "-?(0|[1-9][0-9]{0,4})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
        ]
    }

    /// A JSON string's text, quotes included: plain text, escapes of every form (lone
    /// surrogates too) and runs long enough to cross the blocks strings are read in.
    fn string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => "[a-z é☃😀{}\\[\\],:\u{7f}]{0,6}",
            1 => "[a-z]{16,40}",
            1 => prop_oneof![
                Just("\\n"), Just("\\\""), Just("\\\\"), Just("\\/"), Just("\\b"), Just("\\f"),
                Just("\\r"), Just("\\t"), Just("\\ud800"), Just("\\udc00"), Just("\\ud83d\\ude00"),
            ]
            .prop_map(str::to_string),
            1 => "\\\\u[0-9a-fA-F]{4}",
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
    }

    /// JSON text of any shape, its spaces and numbers written in the ways JSON allows.
    pub(crate) fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            number(),
            string(),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            let item = (space(), inner.clone(), space())
                .prop_map(|(before, value, after)| format!("{before}{value}{after}"));
            let member = (space(), string(), space(), space(), inner, space())
                .prop_map(|(a, key, b, c, value, d)| format!("{a}{key}{b}:{c}{value}{d}"));
            prop_oneof![
                (prop::collection::vec(item, 0..5), space())
                    .prop_map(|(items, space)| format!("[{space}{}]", items.join(","))),
                (prop::collection::vec(member, 0..5), space())
                    .prop_map(|(members, space)| format!("{{{space}{}}}", members.join(","))),
            ]
        })
        .prop_flat_map(|value| (space(), Just(value), space()))
        .prop_map(|(before, value, after)| format!("{before}{value}{after}"))
    }

    /// One change that may break a text.
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(prop::sample::Index, u8),
        Insert(prop::sample::Index, u8),
        /// A fragment of JSON's grammar written in: a number's part, an escape, a literal's start.
        Splice(prop::sample::Index, &'static str),
        Delete(prop::sample::Index),
        Cut(prop::sample::Index),
        /// Wrapped in this many arrays (or objects), near the nesting limit.
        Nest(usize, bool),
    }

    /// Bytes that matter to JSON, and any byte.
    fn telling_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            3 => prop::sample::select(
                b"\"\\{}[],: \n\t\r\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xf5\xffu0123456789eE+-.tfnabx/"
                    .to_vec()
            ),
            1 => any::<u8>(),
        ]
    }

    /// Pieces of JSON that are right in one place and wrong in most others.
    const FRAGMENTS: &[&str] = &[
        ".",
        "1.",
        ".5",
        "0",
        "01",
        "-",
        "-0",
        "e",
        "E+",
        "e-7",
        "1e",
        "+1",
        "tru",
        "nul",
        "false",
        "\\",
        "\\u",
        "\\u12",
        "\\u00e9",
        "\\ud800",
        "\\x",
        "\"",
        ",",
        ":",
        "[",
        "]",
        "{",
        "}",
        ",]",
        ",}",
        "[]",
        "{}",
        "\"k\":",
        " ",
        "\u{2192}",
        "\u{1f600}",
    ];

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            3 => (any::<prop::sample::Index>(), telling_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
            3 => (any::<prop::sample::Index>(), telling_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
            3 => (any::<prop::sample::Index>(), prop::sample::select(FRAGMENTS))
                .prop_map(|(i, f)| Mutation::Splice(i, f)),
            2 => any::<prop::sample::Index>().prop_map(Mutation::Delete),
            2 => any::<prop::sample::Index>().prop_map(Mutation::Cut),
            1 => (120usize..136, any::<bool>()).prop_map(|(n, o)| Mutation::Nest(n, o)),
        ]
    }

    fn mutated(text: &str, mutations: &[Mutation]) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        for m in mutations {
            match m {
                Mutation::Replace(i, b) if !bytes.is_empty() => {
                    let i = i.index(bytes.len());
                    bytes[i] = *b;
                }
                Mutation::Insert(i, b) => {
                    let i = i.index(bytes.len() + 1);
                    bytes.insert(i, *b);
                }
                Mutation::Splice(i, fragment) => {
                    let i = i.index(bytes.len() + 1);
                    bytes.splice(i..i, fragment.bytes());
                }
                Mutation::Delete(i) if !bytes.is_empty() => {
                    let i = i.index(bytes.len());
                    bytes.remove(i);
                }
                Mutation::Cut(i) => bytes.truncate(i.index(bytes.len() + 1)),
                Mutation::Nest(n, objects) => {
                    let (open, close): (&[u8], &[u8]) = if *objects {
                        (b"{\"k\":", b"}")
                    } else {
                        (b"[", b"]")
                    };
                    let mut nested = open.repeat(*n);
                    nested.extend(&bytes);
                    nested.extend(close.repeat(*n));
                    bytes = nested;
                }
                _ => {}
            }
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn valid_json_passes_as_serde_json_passes_it(text in json_text()) {
            prop_assert!(serde_json::from_str::<&RawValue>(&text).is_ok());
            assert_answers_like_serde_json(text.as_bytes())?;
        }

        #[test]
        fn broken_json_is_refused_as_serde_json_refuses_it(
            text in json_text(),
            mutations in prop::collection::vec(mutation(), 1..4),
        ) {
            assert_answers_like_serde_json(&mutated(&text, &mutations))?;
        }

        #[test]
        fn the_surrogate_flag_is_what_a_reading_of_the_escapes_finds(text in json_text()) {
            for checked in [check_as::<true>(text.as_bytes()), check_as::<false>(text.as_bytes())] {
                let checked = checked.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(checked.surrogate_escapes, escapes_a_surrogate(text.as_bytes()));
            }
        }

        #[test]
        fn the_sse2_masks_are_the_bytewise_ones(block in prop::array::uniform16(telling_byte())) {
            prop_assert_eq!(specials(&block), specials_bytes(&block));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200_000))]

        /// The same, long (`cargo test --lib json_check -- --ignored`).
        #[test]
        #[ignore = "a long run"]
        fn broken_json_is_refused_as_serde_json_refuses_it_long_run(
            text in json_text(),
            mutations in prop::collection::vec(mutation(), 0..4),
        ) {
            assert_answers_like_serde_json(&mutated(&text, &mutations))?;
        }
    }
}

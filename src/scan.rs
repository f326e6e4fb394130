//! A scanner for the top level of a JSON object: it finds where each top-level value lies without
//! building any of them, so routing reads `model` and `stream` from a 500 KiB Claude Code request
//! at memory speed. The top level is checked strictly (every key, `:` and `,`), strings and the
//! nesting of brackets inside values too, so a top-level key is always the one any JSON parser
//! finds; the tokens inside nested values (numbers, literals) are skipped, not checked. A backslash
//! outside a string is refused wherever it is, as whether it escapes the quote after it is exactly
//! where two lax readers would part, and nested values are skipped in blocks on x86-64 and a byte
//! at a time elsewhere: both give the same answer for every body.
//!
//! A leaf: the request path reads routing facts with it and the usage reader reads usage objects.

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

/// The refusal of a backslash outside any string.
const STRAY_BACKSLASH: &str = "backslash outside a string";

/// The members of the top-level object in `body`, in order (duplicates included).
pub fn top_level_members(body: &[u8]) -> Result<Vec<Member<'_>>, ScanError> {
    top_level(body).map(|top| top.members)
}

/// The top level of a JSON object: its members, and whether a string in it may begin with
/// [`MARK`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLevel<'a> {
    pub members: Vec<Member<'a>>,
    /// False only when no string of the body, key or value at any depth, begins with [`MARK`]
    /// (it may be true for one that does not: a string whose first bytes are an escape).
    pub marked: bool,
}

/// What begins every string the gateway writes into a conversation to know it again later (the
/// signatures it carries between APIs): a body with no string that begins with it holds none.
pub const MARK: &str = "switchyard.";

/// The members of the top-level object in `body`, and whether a string in it begins with
/// [`MARK`], found in the same pass.
pub fn top_level(body: &[u8]) -> Result<TopLevel<'_>, ScanError> {
    scan(body, cfg!(target_arch = "x86_64"))
}

/// The byte range of the first element of the JSON array `array` (a value as
/// [`top_level_members`] found it); `None` for an empty array or anything else. Only that element
/// is scanned, whatever follows it.
pub fn first_element(array: &[u8]) -> Option<Range<usize>> {
    let mut s = Scanner::new(array, cfg!(target_arch = "x86_64"));
    s.ws();
    s.expect(b'[', "expected `[`").ok()?;
    s.ws();
    let start = s.i;
    s.skip_value().ok()?;
    let end = s.i;
    s.ws();
    matches!(s.peek(), Some(b',' | b']')).then_some(start..end)
}

/// [`top_level_members`], with nested values skipped in blocks or a byte at a time.
#[cfg(test)]
fn members(body: &[u8], blocks: bool) -> Result<Vec<Member<'_>>, ScanError> {
    scan(body, blocks).map(|top| top.members)
}

/// [`top_level`], with nested values skipped in blocks or a byte at a time.
fn scan(body: &[u8], blocks: bool) -> Result<TopLevel<'_>, ScanError> {
    let mut s = Scanner::new(body, blocks);
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
    Ok(TopLevel {
        members,
        marked: s.marked,
    })
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Nested values are skipped in 64-byte blocks (where SSE2 makes them cheap).
    blocks: bool,
    /// A string seen so far may begin with [`MARK`].
    marked: bool,
}

impl<'a> Scanner<'a> {
    fn new(b: &'a [u8], blocks: bool) -> Self {
        Scanner {
            b,
            i: 0,
            blocks,
            marked: false,
        }
    }

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
        self.marked |= may_begin_with_mark(self.b, start);
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

    /// Skips an object or array.
    fn skip_nested(&mut self) -> Result<(), ScanError> {
        if self.blocks {
            self.skip_nested_blocks()
        } else {
            self.skip_nested_bytewise()
        }
    }

    /// Skips an object or array, with a stack of the brackets opened: one `match` per byte
    /// outside strings (between strings there are only a few). The way on machines without SSE2.
    fn skip_nested_bytewise(&mut self) -> Result<(), ScanError> {
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
                        return Err(self.error_at("nested too deep", self.i - 1));
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
                // Only a string may hold one; outside, it could escape the quote after it, and
                // readers that disagree on that disagree on where the value ends.
                b'\\' => return Err(self.error_at(STRAY_BACKSLASH, self.i - 1)),
                _ => {}
            }
        }
    }

    /// Skips an object or array 64 bytes at a time: each block's quotes, backslashes and brackets
    /// become bit masks, the escaped quotes are taken out (a quote after an odd run of
    /// backslashes, found with carries rather than by walking the runs), the bits inside strings
    /// are cleared (a prefix XOR of the quotes), and only the brackets left are walked, against a
    /// stack of the closers expected. No branch depends on where a short string ends, which is
    /// what the bytewise walk mispredicts. A block that lies wholly inside a string starts a
    /// `memchr` search for the string's end (long strings are most of a request's bytes, and
    /// `memchr` passes them faster than blocks would).
    fn skip_nested_blocks(&mut self) -> Result<(), ScanError> {
        let b = self.b;
        let start = self.i;
        // Indexed by the depth's low byte, so that no index needs a bounds check (the depth is
        // checked against the limit at each bracket).
        let mut stack = [0u8; 256];
        let mut depth = 0usize;
        let mut at = self.i;
        // All ones while the block starts inside a string.
        let mut carry = 0u64;
        // Bit 0 set while the block's first byte follows an odd run of backslashes.
        let mut escape = u64::from(escaped(b, at));
        loop {
            let padded;
            let block: &[u8; BLOCK] = match b.get(at..at + BLOCK).and_then(|s| s.try_into().ok()) {
                Some(block) => block,
                None => {
                    let rest = b.get(at..).unwrap_or_default();
                    if rest.is_empty() {
                        // As the bytewise walk tells it: a string left open first.
                        let what = if carry != 0 {
                            "unterminated string"
                        } else {
                            "unclosed bracket"
                        };
                        return Err(self.error_at(what, b.len()));
                    }
                    // Spaces: nothing in them is a quote, backslash or bracket.
                    let mut tail = [b' '; BLOCK];
                    tail[..rest.len()].copy_from_slice(rest);
                    padded = tail;
                    &padded
                }
            };
            let m = Masks::of(block);
            let quotes = m.quotes & !escaped_bytes(m.backslashes, &mut escape);
            if carry != 0 && quotes == 0 {
                // The whole block is inside one string, a long one.
                let Some(quote) = closing_quote(b, at + BLOCK) else {
                    return Err(self.error_at("unterminated string", b.len()));
                };
                at = quote + 1;
                carry = 0;
                escape = 0;
                continue;
            }
            let inside = prefix_xor(quotes) ^ carry;
            if m.backslashes & !inside != 0 {
                // A backslash outside a string: not JSON. The bytewise walk, from the value's
                // start, refuses it (or an error before it) where and as it always does.
                self.i = start;
                return self.skip_nested_bytewise();
            }
            // A string opens at each quote inside: the few whose next byte could begin the mark
            // are looked at (one at the block's end, whatever follows it).
            let mut opening = quotes & inside & ((m.marks >> 1) | 1 << (BLOCK - 1));
            while opening != 0 {
                let bit = opening.trailing_zeros() as usize;
                self.marked |= may_begin_with_mark(b, at + bit + 1);
                opening &= opening - 1;
            }
            let mut brackets = m.brackets & !inside;
            while brackets != 0 {
                let bit = brackets.trailing_zeros() as usize;
                let c = block[bit];
                // `[` and `{` have bit 1 set, `]` and `}` clear, and each closer is its opener + 2.
                let open = usize::from((c >> 1) & 1);
                // No branch on the kind: an opener pushes its closer, a closer pops and must be
                // the one pushed (the slot above the top is written either way).
                stack[depth & 0xff] = c + 2;
                depth = (depth + 2 * open).wrapping_sub(1);
                if depth > MAX_DEPTH {
                    return Err(self.error_at("nested too deep", at + bit));
                }
                let expected = stack[depth & 0xff];
                if open == 0 && expected != c {
                    return Err(self.error_at("mismatched bracket", at + bit));
                }
                if depth == 0 {
                    self.i = at + bit + 1;
                    return Ok(());
                }
                brackets &= brackets - 1;
            }
            // All ones when the block ends inside a string.
            carry = ((inside as i64) >> 63) as u64;
            at += BLOCK;
        }
    }
}

/// The bytes of a block that follow an odd run of backslashes (escaped), given its backslashes
/// and `escape`, bit 0 set when its first byte is escaped from the block before; `escape` is set
/// for the next block. simdjson's way: a run's start is told odd or even by its bit's position,
/// and adding the starts to the runs carries each past its run's end.
#[inline(always)]
fn escaped_bytes(backslashes: u64, escape: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // Most blocks have no backslash: nothing in them is escaped.
    if backslashes | *escape == 0 {
        return 0;
    }
    // An escaped backslash starts nothing.
    let backslashes = backslashes & !*escape;
    let follows = (backslashes << 1) | *escape;
    let odd_starts = backslashes & !EVEN & !follows;
    let (sum, overflow) = odd_starts.overflowing_add(backslashes);
    *escape = u64::from(overflow);
    (EVEN ^ (sum << 1)) & follows
}

/// The bytes [`Scanner::skip_nested_blocks`] looks at together.
const BLOCK: usize = 64;

/// Whether a string whose text starts at `at` may begin with [`MARK`]: it does, or its bytes
/// match the mark up to a `\u` escape (`\u0073witchyard.`: only such an escape can spell a letter).
#[inline(always)]
fn may_begin_with_mark(b: &[u8], at: usize) -> bool {
    let rest = b.get(at..).unwrap_or_default();
    if !matches!(rest.first(), Some(b's' | b'\\')) {
        return false;
    }
    let same = rest
        .iter()
        .zip(MARK.as_bytes())
        .take_while(|(a, b)| a == b)
        .count();
    same == MARK.len() || rest.get(same..same + 2) == Some(&b"\\u"[..])
}

/// The quote that closes a long string, looked for from `from`, inside it. `memchr` passes the
/// stretches without quotes; after an escaped quote (they come in clusters, in code and quoted
/// text) the blocks that follow are looked at whole, their escaped quotes told by masks, until
/// one has no quote at all.
fn closing_quote(b: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let quote = from + memchr::memchr(b'"', b.get(from..)?)?;
        if !escaped(b, quote) {
            return Some(quote);
        }
        // The byte after a quote is not escaped.
        let mut escape = 0;
        from = quote + 1;
        while let Some(block) = b.get(from..from + BLOCK).and_then(|s| s.try_into().ok()) {
            let (quotes, backslashes) = Masks::quotes_of(block);
            if quotes == 0 {
                break;
            }
            let quotes = quotes & !escaped_bytes(backslashes, &mut escape);
            if quotes != 0 {
                return Some(from + quotes.trailing_zeros() as usize);
            }
            from += BLOCK;
        }
    }
}

/// Whether the quote at `at` is escaped: an odd run of backslashes comes right before it.
fn escaped(b: &[u8], at: usize) -> bool {
    b[..at].iter().rev().take_while(|c| **c == b'\\').count() % 2 == 1
}

/// Bit `i` of each mask is set when byte `i` of a block is a quote, a backslash, a bracket (any
/// of `{`, `[`, `}`, `]`: the walk tells them apart by the byte), an `s` or a backslash (what
/// can begin [`MARK`] in a string's text).
#[derive(Debug, Default, PartialEq, Eq)]
struct Masks {
    quotes: u64,
    backslashes: u64,
    brackets: u64,
    marks: u64,
}

impl Masks {
    /// Sixteen bytes per compare (SSE2 is part of every x86-64 processor).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn of(block: &[u8; BLOCK]) -> Masks {
        use safe_arch::{
            bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i,
            set_splat_i8_m128i,
        };
        let splat = |c: u8| set_splat_i8_m128i(c as i8);
        let (quote, backslash, open, close, bit5, s) = (
            splat(b'"'),
            splat(b'\\'),
            splat(b'{'),
            splat(b'}'),
            splat(0x20),
            splat(b's'),
        );
        let lanes: [m128i; 4] = std::array::from_fn(|k| {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&block[16 * k..16 * k + 16]);
            load_unaligned_m128i(&bytes)
        });
        let bits = |eq: [m128i; 4]| {
            eq.iter().enumerate().fold(0u64, |all, (k, eq)| {
                all | u64::from(move_mask_i8_m128i(*eq) as u16) << (16 * k)
            })
        };
        let backslashes = lanes.map(|v| cmp_eq_mask_i8_m128i(v, backslash));
        // Most blocks have no backslash: one movemask tells.
        let any = bitor_m128i(
            bitor_m128i(backslashes[0], backslashes[1]),
            bitor_m128i(backslashes[2], backslashes[3]),
        );
        let backslashes = if move_mask_i8_m128i(any) == 0 {
            0
        } else {
            bits(backslashes)
        };
        Masks {
            quotes: bits(lanes.map(|v| cmp_eq_mask_i8_m128i(v, quote))),
            backslashes,
            // `[` and `]` are `{` and `}` with bit 5 clear.
            brackets: bits(lanes.map(|v| {
                let folded = bitor_m128i(v, bit5);
                bitor_m128i(
                    cmp_eq_mask_i8_m128i(folded, open),
                    cmp_eq_mask_i8_m128i(folded, close),
                )
            })),
            marks: bits(lanes.map(|v| cmp_eq_mask_i8_m128i(v, s))) | backslashes,
        }
    }

    /// The quotes and backslashes of a block, as [`Masks::of`] finds them.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn quotes_of(block: &[u8; BLOCK]) -> (u64, u64) {
        use safe_arch::{
            cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        };
        let (quote, backslash) = (
            set_splat_i8_m128i(b'"' as i8),
            set_splat_i8_m128i(b'\\' as i8),
        );
        let (mut quotes, mut backslashes) = (0u64, 0u64);
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(lane);
            let v = load_unaligned_m128i(&bytes);
            quotes |=
                u64::from(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, quote)) as u16) << (16 * k);
            backslashes |= u64::from(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, backslash)) as u16)
                << (16 * k);
        }
        (quotes, backslashes)
    }

    /// The quotes and backslashes of a block, as [`Masks::of`] finds them.
    #[cfg(not(target_arch = "x86_64"))]
    fn quotes_of(block: &[u8; BLOCK]) -> (u64, u64) {
        let m = Masks::of_bytes(block);
        (m.quotes, m.backslashes)
    }

    /// Without SSE2 the blocks are not used (see [`top_level_members`]).
    #[cfg(not(target_arch = "x86_64"))]
    fn of(block: &[u8; BLOCK]) -> Masks {
        Masks::of_bytes(block)
    }

    /// A byte at a time: the reference the SSE2 masks are tested against.
    #[cfg(any(test, not(target_arch = "x86_64")))]
    fn of_bytes(block: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (i, &c) in block.iter().enumerate() {
            let bit = |yes: bool| u64::from(yes) << i;
            m.quotes |= bit(c == b'"');
            m.backslashes |= bit(c == b'\\');
            m.brackets |= bit(matches!(c, b'{' | b'[' | b'}' | b']'));
            m.marks |= bit(matches!(c, b's' | b'\\'));
        }
        m
    }
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `quotes`: set from an opening quote up to,
/// not including, its closing one.
fn prefix_xor(mut quotes: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        quotes ^= quotes << shift;
    }
    quotes
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
mod old;

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

    /// Both ways of skipping nested values: in blocks and a byte at a time.
    const WAYS: [bool; 2] = [true, false];

    /// Strings that cross 64-byte blocks, with runs of backslashes and escaped quotes and
    /// brackets in them.
    fn tricky_string() -> impl Strategy<Value = serde_json::Value> {
        "[\\\\\"{}\\[\\]a ]{0,150}".prop_map(serde_json::Value::from)
    }

    proptest! {
        /// On every JSON document the scanner agrees with serde_json, both ways: an object gives
        /// its members with values that parse to serde_json's own, anything else is refused.
        #[test]
        fn the_scanner_agrees_with_serde_json(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            // Compared with serde_json's reading of the same text (its float parsing is lossy).
            let reread: serde_json::Value = serde_json::from_slice(&text).unwrap();
            for blocks in WAYS {
                match (&reread, members(&text, blocks)) {
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
        }

        /// Long strings full of backslashes, quotes and brackets, nested at any offset from a
        /// block's start, are skipped to the same end as serde_json's.
        #[test]
        fn strings_across_blocks_are_skipped_exactly(
            strings in prop::collection::vec(tricky_string(), 1..6),
            pad in 0usize..64,
        ) {
            let value = serde_json::json!({"align": " ".repeat(pad), "model": "m", "messages": [{"content": strings}], "stream": true});
            let text = serde_json::to_vec(&value).unwrap();
            for blocks in WAYS {
                let members = members(&text, blocks).unwrap();
                prop_assert_eq!(members.len(), 4);
                let value_of = |key: &str| members.iter().find(|m| m.key == key).map(|m| &text[m.value.clone()]);
                let messages: serde_json::Value = serde_json::from_slice(value_of("messages").unwrap()).unwrap();
                prop_assert_eq!(&messages, &value["messages"]);
                prop_assert_eq!(value_of("stream"), Some(&b"true"[..]));
            }
        }

        /// A body cut anywhere is refused, both ways.
        #[test]
        fn a_cut_body_is_never_read_as_something_else(value in json_value(), cut in any::<prop::sample::Index>()) {
            let object = serde_json::json!({"model": "m", "x": value});
            let text = serde_json::to_vec(&object).unwrap();
            let at = cut.index(text.len());
            for blocks in WAYS {
                prop_assert!(members(&text[..at], blocks).is_err());
            }
        }

        /// A JSON object with bytes changed (quotes, backslashes, brackets, inside strings or
        /// out): when serde_json still reads an object, both ways read its members; when it does
        /// not, neither way panics.
        #[test]
        fn damaged_objects_are_read_as_serde_json_reads_them(
            value in json_value(),
            strings in prop::collection::vec(tricky_string(), 0..3),
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(&b"\"\\{}[]:, a"[..])), 1..4),
        ) {
            let object = serde_json::json!({"model": "m", "x": value, "s": strings});
            let mut text = serde_json::to_vec(&object).unwrap();
            for (at, byte) in edits {
                let at = at.index(text.len());
                text[at] = byte;
            }
            let read = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&text);
            for blocks in WAYS {
                let scanned = members(&text, blocks);
                if let Ok(map) = &read {
                    // An edit can name a key twice: serde_json keeps the last.
                    let mut last = serde_json::Map::new();
                    for m in scanned.unwrap() {
                        last.insert(m.key.into_owned(), serde_json::from_slice(&text[m.value]).unwrap());
                    }
                    prop_assert_eq!(&last, map);
                }
            }
        }

        /// Arbitrary bytes never panic, and whatever serde_json reads as an object the scanner reads too.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let is_object = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).is_ok();
            prop_assert_eq!(members(&bytes, true), members(&bytes, false));
            for blocks in WAYS {
                let scanned = members(&bytes, blocks);
                if is_object {
                    prop_assert!(scanned.is_ok());
                }
            }
        }

        /// The SSE2 masks are the byte-at-a-time ones.
        #[test]
        fn block_masks_agree_with_a_byte_at_a_time(bytes in prop::collection::vec(prop_oneof![prop::sample::select(&b"\"\\{}[]"[..]), any::<u8>()], 64)) {
            let block: [u8; BLOCK] = bytes.try_into().unwrap();
            prop_assert_eq!(Masks::of(&block), Masks::of_bytes(&block));
        }
    }

    /// JSON text of `value`, compact or pretty, with `deep` levels of arrays and objects around
    /// it (deep nesting crosses the limit).
    fn text_of(value: &serde_json::Value, pretty: bool, deep: usize) -> Vec<u8> {
        let inner = if pretty {
            serde_json::to_vec_pretty(value).unwrap()
        } else {
            serde_json::to_vec(value).unwrap()
        };
        let mut text = br#"{"model":"m","x":"#.to_vec();
        for level in 0..deep {
            text.extend_from_slice(if level % 2 == 0 { b"[" } else { br#"{"k":"# });
        }
        text.extend_from_slice(&inner);
        for level in (0..deep).rev() {
            text.push(if level % 2 == 0 { b']' } else { b'}' });
        }
        text.extend_from_slice(br#","stream":true}"#);
        text
    }

    /// Whether a backslash stands outside every string of `text`, strings told by their
    /// unescaped quotes, a byte at a time.
    fn has_stray_backslash(text: &[u8]) -> bool {
        let (mut in_string, mut escaped) = (false, false);
        for &c in text {
            match (in_string, c) {
                (true, _) if escaped => escaped = false,
                (true, b'\\') => escaped = true,
                (_, b'"') => in_string = !in_string,
                (false, b'\\') => return true,
                _ => {}
            }
        }
        false
    }

    /// Both ways give the same members or the same refusal (what and where), and that is the
    /// reference's bytewise answer where no backslash stands outside a string (the reference
    /// skipped such a backslash a byte at a time and let it escape a quote in blocks; both ways
    /// now refuse it). The reference's two ways also parted on a string left open at the end
    /// (blocks told an unclosed bracket) and on where nesting went too deep (a byte apart).
    fn same_as_the_reference(text: &[u8]) -> Result<(), TestCaseError> {
        let bytewise = members(text, false);
        prop_assert_eq!(&members(text, true), &bytewise);
        if !has_stray_backslash(text) {
            let reference = old::members(text, false).map_err(|e| match e.what {
                // The reference's bytewise walk named the byte after the bracket too deep.
                "nested too deep" => ScanError { at: e.at - 1, ..e },
                _ => e,
            });
            prop_assert_eq!(&bytewise, &reference);
        }
        Ok(())
    }

    proptest! {
        /// Random JSON, at any depth up to past the limit: the same member spans as the scanner
        /// this one replaced.
        #[test]
        fn member_spans_are_the_reference_scanners(
            value in json_value(),
            strings in prop::collection::vec(tricky_string(), 0..4),
            pretty in any::<bool>(),
            deep in prop_oneof![0usize..4, 120usize..130],
        ) {
            let value = serde_json::json!({"v": value, "s": strings});
            same_as_the_reference(&text_of(&value, pretty, deep))?;
        }

        /// Cut anywhere, with bytes changed to quotes, backslashes, brackets or anything at all:
        /// the same members or the same refusal (what and where) as the reference.
        #[test]
        fn damaged_text_is_read_or_refused_as_the_reference_does(
            value in json_value(),
            strings in prop::collection::vec(tricky_string(), 0..4),
            deep in prop_oneof![0usize..4, 124usize..130],
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![prop::sample::select(&b"\"\\{}[]:, a"[..]), any::<u8>()]), 0..5),
            cut in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let value = serde_json::json!({"v": value, "s": strings});
            let mut text = text_of(&value, false, deep);
            for (at, byte) in edits {
                let at = at.index(text.len());
                text[at] = byte;
            }
            if let Some(cut) = cut {
                text.truncate(cut.index(text.len() + 1));
            }
            same_as_the_reference(&text)?;
        }
    }

    /// Claude Code's kind of body, 128 KiB of it: the same members as the reference.
    #[test]
    fn a_large_request_is_read_as_the_reference_reads_it() {
        let text = "line with \"quotes\", {braces} and [brackets]\\n".repeat(40);
        let messages: Vec<serde_json::Value> = (0..200)
            .map(|n| serde_json::json!({"role": "user", "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}, {"type": "tool_result", "tool_use_id": format!("t{n}"), "content": [{"type": "text", "text": "ok"}]}]}))
            .collect();
        let body = serde_json::to_vec(
            &serde_json::json!({"model": "claude", "messages": messages, "stream": true}),
        )
        .unwrap();
        assert!(body.len() > 128 << 10);
        let found = members(&body, true).unwrap();
        assert_eq!(found.len(), 3);
        same_as_the_reference(&body).unwrap();
    }

    /// A backslash outside a string, nested at every offset across a block's edge and before
    /// or after a quote it could escape: refused both ways, at its own byte. Read as an escape,
    /// the first of these would end `a` early and give `model` as `x`.
    #[test]
    fn a_backslash_outside_a_string_is_refused_both_ways_where_it_is() {
        let tails: [&[u8]; 4] = [
            br#"\"],"model":"x","b":[""],"c":1}"#,
            br#"\1]}"#,
            br#"1,\]}"#,
            br#"{"k":\"v"}]}"#,
        ];
        for pad in 0..80 {
            for tail in tails {
                let mut text = format!(r#"{{"model":"m","a":["{}","#, " ".repeat(pad)).into_bytes();
                text.extend_from_slice(tail);
                let at = text.iter().rposition(|c| *c == b'\\').unwrap();
                assert!(has_stray_backslash(&text));
                assert!(serde_json::from_slice::<serde_json::Value>(&text).is_err());
                for blocks in WAYS {
                    let refused = members(&text, blocks).unwrap_err();
                    assert_eq!(
                        (refused.what, refused.at),
                        (STRAY_BACKSLASH, at),
                        "pad {pad}, blocks {blocks}: {}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }
    }

    /// The same backslashes inside strings are text, both ways.
    #[test]
    fn backslashes_inside_strings_are_read_as_text() {
        for pad in 0..80 {
            let text = format!(
                r#"{{"a":["{}","\\","\"","x\\\"]"],"model":"m"}}"#,
                " ".repeat(pad)
            );
            let reread: serde_json::Value = serde_json::from_str(&text).unwrap();
            for blocks in WAYS {
                let found = members(text.as_bytes(), blocks).unwrap();
                assert_eq!(found.len(), 2);
                let a: serde_json::Value =
                    serde_json::from_slice(&text.as_bytes()[found[0].value.clone()]).unwrap();
                assert_eq!(a, reread["a"]);
                assert_eq!(&text.as_bytes()[found[1].value.clone()], br#""m""#);
            }
        }
    }

    #[test]
    fn nesting_is_refused_past_the_limit_both_ways() {
        for blocks in WAYS {
            let nested = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
            assert!(members(nested(MAX_DEPTH).as_bytes(), blocks).is_ok());
            let error = members(nested(MAX_DEPTH + 1).as_bytes(), blocks).unwrap_err();
            assert_eq!(error.what, "nested too deep");
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
            for blocks in WAYS {
                assert!(members(body.as_bytes(), blocks).is_err(), "{body:?}");
            }
        }
    }

    /// Whether `text`, valid JSON, has a string whose bytes begin with [`MARK`] or match it up
    /// to a `\u` escape: a byte at a time, apart from the scanner.
    fn marked_by_bytes(text: &[u8]) -> bool {
        let mut inside = false;
        let mut i = 0;
        while i < text.len() {
            match (inside, text[i]) {
                (true, b'\\') => i += 1,
                (true, b'"') => inside = false,
                (false, b'"') => {
                    inside = true;
                    let rest = &text[i + 1..];
                    let same = rest
                        .iter()
                        .zip(MARK.as_bytes())
                        .take_while(|(a, b)| a == b)
                        .count();
                    if same == MARK.len() || rest[same..].starts_with(b"\\u") {
                        return true;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// Strings that begin with the mark, nearly do, or hold it further on.
    fn marked_string() -> impl Strategy<Value = serde_json::Value> {
        "(switchyard\\.gemini\\.v1:|switchyard\\.|switchyard|xswitchyard\\.|a switchyard\\.|\"switchyard\\.|s|\u{1}switchyard\\.)[a-z\"\\\\]{0,4}"
            .prop_map(serde_json::Value::from)
    }

    proptest! {
        /// Strings that begin with the mark, as keys or values at any depth and any offset from
        /// a block's start, are noted both ways, and no other string is.
        #[test]
        fn strings_that_begin_with_the_mark_are_noted_both_ways(
            value in json_value(),
            marked in prop::collection::vec(marked_string(), 0..4),
            key in marked_string(),
            pad in 0usize..64,
        ) {
            let key = key.as_str().unwrap().to_string();
            let object = serde_json::json!({"align": " ".repeat(pad), "messages": [{"content": marked, "x": value}], "n": {key: 1}});
            let text = serde_json::to_vec(&object).unwrap();
            let expected = marked_by_bytes(&text);
            for blocks in WAYS {
                prop_assert_eq!(scan(&text, blocks).unwrap().marked, expected);
            }
        }
    }

    #[test]
    fn the_mark_is_noted_where_a_string_begins_with_it_and_only_there() {
        let body = |string: &str, pad: usize| {
            let pad = " ".repeat(pad);
            format!(
                r#"{{"model":"m","messages":[{{"role":"assistant","content":[{{"type":"thinking","thinking":"{pad}","signature":{string}}}]}}]}}"#
            )
        };
        let marked = [
            r#""switchyard.gemini.v1:c2ln""#,
            r#""switchyard.anthropic.v1:e30=""#,
            r#""\u0073witchyard.gemini.v1:c2ln""#,
            r#""switch\u0079ard.""#,
        ];
        let unmarked = [
            r#""EqQBCkgIARABGAIiQHh""#,
            r#""xswitchyard.gemini.v1:c2ln""#,
            r#""switchyard""#,
            r#""a \"switchyard.gemini.v1: in text""#,
            r#""\\switchyard.""#,
            r#""\n""#,
        ];
        // Every offset of the string from a block's start: it crosses a block's edge at each
        // of its bytes, its opening quote last in a block among them.
        for pad in 0..80 {
            for (strings, expected) in [(&marked[..], true), (&unmarked[..], false)] {
                for string in strings {
                    let text = body(string, pad);
                    for blocks in WAYS {
                        let top = scan(text.as_bytes(), blocks).unwrap();
                        assert_eq!(top.marked, expected, "{text} (blocks: {blocks})");
                    }
                }
            }
        }
        for key in [
            r#"{"switchyard.k":1}"#,
            r#"{"model":"switchyard.m"}"#,
            r#"{"a":["switchyard."]}"#,
        ] {
            for blocks in WAYS {
                assert!(scan(key.as_bytes(), blocks).unwrap().marked, "{key}");
            }
        }
    }

    #[test]
    fn the_first_element_of_an_array_is_found_without_the_rest() {
        let array = r#" [ {"role":"user","parts":[{"text":"a]"}]} , {"role":"model"}, broken"#;
        let at = first_element(array.as_bytes()).expect("an element");
        assert_eq!(&array[at], r#"{"role":"user","parts":[{"text":"a]"}]}"#);
        assert_eq!(first_element(b"[\"x\"]").map(|r| r.len()), Some(3));
        for not_one in [
            &b"[]"[..],
            b"[ ]",
            b"{}",
            b"\"a\"",
            b"[{\"a\":1}",
            b"[1 2]",
            b"",
        ] {
            assert_eq!(first_element(not_one), None, "{not_one:?}");
        }
    }
}

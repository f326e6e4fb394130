//! The scanner as it was before its blocks had one mask for all four brackets:
//! the reference the property tests hold the current one to.

use super::{decode_key, Member, ScanError, MAX_DEPTH};

/// The top-level members, nested values skipped in blocks or a byte at a time.
pub(super) fn members(body: &[u8], blocks: bool) -> Result<Vec<Member<'_>>, ScanError> {
    let mut s = Scanner {
        b: body,
        i: 0,
        blocks,
    };
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
    /// Nested values are skipped in 64-byte blocks (where SSE2 makes them cheap).
    blocks: bool,
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

    /// Skips an object or array 64 bytes at a time: each block's quotes, backslashes and brackets
    /// become bit masks, the bits inside strings are cleared (a prefix XOR of the quotes), and
    /// only the brackets left are walked, against a stack of the closers expected. No branch
    /// depends on where a short string ends, which is what the bytewise walk mispredicts. A block
    /// that lies wholly inside a string starts a `memchr` search for the string's end (long
    /// strings are most of a request's bytes, and `memchr` passes them faster than blocks would).
    fn skip_nested_blocks(&mut self) -> Result<(), ScanError> {
        let b = self.b;
        let mut stack = [0u8; MAX_DEPTH + 2];
        let mut depth = 0usize;
        let mut at = self.i;
        // All ones while the block starts inside a string.
        let mut carry = 0u64;
        loop {
            let padded;
            let block: &[u8; BLOCK] = match b.get(at..at + BLOCK).and_then(|s| s.try_into().ok()) {
                Some(block) => block,
                None => {
                    let rest = b.get(at..).unwrap_or_default();
                    if rest.is_empty() {
                        return Err(self.error_at("unclosed bracket", b.len()));
                    }
                    // Spaces: nothing in them is a quote, backslash or bracket.
                    let mut tail = [b' '; BLOCK];
                    tail[..rest.len()].copy_from_slice(rest);
                    padded = tail;
                    &padded
                }
            };
            let m = Masks::of(block);
            let mut quotes = m.quotes;
            // A quote right after a backslash may be escaped: its run is counted (rare outside
            // file contents, and those are mostly in long strings).
            let after_backslash = (m.backslashes << 1) | u64::from(at > 0 && b[at - 1] == b'\\');
            let mut doubtful = quotes & after_backslash;
            while doubtful != 0 {
                let bit = doubtful.trailing_zeros() as usize;
                if escaped(b, at + bit) {
                    quotes &= !(1 << bit);
                }
                doubtful &= doubtful - 1;
            }
            if carry != 0 && quotes == 0 {
                // The whole block is inside one string, a long one: `memchr` finds its end.
                let mut from = at + BLOCK;
                at = loop {
                    let Some(quote) = find_quote(b, from) else {
                        return Err(self.error_at("unterminated string", b.len()));
                    };
                    if !escaped(b, quote) {
                        break quote + 1;
                    }
                    from = quote + 1;
                };
                carry = 0;
                continue;
            }
            let inside = prefix_xor(quotes) ^ carry;
            let mut brackets = (m.opens | m.closes) & !inside;
            while brackets != 0 {
                let bit = brackets.trailing_zeros() as usize;
                let c = block[bit];
                let open = ((m.opens >> bit) & 1) as usize;
                // No branch on the kind: an opener pushes its closer, a closer pops and must be
                // the one pushed (the slot above the top is written either way).
                stack[depth] = c + 2;
                depth = (depth + 2 * open).wrapping_sub(1);
                if depth > MAX_DEPTH {
                    return Err(self.error_at("nested too deep", at + bit));
                }
                if open == 0 && stack[depth] != c {
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

/// The bytes [`Scanner::skip_nested_blocks`] looks at together.
const BLOCK: usize = 64;

/// Whether the quote at `at` is escaped: an odd run of backslashes comes right before it.
fn escaped(b: &[u8], at: usize) -> bool {
    b[..at].iter().rev().take_while(|c| **c == b'\\').count() % 2 == 1
}

/// Bit `i` of each mask is set when byte `i` of a block is a quote, a backslash, `{` or `[`,
/// `}` or `]`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Masks {
    quotes: u64,
    backslashes: u64,
    opens: u64,
    closes: u64,
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
        let (quote, backslash, open, close, bit5) = (
            splat(b'"'),
            splat(b'\\'),
            splat(b'{'),
            splat(b'}'),
            splat(0x20),
        );
        let mut m = Masks::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(lane);
            let v = load_unaligned_m128i(&bytes);
            // `[` and `]` are `{` and `}` with bit 5 clear.
            let folded = bitor_m128i(v, bit5);
            let bits = |eq: m128i| u64::from(move_mask_i8_m128i(eq) as u16) << (16 * k);
            m.quotes |= bits(cmp_eq_mask_i8_m128i(v, quote));
            m.backslashes |= bits(cmp_eq_mask_i8_m128i(v, backslash));
            m.opens |= bits(cmp_eq_mask_i8_m128i(folded, open));
            m.closes |= bits(cmp_eq_mask_i8_m128i(folded, close));
        }
        m
    }

    /// Without SSE2 the blocks are not used (see [`top_level_members`]).
    #[cfg(not(target_arch = "x86_64"))]
    fn of(block: &[u8; BLOCK]) -> Masks {
        let mut m = Masks::default();
        for (i, &c) in block.iter().enumerate() {
            let bit = |yes: bool| u64::from(yes) << i;
            m.quotes |= bit(c == b'"');
            m.backslashes |= bit(c == b'\\');
            m.opens |= bit(matches!(c, b'{' | b'['));
            m.closes |= bit(matches!(c, b'}' | b']'));
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

//! One pass over a usage object of the usual shape: keys without escapes, each named once, whose
//! values are counts, `null`, strings without escapes or (for the fields that hold counts) such
//! objects one level down. The usage meter reads an answer's usage with it where the follower
//! finds the value, instead of walking the value twice; any other shape is left to the full
//! reading ([`super::UsageFields::read`]), so a flat reading is always the one that would give.

use super::find::quote_or_backslash;
use super::{Count, MAX_TOKENS};

/// A cursor in a usage object's bytes.
pub(super) struct Flat<'a> {
    b: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Flat<'a> {
    /// A cursor at the start of `b`, which should start with the object's `{`.
    pub(super) fn new(b: &'a [u8]) -> Self {
        Flat { b, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Reads an object from `{` to `}`, handing each key to `member`, which reads its value (and
    /// leaves a key that is none of its names to [`other`](Self::other)).
    #[inline(always)]
    pub(super) fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &[u8]) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.space();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            self.eat(b'"')?;
            let end = quote_or_backslash(self.b, self.i)?;
            let b = self.b;
            // An escaped key is the full reading's to decode.
            if b[end] != b'"' {
                return None;
            }
            let key = &b[self.i..end];
            self.i = end + 1;
            self.space();
            self.eat(b':')?;
            self.space();
            member(self, key)?;
            self.space();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.space();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A count (a whole number in range, written as one) or `null`; `None` for anything else.
    #[inline(always)]
    pub(super) fn count(&mut self) -> Option<Count> {
        let start = self.i;
        let mut n = 0u64;
        while let Some(digit) = self
            .peek()
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|d| *d <= 9)
        {
            // Thirteen digits at most: no sum can overflow before the limit is checked.
            if self.i - start == 13 {
                return None;
            }
            n = n * 10 + u64::from(digit);
            self.i += 1;
        }
        if self.i == start {
            self.skip_token();
            return (&self.b[start..self.i] == b"null").then_some(Count::Absent);
        }
        // A token that goes on past its digits (`1.5`, `1e3`) is the full reading's to reject.
        if self.peek().is_some_and(is_token) {
            return None;
        }
        (n <= MAX_TOKENS).then_some(Count::Given(n))
    }

    /// Passes the value of a key that is none of the reader's: a number, literal or string
    /// without escapes. A key that might not be UTF-8 is the full reading's to judge.
    pub(super) fn other(&mut self, key: &[u8]) -> Option<()> {
        if !key.is_ascii() {
            return None;
        }
        self.scalar()
    }

    /// Passes a number, literal or string without escapes.
    pub(super) fn scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                let end = quote_or_backslash(self.b, self.i + 1)?;
                self.i = end + 1;
                (self.b[end] == b'"').then_some(())
            }
            _ => {
                self.i = super::object::token_end(self.b, self.i)?;
                Some(())
            }
        }
    }

    /// The counts `names` give in the object here (each named at most once; other keys hold
    /// scalars); a value that is not an object gives none.
    pub(super) fn nested<const N: usize>(&mut self, names: [&[u8]; N]) -> Option<[Count; N]> {
        let mut counts = [Count::Absent; N];
        if self.peek()? != b'{' {
            self.scalar()?;
            return Some(counts);
        }
        let mut named = 0u32;
        self.object(|flat, key| {
            match names.iter().position(|name| *name == key) {
                Some(k) => {
                    if named & 1 << k != 0 {
                        return None;
                    }
                    named |= 1 << k;
                    counts[k] = flat.count()?;
                }
                None => flat.other(key)?,
            }
            Some(())
        })?;
        Some(counts)
    }

    /// Moves past the letters, digits, `+`, `-` and `.` of a number or literal.
    fn skip_token(&mut self) {
        while self.peek().is_some_and(is_token) {
            self.i += 1;
        }
    }
}

/// A byte of a number or literal: a letter, digit, `+`, `-` or `.`.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')
}

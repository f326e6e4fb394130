//! Byte searches the usage readers share: the next byte of a small class, sixteen bytes looked at
//! together. Keys and counts are short, so one look at a block finds most ends where a call to
//! `memchr` would cost more in set-up than the search itself.

/// The bytes looked at together.
const BLOCK: usize = 16;

/// The index of the first `"` or `\` at or after `from`: where the text of a string stops.
#[inline]
pub(crate) fn quote_or_backslash(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    for _ in 0..SHORT_BLOCKS {
        let mask = block_mask(b, at, Class::String);
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        at = at.checked_add(BLOCK)?;
        if at >= b.len() {
            return None;
        }
    }
    // A long string (a model's text): `memchr` passes it faster than blocks would.
    let rest = b.get(at..)?;
    memchr::memchr2(b'"', b'\\', rest).map(|k| at + k)
}

/// Blocks looked at before a string is searched with `memchr`: keys, ids and model names end
/// within them.
const SHORT_BLOCKS: usize = 4;

/// `a == b` for two slices of one length (two keys), eight bytes at a time: a call to `memcmp`
/// costs more than such a compare.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the words before when `n` is not a multiple of eight.
    word(a, n - 8) == word(b, n - 8)
}

/// The index of the first `"`, `{`, `[`, `}` or `]` at or after `from`: what changes how deep a
/// nested value is, or starts a string.
#[inline]
pub(crate) fn quote_or_bracket(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < b.len() {
        let mask = block_mask(b, at, Class::Structure);
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        at += BLOCK;
    }
    None
}

/// Where the quotes, backslashes and brackets of sixteen bytes are: bit `k` of each mask stands
/// for byte `at + k` (none past the slice's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Block {
    pub quotes: u32,
    pub backslashes: u32,
    /// `{` and `[`.
    pub opens: u32,
    /// `}` and `]`.
    pub closes: u32,
}

/// The bytes [`Block::at`] looks at.
pub(crate) const BLOCK_LEN: usize = BLOCK;

impl Block {
    /// The masks of the sixteen bytes of `b` from `at`.
    #[inline(always)]
    pub(crate) fn at(b: &[u8], at: usize) -> Block {
        match b
            .get(at..at + BLOCK)
            .and_then(|s| <&[u8; BLOCK]>::try_from(s).ok())
        {
            Some(whole) => Block::of(whole),
            None => Block::of(&last_block(b, at)),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn of(block: &[u8; BLOCK]) -> Block {
        use safe_arch::{
            bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i,
            set_splat_i8_m128i,
        };
        let v = load_unaligned_m128i(block);
        let splat = |c: u8| set_splat_i8_m128i(c as i8);
        let folded = bitor_m128i(v, splat(0x20));
        let bits = |eq: m128i| move_mask_i8_m128i(eq) as u32 & 0xffff;
        Block {
            quotes: bits(cmp_eq_mask_i8_m128i(v, splat(b'"'))),
            backslashes: bits(cmp_eq_mask_i8_m128i(v, splat(b'\\'))),
            opens: bits(cmp_eq_mask_i8_m128i(folded, splat(b'{'))),
            closes: bits(cmp_eq_mask_i8_m128i(folded, splat(b'}'))),
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn of(block: &[u8; BLOCK]) -> Block {
        Block::of_bytes(block)
    }

    /// A byte at a time: the reference the SSE2 masks are tested against.
    #[cfg(any(test, not(target_arch = "x86_64")))]
    fn of_bytes(block: &[u8; BLOCK]) -> Block {
        let mut m = Block::default();
        for (k, &c) in block.iter().enumerate() {
            let bit = |yes: bool| u32::from(yes) << k;
            m.quotes |= bit(c == b'"');
            m.backslashes |= bit(c == b'\\');
            m.opens |= bit(matches!(c, b'{' | b'['));
            m.closes |= bit(matches!(c, b'}' | b']'));
        }
        m
    }

    /// The bytes inside strings opened in this block, given none is open at its start: set from
    /// an opening quote up to, not including, its closing one (the block holds no backslash).
    #[inline(always)]
    pub(crate) fn in_strings(&self) -> u32 {
        let mut x = self.quotes;
        for shift in [1, 2, 4, 8] {
            x ^= x << shift;
        }
        x
    }
}

/// The bytes a search stops at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `"` and `\`.
    String,
    /// `"`, `{`, `[`, `}` and `]`.
    Structure,
}

/// Bit `k` is set when byte `at + k` of `b` is of `class` (none past `b`'s end).
#[inline(always)]
fn block_mask(b: &[u8], at: usize, class: Class) -> u32 {
    match b
        .get(at..at + BLOCK)
        .and_then(|s| <&[u8; BLOCK]>::try_from(s).ok())
    {
        Some(whole) => mask_of(whole, class),
        None => mask_of(&last_block(b, at), class),
    }
}

/// The bytes of `b` from `at` to its end, then zeros (a byte of no class).
#[cold]
#[inline(never)]
fn last_block(b: &[u8], at: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let rest = b.get(at..).unwrap_or_default();
    block[..rest.len()].copy_from_slice(rest);
    block
}

/// Sixteen bytes in two or three compares (SSE2 is part of every x86-64 processor).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask_of(block: &[u8; BLOCK], class: Class) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let v = load_unaligned_m128i(block);
    let splat = |c: u8| set_splat_i8_m128i(c as i8);
    let quote = cmp_eq_mask_i8_m128i(v, splat(b'"'));
    let found = match class {
        Class::String => bitor_m128i(quote, cmp_eq_mask_i8_m128i(v, splat(b'\\'))),
        Class::Structure => {
            // `[` and `]` are `{` and `}` with bit 5 clear, and no other byte is.
            let folded = bitor_m128i(v, splat(0x20));
            let open = cmp_eq_mask_i8_m128i(folded, splat(b'{'));
            let close = cmp_eq_mask_i8_m128i(folded, splat(b'}'));
            bitor_m128i(quote, bitor_m128i(open, close))
        }
    };
    move_mask_i8_m128i(found) as u32 & 0xffff
}

/// Without SSE2, a byte at a time.
#[cfg(not(target_arch = "x86_64"))]
fn mask_of(block: &[u8; BLOCK], class: Class) -> u32 {
    mask_of_bytes(block, class)
}

/// A byte at a time: the reference the SSE2 masks are tested against.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn mask_of_bytes(block: &[u8; BLOCK], class: Class) -> u32 {
    block.iter().enumerate().fold(0, |mask, (k, &c)| {
        let hit = match class {
            Class::String => matches!(c, b'"' | b'\\'),
            Class::Structure => matches!(c, b'"' | b'{' | b'[' | b'}' | b']'),
        };
        mask | (u32::from(hit) << k)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(&b"\"\\{}[]a;{\x02\x5b\x7b\x5d\x7d\xa2\xdc"[..]),
                any::<u8>()
            ],
            0..160,
        )
    }

    proptest! {
        /// The block masks are the byte-at-a-time ones.
        #[test]
        fn block_masks_agree_with_a_byte_at_a_time(block in prop::collection::vec(any::<u8>(), BLOCK)) {
            let block: [u8; BLOCK] = block.try_into().unwrap();
            for class in [Class::String, Class::Structure] {
                prop_assert_eq!(mask_of(&block, class), mask_of_bytes(&block, class));
            }
        }

        /// The SSE2 block masks are the byte-at-a-time ones.
        #[test]
        fn structure_blocks_agree_with_a_byte_at_a_time(block in prop::collection::vec(prop_oneof![prop::sample::select(&b"\"\\{}[]\x5b\x7b"[..]), any::<u8>()], BLOCK)) {
            let block: [u8; BLOCK] = block.try_into().unwrap();
            prop_assert_eq!(Block::of(&block), Block::of_bytes(&block));
        }

        /// Both searches find what a plain search finds, from anywhere (past the end too).
        #[test]
        fn searches_agree_with_a_plain_search(b in bytes(), from in 0usize..170) {
            let plain = |class: &[u8]| b.iter().enumerate().skip(from).find(|(_, c)| class.contains(c)).map(|(i, _)| i);
            prop_assert_eq!(quote_or_backslash(&b, from), plain(b"\"\\"));
            prop_assert_eq!(quote_or_bracket(&b, from), plain(b"\"{}[]"));
        }

        /// Two slices are the same bytes exactly when `==` says so.
        #[test]
        fn same_bytes_is_equality(a in prop::collection::vec(0u8..3, 0..40), b in prop::collection::vec(0u8..3, 0..40)) {
            prop_assert_eq!(same_bytes(&a, &b), a == b);
            prop_assert!(same_bytes(&a, &a.clone()));
        }
    }
}

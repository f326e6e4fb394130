//! Some relays echo the key they rejected (`invalid x-api-key sk-…`). An upstream's error answer
//! passes through a [`Redactor`] that replaces each occurrence of that endpoint's key with
//! `[redacted]`, also when the key is split across two chunks.

use bytes::Bytes;

/// What replaces the key.
pub const REDACTED: &[u8] = b"[redacted]";

/// Keys shorter than this are not searched for: they are no secret, and replacing every
/// occurrence of a two-letter string would mangle the answer.
pub const MIN_KEY_LEN: usize = 8;

/// Replaces a key in a byte stream fed in chunks. Holds back at most `key.len() - 1` bytes, the
/// start of a key that the next chunk may complete.
#[derive(Debug)]
pub struct Redactor {
    needle: Vec<u8>,
    carry: Vec<u8>,
}

impl Redactor {
    /// A redactor for `key`, or `None` when the key is too short to be searched for.
    pub fn for_key(key: &str) -> Option<Redactor> {
        (key.len() >= MIN_KEY_LEN).then(|| Redactor {
            needle: key.as_bytes().to_vec(),
            carry: Vec::new(),
        })
    }

    /// The bytes that can be let through after `chunk`.
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        let n = self.needle.len();
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        while i + n <= buf.len() {
            if buf[i] == self.needle[0] && buf[i..i + n] == self.needle[..] {
                out.extend_from_slice(REDACTED);
                i += n;
            } else {
                out.push(buf[i]);
                i += 1;
            }
        }
        self.carry = buf[i..].to_vec();
        Bytes::from(out)
    }

    /// What is still held back, at the end of the stream.
    pub fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.carry))
    }

    /// A whole body, redacted.
    pub fn redact_all(key: &str, body: &[u8]) -> Bytes {
        match Redactor::for_key(key) {
            Some(mut r) => {
                let mut out = r.feed(body).to_vec();
                out.extend_from_slice(&r.finish());
                Bytes::from(out)
            }
            None => Bytes::copy_from_slice(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "sk-ant-secret-0123";

    fn naive(body: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(body)
            .replace(KEY, "[redacted]")
            .into_bytes()
    }

    #[test]
    fn an_echoed_key_is_replaced_everywhere() {
        let body = format!(r#"{{"error":"invalid x-api-key {KEY}; key {KEY} rejected"}}"#);
        let out = Redactor::redact_all(KEY, body.as_bytes());
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains(KEY));
        assert_eq!(text.matches("[redacted]").count(), 2);
    }

    #[test]
    fn short_keys_are_left_alone() {
        assert!(Redactor::for_key("k").is_none());
        assert_eq!(&Redactor::redact_all("k", b"kkk")[..], b"kkk");
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_answer_as_the_whole(
            parts in proptest::collection::vec(
                prop_oneof![Just(KEY.to_string()), "[a-z0-9 -]{0,12}", Just("sk-ant".to_string())],
                0..12,
            ),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let body: Vec<u8> = parts.concat().into_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort();
            let mut r = Redactor::for_key(KEY).unwrap();
            let mut out = Vec::new();
            let mut last = 0;
            for c in cuts {
                out.extend_from_slice(&r.feed(&body[last..c]));
                last = c;
            }
            out.extend_from_slice(&r.feed(&body[last..]));
            out.extend_from_slice(&r.finish());
            prop_assert_eq!(out, naive(&body));
        }
    }
}

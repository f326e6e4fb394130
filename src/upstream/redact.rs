//! Some relays echo the key they were sent (`invalid x-api-key sk-…`), in an error answer or in an
//! error event inside a 200 stream. Every upstream answer passes through a [`Redactor`] that
//! replaces each occurrence of that endpoint's key with `[redacted]`, also when the key is split
//! across chunks.

use crate::config::KeyFinder;
use bytes::Bytes;

/// What replaces the key.
pub const REDACTED: &[u8] = b"[redacted]";

/// Keys shorter than this are not searched for: they are no secret, and replacing every
/// occurrence of a two-letter string would mangle the answer.
pub const MIN_KEY_LEN: usize = crate::config::MIN_SEARCHED_KEY;

/// Replaces a key in a byte stream fed in chunks. Holds back only a chunk's last bytes that could
/// be the start of a key the next chunk completes (so an SSE event, which ends in a blank line,
/// is never held), and passes a chunk without the key on without copying it.
#[derive(Debug)]
pub struct Redactor {
    finder: KeyFinder,
    carry: Vec<u8>,
}

impl Redactor {
    /// A redactor for `key`, or `None` when the key is too short to be searched for.
    pub fn for_key(key: &str) -> Option<Redactor> {
        KeyFinder::new(key).map(Redactor::with)
    }

    /// A redactor searching with an endpoint's ready-made finder (no allocation).
    pub fn with(finder: KeyFinder) -> Redactor {
        Redactor {
            finder,
            carry: Vec::new(),
        }
    }

    /// The bytes that can be let through after `chunk`.
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        if self.carry.is_empty() && self.finder.finder().find(&chunk).is_none() {
            let hold = self.partial_key_at_end(&chunk);
            if hold == 0 {
                return chunk;
            }
            self.carry = chunk[chunk.len() - hold..].to_vec();
            return chunk.slice(..chunk.len() - hold);
        }
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(&chunk);
        let mut out = Vec::with_capacity(buf.len());
        let mut start = 0;
        for at in self.finder.finder().find_iter(&buf) {
            out.extend_from_slice(&buf[start..at]);
            out.extend_from_slice(REDACTED);
            start = at + self.finder.finder().needle().len();
        }
        let rest = &buf[start..];
        let hold = self.partial_key_at_end(rest);
        out.extend_from_slice(&rest[..rest.len() - hold]);
        self.carry = rest[rest.len() - hold..].to_vec();
        Bytes::from(out)
    }

    /// How many of `bytes`' last bytes are a proper start of the key (the longest such run).
    fn partial_key_at_end(&self, bytes: &[u8]) -> usize {
        let needle = self.finder.finder().needle();
        let window = (needle.len() - 1).min(bytes.len());
        let tail = &bytes[bytes.len() - window..];
        // The earliest place the key's first byte starts a run that matches to the end is the
        // longest partial key.
        memchr::memchr_iter(needle[0], tail)
            .find(|&at| needle.starts_with(&tail[at..]))
            .map_or(0, |at| window - at)
    }

    /// `text` with every occurrence of the key replaced (for a line bound for the log).
    pub fn redact_text(&self, text: String) -> String {
        if self.finder.finder().find(text.as_bytes()).is_none() {
            return text;
        }
        let key = String::from_utf8_lossy(self.finder.finder().needle());
        text.replace(&*key, "[redacted]")
    }

    /// What is still held back, at the end of the stream.
    pub fn finish(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.carry))
    }

    /// `body`, a whole answer, redacted (uncopied when the key is not in it).
    pub fn whole(mut self, body: Bytes) -> Bytes {
        let head = self.feed(body);
        let tail = self.finish();
        if tail.is_empty() {
            return head;
        }
        let mut out = Vec::with_capacity(head.len() + tail.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(&tail);
        Bytes::from(out)
    }

    /// `body`, a whole answer, redacted with an endpoint's ready-made `finder` (none: a key too
    /// short to search for). Uncopied when the key is not in it.
    pub fn whole_with(finder: Option<&KeyFinder>, body: Bytes) -> Bytes {
        match finder {
            Some(finder) if finder.finder().find(&body).is_some() => {
                Redactor::with(finder.clone()).whole(body)
            }
            _ => body,
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
    fn a_whole_answer_is_redacted_with_the_endpoints_finder_and_passed_uncopied_without_the_key() {
        let finder = KeyFinder::new(KEY);
        let echoed = Bytes::from(format!("invalid key {KEY}"));
        let out = Redactor::whole_with(finder.as_ref(), echoed);
        assert_eq!(out, "invalid key [redacted]");
        let clean = Bytes::from_static(b"{\"ok\":true}");
        let out = Redactor::whole_with(finder.as_ref(), clean.clone());
        assert_eq!(out.as_ptr(), clean.as_ptr());
    }

    #[test]
    fn an_echoed_key_is_replaced_everywhere() {
        let body = format!(r#"{{"error":"invalid x-api-key {KEY}; key {KEY} rejected"}}"#);
        let out = Redactor::for_key(KEY).unwrap().whole(Bytes::from(body));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains(KEY));
        assert_eq!(text.matches("[redacted]").count(), 2);
    }

    #[test]
    fn a_chunk_without_the_key_passes_uncopied_and_an_event_is_never_held() {
        let mut r = Redactor::for_key(KEY).unwrap();
        let chunk = Bytes::from_static(b"data: {\"type\":\"ping\"}\n\n");
        let out = r.feed(chunk.clone());
        assert_eq!(out.as_ptr(), chunk.as_ptr(), "copied");
        assert_eq!(out, chunk);
        // Only a possible start of the key is held, and only until the next chunk decides it.
        assert_eq!(r.feed(Bytes::from_static(b"x sk-an")), "x ");
        assert_eq!(r.feed(Bytes::from_static(b"d more")), "sk-and more");
        assert!(r.finish().is_empty());
    }

    #[test]
    fn short_keys_are_left_alone() {
        assert!(Redactor::for_key("k").is_none());
        assert!(KeyFinder::new("k").is_none());
        let kept = Bytes::from_static(b"kkk");
        assert_eq!(Redactor::whole_with(None, kept.clone()), kept);
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
                out.extend_from_slice(&r.feed(Bytes::copy_from_slice(&body[last..c])));
                last = c;
            }
            out.extend_from_slice(&r.feed(Bytes::copy_from_slice(&body[last..])));
            out.extend_from_slice(&r.finish());
            prop_assert_eq!(out, naive(&body));
        }
    }
}

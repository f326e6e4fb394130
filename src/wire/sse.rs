//! Server-sent events, both ways: a parser that takes bytes in pieces of any size and yields whole
//! events, and the two writers for the shapes the APIs use.

/// One dispatched SSE event: its `event:` name (empty when absent) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub name: String,
    pub data: String,
}

/// The most bytes the parser holds for one event (its unfinished line, `event:` name and `data:`
/// lines together). Translators parse each event whole, so an upstream must not make the gateway
/// hold more, nor wait on a line that never ends.
pub const MAX_EVENT: usize = 16 << 20;

/// An event grew past the parser's limit: the stream is not followed any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the upstream sent an SSE event larger than {}, the most the gateway translates", crate::text::size_words(*limit))]
pub struct EventTooLarge {
    pub limit: usize,
}

/// Splits a byte stream into SSE events. Lines may end in LF, CR or CRLF, and a chunk may end
/// anywhere, even between the CR and LF of one line ending; comments (`:`) and unknown fields are
/// skipped, and several `data:` lines of one event are joined with `\n`, as the SSE spec says.
/// An event larger than the limit ends the parse: [`SseParser::too_large`] says so, and every
/// byte after it is dropped unread.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last chunk ended right after a CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    name: String,
    data: String,
    has_data: bool,
    limit: usize,
    too_large: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::with_limit(MAX_EVENT)
    }
}

impl SseParser {
    /// A parser at the start of a stream, holding at most [`MAX_EVENT`] bytes of one event.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser holding at most `limit` bytes of one event.
    pub fn with_limit(limit: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            name: String::new(),
            data: String::new(),
            has_data: false,
            limit,
            too_large: false,
        }
    }

    /// The events completed by these bytes (those before an event that is too large).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        self.feed_each(bytes, |name, data| {
            events.push(SseEvent {
                name: name.to_string(),
                data: data.to_string(),
            })
        });
        events
    }

    /// [`feed`](Self::feed), each event handed to `each` (its name and data) as it completes,
    /// from the parser's own buffers: no event is copied, and the buffers keep their memory.
    pub fn feed_each(&mut self, bytes: &[u8], mut each: impl FnMut(&str, &str)) {
        if self.too_large {
            return;
        }
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', rest) {
            let part = &rest[..pos];
            let ended_by_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if ended_by_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if !self.fits(part.len()) {
                self.give_up();
                return;
            }
            // A line that lies wholly in this chunk is read where it is, without a copy.
            let ends_event = if self.line.is_empty() {
                self.take_line(part)
            } else {
                self.line.extend_from_slice(part);
                let mut line = std::mem::take(&mut self.line);
                let ends_event = self.take_line(&line);
                line.clear();
                self.line = line;
                ends_event
            };
            if ends_event {
                self.dispatch_to(&mut each);
            }
        }
        if !self.fits(rest.len()) {
            self.give_up();
            return;
        }
        self.line.extend_from_slice(rest);
    }

    /// The event left pending when the stream ends without its closing blank line (lenient: the
    /// SSE spec drops it, but upstreams that forget the last newline still meant it).
    pub fn finish(&mut self) -> Option<SseEvent> {
        if self.too_large {
            return None;
        }
        let line = std::mem::take(&mut self.line);
        // A line without its end cannot end an event (only an empty line does), so the event
        // pending is the one to hand over.
        if !line.is_empty() {
            self.take_line(&line);
        }
        let mut last = None;
        self.dispatch_to(|name, data| {
            last = Some(SseEvent {
                name: name.to_string(),
                data: data.to_string(),
            })
        });
        last
    }

    /// Set once an event outgrew the limit; nothing after it is parsed.
    pub fn too_large(&self) -> Option<EventTooLarge> {
        self.too_large
            .then_some(EventTooLarge { limit: self.limit })
    }

    /// Bytes the parser holds for the event in progress.
    pub fn held(&self) -> usize {
        self.line.len() + self.name.len() + self.data.len()
    }

    /// Whether `more` bytes of the current line keep the event within the limit.
    fn fits(&self, more: usize) -> bool {
        self.held().saturating_add(more) <= self.limit
    }

    fn give_up(&mut self) {
        self.too_large = true;
        self.line = Vec::new();
        self.name = String::new();
        self.data = String::new();
        self.has_data = false;
    }

    /// Reads one line into the event in progress; true when the line (an empty one) ends it.
    fn take_line(&mut self, line: &[u8]) -> bool {
        if line.is_empty() {
            return true;
        }
        if line[0] == b':' {
            return false;
        }
        // The field is told by its bytes (the colon cannot be part of a character), and only the
        // value is read as text: checked, then made lossy only when it is not UTF-8.
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => text(value).as_ref().clone_into(&mut self.name),
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&text(value));
                self.has_data = true;
            }
            _ => {}
        }
        false
    }

    /// Ends the event in progress: hands it to `each` when it has data, then starts the next
    /// in the same buffers.
    fn dispatch_to(&mut self, mut each: impl FnMut(&str, &str)) {
        if self.has_data {
            each(&self.name, &self.data);
        }
        self.name.clear();
        self.data.clear();
        self.has_data = false;
    }
}

/// A field's value as text: borrowed when it is UTF-8 (checked at once), else made lossy.
fn text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    }
}

/// An Anthropic event: `event: <type>` and one `data:` line.
pub fn named_event(name: &str, data: &serde_json::Value) -> Vec<u8> {
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

/// An OpenAI event: one `data:` line.
pub fn data_event(data: &serde_json::Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(parts: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for part in parts {
            out.extend(p.feed(part));
        }
        out.extend(p.finish());
        out
    }

    fn ev(name: &str, data: &str) -> SseEvent {
        SseEvent {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters_and_name_no_field() {
        // A value's bad bytes are replaced; a field name with bad bytes is no field at all;
        // the colon and the space after it are found whatever surrounds them.
        let text = b"event: na\xffme\nda\xfeta: lost\ndata:\xe2\x82 x\ndata:  two: spaces\n\n";
        for split in 0..=text.len() {
            assert_eq!(
                all(&[&text[..split], &text[split..]]),
                vec![ev("na\u{fffd}me", "\u{fffd} x\n two: spaces")],
                "split at byte {split}"
            );
        }
    }

    #[test]
    fn events_are_the_same_whatever_the_line_endings_and_split_points() {
        let lf = b"event: a\ndata: 1\n\n: keep-alive\n\ndata: x\ndata: y\n\n";
        let want = vec![ev("a", "1"), ev("", "x\ny")];
        for text in [
            lf.to_vec(),
            String::from_utf8_lossy(lf)
                .replace('\n', "\r\n")
                .into_bytes(),
            String::from_utf8_lossy(lf).replace('\n', "\r").into_bytes(),
        ] {
            assert_eq!(all(&[&text]), want);
            for i in 0..=text.len() {
                assert_eq!(all(&[&text[..i], &text[i..]]), want, "split at {i}");
            }
            let bytes: Vec<&[u8]> = text.chunks(1).collect();
            assert_eq!(all(&bytes), want);
        }
    }

    #[test]
    fn a_field_without_a_space_and_unknown_fields_are_read_as_the_spec_says() {
        assert_eq!(
            all(&[b"id: 7\nretry: 10\ndata:{\"a\":1}\nevent:x\n\n"]),
            vec![ev("x", "{\"a\":1}")]
        );
    }

    /// Events and whether the parse gave up, for `text` fed in the given pieces.
    fn limited(limit: usize, parts: &[&[u8]]) -> (Vec<SseEvent>, bool) {
        let mut p = SseParser::with_limit(limit);
        let mut out = Vec::new();
        for part in parts {
            out.extend(p.feed(part));
            assert!(p.held() <= limit, "held {} of {limit}", p.held());
        }
        out.extend(p.finish());
        (out, p.too_large().is_some())
    }

    #[test]
    fn an_event_over_the_limit_ends_the_parse_at_every_split_point() {
        let limit = 64;
        let long_line = format!("data: a\n\ndata: {}\n\ndata: b\n\n", "x".repeat(2 * limit));
        let many_lines = format!("data: a\n\n{}\ndata: b\n\n", "data: xxxxxxxxxx\n".repeat(8));
        let unended = format!("data: a\n\n: {}", "y".repeat(limit + 1));
        for text in [long_line, many_lines, unended] {
            let text = text.as_bytes();
            let want = (vec![ev("", "a")], true);
            assert_eq!(limited(limit, &[text]), want);
            for i in 0..=text.len() {
                assert_eq!(
                    limited(limit, &[&text[..i], &text[i..]]),
                    want,
                    "split at {i}"
                );
            }
            let bytes: Vec<&[u8]> = text.chunks(1).collect();
            assert_eq!(limited(limit, &bytes), want);
        }
    }

    #[test]
    fn an_event_as_large_as_the_limit_passes_at_every_split_point() {
        // `data: ` and 58 bytes: a 64-byte line, the whole event held at once.
        let text = format!("data: {}\r\n\r\ndata: b\n\n", "x".repeat(58));
        let text = text.as_bytes();
        let want = (vec![ev("", &"x".repeat(58)), ev("", "b")], false);
        for i in 0..=text.len() {
            assert_eq!(limited(64, &[&text[..i], &text[i..]]), want, "split at {i}");
        }
    }

    #[test]
    fn a_line_that_never_ends_is_held_only_up_to_the_limit_then_dropped() {
        let limit = 4 << 10;
        let mut p = SseParser::with_limit(limit);
        let chunk = [b'z'; 1000];
        let mut most = 0;
        for _ in 0..1000 {
            assert!(p.feed(&chunk).is_empty());
            most = most.max(p.held());
        }
        assert!(most <= limit, "held {most} bytes");
        assert_eq!(p.held(), 0, "nothing is kept once the event is too large");
        assert_eq!(p.too_large(), Some(EventTooLarge { limit }));
        assert_eq!(p.finish(), None);
        assert!(p.feed(b"\n\ndata: late\n\n").is_empty());
        assert!(EventTooLarge { limit: MAX_EVENT }
            .to_string()
            .contains("16 MiB"));
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_a_last_event_without_blank_line_is() {
        assert_eq!(
            all(&[b"event: ping\n\ndata: [DONE]"]),
            vec![ev("", "[DONE]")]
        );
    }
}

//! Server-sent events, both ways: a parser that takes bytes in pieces of any size and yields whole
//! events, and the two writers for the shapes the APIs use.

/// One dispatched SSE event: its `event:` name (empty when absent) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub name: String,
    pub data: String,
}

/// Splits a byte stream into SSE events. Lines may end in LF, CR or CRLF, and a chunk may end
/// anywhere, even between the CR and LF of one line ending; comments (`:`) and unknown fields are
/// skipped, and several `data:` lines of one event are joined with `\n`, as the SSE spec says.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last chunk ended right after a CR: a LF at the start of the next one belongs to it.
    after_cr: bool,
    name: String,
    data: Vec<String>,
    has_data: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events completed by these bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let ended_by_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if ended_by_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.take_line(&line) {
                events.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        events
    }

    /// The event left pending when the stream ends without its closing blank line (lenient: the
    /// SSE spec drops it, but upstreams that forget the last newline still meant it).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let line = std::mem::take(&mut self.line);
        let mut last = None;
        if !line.is_empty() {
            last = self.take_line(&line);
        }
        last.or_else(|| self.dispatch())
    }

    fn take_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => self.name = value.to_string(),
            "data" => {
                self.data.push(value.to_string());
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let name = std::mem::take(&mut self.name);
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { name, data })
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

    #[test]
    fn an_event_without_data_is_not_dispatched_and_a_last_event_without_blank_line_is() {
        assert_eq!(
            all(&[b"event: ping\n\ndata: [DONE]"]),
            vec![ev("", "[DONE]")]
        );
    }
}

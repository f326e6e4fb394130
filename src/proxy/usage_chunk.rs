//! Usage for every streamed Chat Completions answer: OpenAI sends a stream's usage only in a final
//! chunk the request asks for (`stream_options.include_usage`), so a client that does not ask
//! would leave its answers uncharged and an endpoint's budget without effect. The gateway asks in
//! the body it sends upstream ([`ask_for_usage`], spliced into the bytes like the `model_map`
//! rename) and, for a client that did not ask, takes that chunk out of the stream again
//! ([`UsageChunkFilter`]) after the usage meter has read it.

use super::stage::{BodyStage, StageEnd};
use crate::scan::top_level_members;
use bytes::Bytes;
use memchr::memmem;

const ASK: &[u8] = br#""include_usage":true"#;

/// The body with `stream_options.include_usage: true` spliced in, every other byte kept; `None`
/// when the client asked already, or when the body is not one JSON object or its
/// `stream_options` is neither an object nor `null` (then it goes as it is).
pub fn ask_for_usage(body: &[u8]) -> Option<Bytes> {
    let members = top_level_members(body).ok()?;
    // The last of duplicate keys, as the upstream's own parser reads it.
    let Some(options) = members.iter().rev().find(|m| m.key == "stream_options") else {
        let open = body.iter().position(|b| *b == b'{')? + 1;
        let mut insert = br#""stream_options":{"include_usage":true}"#.to_vec();
        if !members.is_empty() {
            insert.push(b',');
        }
        return Some(splice(body, open..open, &insert));
    };
    let value = &body[options.value.clone()];
    if value == b"null" {
        return Some(splice(
            body,
            options.value.clone(),
            br#"{"include_usage":true}"#,
        ));
    }
    let inner = top_level_members(value).ok()?;
    let at = options.value.start;
    match inner.iter().rev().find(|m| m.key == "include_usage") {
        Some(asked) if &value[asked.value.clone()] == b"true" => None,
        Some(other) => Some(splice(
            body,
            at + other.value.start..at + other.value.end,
            b"true",
        )),
        None => {
            let open = at + value.iter().position(|b| *b == b'{')? + 1;
            let mut insert = ASK.to_vec();
            if !inner.is_empty() {
                insert.push(b',');
            }
            Some(splice(body, open..open, &insert))
        }
    }
}

fn splice(body: &[u8], range: std::ops::Range<usize>, with: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() - range.len() + with.len());
    out.extend_from_slice(&body[..range.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&body[range.end..]);
    Bytes::from(out)
}

/// A line longer than this is no usage chunk: it is passed on as it comes.
const LINE_KEEP: usize = 64 << 10;

/// Takes the usage-only chunk (`"choices": []` with a `usage` object) and the blank line that ends
/// its event out of a Chat SSE stream; every other byte passes unchanged. A line is passed on when
/// it is whole (an SSE client acts on whole lines only), so nothing is held longer than the
/// upstream's own line takes to arrive.
#[derive(Debug, Default)]
pub struct UsageChunkFilter {
    /// The current line so far.
    line: Vec<u8>,
    /// The current line outgrew `LINE_KEEP` and passes as it comes.
    passing: bool,
    /// Lines of the current event were passed on (a usage chunk among them is left alone, so
    /// the event stays whole).
    event_passed: bool,
    /// The last line was a dropped usage chunk: the blank line after it goes too.
    dropped: bool,
}

impl UsageChunkFilter {
    /// Decides on one whole line (with its `\n`, unless the stream ended without one).
    fn line_done(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let blank = matches!(line, b"\n" | b"\r\n" | b"" | b"\r");
        if blank {
            if !std::mem::take(&mut self.dropped) {
                out.extend_from_slice(line);
            }
            self.event_passed = false;
        } else if !self.event_passed && is_usage_chunk(line) {
            self.dropped = true;
        } else {
            out.extend_from_slice(line);
            self.event_passed = true;
            self.dropped = false;
        }
    }
}

impl BodyStage for UsageChunkFilter {
    fn feed(&mut self, chunk: Bytes) -> Bytes {
        let mut out = Vec::with_capacity(chunk.len());
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).map(|i| i + 1);
            let (piece, after) = rest.split_at(end.unwrap_or(rest.len()));
            rest = after;
            if self.passing {
                out.extend_from_slice(piece);
                if end.is_some() {
                    self.passing = false;
                }
                continue;
            }
            if end.is_some() {
                if self.line.is_empty() {
                    self.line_done(piece, &mut out);
                } else {
                    let mut line = std::mem::take(&mut self.line);
                    line.extend_from_slice(piece);
                    self.line_done(&line, &mut out);
                    line.clear();
                    self.line = line;
                }
            } else if self.line.len() + piece.len() > LINE_KEEP {
                out.extend_from_slice(&self.line);
                out.extend_from_slice(piece);
                self.line.clear();
                self.passing = true;
                self.event_passed = true;
                self.dropped = false;
            } else {
                self.line.extend_from_slice(piece);
            }
        }
        Bytes::from(out)
    }

    fn finish(&mut self) -> StageEnd {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
        }
        StageEnd {
            bytes: Bytes::from(out),
            cut: None,
        }
    }
}

/// The search for a `"usage"` key, built once: a one-off `memmem::find` sets a searcher up anew
/// for every line.
static USAGE_KEY: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(br#""usage""#));

/// A `data:` line whose chunk has `"choices": []` and a `usage` object: the one the gateway asked
/// for.
fn is_usage_chunk(line: &[u8]) -> bool {
    if line.len() > LINE_KEEP || USAGE_KEY.find(line).is_none() {
        return false;
    }
    let Some(json) = line.strip_prefix(b"data:") else {
        return false;
    };
    let json = json.trim_ascii();
    let Ok(members) = top_level_members(json) else {
        return false;
    };
    let value = |key: &str| {
        members
            .iter()
            .rev()
            .find(|m| m.key == key)
            .map(|m| &json[m.value.clone()])
    };
    let no_choices = value("choices").is_some_and(|c| {
        c.iter()
            .filter(|b| !b.is_ascii_whitespace())
            .eq(b"[]".iter())
    });
    no_choices && value("usage").is_some_and(|u| u.starts_with(b"{"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(body: &str) -> Option<String> {
        ask_for_usage(body.as_bytes()).map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
    }

    #[test]
    fn the_ask_is_spliced_in_and_every_other_byte_kept() {
        for (body, expected) in [
            (
                r#"{"model":"m", "stream":true}"#,
                r#"{"stream_options":{"include_usage":true},"model":"m", "stream":true}"#,
            ),
            (
                r#" { "stream_options" : null , "stream":true}"#,
                r#" { "stream_options" : {"include_usage":true} , "stream":true}"#,
            ),
            (
                r#"{"stream_options":{},"stream":true}"#,
                r#"{"stream_options":{"include_usage":true},"stream":true}"#,
            ),
            (
                r#"{"stream_options":{ "x" : 1 },"stream":true}"#,
                r#"{"stream_options":{"include_usage":true, "x" : 1 },"stream":true}"#,
            ),
            (
                r#"{"stream_options":{"include_usage": false},"stream":true}"#,
                r#"{"stream_options":{"include_usage": true},"stream":true}"#,
            ),
            (
                r#"{"stream_options":{"include_usage":true},"stream_options":{"include_usage":null}}"#,
                r#"{"stream_options":{"include_usage":true},"stream_options":{"include_usage":true}}"#,
            ),
            ("{}", r#"{"stream_options":{"include_usage":true}}"#),
        ] {
            let out = asked(body).unwrap_or_else(|| panic!("{body} gets the ask"));
            assert_eq!(out, expected);
            let value: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
            assert_eq!(value["stream_options"]["include_usage"], true, "{out}");
        }
    }

    #[test]
    fn a_client_that_asked_or_a_body_that_cannot_take_the_ask_is_left_alone() {
        for body in [
            r#"{"stream":true,"stream_options":{"include_usage":true}}"#,
            r#"{"stream_options":{"include_usage":false,"include_usage":true}}"#,
            r#"{"stream_options":"yes"}"#,
            r#"{"stream_options":[1]}"#,
            "[1]",
            "not json",
            r#"{"model":"m""#,
        ] {
            assert_eq!(asked(body), None, "{body}");
        }
    }

    const STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"say \\\"usage\\\"\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[ ],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3}}\n\n",
        "data: [DONE]\n\n",
    );

    fn without_usage_chunk() -> String {
        let at = STREAM
            .find("data: {\"id\":\"c\",\"object\"")
            .expect("fixture");
        let end = at + STREAM[at..].find("\n\n").expect("fixture") + 2;
        format!("{}{}", &STREAM[..at], &STREAM[end..])
    }

    fn filtered(chunks: &[&[u8]]) -> String {
        let mut filter = UsageChunkFilter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&filter.feed(Bytes::copy_from_slice(chunk)));
        }
        out.extend_from_slice(&filter.finish().bytes);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_usage_chunk_and_its_blank_line_go_at_every_split_and_nothing_else_changes() {
        let bytes = STREAM.as_bytes();
        let expected = without_usage_chunk();
        for cut in 0..=bytes.len() {
            assert_eq!(
                filtered(&[&bytes[..cut], &bytes[cut..]]),
                expected,
                "split at {cut}"
            );
        }
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(filtered(&one_by_one), expected);
        let crlf = STREAM.replace('\n', "\r\n");
        assert_eq!(filtered(&[crlf.as_bytes()]), expected.replace('\n', "\r\n"));
    }

    #[test]
    fn usage_on_a_chunk_with_choices_and_usage_null_are_kept() {
        let stream = concat!(
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2}}\n\n",
            "data: {\"choices\":[],\"usage\":null}\n\n",
            ": comment\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        );
        assert_eq!(filtered(&[stream.as_bytes()]), stream);
    }

    #[test]
    fn a_line_too_long_to_be_a_usage_chunk_passes_as_it_comes() {
        let long = format!(
            "data: {{\"choices\":[],\"usage\":{{}},\"x\":\"{}\"}}\n\n",
            "a".repeat(LINE_KEEP)
        );
        let mut filter = UsageChunkFilter::default();
        let mut out = Vec::new();
        for chunk in long.as_bytes().chunks(4096) {
            out.extend_from_slice(&filter.feed(Bytes::copy_from_slice(chunk)));
        }
        out.extend_from_slice(&filter.finish().bytes);
        assert!(
            out == long.as_bytes(),
            "{} bytes out of {}",
            out.len(),
            long.len()
        );
        let mut filter = UsageChunkFilter::default();
        let whole = filter.feed(Bytes::from(long.clone()));
        assert!(
            whole == long.as_bytes(),
            "in one chunk: {} bytes",
            whole.len()
        );
    }
}

//! The usage reader as it was before its follower skipped values in blocks and its usage objects
//! were read in one pass, kept for tests only: the property tests hold the reader to the same
//! readings on every input.
#![allow(dead_code)]

use super::{Reading, Tokens};
use crate::wire::usage::reference::{gemini_usage, usage_fields};
use crate::wire::usage::{GeminiUsage, Rejected, UsageFields};
use memchr::memmem;

/// A top-level `usage` value longer than this is not one; it is not kept.
const VALUE_KEEP: usize = 16 << 10;

/// Reads usage from one answer body. Feed it every chunk in order, then `finish`.
#[derive(Debug)]
pub(super) struct UsageReader {
    mode: Mode,
    seen: UsageFields,
    found: bool,
    /// The last Gemini `usageMetadata` that gave a count.
    gemini: Option<GeminiUsage>,
    /// Where the rejections of that `usageMetadata` sit in `rejected`: a later one replaces them.
    gemini_rejected: (usize, usize),
    rejected: Vec<Rejected>,
}

#[derive(Debug)]
enum Mode {
    Sse {
        /// What the current line is, as far as its first bytes tell.
        line: Line,
        /// Follows the current `data:` line's JSON.
        event: UsageFollower,
    },
    Json(UsageFollower),
    /// Neither JSON nor SSE (a file, audio): nothing to read, nothing kept.
    Ignore,
}

/// The SSE field that carries an event's JSON.
const DATA_FIELD: &[u8] = b"data:";
/// An event whose line does not hold this carries no usage: it starts both `"usage"` and
/// Gemini's `"usageMetadata"`, so one search serves every API.
const USAGE_KEY: &[u8] = b"\"usage";

/// What the current SSE line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Its first bytes so far match the first this many of `data:`.
    Field(usize),
    /// A `data:` line: the rest is the event's JSON.
    Data,
    /// Another field (`event:`, `id:`, a comment): passed over.
    Other,
}

impl UsageReader {
    /// A reader for an SSE stream (`text/event-stream`) or, when `sse` is false, a JSON body.
    pub(super) fn new(sse: bool) -> Self {
        let mode = if sse {
            Mode::Sse {
                line: Line::Field(0),
                event: UsageFollower::new(true),
            }
        } else {
            Mode::Json(UsageFollower::new(false))
        };
        Self::with_mode(mode)
    }

    fn with_mode(mode: Mode) -> Self {
        UsageReader {
            mode,
            seen: UsageFields::default(),
            found: false,
            gemini: None,
            gemini_rejected: (0, 0),
            rejected: Vec::new(),
        }
    }

    /// A reader chosen by the answer's `Content-Type`: SSE, JSON (also when the type is missing
    /// or plain text, as some relays send), or, for anything else, one that reads nothing.
    pub(super) fn for_content_type(content_type: &str) -> Self {
        let has = |word: &str| {
            content_type
                .as_bytes()
                .windows(word.len())
                .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        };
        let text = content_type
            .get(..5)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/"));
        if has("event-stream") {
            Self::new(true)
        } else if content_type.is_empty() || has("json") || text {
            Self::new(false)
        } else {
            Self::with_mode(Mode::Ignore)
        }
    }

    /// Takes the next chunk of the body.
    pub(super) fn feed(&mut self, chunk: &[u8]) {
        let mut found = Found {
            seen: &mut self.seen,
            found: &mut self.found,
            gemini: &mut self.gemini,
            gemini_rejected: &mut self.gemini_rejected,
            rejected: &mut self.rejected,
        };
        match &mut self.mode {
            Mode::Sse { line, event } => {
                let mut rest = chunk;
                loop {
                    let end = memchr::memchr(b'\n', rest);
                    let piece = &rest[..end.unwrap_or(rest.len())];
                    // Most events (text deltas) are whole in one chunk and name no usage: a byte
                    // search passes them over. A line cut by a chunk's end is followed.
                    let passed_over = end.is_some()
                        && *line == Line::Field(0)
                        && memmem::find(piece, USAGE_KEY).is_none();
                    if let Some(json) = line.data(piece).filter(|_| !passed_over) {
                        event.feed(json, &mut found);
                    }
                    let Some(end) = end else {
                        break;
                    };
                    *line = Line::Field(0);
                    event.restart();
                    rest = &rest[end + 1..];
                }
            }
            Mode::Json(body) => body.feed(chunk, &mut found),
            Mode::Ignore => {}
        }
    }

    /// What the answer said it used, or `None` when it said nothing (an error, an OpenAI stream
    /// whose client did not ask for usage, a body cut before its usage). A Gemini `usageMetadata`
    /// is the answer's usage when there is one.
    pub(super) fn finish(self) -> Option<Tokens> {
        self.finish_reading().tokens
    }

    /// [`finish`](Self::finish), with the fields that could not be used. Every usage value was
    /// read as it closed: one cut off by the body's end is not one.
    pub(super) fn finish_reading(self) -> Reading {
        let usage = || if self.found { self.seen.tokens() } else { None };
        Reading {
            tokens: self
                .gemini
                .as_ref()
                .and_then(GeminiUsage::tokens)
                .or_else(usage),
            rejected: self.rejected,
        }
    }
}

impl Line {
    /// The part of `piece` (the next bytes of this line) that is an event's JSON, if any.
    fn data<'a>(&mut self, piece: &'a [u8]) -> Option<&'a [u8]> {
        if let Line::Field(matched) = *self {
            let want = &DATA_FIELD[matched..];
            let n = piece.len().min(want.len());
            if piece[..n] != want[..n] {
                *self = Line::Other;
            } else if n < want.len() {
                *self = Line::Field(matched + n);
            } else {
                *self = Line::Data;
                return Some(&piece[n..]);
            }
            return None;
        }
        (*self == Line::Data).then_some(piece)
    }
}

/// Where the usage objects of an answer are folded in.
struct Found<'a> {
    seen: &'a mut UsageFields,
    found: &'a mut bool,
    gemini: &'a mut Option<GeminiUsage>,
    gemini_rejected: &'a mut (usize, usize),
    rejected: &'a mut Vec<Rejected>,
}

impl Found<'_> {
    /// Folds in one `usage` value (an object; `null` and anything else say nothing).
    /// `of_response` when it is the usage of a Responses API `response` object.
    fn usage_value(&mut self, value: &[u8], of_response: bool) {
        if let Some(usage) = usage_fields(value, self.rejected) {
            let usage = if of_response {
                usage.of_responses()
            } else {
                usage
            };
            self.seen.merge(&usage);
            *self.found = true;
        }
    }

    /// Takes one Gemini `usageMetadata` value: when it gives a count it replaces the one before,
    /// and its rejections replace that one's (a stream repeats its running usage in every chunk).
    fn usage_metadata_value(&mut self, value: &[u8]) {
        let before = self.rejected.len();
        // A value that gives no count was rejected nothing: the earlier reading stands.
        let Some(usage) = gemini_usage(value, self.rejected).filter(GeminiUsage::gives_a_count)
        else {
            return;
        };
        let (mut start, end) = *self.gemini_rejected;
        if self.gemini.is_some() && end == before {
            self.rejected.drain(start..end);
        } else {
            start = before;
        }
        *self.gemini = Some(usage);
        *self.gemini_rejected = (start, self.rejected.len());
    }
}

/// Follows the top level of a JSON object as its bytes pass and reads the value of each top-level
/// `usage` or `usageMetadata` member as it closes (nothing else is kept). For an SSE event it also follows the top
/// level of a top-level `message` object (Anthropic's `message_start`) or `response` object (the
/// Responses API's `response.completed`, `.incomplete` and `.failed`, which repeat the whole
/// answer, its instructions and its tools before their usage). Strings and brackets are tracked,
/// not checked: a model's text sits inside strings and its tool input inside nested values, so
/// neither is ever mistaken for the answer's own `usage`.
#[derive(Debug)]
struct UsageFollower {
    at: Place,
    /// Follow a top-level `message` or `response` object too (SSE events).
    nested: bool,
    /// The top-level member whose object is being followed, when it is one.
    inside: Option<Holder>,
    /// A JSON body that is an array: each element object is followed as a top level (a Gemini
    /// `:streamGenerateContent` answered without `alt=sse`).
    in_array: bool,
    /// Brackets open inside the current value.
    depth: u32,
    in_string: bool,
    /// The previous byte inside a string was a backslash.
    escaped: bool,
    /// The current key's first bytes (longer keys than `KEY_KEEP` are none of ours).
    key: KeyStart,
    /// The current value is a usage value (of this key), no longer than `VALUE_KEEP` so far.
    reading: Option<UsageKey>,
    /// The `usage` value's bytes from earlier chunks (one read within a chunk is not copied);
    /// the buffer is kept for the next one.
    value: Vec<u8>,
}

/// The top-level member of an SSE event whose object holds the event's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Anthropic's `message_start`.
    Message,
    /// The Responses API's events: its usage is the Responses API's.
    Response,
}

/// The keys whose value is an answer's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UsageKey {
    /// `usage`: Anthropic's, Chat Completions' and the Responses API's.
    Usage,
    /// `usageMetadata`: the Gemini API's.
    UsageMetadata,
}

const KEY_KEEP: usize = 32;

/// The first `KEY_KEEP` bytes of a key, kept on the stack (every answer has keys), and how many
/// bytes the key has in all.
#[derive(Debug, Default)]
struct KeyStart {
    bytes: [u8; KEY_KEEP],
    len: usize,
}

impl KeyStart {
    fn clear(&mut self) {
        self.len = 0;
    }

    fn extend_from_slice(&mut self, piece: &[u8]) {
        if let Some(room) = self.bytes.get_mut(self.len..) {
            let n = piece.len().min(room.len());
            room[..n].copy_from_slice(&piece[..n]);
        }
        self.len = self.len.saturating_add(piece.len());
    }

    /// The key is `name` (escapes decoded; a key longer than `KEY_KEEP` is no name of ours).
    fn is(&self, name: &str) -> bool {
        let Some(key) = self.bytes.get(..self.len) else {
            return false;
        };
        // An escape spells a character with more bytes than its own: a key no longer than
        // `name` is it only byte for byte, and most keys are told apart by length alone.
        if key.len() <= name.len() || !key.contains(&b'\\') {
            return key == name.as_bytes();
        }
        let mut quoted = Vec::with_capacity(key.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(key);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted).is_ok_and(|k| k == name)
    }
}

/// Where in the followed object the next byte is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Place {
    #[default]
    BeforeObject,
    BeforeKey,
    InKey,
    BeforeColon,
    BeforeValue,
    InValue,
    AfterValue,
    /// After an element object of a top-level array.
    AfterElement,
    /// The top-level object ended, or the body is not one: the rest is not read.
    Done,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl UsageFollower {
    /// A follower of a JSON body's top level or, when `nested`, of an SSE event's.
    fn new(nested: bool) -> Self {
        UsageFollower {
            at: Place::BeforeObject,
            nested,
            inside: None,
            in_array: false,
            depth: 0,
            in_string: false,
            escaped: false,
            key: KeyStart::default(),
            reading: None,
            value: Vec::new(),
        }
    }

    /// Ready for the next SSE event's JSON (the value buffer is kept).
    fn restart(&mut self) {
        self.at = Place::BeforeObject;
        self.inside = None;
        self.reading = None;
        self.value.clear();
    }

    fn feed(&mut self, chunk: &[u8], found: &mut Found<'_>) {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            match self.at {
                Place::Done => return,
                Place::BeforeObject
                | Place::BeforeKey
                | Place::BeforeColon
                | Place::AfterValue
                | Place::AfterElement
                    if is_space(b) =>
                {
                    i += 1;
                }
                Place::BeforeObject => {
                    self.at = match b {
                        b'{' => Place::BeforeKey,
                        // Only a JSON body's own top level may be an array of objects.
                        b'[' if !self.nested && !self.in_array => {
                            self.in_array = true;
                            Place::BeforeObject
                        }
                        _ => Place::Done,
                    };
                    i += 1;
                }
                Place::AfterElement => {
                    self.at = match b {
                        b',' => Place::BeforeObject,
                        _ => Place::Done,
                    };
                    i += 1;
                }
                Place::BeforeKey => {
                    self.at = match b {
                        b'"' => {
                            self.key.clear();
                            self.escaped = false;
                            Place::InKey
                        }
                        b'}' => self.closed(),
                        _ => Place::Done,
                    };
                    i += 1;
                }
                Place::InKey => {
                    let end = self.string_end(chunk, i);
                    self.key
                        .extend_from_slice(&chunk[i..end.unwrap_or(chunk.len())]);
                    match end {
                        Some(end) => {
                            self.at = Place::BeforeColon;
                            i = end + 1;
                        }
                        None => i = chunk.len(),
                    }
                }
                Place::BeforeColon => {
                    self.at = if b == b':' {
                        Place::BeforeValue
                    } else {
                        Place::Done
                    };
                    i += 1;
                }
                Place::BeforeValue if is_space(b) => i += 1,
                Place::BeforeValue => match self.holder(b) {
                    Some(holder) => {
                        self.inside = Some(holder);
                        self.at = Place::BeforeKey;
                        i += 1;
                    }
                    None => {
                        self.reading = self.usage_key();
                        self.value.clear();
                        self.depth = 0;
                        self.in_string = false;
                        self.at = Place::InValue;
                    }
                },
                Place::InValue => i = self.value_bytes(chunk, i, found),
                Place::AfterValue => {
                    self.at = match b {
                        b',' => Place::BeforeKey,
                        b'}' => self.closed(),
                        _ => Place::Done,
                    };
                    i += 1;
                }
            }
        }
    }

    /// The member whose value starts with `b` is a top-level `message` or `response` object
    /// whose own top level is followed.
    fn holder(&self, b: u8) -> Option<Holder> {
        if !self.nested || self.inside.is_some() || b != b'{' {
            return None;
        }
        if self.key.is("response") {
            Some(Holder::Response)
        } else if self.key.is("message") {
            Some(Holder::Message)
        } else {
            None
        }
    }

    /// Which usage the current key names, if any.
    fn usage_key(&self) -> Option<UsageKey> {
        if self.key.is("usage") {
            Some(UsageKey::Usage)
        } else if self.key.is("usageMetadata") {
            Some(UsageKey::UsageMetadata)
        } else {
            None
        }
    }

    /// Where the object that just closed leaves the follower.
    fn closed(&mut self) -> Place {
        match self.inside.take() {
            Some(_) => Place::AfterValue,
            None if self.in_array => Place::AfterElement,
            None => Place::Done,
        }
    }

    /// Reads the current value from `chunk[start..]`; returns where reading stopped.
    fn value_bytes(&mut self, chunk: &[u8], start: usize, found: &mut Found<'_>) -> usize {
        let mut i = start;
        let end_value = |this: &mut Self, to: usize, found: &mut Found<'_>| {
            if let Some(key) = this.reading {
                if this.value.len() + (to - start) <= VALUE_KEEP {
                    let value = if this.value.is_empty() {
                        &chunk[start..to]
                    } else {
                        this.value.extend_from_slice(&chunk[start..to]);
                        &this.value
                    };
                    match key {
                        UsageKey::Usage => {
                            found.usage_value(value, this.inside == Some(Holder::Response))
                        }
                        UsageKey::UsageMetadata => found.usage_metadata_value(value),
                    }
                }
            }
            this.reading = None;
            this.at = Place::AfterValue;
        };
        while i < chunk.len() {
            if self.in_string {
                match self.string_end(chunk, i) {
                    Some(end) => {
                        self.in_string = false;
                        i = end + 1;
                        if self.depth == 0 {
                            end_value(self, i, found);
                            return i;
                        }
                    }
                    None => i = chunk.len(),
                }
                continue;
            }
            let b = chunk[i];
            match b {
                b'"' => {
                    self.in_string = true;
                    self.escaped = false;
                    i += 1;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    i += 1;
                }
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    i += 1;
                    if self.depth == 0 {
                        end_value(self, i, found);
                        return i;
                    }
                }
                // A number or literal ends at the first byte that cannot continue it.
                b',' | b'}' | b']' if self.depth == 0 => {
                    end_value(self, i, found);
                    return i;
                }
                _ if self.depth == 0 && is_space(b) => {
                    end_value(self, i, found);
                    return i;
                }
                _ => i += 1,
            }
        }
        // The value goes on in the next chunk: keep what it has so far.
        if self.reading.is_some() {
            if self.value.len() + (i - start) <= VALUE_KEEP {
                self.value.extend_from_slice(&chunk[start..i]);
            } else {
                self.reading = None;
                self.value.clear();
            }
        }
        i
    }

    /// The index of the quote that closes the string `chunk[i..]` is inside, if it is in `chunk`.
    fn string_end(&mut self, chunk: &[u8], mut i: usize) -> Option<usize> {
        loop {
            if self.escaped {
                if i >= chunk.len() {
                    return None;
                }
                self.escaped = false;
                i += 1;
            }
            let at = i + memchr::memchr2(b'"', b'\\', chunk.get(i..)?)?;
            if chunk[at] == b'"' {
                return Some(at);
            }
            self.escaped = true;
            i = at + 1;
        }
    }
}

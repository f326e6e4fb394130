//! Reading token usage out of an answer as it passes: a plain machine fed the body's bytes chunk by
//! chunk (a copy; the relay never waits for it), asked at the end what it saw.
//!
//! Usage is read only where the answer itself puts it, never from content a model wrote: a JSON
//! answer's top-level `usage`; in an SSE stream, a `data:` line's top-level `usage`, or the one of
//! its top-level `message` (Anthropic's `message_start`) or `response` (the Responses API's
//! `response.completed`, `.incomplete` and `.failed`). The fields of each API, and how they become
//! one model of tokens, are [`crate::wire::usage`]'s: the translators read them the same way. A
//! usage that belongs to a `response` is a Responses API usage whatever its fields say.
//!
//! The Gemini API puts its usage in `usageMetadata` (top level of a JSON answer and of each stream
//! chunk; read one level into `response` too, as some relays wrap it). Each chunk may carry a
//! running `usageMetadata`: the last one that gives a count is the answer's, whole (its fields are
//! not merged with earlier chunks'). A `:streamGenerateContent` without `alt=sse` answers one JSON
//! array of those chunks: each element is followed as a JSON answer's top level is.
//!
//! Each field is read on its own: a count that is not a whole number in `0..=MAX_TOKENS` (or a
//! field named twice) makes that kind unknown, and the others still count. Nothing of the body is
//! held: a small machine follows the top level of the JSON body, or of each SSE event's JSON, as
//! the bytes pass (strings and nested values sixteen bytes at a time, counting brackets outside
//! strings; a key is named by its length before its bytes are compared), keeps only a
//! `usage` (or `usageMetadata`) value cut by a chunk's end, and reads each such value as it closes.
//! Members whole in a chunk (the usual case: most answers arrive in one) are passed by searches
//! rather than a step per byte, and a usage object of the usual shape is read where it starts, in
//! the same walk; anything else goes to the byte machine and the full reading, which say the same.
//! So a `response.completed` event that repeats a long answer is read without being kept. An SSE
//! line that is whole in one chunk is only followed when it holds a key starting `"usage`, so
//! text deltas cost one substring search each.

use crate::wire::usage::find::{quote_or_backslash, quote_or_bracket, Block, BLOCK_LEN};
use crate::wire::usage::{GeminiUsage, UsageFields};
pub use crate::wire::usage::{Kind, Rejected, Tokens, Unknown, MAX_TOKENS};
use memchr::memmem;

/// What a finished reader saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// `None` when the answer carried no usage.
    pub tokens: Option<Tokens>,
    /// Fields that were there but could not be used (their kind is unknown).
    pub rejected: Vec<Rejected>,
}

/// A top-level `usage` value longer than this is not one; it is not kept.
const VALUE_KEEP: usize = 16 << 10;

/// Reads usage from one answer body. Feed it every chunk in order, then `finish`.
#[derive(Debug)]
pub struct UsageReader {
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

/// The search for [`USAGE_KEY`], built once: a one-off `memmem::find` sets a searcher up anew for
/// every line of a stream, which cost more than searching the line.
static USAGE_KEY_FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(USAGE_KEY));

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
    pub fn new(sse: bool) -> Self {
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
    pub fn for_content_type(content_type: &str) -> Self {
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
    pub fn feed(&mut self, chunk: &[u8]) {
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
                        && USAGE_KEY_FINDER.find(piece).is_none();
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
    pub fn finish(self) -> Option<Tokens> {
        self.finish_reading().tokens
    }

    /// [`finish`](Self::finish), with the fields that could not be used. Every usage value was
    /// read as it closed: one cut off by the body's end is not one.
    pub fn finish_reading(self) -> Reading {
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
        if let Some(usage) = UsageFields::read(value, self.rejected) {
            self.usage(usage, of_response);
        }
    }

    /// Folds in the fields of one `usage` object.
    fn usage(&mut self, usage: UsageFields, of_response: bool) {
        let usage = if of_response {
            usage.of_responses()
        } else {
            usage
        };
        // The first usage is taken as it is: merged into nothing, it would be the same.
        if *self.found {
            self.seen.merge(&usage);
        } else {
            *self.seen = usage;
        }
        *self.found = true;
    }

    /// Takes one Gemini `usageMetadata` value: when it gives a count it replaces the one before,
    /// and its rejections replace that one's (a stream repeats its running usage in every chunk).
    fn usage_metadata_value(&mut self, value: &[u8]) {
        let before = self.rejected.len();
        let usage = GeminiUsage::read(value, self.rejected);
        self.usage_metadata(usage, before);
    }

    /// Takes one Gemini `usageMetadata` object, whose rejections are those in `rejected` from
    /// `before` on.
    fn usage_metadata(&mut self, usage: Option<GeminiUsage>, before: usize) {
        // A value that gives no count was rejected nothing: the earlier reading stands.
        let Some(usage) = usage.filter(GeminiUsage::gives_a_count) else {
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
    /// The first bytes of a key cut by a chunk's end (longer keys than `KEY_KEEP` are none of
    /// ours).
    key: KeyStart,
    /// What the last whole key names.
    name: KeyName,
    /// The current key (or string) has held a backslash.
    backslash: bool,
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

/// A key longer than this (escapes and all) is none of ours.
const KEY_KEEP: usize = 32;

/// What a top-level key names, as far as the follower cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum KeyName {
    #[default]
    Other,
    Usage,
    UsageMetadata,
    Message,
    Response,
}

impl KeyName {
    /// What the key `raw` (its bytes between the quotes; `escaped` when they hold a backslash)
    /// names. Most keys are told apart by length alone; an escaped one is decoded first.
    fn of(raw: &[u8], escaped: bool) -> KeyName {
        let plain = match raw.len() {
            5 => (raw == b"usage").then_some(KeyName::Usage),
            7 => (raw == b"message").then_some(KeyName::Message),
            8 => (raw == b"response").then_some(KeyName::Response),
            13 => (raw == b"usageMetadata").then_some(KeyName::UsageMetadata),
            _ => None,
        };
        match plain {
            Some(name) => name,
            // An escape spells a character with more bytes than its own: only a key longer than
            // the name it may spell needs decoding.
            None if escaped && raw.len() > 5 && raw.len() <= KEY_KEEP => KeyName::of_escaped(raw),
            None => KeyName::Other,
        }
    }

    #[cold]
    fn of_escaped(raw: &[u8]) -> KeyName {
        let mut quoted = Vec::with_capacity(raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(raw);
        quoted.push(b'"');
        match serde_json::from_slice::<String>(&quoted).as_deref() {
            Ok("usage") => KeyName::Usage,
            Ok("usageMetadata") => KeyName::UsageMetadata,
            Ok("message") => KeyName::Message,
            Ok("response") => KeyName::Response,
            _ => KeyName::Other,
        }
    }
}

/// The first `KEY_KEEP` bytes of a key cut by a chunk's end, kept on the stack, and how many
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

    /// What the whole key names (`escaped` when it holds a backslash).
    fn name(&self, escaped: bool) -> KeyName {
        match self.bytes.get(..self.len) {
            Some(key) => KeyName::of(key, escaped),
            None => KeyName::Other,
        }
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

/// The index of the first byte at or after `i` that is not space (or the chunk's end).
#[inline(always)]
fn skip_space(chunk: &[u8], mut i: usize) -> usize {
    while chunk.get(i).is_some_and(|b| is_space(*b)) {
        i += 1;
    }
    i
}

/// The index of the quote that closes the string whose text starts at `chunk[i]`, if it is in
/// `chunk` (a backslash escapes the byte after it).
#[inline(always)]
fn string_end(chunk: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let at = quote_or_backslash(chunk, i)?;
        if chunk[at] == b'"' {
            return Some(at);
        }
        i = at + 2;
        if i >= chunk.len() {
            return None;
        }
    }
}

/// Where the number or literal at `chunk[i]` ends, when it ends in `chunk` as the byte machine
/// would end it (at a `,`, `}`, `]` or space, before any quote or bracket).
#[inline(always)]
fn scalar_end(chunk: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match *chunk.get(i)? {
            b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n' => return Some(i),
            b'"' | b'{' | b'[' => return None,
            _ => i += 1,
        }
    }
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
            name: KeyName::Other,
            backslash: false,
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
                Place::BeforeKey => match b {
                    b'"' => {
                        let passed = self.members(chunk, i, found);
                        if passed != i {
                            i = passed;
                            continue;
                        }
                        // A member that `members` leaves to the byte machine.
                        self.escaped = false;
                        self.backslash = false;
                        i += 1;
                        // A key whole in this chunk is named from its bytes where they lie.
                        match self.string_end(chunk, i) {
                            Some(end) => {
                                self.name = KeyName::of(&chunk[i..end], self.backslash);
                                i = end + 1;
                                // Compact JSON puts the colon right after the key.
                                self.at = if chunk.get(i) == Some(&b':') {
                                    i += 1;
                                    Place::BeforeValue
                                } else {
                                    Place::BeforeColon
                                };
                            }
                            None => {
                                self.key.clear();
                                self.key.extend_from_slice(&chunk[i..]);
                                self.at = Place::InKey;
                                i = chunk.len();
                            }
                        }
                    }
                    b'}' => {
                        self.at = self.closed();
                        i += 1;
                    }
                    _ => {
                        self.at = Place::Done;
                        i += 1;
                    }
                },
                Place::InKey => {
                    let end = self.string_end(chunk, i);
                    self.key
                        .extend_from_slice(&chunk[i..end.unwrap_or(chunk.len())]);
                    match end {
                        Some(end) => {
                            self.name = self.key.name(self.backslash);
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
                        i = self.value_at(chunk, i, found);
                        // Compact JSON puts the comma right after the value.
                        if self.at == Place::AfterValue && chunk.get(i) == Some(&b',') {
                            self.at = Place::BeforeKey;
                            i += 1;
                        }
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

    /// Passes the members that are whole in `chunk` from `i` (at a key's opening quote, the
    /// follower `BeforeKey`), with locals and searches rather than a step per byte: most answers
    /// arrive whole in one chunk, their usage last. Stops, with the follower's state, at the
    /// first member that ends past the chunk or that the byte machine should read (an escaped
    /// key, a fault), at its start; or at the object's end, `AfterValue`.
    fn members(&mut self, chunk: &[u8], mut i: usize, found: &mut Found<'_>) -> usize {
        loop {
            // `chunk[i]` is a key's opening quote; the follower is `BeforeKey`.
            let Some(end) = quote_or_backslash(chunk, i + 1) else {
                return i;
            };
            if chunk[end] != b'"' {
                return i;
            }
            let name = KeyName::of(&chunk[i + 1..end], false);
            // Compact JSON puts the colon right after the key, the value right after the colon.
            let mut j = end + 1;
            if chunk.get(j) != Some(&b':') {
                j = skip_space(chunk, j);
                if chunk.get(j) != Some(&b':') {
                    return i;
                }
            }
            j += 1;
            let Some(mut b) = chunk.get(j).copied() else {
                return i;
            };
            if is_space(b) {
                j = skip_space(chunk, j);
                let Some(&next) = chunk.get(j) else {
                    return i;
                };
                b = next;
            }
            self.name = name;
            if let Some(holder) = self.holder(b) {
                self.inside = Some(holder);
                i = skip_space(chunk, j + 1);
                if chunk.get(i) != Some(&b'"') {
                    return i;
                }
                continue;
            }
            j = match b {
                b'"' => match string_end(chunk, j + 1) {
                    Some(end) => end + 1,
                    None => return i,
                },
                b'{' | b'[' => {
                    let to = self.value_at(chunk, j, found);
                    if self.at != Place::AfterValue {
                        return to;
                    }
                    self.at = Place::BeforeKey;
                    to
                }
                _ => match scalar_end(chunk, j) {
                    Some(end) => end,
                    None => return i,
                },
            };
            j = skip_space(chunk, j);
            match chunk.get(j) {
                Some(b',') => {
                    i = skip_space(chunk, j + 1);
                    if chunk.get(i) != Some(&b'"') {
                        return i;
                    }
                }
                _ => {
                    self.at = Place::AfterValue;
                    return j;
                }
            }
        }
    }

    /// Starts reading the value at `chunk[start]`; returns where reading stopped. A usage object
    /// of the usual shape whole in the chunk is read at once; any other value byte by byte.
    #[inline(always)]
    fn value_at(&mut self, chunk: &[u8], start: usize, found: &mut Found<'_>) -> usize {
        self.reading = self.usage_key();
        if let (Some(key), Some(b'{')) = (self.reading, chunk.get(start)) {
            let rest = &chunk[start..];
            let of_response = self.inside == Some(Holder::Response);
            let read = match key {
                UsageKey::Usage => UsageFields::read_flat(rest)
                    .filter(|(_, len)| *len <= VALUE_KEEP)
                    .map(|(usage, len)| {
                        found.usage(usage, of_response);
                        len
                    }),
                UsageKey::UsageMetadata => GeminiUsage::read_flat(rest)
                    .filter(|(_, len)| *len <= VALUE_KEEP)
                    .map(|(usage, len)| {
                        let before = found.rejected.len();
                        found.usage_metadata(Some(usage), before);
                        len
                    }),
            };
            if let Some(len) = read {
                self.reading = None;
                self.at = Place::AfterValue;
                return start + len;
            }
        }
        self.value.clear();
        self.depth = 0;
        self.in_string = false;
        self.at = Place::InValue;
        self.value_bytes(chunk, start, found)
    }

    /// The member whose value starts with `b` is a top-level `message` or `response` object
    /// whose own top level is followed.
    fn holder(&self, b: u8) -> Option<Holder> {
        if !self.nested || self.inside.is_some() || b != b'{' {
            return None;
        }
        match self.name {
            KeyName::Response => Some(Holder::Response),
            KeyName::Message => Some(Holder::Message),
            _ => None,
        }
    }

    /// Which usage the current key names, if any.
    fn usage_key(&self) -> Option<UsageKey> {
        match self.name {
            KeyName::Usage => Some(UsageKey::Usage),
            KeyName::UsageMetadata => Some(UsageKey::UsageMetadata),
            _ => None,
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
    #[inline(always)]
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
        loop {
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
                    None => {
                        i = chunk.len();
                        break;
                    }
                }
                continue;
            }
            if self.depth > 0 {
                // Inside a nested value only quotes and brackets matter. A block without a
                // backslash is passed whole: its quotes pair up in order, and only the brackets
                // outside its strings count.
                let block = Block::at(chunk, i);
                if block.backslashes == 0 {
                    let mut brackets = (block.opens | block.closes) & !block.in_strings();
                    while brackets != 0 {
                        let k = brackets.trailing_zeros() as usize;
                        if block.opens >> k & 1 == 1 {
                            self.depth += 1;
                        } else {
                            self.depth -= 1;
                            if self.depth == 0 {
                                i += k + 1;
                                end_value(self, i, found);
                                return i;
                            }
                        }
                        brackets &= brackets - 1;
                    }
                    // A string the block leaves open goes on after it.
                    if block.quotes.count_ones() % 2 == 1 {
                        self.in_string = true;
                        self.escaped = false;
                    }
                    i = (i + BLOCK_LEN).min(chunk.len());
                    if i == chunk.len() {
                        break;
                    }
                    continue;
                }
                let Some(at) = quote_or_bracket(chunk, i) else {
                    i = chunk.len();
                    break;
                };
                i = at + 1;
                match chunk[at] {
                    b'"' => {
                        self.in_string = true;
                        self.escaped = false;
                    }
                    b'{' | b'[' => self.depth += 1,
                    _ => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            end_value(self, i, found);
                            return i;
                        }
                    }
                }
                continue;
            }
            let Some(&b) = chunk.get(i) else {
                break;
            };
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
                // A number or literal ends at the first byte that cannot continue it.
                b',' | b'}' | b']' => {
                    end_value(self, i, found);
                    return i;
                }
                _ if is_space(b) => {
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
    #[inline(always)]
    fn string_end(&mut self, chunk: &[u8], mut i: usize) -> Option<usize> {
        loop {
            if self.escaped {
                if i >= chunk.len() {
                    return None;
                }
                self.escaped = false;
                i += 1;
            }
            let at = quote_or_backslash(chunk, i)?;
            if chunk[at] == b'"' {
                return Some(at);
            }
            self.escaped = true;
            self.backslash = true;
            i = at + 1;
        }
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod same_as_before;
#[cfg(test)]
mod tests;

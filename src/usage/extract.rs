//! Reading token usage out of an answer as it passes: a plain machine fed the body's bytes chunk by
//! chunk (a copy; the relay never waits for it), asked at the end what it saw.
//!
//! Usage is read only where the answer itself puts it, never from content a model wrote: a JSON
//! answer's top-level `usage`; in an SSE stream, a `data:` line's top-level `usage`, or the one of
//! its top-level `message` (Anthropic's `message_start`) or `response` (the Responses API's
//! `response.completed`, `.incomplete` and `.failed`). The APIs are read by the names of their
//! usage fields: Anthropic's `input_tokens`, `output_tokens`, `cache_read_input_tokens`,
//! `cache_creation_input_tokens`; Chat Completions' `prompt_tokens`, `completion_tokens`,
//! `prompt_tokens_details.cached_tokens` and DeepSeek's `prompt_cache_hit_tokens`; the Responses
//! API's `input_tokens`, `input_tokens_details.cached_tokens` and `output_tokens`. A Responses
//! usage is told from Anthropic's by its `input_tokens_details` or `output_tokens_details`, or by
//! being a `response`'s: its `input_tokens` include the cached ones, Anthropic's do not. Reasoning
//! tokens are inside `output_tokens` and are not added again.
//!
//! The Gemini API puts its usage in `usageMetadata` (top level of a JSON answer and of each stream
//! chunk; read one level into `response` too, as some relays wrap it): `promptTokenCount` includes
//! `cachedContentTokenCount`, and `thoughtsTokenCount` is billed as output beside
//! `candidatesTokenCount`. Each chunk may carry a running `usageMetadata`: the last one that gives a
//! count is the answer's, whole (its fields are not merged with earlier chunks').
//!
//! Each field is read on its own: a count that is not a whole number in `0..=MAX_TOKENS` (or a
//! field named twice) makes that kind unknown, and the others still count. Nothing of the body is
//! held: a small machine follows the top level of the JSON body, or of each SSE event's JSON, as
//! the bytes pass (strings with a byte search, nested values by counting brackets), keeps only a
//! `usage` (or `usageMetadata`) value cut by a chunk's end, and reads each such value as it closes.
//! So a `response.completed` event that repeats a long answer is read without being kept. An SSE
//! line that is whole in one chunk is only followed when it holds a key starting `"usage`, so
//! text deltas cost one substring search each.

use crate::scan::{top_level_members, Member};
use memchr::memmem;

/// The largest count of one kind of token an answer may report; anything above (or not a whole
/// number) is recorded as unknown.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;

/// A kind of token, in the order of the history's columns and the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Input,
    Output,
    CacheRead,
    CacheWrite,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 4] = [Kind::Input, Kind::Output, Kind::CacheRead, Kind::CacheWrite];

    /// The word in metric labels: `input`, `output`, `cache_read`, `cache_write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Output => "output",
            Kind::CacheRead => "cache_read",
            Kind::CacheWrite => "cache_write",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The kinds whose count an answer gave in a form that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Unknown(u8);

impl Unknown {
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn insert(&mut self, kind: Kind) {
        self.0 |= kind.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Every kind is unknown: nothing of the answer's usage can be priced.
    pub fn is_all(self) -> bool {
        Kind::ALL.iter().all(|k| self.contains(*k))
    }
}

/// Tokens of one answer. `input` counts input tokens not read from the cache (for OpenAI:
/// `prompt_tokens` minus `cached_tokens`), so the four kinds add up to what was billed. A kind in
/// `unknown` holds 0 and is stored as unknown (`NULL`); sums and costs count the other kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub unknown: Unknown,
}

impl Tokens {
    /// Four known counts.
    pub const fn new(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Self {
        Tokens {
            input,
            output,
            cache_read,
            cache_write,
            unknown: Unknown(0),
        }
    }

    /// The count of `kind` as summed (0 when unknown).
    pub fn count(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Input => self.input,
            Kind::Output => self.output,
            Kind::CacheRead => self.cache_read,
            Kind::CacheWrite => self.cache_write,
        }
    }

    /// The count of `kind`, or `None` when the answer's count could not be used.
    pub fn get(&self, kind: Kind) -> Option<u64> {
        (!self.unknown.contains(kind)).then(|| self.count(kind))
    }

    fn set(&mut self, kind: Kind, n: u64) {
        match kind {
            Kind::Input => self.input = n,
            Kind::Output => self.output = n,
            Kind::CacheRead => self.cache_read = n,
            Kind::CacheWrite => self.cache_write = n,
        }
    }

    /// Adds `other` kind by kind (saturating); a kind stays unknown only while every part of
    /// the sum had it unknown.
    pub fn add(&mut self, other: &Tokens) {
        let both_unknown = Unknown(self.unknown.0 & other.unknown.0);
        for kind in Kind::ALL {
            self.set(kind, self.count(kind).saturating_add(other.count(kind)));
        }
        self.unknown = both_unknown;
    }
}

/// A usage field whose value could not be used, for the warning the caller logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The field's name, e.g. `input_tokens` or `prompt_tokens_details.cached_tokens`.
    pub field: &'static str,
    /// `None` when the field was named twice; else the number as written, or the kind of value
    /// it was (`a string`, `an object`, …).
    pub value: Option<String>,
}

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
/// At most this many rejected fields are kept for the warning.
const REJECTED_KEEP: usize = 8;

/// Reads usage from one answer body. Feed it every chunk in order, then `finish`.
#[derive(Debug)]
pub struct UsageReader {
    mode: Mode,
    seen: RawUsage,
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
            seen: RawUsage::default(),
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
    seen: &'a mut RawUsage,
    found: &'a mut bool,
    gemini: &'a mut Option<GeminiUsage>,
    gemini_rejected: &'a mut (usize, usize),
    rejected: &'a mut Vec<Rejected>,
}

impl Found<'_> {
    /// Folds in one `usage` value (an object; `null` and anything else say nothing).
    /// `of_response` when it is the usage of a Responses API `response` object.
    fn usage_value(&mut self, value: &[u8], of_response: bool) {
        if let Some(mut usage) = RawUsage::read(value, self.rejected) {
            usage.responses_shape |= of_response;
            self.seen.merge(&usage);
            *self.found = true;
        }
    }

    /// Takes one Gemini `usageMetadata` value: when it gives a count it replaces the one before,
    /// and its rejections replace that one's (a stream repeats its running usage in every chunk).
    fn usage_metadata_value(&mut self, value: &[u8]) {
        let before = self.rejected.len();
        // A value that gives no count was rejected nothing: the earlier reading stands.
        let Some(usage) =
            GeminiUsage::read(value, self.rejected).filter(GeminiUsage::gives_a_count)
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

/// One usage field as an answer gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Count {
    #[default]
    Absent,
    /// There, but not a whole number in `0..=MAX_TOKENS` (or named twice).
    Unusable,
    Given(u64),
}

impl Count {
    /// The later of two readings of a field. Counts in a stream are running totals (Anthropic's
    /// `message_delta` repeats and raises what `message_start` said), so the larger value wins; a
    /// relay that sends a later 0 cannot erase an earlier count, nor an unusable one a usable one.
    fn merge(self, other: Count) -> Count {
        match (self, other) {
            (Count::Given(a), Count::Given(b)) => Count::Given(a.max(b)),
            (Count::Given(n), _) | (_, Count::Given(n)) => Count::Given(n),
            (Count::Unusable, _) | (_, Count::Unusable) => Count::Unusable,
            (Count::Absent, Count::Absent) => Count::Absent,
        }
    }
}

/// Every usage field either API (or a well-known relay) names.
#[derive(Debug, Default, Clone)]
struct RawUsage {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
    prompt_tokens: Count,
    completion_tokens: Count,
    prompt_cache_hit_tokens: Count,
    /// `prompt_tokens_details.cached_tokens` (Chat Completions).
    prompt_cached_tokens: Count,
    /// `input_tokens_details.cached_tokens` (Responses API).
    input_cached_tokens: Count,
    /// A Responses API usage (it has `input_tokens_details` or `output_tokens_details`, or it is
    /// the usage of a streamed `response` object): its `input_tokens` include the cached ones.
    /// Its `output_tokens` include `output_tokens_details.reasoning_tokens`, which is not read.
    responses_shape: bool,
}

impl RawUsage {
    /// Reads a `usage` value field by field; `None` when it is not an object.
    fn read(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<RawUsage> {
        let members = top_level_members(value).ok()?;
        let mut field = |name: &'static str| read_count(value, &members, name, name, rejected);
        let mut usage = RawUsage {
            input_tokens: field("input_tokens"),
            output_tokens: field("output_tokens"),
            cache_read_input_tokens: field("cache_read_input_tokens"),
            cache_creation_input_tokens: field("cache_creation_input_tokens"),
            prompt_tokens: field("prompt_tokens"),
            completion_tokens: field("completion_tokens"),
            prompt_cache_hit_tokens: field("prompt_cache_hit_tokens"),
            ..RawUsage::default()
        };
        for (details, shown, slot) in [
            (
                "prompt_tokens_details",
                "prompt_tokens_details.cached_tokens",
                &mut usage.prompt_cached_tokens,
            ),
            (
                "input_tokens_details",
                "input_tokens_details.cached_tokens",
                &mut usage.input_cached_tokens,
            ),
        ] {
            let mut named = members.iter().filter(|m| m.key == details);
            let (Some(member), more) = (named.next(), named.next()) else {
                continue;
            };
            let inner = &value[member.value.clone()];
            if more.is_some() {
                reject(rejected, shown, None);
                *slot = Count::Unusable;
            } else if let Ok(inner_members) = top_level_members(inner) {
                *slot = read_count(inner, &inner_members, "cached_tokens", shown, rejected);
            }
        }
        // Only the Responses API names these, and its `input_tokens` include the cached ones
        // (Anthropic's do not): the fields tell the two apart, whatever the counts are.
        usage.responses_shape = members
            .iter()
            .any(|m| m.key == "input_tokens_details" || m.key == "output_tokens_details");
        Some(usage)
    }

    /// Folds a later usage object in, field by field.
    fn merge(&mut self, other: &RawUsage) {
        for (mine, theirs) in [
            (&mut self.input_tokens, other.input_tokens),
            (&mut self.output_tokens, other.output_tokens),
            (
                &mut self.cache_read_input_tokens,
                other.cache_read_input_tokens,
            ),
            (
                &mut self.cache_creation_input_tokens,
                other.cache_creation_input_tokens,
            ),
            (&mut self.prompt_tokens, other.prompt_tokens),
            (&mut self.completion_tokens, other.completion_tokens),
            (
                &mut self.prompt_cache_hit_tokens,
                other.prompt_cache_hit_tokens,
            ),
            (&mut self.prompt_cached_tokens, other.prompt_cached_tokens),
            (&mut self.input_cached_tokens, other.input_cached_tokens),
        ] {
            *mine = mine.merge(theirs);
        }
        self.responses_shape |= other.responses_shape;
    }

    /// The four kinds, or `None` when no count at all was given.
    fn tokens(&self) -> Option<Tokens> {
        let cached = self
            .prompt_cached_tokens
            .merge(self.input_cached_tokens)
            .merge(self.prompt_cache_hit_tokens);
        let (input, cache_read) = if self.prompt_tokens != Count::Absent {
            // OpenAI: prompt_tokens includes the cached ones.
            split_cached(self.prompt_tokens, cached)
        } else if self.responses_shape {
            // Responses API: input_tokens includes the cached ones too.
            split_cached(self.input_tokens, cached)
        } else {
            (self.input_tokens, self.cache_read_input_tokens)
        };
        let output = self.output_tokens.merge(self.completion_tokens);
        let counts = [input, output, cache_read, self.cache_creation_input_tokens];
        if counts.iter().all(|c| *c == Count::Absent) {
            return None;
        }
        let mut tokens = Tokens::default();
        for (kind, count) in Kind::ALL.into_iter().zip(counts) {
            match count {
                Count::Given(n) => tokens.set(kind, n),
                Count::Unusable => tokens.unknown.insert(kind),
                Count::Absent => {}
            }
        }
        Some(tokens)
    }
}

/// A Gemini `usageMetadata` as an answer gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct GeminiUsage {
    /// `promptTokenCount`: it includes the cached tokens.
    prompt: Count,
    /// `cachedContentTokenCount`.
    cached: Count,
    /// `candidatesTokenCount`.
    candidates: Count,
    /// `thoughtsTokenCount`: billed as output.
    thoughts: Count,
}

impl GeminiUsage {
    /// Reads a `usageMetadata` value field by field; `None` when it is not an object.
    fn read(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<GeminiUsage> {
        let members = top_level_members(value).ok()?;
        let mut field = |name: &'static str| read_count(value, &members, name, name, rejected);
        Some(GeminiUsage {
            prompt: field("promptTokenCount"),
            cached: field("cachedContentTokenCount"),
            candidates: field("candidatesTokenCount"),
            thoughts: field("thoughtsTokenCount"),
        })
    }

    fn gives_a_count(&self) -> bool {
        [self.prompt, self.cached, self.candidates, self.thoughts]
            .iter()
            .any(|c| *c != Count::Absent)
    }

    /// The four kinds (Gemini writes no cache), or `None` when no count at all was given.
    fn tokens(&self) -> Option<Tokens> {
        if !self.gives_a_count() {
            return None;
        }
        let (input, cache_read) = match self.prompt {
            Count::Absent => (Count::Absent, self.cached),
            prompt => split_cached(prompt, self.cached),
        };
        let output = match (self.candidates, self.thoughts) {
            (Count::Given(a), Count::Given(b)) => Count::Given(a.saturating_add(b)),
            (Count::Unusable, _) | (_, Count::Unusable) => Count::Unusable,
            (Count::Given(n), Count::Absent) | (Count::Absent, Count::Given(n)) => Count::Given(n),
            (Count::Absent, Count::Absent) => Count::Absent,
        };
        let mut tokens = Tokens::default();
        for (kind, count) in [
            (Kind::Input, input),
            (Kind::Output, output),
            (Kind::CacheRead, cache_read),
        ] {
            match count {
                Count::Given(n) => tokens.set(kind, n),
                Count::Unusable => tokens.unknown.insert(kind),
                Count::Absent => {}
            }
        }
        Some(tokens)
    }
}

/// (uncached input, cache reads) from a total that includes the cached tokens. When the cached
/// count is unusable the whole total counts as uncached input (the dearer reading).
fn split_cached(total: Count, cached: Count) -> (Count, Count) {
    let cached = match cached {
        Count::Absent => Count::Given(0),
        other => other,
    };
    match (total, cached) {
        (Count::Given(all), Count::Given(c)) => {
            let c = c.min(all);
            (Count::Given(all - c), Count::Given(c))
        }
        (total, cached) => (total, cached),
    }
}

/// The count of field `name` among `members` of `object`; `shown` names it in a warning.
fn read_count(
    object: &[u8],
    members: &[Member<'_>],
    name: &str,
    shown: &'static str,
    rejected: &mut Vec<Rejected>,
) -> Count {
    let mut named = members.iter().filter(|m| m.key == name);
    let Some(member) = named.next() else {
        return Count::Absent;
    };
    if named.next().is_some() {
        reject(rejected, shown, None);
        return Count::Unusable;
    }
    let text = &object[member.value.clone()];
    if text == b"null" {
        return Count::Absent;
    }
    match parse_count(text) {
        Some(n) => Count::Given(n),
        None => {
            reject(rejected, shown, Some(describe_value(text)));
            Count::Unusable
        }
    }
}

/// What a warning shows of an unusable value: a number as written (up to 40 characters), else
/// only its kind. Upstream text is never quoted: it could echo anything, the endpoint's key too.
fn describe_value(text: &[u8]) -> String {
    let number = text
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    match text.first() {
        _ if number && !text.is_empty() => {
            String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned()
        }
        Some(b'"') => "a string".into(),
        Some(b'{') => "an object".into(),
        Some(b'[') => "an array".into(),
        _ => "not a number".into(),
    }
}

/// A JSON number that is a whole number in `0..=MAX_TOKENS`, written as one (`12`, not `12.0`,
/// `1.2e1` or `"12"`).
fn parse_count(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 13 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(text).ok()?.parse::<u64>().ok()?;
    (n <= MAX_TOKENS).then_some(n)
}

fn reject(rejected: &mut Vec<Rejected>, field: &'static str, value: Option<String>) {
    if rejected.len() < REJECTED_KEEP {
        rejected.push(Rejected { field, value });
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
        if !key.contains(&b'\\') {
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
                Place::BeforeObject | Place::BeforeKey | Place::BeforeColon | Place::AfterValue
                    if is_space(b) =>
                {
                    i += 1;
                }
                Place::BeforeObject => {
                    self.at = if b == b'{' {
                        Place::BeforeKey
                    } else {
                        Place::Done
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

#[cfg(test)]
mod tests;

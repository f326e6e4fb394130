//! Token usage, one model for the four APIs: what an answer's own usage object says, read field by
//! field into [`Tokens`]. The usage meter reads every relayed answer with it, and translation
//! reads an upstream's usage with it before writing the client's, so the numbers a client sees in
//! its own API's fields are the numbers switchyard records and prices.
//!
//! Where each API puts them:
//! - Anthropic: `input_tokens` (uncached), `cache_read_input_tokens`, `cache_creation_input_tokens`
//!   and its split `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens` (an
//!   answer without the split wrote for 5 minutes), `output_tokens`; a stream says them in
//!   `message_start` and raises them in `message_delta`.
//! - Chat Completions: `prompt_tokens` includes `prompt_tokens_details.cached_tokens` (DeepSeek:
//!   `prompt_cache_hit_tokens`); `completion_tokens` includes
//!   `completion_tokens_details.reasoning_tokens`.
//! - Responses: `input_tokens` includes `input_tokens_details.cached_tokens`; `output_tokens`
//!   includes `output_tokens_details.reasoning_tokens`.
//! - Gemini (`usageMetadata`): `promptTokenCount` includes `cachedContentTokenCount`;
//!   `toolUsePromptTokenCount` is input beside it; `candidatesTokenCount` and `thoughtsTokenCount`
//!   are both billed as output, the thoughts being its reasoning.
//!
//! Each field is read on its own: a count that is not a whole number in `0..=MAX_TOKENS` (or a
//! field named twice) makes that kind unknown, and the others still count.

pub(crate) mod find;
mod flat;
mod object;
#[cfg(test)]
pub(crate) mod reference;

use flat::Flat;
use object::each_member;
use std::ops::Range;

/// The largest count of one kind of token an answer may report; anything above (or not a whole
/// number) is recorded as unknown.
pub const MAX_TOKENS: u64 = 1_000_000_000_000;

/// A kind of token, in the order of the history's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Input read neither from nor into the cache.
    Input,
    /// Output, reasoning included.
    Output,
    CacheRead,
    /// Input written to the cache for 5 minutes (Anthropic's default, and every other write).
    CacheWrite5m,
    /// Input written to the cache for an hour (Anthropic's `ttl: "1h"`), billed at a higher rate.
    CacheWrite1h,
    /// The part of the output spent reasoning (not billed apart from the output).
    Reasoning,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 6] = [
        Kind::Input,
        Kind::Output,
        Kind::CacheRead,
        Kind::CacheWrite5m,
        Kind::CacheWrite1h,
        Kind::Reasoning,
    ];

    /// The kinds that are billed: together they are everything an answer used.
    pub const BILLED: [Kind; 5] = [
        Kind::Input,
        Kind::Output,
        Kind::CacheRead,
        Kind::CacheWrite5m,
        Kind::CacheWrite1h,
    ];

    /// The word in metric labels and warnings.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Input => "input",
            Kind::Output => "output",
            Kind::CacheRead => "cache_read",
            Kind::CacheWrite5m => "cache_write_5m",
            Kind::CacheWrite1h => "cache_write_1h",
            Kind::Reasoning => "reasoning",
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

    /// Every billed kind is unknown: nothing of the answer's usage can be priced.
    pub fn is_all(self) -> bool {
        Kind::BILLED.iter().all(|k| self.contains(*k))
    }
}

/// The tokens of one answer, in one model for every API. `input` counts input neither read from
/// nor written to the cache (for OpenAI: `prompt_tokens` minus `cached_tokens`), so the billed
/// kinds add up to what the answer used; `reasoning` is a part of `output`. A kind in `unknown`
/// holds 0 and is stored as unknown (`NULL`); sums and costs count the other kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub reasoning: u64,
    pub unknown: Unknown,
}

impl Tokens {
    /// Known counts of input, output, cache reads and (5-minute) cache writes.
    pub const fn new(input: u64, output: u64, cache_read: u64, cache_write_5m: u64) -> Self {
        Tokens {
            input,
            output,
            cache_read,
            cache_write_5m,
            cache_write_1h: 0,
            reasoning: 0,
            unknown: Unknown(0),
        }
    }

    /// The same, with `n` tokens written to the cache for an hour.
    pub const fn with_cache_write_1h(mut self, n: u64) -> Self {
        self.cache_write_1h = n;
        self
    }

    /// The same, with `n` of the output tokens spent reasoning.
    pub const fn with_reasoning(mut self, n: u64) -> Self {
        self.reasoning = n;
        self
    }

    /// Cache writes of either lifetime (Anthropic's `cache_creation_input_tokens`).
    pub fn cache_write(&self) -> u64 {
        self.cache_write_5m.saturating_add(self.cache_write_1h)
    }

    /// Every input token, cached or not: what OpenAI and Gemini call the prompt.
    pub fn prompt(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write())
    }

    /// The count of `kind` as summed (0 when unknown).
    pub fn count(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Input => self.input,
            Kind::Output => self.output,
            Kind::CacheRead => self.cache_read,
            Kind::CacheWrite5m => self.cache_write_5m,
            Kind::CacheWrite1h => self.cache_write_1h,
            Kind::Reasoning => self.reasoning,
        }
    }

    /// The count of `kind`, or `None` when the answer's count could not be used.
    pub fn get(&self, kind: Kind) -> Option<u64> {
        (!self.unknown.contains(kind)).then(|| self.count(kind))
    }

    /// Sets the count of `kind` (it stays unknown if it was).
    pub fn set(&mut self, kind: Kind, n: u64) {
        match kind {
            Kind::Input => self.input = n,
            Kind::Output => self.output = n,
            Kind::CacheRead => self.cache_read = n,
            Kind::CacheWrite5m => self.cache_write_5m = n,
            Kind::CacheWrite1h => self.cache_write_1h = n,
            Kind::Reasoning => self.reasoning = n,
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

    fn from_counts(counts: [(Kind, Count); 6]) -> Option<Tokens> {
        if counts.iter().all(|(_, c)| *c == Count::Absent) {
            return None;
        }
        let mut tokens = Tokens::default();
        for (kind, count) in counts {
            match count {
                Count::Given(n) => tokens.set(kind, n),
                Count::Unusable => tokens.unknown.insert(kind),
                Count::Absent => {}
            }
        }
        Some(tokens)
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

/// At most this many rejected fields are kept for a warning.
pub const REJECTED_KEEP: usize = 8;

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

    /// Two parts of one kind added (an absent part adds nothing).
    fn plus(self, other: Count) -> Count {
        match (self, other) {
            (Count::Given(a), Count::Given(b)) => Count::Given(a.saturating_add(b)),
            (Count::Unusable, _) | (_, Count::Unusable) => Count::Unusable,
            (Count::Given(n), Count::Absent) | (Count::Absent, Count::Given(n)) => Count::Given(n),
            (Count::Absent, Count::Absent) => Count::Absent,
        }
    }
}

/// Every usage field the Anthropic, Chat Completions and Responses APIs (and well-known relays)
/// name, as one answer gave them so far. The API is told by the fields themselves: Chat's by
/// `prompt_tokens`, a Responses usage by its `input_tokens_details` or `output_tokens_details`
/// (or by the caller, for the usage of a streamed `response` object): its `input_tokens` include
/// the cached ones, Anthropic's do not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UsageFields {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
    /// `cache_creation.ephemeral_5m_input_tokens`.
    cache_creation_5m: Count,
    /// `cache_creation.ephemeral_1h_input_tokens`.
    cache_creation_1h: Count,
    prompt_tokens: Count,
    completion_tokens: Count,
    prompt_cache_hit_tokens: Count,
    /// `prompt_tokens_details.cached_tokens` (Chat Completions).
    prompt_cached_tokens: Count,
    /// `input_tokens_details.cached_tokens` (Responses API).
    input_cached_tokens: Count,
    /// `completion_tokens_details.reasoning_tokens` (Chat Completions).
    completion_reasoning_tokens: Count,
    /// `output_tokens_details.reasoning_tokens` (Responses API).
    output_reasoning_tokens: Count,
    responses_shape: bool,
}

impl UsageFields {
    /// Reads a `usage` value field by field; `None` when it is not an object. Fields that cannot
    /// be used are added to `rejected` (up to [`REJECTED_KEEP`]).
    pub fn read(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<UsageFields> {
        let mut seen = [Seen::Absent; USAGE_NAMES.len()];
        each_member(value, |key, at| {
            if let Some(k) = slot_of(key, &USAGE_NAMES) {
                seen[k].again(at);
            }
        })?;
        let [input, output, cache_read, cache_creation, prompt, completion, prompt_cache_hit, prompt_details, input_details, completion_details, output_details, cache_creation_split] =
            seen;
        let mut count = |seen: Seen, shown: &'static str| seen.count(value, shown, rejected);
        let mut usage = UsageFields {
            input_tokens: count(input, "input_tokens"),
            output_tokens: count(output, "output_tokens"),
            cache_read_input_tokens: count(cache_read, "cache_read_input_tokens"),
            cache_creation_input_tokens: count(cache_creation, "cache_creation_input_tokens"),
            prompt_tokens: count(prompt, "prompt_tokens"),
            completion_tokens: count(completion, "completion_tokens"),
            prompt_cache_hit_tokens: count(prompt_cache_hit, "prompt_cache_hit_tokens"),
            // Only the Responses API names these, and its `input_tokens` include the cached ones
            // (Anthropic's do not): the fields tell the two apart, whatever the counts are.
            responses_shape: input_details != Seen::Absent || output_details != Seen::Absent,
            ..UsageFields::default()
        };
        [usage.prompt_cached_tokens] = nested_counts(
            value,
            prompt_details,
            [(&b"cached_tokens"[..], "prompt_tokens_details.cached_tokens")],
            rejected,
        );
        [usage.input_cached_tokens] = nested_counts(
            value,
            input_details,
            [(&b"cached_tokens"[..], "input_tokens_details.cached_tokens")],
            rejected,
        );
        [usage.completion_reasoning_tokens] = nested_counts(
            value,
            completion_details,
            [(
                &b"reasoning_tokens"[..],
                "completion_tokens_details.reasoning_tokens",
            )],
            rejected,
        );
        [usage.output_reasoning_tokens] = nested_counts(
            value,
            output_details,
            [(
                &b"reasoning_tokens"[..],
                "output_tokens_details.reasoning_tokens",
            )],
            rejected,
        );
        [usage.cache_creation_5m, usage.cache_creation_1h] = nested_counts(
            value,
            cache_creation_split,
            [
                (
                    &b"ephemeral_5m_input_tokens"[..],
                    "cache_creation.ephemeral_5m_input_tokens",
                ),
                (
                    &b"ephemeral_1h_input_tokens"[..],
                    "cache_creation.ephemeral_1h_input_tokens",
                ),
            ],
            rejected,
        );
        Some(usage)
    }

    /// Reads a `usage` object at the start of `b` in one pass when it has the usual shape (see
    /// [`flat`]): the fields [`read`](Self::read) would give (it would reject none), and the
    /// object's length. `None` when it has another shape: `read` it then.
    pub(crate) fn read_flat(b: &[u8]) -> Option<(UsageFields, usize)> {
        let mut flat = Flat::new(b);
        let mut usage = UsageFields::default();
        let mut named = 0u32;
        flat.object(|flat, key| {
            let Some(k) = usage_slot(key) else {
                return flat.other(key);
            };
            if named & 1 << k != 0 {
                return None;
            }
            named |= 1 << k;
            // In the order of `USAGE_NAMES`.
            match k {
                0 => usage.input_tokens = flat.count()?,
                1 => usage.output_tokens = flat.count()?,
                2 => usage.cache_read_input_tokens = flat.count()?,
                3 => usage.cache_creation_input_tokens = flat.count()?,
                4 => usage.prompt_tokens = flat.count()?,
                5 => usage.completion_tokens = flat.count()?,
                6 => usage.prompt_cache_hit_tokens = flat.count()?,
                7 => [usage.prompt_cached_tokens] = flat.nested([b"cached_tokens"])?,
                8 => [usage.input_cached_tokens] = flat.nested([b"cached_tokens"])?,
                9 => [usage.completion_reasoning_tokens] = flat.nested([b"reasoning_tokens"])?,
                10 => [usage.output_reasoning_tokens] = flat.nested([b"reasoning_tokens"])?,
                _ => {
                    [usage.cache_creation_5m, usage.cache_creation_1h] =
                        flat.nested([b"ephemeral_5m_input_tokens", b"ephemeral_1h_input_tokens"])?
                }
            }
            Some(())
        })?;
        // As in `read`: the Responses API's detail objects (`input_tokens_details`,
        // `output_tokens_details`) tell its usage apart, whatever they hold.
        usage.responses_shape = named & (1 << 8 | 1 << 10) != 0;
        Some((usage, flat.i))
    }

    /// Says that this is a Responses API usage (the usage of a `response` object), whose
    /// `input_tokens` include the cached ones, whatever its fields are.
    pub fn of_responses(mut self) -> Self {
        self.responses_shape = true;
        self
    }

    /// Folds a later usage object in, field by field.
    pub fn merge(&mut self, other: &UsageFields) {
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
            (&mut self.cache_creation_5m, other.cache_creation_5m),
            (&mut self.cache_creation_1h, other.cache_creation_1h),
            (&mut self.prompt_tokens, other.prompt_tokens),
            (&mut self.completion_tokens, other.completion_tokens),
            (
                &mut self.prompt_cache_hit_tokens,
                other.prompt_cache_hit_tokens,
            ),
            (&mut self.prompt_cached_tokens, other.prompt_cached_tokens),
            (&mut self.input_cached_tokens, other.input_cached_tokens),
            (
                &mut self.completion_reasoning_tokens,
                other.completion_reasoning_tokens,
            ),
            (
                &mut self.output_reasoning_tokens,
                other.output_reasoning_tokens,
            ),
        ] {
            *mine = mine.merge(theirs);
        }
        self.responses_shape |= other.responses_shape;
    }

    /// The tokens, or `None` when no count at all was given.
    pub fn tokens(&self) -> Option<Tokens> {
        let cached = self
            .prompt_cached_tokens
            .merge(self.input_cached_tokens)
            .merge(self.prompt_cache_hit_tokens);
        let (input, cache_read) = if self.prompt_tokens != Count::Absent {
            // Chat Completions: prompt_tokens includes the cached ones.
            split_cached(self.prompt_tokens, cached)
        } else if self.responses_shape {
            // Responses API: input_tokens includes the cached ones too.
            split_cached(self.input_tokens, cached)
        } else {
            (self.input_tokens, self.cache_read_input_tokens)
        };
        let (write_5m, write_1h) = cache_writes(
            self.cache_creation_input_tokens,
            self.cache_creation_5m,
            self.cache_creation_1h,
        );
        Tokens::from_counts([
            (Kind::Input, input),
            (
                Kind::Output,
                self.output_tokens.merge(self.completion_tokens),
            ),
            (Kind::CacheRead, cache_read),
            (Kind::CacheWrite5m, write_5m),
            (Kind::CacheWrite1h, write_1h),
            (
                Kind::Reasoning,
                self.completion_reasoning_tokens
                    .merge(self.output_reasoning_tokens),
            ),
        ])
    }
}

/// (5-minute, 1-hour) cache writes from Anthropic's total and its split. Without the split the
/// whole total wrote for 5 minutes; what the total has beyond the split did too.
fn cache_writes(total: Count, five: Count, hour: Count) -> (Count, Count) {
    if five == Count::Absent && hour == Count::Absent {
        let hour = match total {
            Count::Given(_) => Count::Given(0),
            other => other,
        };
        return (total, hour);
    }
    // The split is there: a lifetime it leaves out wrote nothing.
    let given_or_zero = |count| match count {
        Count::Absent => Count::Given(0),
        other => other,
    };
    let (five, hour) = (given_or_zero(five), given_or_zero(hour));
    let five = match (total, five, hour) {
        (Count::Given(t), Count::Given(f), Count::Given(h)) => {
            Count::Given(f.max(t.saturating_sub(h)))
        }
        (Count::Given(t), Count::Unusable, Count::Given(h)) => Count::Given(t.saturating_sub(h)),
        (_, five, _) => five,
    };
    (five, hour)
}

/// A Gemini `usageMetadata` as an answer gave it. A stream repeats its running usage in each
/// chunk: the last one that gives a count is the answer's, whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GeminiUsage {
    /// `promptTokenCount`: it includes the cached tokens.
    prompt: Count,
    /// `cachedContentTokenCount`.
    cached: Count,
    /// `toolUsePromptTokenCount`: input beside the prompt.
    tool_use_prompt: Count,
    /// `candidatesTokenCount`.
    candidates: Count,
    /// `thoughtsTokenCount`: billed as output.
    thoughts: Count,
}

impl GeminiUsage {
    /// Reads a `usageMetadata` value field by field; `None` when it is not an object.
    pub fn read(value: &[u8], rejected: &mut Vec<Rejected>) -> Option<GeminiUsage> {
        let mut seen = [Seen::Absent; GEMINI_NAMES.len()];
        each_member(value, |key, at| {
            if let Some(k) = slot_of(key, &GEMINI_NAMES) {
                seen[k].again(at);
            }
        })?;
        let [prompt, cached, tool_use_prompt, candidates, thoughts] = seen;
        let mut count = |seen: Seen, shown: &'static str| seen.count(value, shown, rejected);
        Some(GeminiUsage {
            prompt: count(prompt, "promptTokenCount"),
            cached: count(cached, "cachedContentTokenCount"),
            tool_use_prompt: count(tool_use_prompt, "toolUsePromptTokenCount"),
            candidates: count(candidates, "candidatesTokenCount"),
            thoughts: count(thoughts, "thoughtsTokenCount"),
        })
    }

    /// Reads a `usageMetadata` object at the start of `b` in one pass when it has the usual
    /// shape (see [`flat`]): what [`read`](Self::read) would give (it would reject nothing), and
    /// the object's length. `None` when it has another shape: `read` it then.
    pub(crate) fn read_flat(b: &[u8]) -> Option<(GeminiUsage, usize)> {
        let mut flat = Flat::new(b);
        let mut usage = GeminiUsage::default();
        let mut named = 0u32;
        flat.object(|flat, key| {
            let Some(k) = slot_of(key, &GEMINI_NAMES) else {
                return flat.other(key);
            };
            if named & 1 << k != 0 {
                return None;
            }
            named |= 1 << k;
            let count = flat.count()?;
            match k {
                0 => usage.prompt = count,
                1 => usage.cached = count,
                2 => usage.tool_use_prompt = count,
                3 => usage.candidates = count,
                _ => usage.thoughts = count,
            }
            Some(())
        })?;
        Some((usage, flat.i))
    }

    /// It names at least one count (usable or not).
    pub fn gives_a_count(&self) -> bool {
        [
            self.prompt,
            self.cached,
            self.tool_use_prompt,
            self.candidates,
            self.thoughts,
        ]
        .iter()
        .any(|c| *c != Count::Absent)
    }

    /// The tokens (Gemini writes no cache), or `None` when no count at all was given.
    pub fn tokens(&self) -> Option<Tokens> {
        if !self.gives_a_count() {
            return None;
        }
        let (input, cache_read) = match self.prompt {
            Count::Absent => (Count::Absent, self.cached),
            prompt => split_cached(prompt, self.cached),
        };
        Tokens::from_counts([
            (Kind::Input, input.plus(self.tool_use_prompt)),
            (Kind::Output, self.candidates.plus(self.thoughts)),
            (Kind::CacheRead, cache_read),
            (Kind::CacheWrite5m, Count::Absent),
            (Kind::CacheWrite1h, Count::Absent),
            (Kind::Reasoning, self.thoughts),
        ])
    }
}

/// The tokens of an Anthropic, Chat Completions or Responses `usage` value, for a translation
/// (unusable counts read as 0); `responses` when it is a Responses API usage.
pub fn tokens_of_usage(value: &[u8], responses: bool) -> Tokens {
    let fields = UsageFields::read(value, &mut Vec::new()).unwrap_or_default();
    let fields = if responses {
        fields.of_responses()
    } else {
        fields
    };
    fields.tokens().unwrap_or_default()
}

/// The tokens of a Gemini `usageMetadata` value, for a translation (unusable counts read as 0).
pub fn tokens_of_usage_metadata(value: &[u8]) -> Tokens {
    GeminiUsage::read(value, &mut Vec::new())
        .and_then(|u| u.tokens())
        .unwrap_or_default()
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

/// The fields of a `usage` value, in the order [`UsageFields::read`] takes them (and reports
/// them unusable): its counts, then the objects whose fields are counts.
const USAGE_NAMES: [&[u8]; 12] = [
    b"input_tokens",
    b"output_tokens",
    b"cache_read_input_tokens",
    b"cache_creation_input_tokens",
    b"prompt_tokens",
    b"completion_tokens",
    b"prompt_cache_hit_tokens",
    b"prompt_tokens_details",
    b"input_tokens_details",
    b"completion_tokens_details",
    b"output_tokens_details",
    b"cache_creation",
];

/// Which of [`USAGE_NAMES`] the key is, told by its length first (the same as `slot_of`, with
/// one or two compares instead of a scan).
#[inline]
fn usage_slot(key: &[u8]) -> Option<usize> {
    let candidates: &[usize] = match key.len() {
        12 => &[0],
        13 => &[1, 4],
        23 => &[2, 6],
        27 => &[3],
        17 => &[5],
        21 => &[7, 10],
        20 => &[8],
        25 => &[9],
        14 => &[11],
        _ => return None,
    };
    candidates
        .iter()
        .copied()
        .find(|k| find::same_bytes(USAGE_NAMES[*k], key))
}

/// The fields of a `usageMetadata` value, in the order [`GeminiUsage::read`] takes them.
const GEMINI_NAMES: [&[u8]; 5] = [
    b"promptTokenCount",
    b"cachedContentTokenCount",
    b"toolUsePromptTokenCount",
    b"candidatesTokenCount",
    b"thoughtsTokenCount",
];

/// Which of `names` the key is: told apart by length first, then by their bytes.
#[inline]
fn slot_of<const N: usize>(key: &[u8], names: &[&[u8]; N]) -> Option<usize> {
    names
        .iter()
        .position(|name| name.len() == key.len() && find::same_bytes(name, key))
}

/// How often an object named a field, and where its value lies the one time it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Absent,
    /// The value's start and end.
    Once(usize, usize),
    /// Named twice or more: the field cannot be used.
    Again,
}

impl Seen {
    /// The field is named (again) with its value at `value`.
    fn again(&mut self, value: Range<usize>) {
        *self = match self {
            Seen::Absent => Seen::Once(value.start, value.end),
            _ => Seen::Again,
        };
    }

    /// The count the field gives in `object`; `shown` names it in a warning.
    #[inline(always)]
    fn count(self, object: &[u8], shown: &'static str, rejected: &mut Vec<Rejected>) -> Count {
        let at = match self {
            Seen::Absent => return Count::Absent,
            Seen::Again => {
                reject(rejected, shown, None);
                return Count::Unusable;
            }
            Seen::Once(start, end) => start..end,
        };
        let text = &object[at];
        if text == b"null" {
            return Count::Absent;
        }
        match parse_count(text) {
            Some(n) => Count::Given(n),
            None => unusable(text, shown, rejected),
        }
    }
}

/// Warns of a count that cannot be used (rare: apart, so that reading a good one stays short).
#[cold]
fn unusable(text: &[u8], shown: &'static str, rejected: &mut Vec<Rejected>) -> Count {
    reject(rejected, shown, Some(describe_value(text)));
    Count::Unusable
}

/// The counts of `fields` (inner name, name in a warning) of the object `holder` says where to
/// find in `value`: all unusable when it is named twice, all absent when it is not an object.
fn nested_counts<const N: usize>(
    value: &[u8],
    holder: Seen,
    fields: [(&[u8], &'static str); N],
    rejected: &mut Vec<Rejected>,
) -> [Count; N] {
    let nested = match holder {
        Seen::Absent => return [Count::Absent; N],
        Seen::Again => {
            return fields.map(|(_, shown)| {
                reject(rejected, shown, None);
                Count::Unusable
            })
        }
        Seen::Once(start, end) => &value[start..end],
    };
    let names = fields.map(|(name, _)| name);
    let mut seen = [Seen::Absent; N];
    let walked = each_member(nested, |key, at| {
        if let Some(k) = slot_of(key, &names) {
            seen[k].again(at);
        }
    });
    if walked.is_none() {
        return [Count::Absent; N];
    }
    std::array::from_fn(|k| seen[k].count(nested, fields[k].1, rejected))
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
    // Thirteen digits at most: no sum can overflow before the limit is checked.
    if text.is_empty() || text.len() > 13 {
        return None;
    }
    let mut n = 0u64;
    for &c in text {
        let digit = c.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u64::from(digit);
    }
    (n <= MAX_TOKENS).then_some(n)
}

fn reject(rejected: &mut Vec<Rejected>, field: &'static str, value: Option<String>) {
    if rejected.len() < REJECTED_KEEP {
        rejected.push(Rejected { field, value });
    }
}

#[cfg(test)]
mod tests;

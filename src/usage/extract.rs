//! Reading token usage out of an answer as it passes: a plain machine fed the body's bytes chunk by
//! chunk (a copy; the relay never waits for it), asked at the end what it saw.
//!
//! Both APIs are read the same way, by the names of their usage fields: Anthropic's `usage`
//! (`input_tokens`, `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`; in a
//! stream on `message_start.message` and again on `message_delta`), OpenAI's `usage`
//! (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`; in a stream on the
//! final usage chunk), the Responses API's `input_tokens_details.cached_tokens` and DeepSeek's
//! `prompt_cache_hit_tokens`. An SSE line is only parsed when it carries a `"usage"` key whose
//! value is an object, so text deltas cost one substring search each.

use memchr::memmem;
use serde::{Deserialize, Serialize};

/// Tokens of one answer. `input` counts input tokens not read from the cache (for OpenAI:
/// `prompt_tokens` minus `cached_tokens`), so the four kinds add up to what was billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Tokens {
    /// All four kinds together.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }
}

/// A JSON body is kept (as a copy) up to this size and parsed whole at the end; past it only the
/// last `TAIL_KEEP` bytes are kept and searched for the usage object (which both APIs put last).
const JSON_KEEP: usize = 1 << 20;
const TAIL_KEEP: usize = 64 << 10;
/// An SSE line longer than this cannot be a usage event; it is skipped without being kept.
const LINE_KEEP: usize = 64 << 10;

/// Reads usage from one answer body. Feed it every chunk in order, then `finish`.
#[derive(Debug)]
pub struct UsageReader {
    mode: Mode,
    seen: RawUsage,
    found: bool,
}

#[derive(Debug)]
enum Mode {
    Sse {
        /// The current line so far (from its start, or empty while skipping an over-long line).
        line: Vec<u8>,
        skipping: bool,
    },
    Json {
        body: Vec<u8>,
        /// The body outgrew `JSON_KEEP`: `body` holds only its tail.
        truncated: bool,
    },
    /// Neither JSON nor SSE (a file, audio): nothing to read, nothing kept.
    Ignore,
}

impl UsageReader {
    /// A reader for an SSE stream (`text/event-stream`) or, when `sse` is false, a JSON body.
    pub fn new(sse: bool) -> Self {
        let mode = if sse {
            Mode::Sse {
                line: Vec::new(),
                skipping: false,
            }
        } else {
            Mode::Json {
                body: Vec::new(),
                truncated: false,
            }
        };
        UsageReader {
            mode,
            seen: RawUsage::default(),
            found: false,
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
            UsageReader {
                mode: Mode::Ignore,
                seen: RawUsage::default(),
                found: false,
            }
        }
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        match &mut self.mode {
            Mode::Sse { line, skipping } => {
                let mut rest = chunk;
                while let Some(end) = memchr::memchr(b'\n', rest) {
                    let piece = &rest[..end];
                    if !*skipping {
                        if line.is_empty() {
                            scan_line(piece, &mut self.seen, &mut self.found);
                        } else if line.len() + piece.len() <= LINE_KEEP {
                            line.extend_from_slice(piece);
                            scan_line(line, &mut self.seen, &mut self.found);
                        }
                    }
                    line.clear();
                    *skipping = false;
                    rest = &rest[end + 1..];
                }
                if !*skipping && !rest.is_empty() {
                    if line.len() + rest.len() > LINE_KEEP {
                        line.clear();
                        *skipping = true;
                    } else {
                        line.extend_from_slice(rest);
                    }
                }
            }
            Mode::Json { body, truncated } => {
                body.extend_from_slice(chunk);
                if body.len() > JSON_KEEP {
                    let cut = body.len() - TAIL_KEEP;
                    body.drain(..cut);
                    *truncated = true;
                }
            }
            Mode::Ignore => {}
        }
    }

    /// What the answer said it used, or `None` when it said nothing (an error, an OpenAI stream
    /// whose client did not ask for usage, a body cut before its usage).
    pub fn finish(mut self) -> Option<Tokens> {
        match std::mem::replace(
            &mut self.mode,
            Mode::Json {
                body: Vec::new(),
                truncated: false,
            },
        ) {
            Mode::Sse { line, skipping } => {
                // A last line without its newline (a stream cut mid-line) still counts if whole.
                if !skipping && !line.is_empty() {
                    scan_line(&line, &mut self.seen, &mut self.found);
                }
            }
            Mode::Json { body, truncated } => {
                if truncated {
                    scan_line(&body, &mut self.seen, &mut self.found);
                } else if let Some(answer) = read_answer_usage(&body) {
                    if let Some(usage) = answer {
                        self.seen.merge(&usage);
                        self.found = true;
                    }
                } else {
                    // Not JSON as a whole (cut short, or several documents): look for the key.
                    scan_line(&body, &mut self.seen, &mut self.found);
                }
            }
            Mode::Ignore => {}
        }
        if self.found {
            self.seen.tokens()
        } else {
            None
        }
    }
}

/// The `usage` of a JSON answer that is one object: `Some(None)` when it has none (or `null`),
/// `None` when the body is not one object or names `usage` twice. Only the top level is scanned;
/// only the usage value is parsed.
fn read_answer_usage(body: &[u8]) -> Option<Option<RawUsage>> {
    let members = crate::proxy::scan::top_level_members(body).ok()?;
    let mut usages = members.iter().filter(|m| m.key == "usage");
    let usage = usages.next();
    if usages.next().is_some() {
        return None;
    }
    match usage {
        None => Some(None),
        Some(member) => {
            serde_json::from_slice::<Option<RawUsage>>(&body[member.value.clone()]).ok()
        }
    }
}

/// Every usage field either API (or a well-known relay) names. Absent fields stay `None`.
#[derive(Debug, Default, Clone, Deserialize)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
    input_tokens_details: Option<CachedDetails>,
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct CachedDetails {
    cached_tokens: Option<u64>,
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl RawUsage {
    /// Folds a later usage object in. Counts in a stream are running totals (Anthropic's
    /// `message_delta` repeats and raises what `message_start` said), so the larger value wins; a
    /// relay that sends a later 0 cannot erase an earlier count.
    fn merge(&mut self, other: &RawUsage) {
        self.input_tokens = max_opt(self.input_tokens, other.input_tokens);
        self.output_tokens = max_opt(self.output_tokens, other.output_tokens);
        self.cache_read_input_tokens =
            max_opt(self.cache_read_input_tokens, other.cache_read_input_tokens);
        self.cache_creation_input_tokens = max_opt(
            self.cache_creation_input_tokens,
            other.cache_creation_input_tokens,
        );
        self.prompt_tokens = max_opt(self.prompt_tokens, other.prompt_tokens);
        self.completion_tokens = max_opt(self.completion_tokens, other.completion_tokens);
        self.prompt_cache_hit_tokens =
            max_opt(self.prompt_cache_hit_tokens, other.prompt_cache_hit_tokens);
        for (mine, theirs) in [
            (
                &mut self.prompt_tokens_details,
                &other.prompt_tokens_details,
            ),
            (&mut self.input_tokens_details, &other.input_tokens_details),
        ] {
            if let Some(theirs) = theirs {
                let cached = max_opt(
                    mine.as_ref().and_then(|d| d.cached_tokens),
                    theirs.cached_tokens,
                );
                *mine = Some(CachedDetails {
                    cached_tokens: cached,
                });
            }
        }
    }

    /// The four kinds, or `None` when no count at all was given.
    fn tokens(&self) -> Option<Tokens> {
        let openai_cached = max_opt(
            max_opt(
                self.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens),
                self.input_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens),
            ),
            self.prompt_cache_hit_tokens,
        );
        let (input, cache_read) = if let Some(prompt) = self.prompt_tokens {
            // OpenAI: prompt_tokens includes the cached ones.
            let cached = openai_cached.unwrap_or(0).min(prompt);
            (Some(prompt - cached), Some(cached))
        } else if self.input_tokens_details.is_some() {
            // Responses API: input_tokens includes the cached ones too.
            let all = self.input_tokens.unwrap_or(0);
            let cached = openai_cached.unwrap_or(0).min(all);
            (self.input_tokens.map(|_| all - cached), Some(cached))
        } else {
            (self.input_tokens, self.cache_read_input_tokens)
        };
        let output = max_opt(self.output_tokens, self.completion_tokens);
        let write = self.cache_creation_input_tokens;
        if input.is_none() && output.is_none() && cache_read.is_none() && write.is_none() {
            return None;
        }
        Some(Tokens {
            input: input.unwrap_or(0),
            output: output.unwrap_or(0),
            cache_read: cache_read.unwrap_or(0),
            cache_write: write.unwrap_or(0),
        })
    }
}

const USAGE_KEY: &[u8] = b"\"usage\"";

/// Looks for `"usage": {…}` in one line (or a body tail) and folds every such object in.
///
/// Inside a JSON string a quote is escaped, so a raw `"usage"` followed by `:` is always a key;
/// text that merely mentions usage costs nothing more than the search.
fn scan_line(line: &[u8], seen: &mut RawUsage, found: &mut bool) {
    let finder = memmem::Finder::new(USAGE_KEY);
    let mut from = 0;
    while let Some(at) = finder.find(&line[from..]) {
        let after = from + at + USAGE_KEY.len();
        from = after;
        let rest = skip_space(&line[after..]);
        let Some(rest) = rest.strip_prefix(b":") else {
            continue;
        };
        let rest = skip_space(rest);
        if rest.first() != Some(&b'{') {
            // `"usage": null` (OpenAI sends it on every chunk of a stream that asked for usage).
            continue;
        }
        let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<RawUsage>();
        if let Some(Ok(usage)) = values.next() {
            seen.merge(&usage);
            *found = true;
        }
    }
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let n = bytes
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    &bytes[n..]
}

#[cfg(test)]
mod tests;

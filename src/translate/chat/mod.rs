//! OpenAI Chat Completions in the hub: a reader and a writer for requests, whole answers and
//! streams, and the words of the API they share (finish reasons, usage, ids, tool names).

mod answer;
mod request;
mod stream;

pub(crate) use answer::{lenient_input, read_answer, write_answer};
pub(crate) use request::{
    checked_arguments, image_of_url, read_request, write_request, write_sampling,
};
pub use stream::{StreamReader, StreamWriter};

use super::ir::StopReason;
use super::lazy::{Json, Object};
use super::{Tokens, ToolName};
use crate::wire::usage::tokens_of_usage;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Chat `finish_reason` in the intermediate form. A `stop` that ended in tool calls (as some
/// servers report it) is a tool use; `tool_calls` without any call is the end of a turn.
pub(crate) fn stop_reason(finish_reason: Option<&str>, had_tool_calls: bool) -> StopReason {
    match finish_reason {
        Some("length") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::Refusal,
        _ if had_tool_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// The Chat `finish_reason` for a way to stop.
pub(crate) fn finish_word(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens | StopReason::ContextWindow => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::Refusal => "content_filter",
        StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn => "stop",
    }
}

/// The tokens of a Chat usage object (its prompt tokens include the cached ones, its completion
/// tokens the reasoning ones).
pub(crate) fn read_usage(usage: Json<'_>) -> Tokens {
    tokens_of_usage(usage.text().as_bytes(), false)
}

/// OpenAI's `usage` object: the prompt tokens count cache reads and writes, the completion tokens
/// the reasoning ones, which are said apart when there were any.
pub(crate) fn usage_json(usage: Tokens) -> Value {
    let prompt = usage.prompt();
    let mut value = json!({
        "prompt_tokens": prompt,
        "completion_tokens": usage.output,
        "total_tokens": prompt.saturating_add(usage.output),
        "prompt_tokens_details": {"cached_tokens": usage.cache_read},
    });
    if usage.reasoning > 0 {
        value["completion_tokens_details"] = json!({"reasoning_tokens": usage.reasoning});
    }
    value
}

/// A Chat id for another API's answer id.
pub(crate) fn completion_id(id: Option<&str>) -> String {
    match id {
        Some(id) if !id.is_empty() => format!("chatcmpl-{id}"),
        _ => "chatcmpl-switchyard".to_string(),
    }
}

/// The reasoning text a Chat message or delta carries (`reasoning_content` as DeepSeek sends it,
/// `reasoning` as OpenRouter does).
pub(crate) fn reasoning_of<'a>(message: &Object<'a>) -> Option<Cow<'a, str>> {
    message
        .str("reasoning_content")
        .or_else(|| message.str("reasoning"))
        .filter(|s| !s.is_empty())
}

/// The longest tool name and `user` OpenAI accepts.
pub(crate) const OPENAI_NAME_LIMIT: usize = 64;

/// A name of at most 64 characters for OpenAI: itself when short enough, else its first 47
/// characters, `_` and 16 hex digits of its SHA-256 (stable, so history and answers agree).
pub(crate) fn openai_name(name: &str) -> Cow<'_, str> {
    if name.chars().count() <= OPENAI_NAME_LIMIT {
        return Cow::Borrowed(name);
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let head: String = name.chars().take(OPENAI_NAME_LIMIT - 17).collect();
    Cow::Owned(format!("{head}_{hex}"))
}

/// [`openai_name`] of a name that may be borrowed from the request.
pub(crate) fn openai_name_of(name: Cow<'_, str>) -> Cow<'_, str> {
    match openai_name(&name) {
        Cow::Borrowed(_) => name,
        Cow::Owned(short) => Cow::Owned(short),
    }
}

/// Tool names the writer had to shorten or turn into functions, as the exchange keeps them.
#[derive(Default)]
pub(crate) struct Renamed(pub Vec<ToolName>);

impl Renamed {
    /// `name` for OpenAI, remembered when it had to change.
    pub fn name<'a>(&mut self, name: Cow<'a, str>, custom: bool) -> Cow<'a, str> {
        let short = openai_name_of(name.clone());
        match self.0.iter_mut().find(|t| t.client == name) {
            Some(known) => known.custom |= custom,
            None if short != name || custom => self.0.push(ToolName {
                upstream: short.to_string(),
                client: name.to_string(),
                custom,
                answer: false,
            }),
            None => {}
        }
        short
    }
}

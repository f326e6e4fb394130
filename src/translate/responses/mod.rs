//! OpenAI Responses in the hub: a reader and a writer for requests, whole answers and streams,
//! and the words of the API they share (statuses, usage, items, errors).
//!
//! | Responses | intermediate form |
//! | --- | --- |
//! | `instructions`, `developer`/`system` messages | system text, system turns |
//! | `input` items: `message`, `function_call`, `custom_tool_call`, their `*_output`s, `reasoning` | turns (consecutive assistant-side items are one turn) |
//! | `reasoning` with the gateway's `encrypted_content` (see `carry`) | Anthropic thinking blocks, signatures intact |
//! | `function` tools; `custom` tools | tools; functions with one string parameter `input` |
//! | `web_search`, `tool_search`, `namespace`, other built-in tools | left out (logged) |
//! | `reasoning.effort` | effort (Anthropic: a thinking budget; Chat: `reasoning_effort`) |
//! | `text.format` (`json_schema`, `json_object`) | output format (Chat `response_format`; Messages: a tool the model must call, see `structured`) |
//! | `max_output_tokens`, `temperature`, `top_p`, `user`, `parallel_tool_calls`, `tool_choice` | the same settings |
//! | `status` / `incomplete_details`, `usage` with `cached_tokens` and `reasoning_tokens` | stop reason, usage |
//!
//! Refused with a 400 naming the field: `previous_response_id` and `store: true` (the gateway keeps
//! no conversations), `item_reference` items, files by id or URL.

mod answer;
pub(crate) mod carry;
mod request;
mod stream;

pub(crate) use answer::{read_answer, write_answer};
pub(crate) use request::{read_request, write_request};
pub use stream::{StreamReader, StreamWriter};

use super::errors::ErrorKind;
use super::ir::StopReason;
use super::lazy::{Json, Object};
use super::sse::named_event;
use super::Tokens;
use crate::wire::usage::tokens_of_usage;
use serde_json::{json, Value};

/// How a response stopped, from its `status` and `incomplete_details`.
pub(crate) fn stop_reason(response: &Object<'_>, had_calls: bool) -> StopReason {
    let reason = response.field("incomplete_details").get("reason").as_str();
    match (response.str("status").as_deref(), reason.as_deref()) {
        (Some("incomplete"), Some("content_filter")) => StopReason::Refusal,
        (Some("incomplete"), _) => StopReason::MaxTokens,
        _ if had_calls => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// The tokens of a Responses usage object (its input tokens include the cached ones, its output
/// tokens the reasoning ones).
pub(crate) fn read_usage(usage: Json<'_>) -> Tokens {
    tokens_of_usage(usage.text().as_bytes(), true)
}

/// The Responses `usage` object (input tokens count cache reads and writes).
pub(crate) fn usage_json(usage: Tokens) -> Value {
    let input = usage.prompt();
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": input.saturating_add(usage.output),
    })
}

/// A response id for another API's answer id.
pub(crate) fn response_id(id: Option<&str>) -> String {
    match id {
        Some(id) if id.starts_with("resp_") => id.to_string(),
        Some(id) if !id.is_empty() => format!("resp_{id}"),
        _ => "resp_switchyard".to_string(),
    }
}

/// The status and `incomplete_details` of a response that stopped so.
fn status_of(stop: StopReason) -> (&'static str, Value) {
    match stop {
        StopReason::MaxTokens | StopReason::ContextWindow => {
            ("incomplete", json!({"reason": "max_output_tokens"}))
        }
        _ => ("completed", Value::Null),
    }
}

/// The `error` of a failed response.
fn error_json(kind: ErrorKind, message: &str) -> Value {
    json!({"code": kind.openai_type_and_code().1, "message": message})
}

/// The `response.failed` event that ends a stream that failed midway.
pub(crate) fn failed_event(kind: ErrorKind, message: &str) -> Vec<u8> {
    named_event(
        "response.failed",
        &json!({"type": "response.failed", "response": {
            "id": response_id(None), "object": "response", "status": "failed",
            "error": error_json(kind, message), "output": [],
        }}),
    )
}

/// The kind of error a Responses error `code` names.
fn kind_of_code(code: &str) -> ErrorKind {
    let has = |word: &str| code.contains(word);
    if has("rate_limit") {
        ErrorKind::RateLimit
    } else if has("insufficient_quota") || has("billing") {
        ErrorKind::Billing
    } else if has("overloaded") || has("unavailable") {
        ErrorKind::Overloaded
    } else if has("invalid") || has("context_length") || has("not_found") {
        ErrorKind::InvalidRequest
    } else {
        ErrorKind::Api
    }
}

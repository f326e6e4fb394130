//! Anthropic Messages in the hub: a reader and a writer for requests, whole answers and streams,
//! and the words of the API they share (stop reasons, usage, ids).

mod answer;
mod request;
mod stream;

pub(crate) use answer::{read_answer, write_answer};
pub(crate) use request::{read_request, write_request};
pub use stream::{StreamReader, StreamWriter};

use super::ir::StopReason;
use super::lazy::Json;
use super::Tokens;
use crate::wire::usage::UsageFields;
use serde_json::{json, Value};

/// A Messages `stop_reason` in the intermediate form.
pub(crate) fn stop_reason(word: Option<&str>) -> StopReason {
    match word {
        Some("max_tokens") => StopReason::MaxTokens,
        Some("model_context_window_exceeded") => StopReason::ContextWindow,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::Refusal,
        Some("pause_turn") => StopReason::PauseTurn,
        _ => StopReason::EndTurn,
    }
}

/// The Messages `stop_reason` for a way to stop.
pub(crate) fn stop_word(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::ContextWindow => "model_context_window_exceeded",
        StopReason::ToolUse => "tool_use",
        StopReason::StopSequence => "stop_sequence",
        StopReason::Refusal => "refusal",
        StopReason::PauseTurn => "pause_turn",
    }
}

/// An Anthropic `usage` object's fields, to be folded into those of the stream so far.
pub(crate) fn usage_fields(usage: Json<'_>) -> UsageFields {
    UsageFields::read(usage.text().as_bytes(), &mut Vec::new()).unwrap_or_default()
}

/// The tokens of an Anthropic `usage` object.
pub(crate) fn read_usage(usage: Json<'_>) -> Tokens {
    usage_fields(usage).tokens().unwrap_or_default()
}

/// Anthropic's `usage` object: cache writes split by lifetime when there are any.
pub(crate) fn usage_json(usage: Tokens) -> Value {
    let mut value = json!({
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation_input_tokens": usage.cache_write(),
    });
    if usage.cache_write() > 0 {
        value["cache_creation"] = json!({
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        });
    }
    value
}

/// A Messages id for another API's answer id.
pub(crate) fn message_id(id: Option<&str>) -> String {
    match id {
        Some(id) if id.starts_with("msg_") => id.to_string(),
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        _ => "msg_switchyard".to_string(),
    }
}

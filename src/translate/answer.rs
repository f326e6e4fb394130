//! Whole (non-streamed) answers: Chat completion → Message and back, plus the mappings the
//! stream translators share (stop reasons, usage, ids). An answer is read lazily and its
//! translation written block by block (see [`super::lazy`]), so its size, not its shape, decides
//! what it costs.

use super::lazy::{out, Json, JsonWriter, Object, Out, NULL};
use super::Usage;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

/// Chat `finish_reason` → Messages `stop_reason`. A `stop` that ended in tool calls (as some
/// servers report it) is `tool_use`; `tool_calls` without any call is `end_turn`.
pub(crate) fn stop_reason(finish_reason: Option<&str>, had_tool_calls: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        _ if had_tool_calls => "tool_use",
        _ => "end_turn",
    }
}

/// Messages `stop_reason` → Chat `finish_reason`.
pub(crate) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Chat usage (prompt tokens include cached ones) in Anthropic's terms (input excludes them).
pub(crate) fn usage_from_chat(usage: Json<'_>) -> Usage {
    let usage = usage.object().unwrap_or_default();
    let cached = usage
        .field("prompt_tokens_details")
        .get("cached_tokens")
        .as_u64()
        .or_else(|| usage.field("prompt_cache_hit_tokens").as_u64())
        .unwrap_or(0);
    let prompt = usage.field("prompt_tokens").as_u64().unwrap_or(0);
    Usage {
        input: prompt.saturating_sub(cached),
        output: usage.field("completion_tokens").as_u64().unwrap_or(0),
        cache_read: cached,
        cache_write: 0,
    }
}

/// Anthropic usage fields that are present, over `base`.
pub(crate) fn usage_from_messages(usage: Json<'_>, base: Usage) -> Usage {
    let usage = usage.object().unwrap_or_default();
    let read = |key: &str, old: u64| usage.field(key).as_u64().unwrap_or(old);
    Usage {
        input: read("input_tokens", base.input),
        output: read("output_tokens", base.output),
        cache_read: read("cache_read_input_tokens", base.cache_read),
        cache_write: read("cache_creation_input_tokens", base.cache_write),
    }
}

impl Usage {
    /// Anthropic's `usage` object.
    pub fn to_messages_json(self) -> Value {
        json!({
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_write,
        })
    }

    /// OpenAI's `usage` object (prompt tokens count cache reads and writes).
    pub fn to_chat_json(self) -> Value {
        let prompt = self
            .input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write);
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": self.output,
            "total_tokens": prompt.saturating_add(self.output),
            "prompt_tokens_details": {"cached_tokens": self.cache_read},
        })
    }
}

/// The token counts a JSON answer of `api` reports, in Anthropic's terms.
pub fn answer_usage(api: super::Api, answer: &Value) -> Usage {
    let text = serde_json::to_vec(answer).unwrap_or_default();
    let usage = Json::parse(&text).map_or(NULL, |answer| answer.get("usage"));
    match api {
        super::Api::OpenAi => usage_from_chat(usage),
        super::Api::Anthropic => usage_from_messages(usage, Usage::default()),
    }
}

/// A Messages id for a Chat answer's id.
pub(crate) fn message_id(chat_id: Option<&str>) -> String {
    match chat_id {
        Some(id) if id.starts_with("msg_") => id.to_string(),
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        _ => "msg_switchyard".to_string(),
    }
}

/// A Chat id for a Messages answer's id.
pub(crate) fn completion_id(message_id: Option<&str>) -> String {
    match message_id {
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

/// The client's name for a tool the upstream called by its shortened name.
pub(crate) fn original_tool_name<'a>(names: &'a [(String, String)], name: &'a str) -> &'a str {
    names
        .iter()
        .find(|(short, _)| short == name)
        .map_or(name, |(_, original)| original)
}

/// A tool call's JSON-string arguments as a `tool_use` input: the object they hold, else `{}`.
fn input_of(arguments: &str) -> Out<'_> {
    match serde_json::from_str::<&RawValue>(arguments) {
        Ok(raw) if raw.get().starts_with('{') => Out::Raw(raw.into()),
        _ => Out::Object(Vec::new()),
    }
}

/// A Chat completion's first choice and that choice's `message` (empty objects where absent).
pub(crate) fn first_choice<'a>(answer: &Object<'a>) -> (Object<'a>, Object<'a>) {
    let choice = answer
        .field("choices")
        .first_item()
        .object()
        .unwrap_or_default();
    let message = choice.field("message").object().unwrap_or_default();
    (choice, message)
}

/// A Chat completion as a Message that names `client_model`; `tool_names` maps shortened tool
/// names (short, original) back.
pub(crate) fn write_chat_answer_as_messages(
    answer: &Object<'_>,
    client_model: &str,
    tool_names: &[(String, String)],
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let (choice, message) = first_choice(answer);
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("id", &message_id(answer.str("id").as_deref()).into())?;
    out.member("type", &"message".into())?;
    out.member("role", &"assistant".into())?;
    out.member("model", &client_model.into())?;
    out.key("content")?;
    out.open_array();
    if let Some(thinking) = reasoning_of(&message) {
        out.value(&out! {"type" => "thinking", "thinking" => thinking, "signature" => ""})?;
    }
    for key in ["content", "refusal"] {
        if let Some(text) = message.str(key).filter(|t| !t.is_empty()) {
            out.value(&out! {"type" => "text", "text" => text})?;
        }
    }
    let mut had_tools = false;
    let calls = message.field("tool_calls").array().unwrap_or_default();
    for (i, call) in calls.into_iter().enumerate() {
        had_tools = true;
        let call = call.object().unwrap_or_default();
        let function = call.field("function").object().unwrap_or_default();
        let arguments = function.str("arguments").unwrap_or_default();
        let id = call
            .str("id")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| Cow::Owned(format!("toolu_switchyard_{i}")));
        let name = function.str("name").unwrap_or_default();
        out.value(&out! {
            "type" => "tool_use",
            "id" => id,
            "name" => original_tool_name(tool_names, &name),
            "input" => input_of(&arguments),
        })?;
    }
    out.close();
    let stop = if message.str("refusal").is_some_and(|r| !r.is_empty()) {
        "refusal"
    } else {
        stop_reason(choice.str("finish_reason").as_deref(), had_tools)
    };
    out.member("stop_reason", &stop.into())?;
    out.member("stop_sequence", &Out::Null)?;
    let usage = usage_from_chat(answer.field("usage"));
    out.member("usage", &Out::Value(usage.to_messages_json()))?;
    Ok(out.finish())
}

/// A Message as a Chat completion that names `client_model`. Thinking goes to `reasoning_content`,
/// as DeepSeek-style clients read it; OpenAI's own SDK ignores the field.
pub(crate) fn write_messages_answer_as_chat(
    answer: &Object<'_>,
    client_model: &str,
    created: u64,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("id", &completion_id(answer.str("id").as_deref()).into())?;
    out.member("object", &"chat.completion".into())?;
    out.member("created", &Out::U64(created))?;
    out.member("model", &client_model.into())?;
    out.key("choices")?;
    out.open_array();
    out.open_object();
    out.member("index", &Out::U64(0))?;
    out.key("message")?;
    out.open_object();
    out.member("role", &"assistant".into())?;
    let mut texts = Vec::new();
    let mut thinking = Vec::new();
    // Calls are written as they come; the text they may follow is written after them.
    let mut calls = 0;
    for block in answer.field("content").array().unwrap_or_default() {
        let block = block.object().unwrap_or_default();
        match block.str("type").unwrap_or_default().as_ref() {
            "text" => texts.push(block.str("text").unwrap_or_default()),
            "thinking" => thinking.push(block.str("thinking").unwrap_or_default()),
            "tool_use" => {
                if calls == 0 {
                    out.key("tool_calls")?;
                    out.open_array();
                }
                calls += 1;
                out.value(&out! {
                    "id" => block.field("id"),
                    "type" => "function",
                    "function" => out! {
                        "name" => block.field("name"),
                        "arguments" => block.field("input").compact(),
                    },
                })?;
            }
            _ => {}
        }
    }
    if calls > 0 {
        out.close();
    }
    let text = texts.concat();
    let content = if text.is_empty() && calls > 0 {
        Out::Null
    } else {
        text.into()
    };
    out.member("content", &content)?;
    if !thinking.is_empty() {
        out.member("reasoning_content", &thinking.concat().into())?;
    }
    out.member("refusal", &Out::Null)?;
    out.close();
    out.member("logprobs", &Out::Null)?;
    let finish = finish_reason(answer.str("stop_reason").as_deref());
    out.member("finish_reason", &finish.into())?;
    out.close();
    out.close();
    let usage = usage_from_messages(answer.field("usage"), Usage::default());
    out.member("usage", &Out::Value(usage.to_chat_json()))?;
    Ok(out.finish())
}

/// [`write_chat_answer_as_messages`] for an answer already parsed into a `Value`.
pub fn chat_answer_to_messages(
    answer: &Value,
    client_model: &str,
    tool_names: &[(String, String)],
) -> Value {
    through_bytes(answer, |answer| {
        write_chat_answer_as_messages(answer, client_model, tool_names, 0)
    })
}

/// [`write_messages_answer_as_chat`] for an answer already parsed into a `Value`.
pub fn messages_answer_to_chat(answer: &Value, client_model: &str, created: u64) -> Value {
    through_bytes(answer, |answer| {
        write_messages_answer_as_chat(answer, client_model, created, 0)
    })
}

fn through_bytes(
    answer: &Value,
    write: impl FnOnce(&Object<'_>) -> serde_json::Result<Vec<u8>>,
) -> Value {
    let text = serde_json::to_vec(answer).unwrap_or_default();
    let answer = Json::parse(&text)
        .ok()
        .and_then(Json::object)
        .unwrap_or_default();
    write(&answer)
        .and_then(|body| serde_json::from_slice(&body))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_and_stop_reasons_map_both_ways() {
        for (finish, stop) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("content_filter", "refusal"),
        ] {
            assert_eq!(stop_reason(Some(finish), finish == "tool_calls"), stop);
            assert_eq!(finish_reason(Some(stop)), finish);
        }
        assert_eq!(stop_reason(Some("tool_calls"), false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), true), "tool_use");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
    }

    #[test]
    fn cached_prompt_tokens_become_cache_reads_and_back() {
        let usage = |v: Value| {
            let text = v.to_string();
            usage_from_chat(Json::parse(text.as_bytes()).unwrap())
        };
        let u = usage(
            json!({"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 60}}),
        );
        assert_eq!(
            u,
            Usage {
                input: 40,
                output: 7,
                cache_read: 60,
                cache_write: 0
            }
        );
        assert_eq!(u.to_chat_json()["prompt_tokens"], 100);
        let d = usage(
            json!({"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 4}),
        );
        assert_eq!(d.cache_read, 4);
        assert_eq!(d.input, 6);
    }

    #[test]
    fn usage_is_read_from_either_apis_answer() {
        let chat = json!({"usage": {"prompt_tokens": 30, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 10}}});
        assert_eq!(
            answer_usage(super::super::Api::OpenAi, &chat),
            Usage {
                input: 20,
                output: 5,
                cache_read: 10,
                cache_write: 0
            }
        );
        let msg = json!({"usage": {"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 7}});
        assert_eq!(
            answer_usage(super::super::Api::Anthropic, &msg),
            Usage {
                input: 3,
                output: 4,
                cache_read: 0,
                cache_write: 7
            }
        );
    }

    #[test]
    fn a_chat_answer_with_reasoning_and_tools_becomes_ordered_blocks() {
        let a = json!({"id": "x1", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "ok", "reasoning_content": "think",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3}});
        let m = chat_answer_to_messages(&a, "claude-x", &[("f".into(), "long_f".into())]);
        assert_eq!(m["model"], "claude-x");
        assert_eq!(m["id"], "msg_x1");
        let types: Vec<&str> = m["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["thinking", "text", "tool_use"]);
        assert_eq!(m["content"][2]["input"], json!({"a": 1}));
        assert_eq!(m["content"][2]["name"], "long_f");
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"]["input_tokens"], 5);
    }

    #[test]
    fn a_message_becomes_a_chat_completion_with_json_string_arguments() {
        let m = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "a"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": "x"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 2}});
        let c = messages_answer_to_chat(&m, "gpt-4o", 9);
        assert_eq!(c["model"], "gpt-4o");
        assert_eq!(c["created"], 9);
        let msg = &c["choices"][0]["message"];
        assert_eq!(msg["content"], "a");
        assert_eq!(msg["reasoning_content"], "t");
        assert_eq!(
            msg["tool_calls"][0]["function"]["arguments"],
            "{\"q\":\"x\"}"
        );
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["usage"]["prompt_tokens"], 5);
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
        assert_eq!(c["usage"]["total_tokens"], 9);
    }
}

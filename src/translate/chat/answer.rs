//! Whole Chat completions: read into the intermediate form, and written from it.

use super::usage_json;
use super::{completion_id, finish_word, read_usage, reasoning_of, stop_reason};
use crate::translate::hub::Client;
use crate::translate::ir::{restored, Answer, Input, Part, StopReason, ToolCall};
use crate::translate::lazy::{out, JsonWriter, Object, Out, Text, EMPTY_OBJECT};
use crate::translate::ToolName;
use serde_json::value::RawValue;
use std::borrow::Cow;

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

/// A Chat completion in the intermediate form: reasoning, text, refusal, then tool calls (named
/// as the client knows them).
pub(crate) fn read_answer<'a>(answer: &Object<'a>, tool_names: &[ToolName]) -> Answer<'a> {
    let (choice, message) = first_choice(answer);
    let mut parts = Vec::new();
    if let Some(thinking) = reasoning_of(&message) {
        parts.push(Part::Thinking {
            text: thinking.into(),
            signature: None,
        });
    }
    for key in ["content", "refusal"] {
        if let Some(text) = message.text(key).filter(|t| !t.is_empty()) {
            parts.push(Part::Text(text));
        }
    }
    let calls = message.field("tool_calls").array().unwrap_or_default();
    let had_tools = !calls.is_empty();
    for (i, call) in calls.into_iter().enumerate() {
        let call = call.object().unwrap_or_default();
        let function = call.field("function").object().unwrap_or_default();
        let id = call
            .str("id")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| Cow::Owned(format!("toolu_switchyard_{i}")));
        parts.push(Part::ToolCall(ToolCall {
            id,
            name: restored(tool_names, function.str("name").unwrap_or_default()),
            input: lenient_input(function.str("arguments").unwrap_or_default()),
        }));
    }
    let stop = if message.str("refusal").is_some_and(|r| !r.is_empty()) {
        StopReason::Refusal
    } else {
        stop_reason(choice.str("finish_reason").as_deref(), had_tools)
    };
    Answer {
        id: answer.str("id"),
        parts,
        stop,
        usage: read_usage(answer.field("usage")),
    }
}

/// A tool call's JSON-string arguments as its input: the object they hold, else `{}`.
pub(crate) fn lenient_input(arguments: Cow<'_, str>) -> Input<'_> {
    if !arguments.trim_start().starts_with('{') {
        return Input::Json(EMPTY_OBJECT);
    }
    match arguments {
        Cow::Borrowed(text) => serde_json::from_str::<&RawValue>(text)
            .map_or(Input::Json(EMPTY_OBJECT), |raw| Input::Json(raw.into())),
        Cow::Owned(text) => {
            RawValue::from_string(text).map_or(Input::Json(EMPTY_OBJECT), Input::Checked)
        }
    }
}

/// The intermediate form as a Chat completion that names the client's model. Thinking goes to
/// `reasoning_content`, as DeepSeek-style clients read it; OpenAI's own SDK ignores the field.
pub(crate) fn write_answer(
    answer: Answer<'_>,
    client: &Client<'_>,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("id", &completion_id(answer.id.as_deref()).into())?;
    out.member("object", &"chat.completion".into())?;
    out.member("created", &Out::U64(client.created))?;
    out.member("model", &client.model.into())?;
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
    for part in answer.parts {
        match part {
            Part::Text(text) => texts.push(text),
            Part::Thinking { text, .. } => thinking.push(text),
            Part::ToolCall(call) => {
                if calls == 0 {
                    out.key("tool_calls")?;
                    out.open_array();
                }
                calls += 1;
                out.value(&out! {
                    "id" => call.id,
                    "type" => "function",
                    "function" => out! {
                        "name" => call.name,
                        "arguments" => call.input.into_arguments(),
                    },
                })?;
            }
            _ => {}
        }
    }
    if calls > 0 {
        out.close();
    }
    let text = Text::concat(texts);
    let content = if text.is_empty() && calls > 0 {
        Out::Null
    } else {
        text.into()
    };
    out.member("content", &content)?;
    if !thinking.is_empty() {
        out.member("reasoning_content", &Text::concat(thinking).into())?;
    }
    out.member("refusal", &Out::Null)?;
    out.close();
    out.member("logprobs", &Out::Null)?;
    out.member("finish_reason", &finish_word(answer.stop).into())?;
    out.close();
    out.close();
    out.member("usage", &Out::Value(usage_json(answer.usage)))?;
    Ok(out.finish())
}

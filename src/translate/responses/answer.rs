//! Whole responses: read into the intermediate form, and written from it; and the output items
//! both the answer and the stream writer write.

use super::{carry, read_usage, response_id, status_of, stop_reason, usage_json};
use crate::translate::chat::lenient_input;
use crate::translate::hub::Client;
use crate::translate::ir::{
    is_custom_tool, joined, restored, Answer, Input, Part, StopReason, ToolCall, CUSTOM_INPUT,
};
use crate::translate::lazy::{out, Json, JsonWriter, Object, Out, Text};
use crate::translate::ToolName;
use std::borrow::Cow;

/// A response in the intermediate form: its output items' text, reasoning summaries and tool calls.
pub(crate) fn read_answer<'a>(answer: &Object<'a>, tool_names: &[ToolName]) -> Answer<'a> {
    let mut parts = Vec::new();
    let mut had_calls = false;
    let mut refused = false;
    for item in answer.field("output").array().unwrap_or_default() {
        let item = item.object().unwrap_or_default();
        match item.str("type").unwrap_or_default().as_ref() {
            "message" => {
                for part in item.field("content").array().unwrap_or_default() {
                    let part = part.object().unwrap_or_default();
                    match part.str("type").unwrap_or_default().as_ref() {
                        "output_text" => {
                            parts.push(Part::Text(part.text("text").unwrap_or_default()))
                        }
                        "refusal" => {
                            refused = true;
                            parts.push(Part::Text(part.text("refusal").unwrap_or_default()));
                        }
                        _ => {}
                    }
                }
            }
            "reasoning" => {
                if let Some(text) = reasoning_text(&item) {
                    parts.push(Part::Thinking {
                        text,
                        signature: None,
                    });
                }
            }
            "function_call" => {
                had_calls = true;
                parts.push(Part::ToolCall(ToolCall {
                    id: item.str("call_id").unwrap_or_default(),
                    name: restored(tool_names, item.str("name").unwrap_or_default()),
                    input: lenient_input(item.str("arguments").unwrap_or_default()),
                }));
            }
            "custom_tool_call" => {
                had_calls = true;
                parts.push(Part::ToolCall(ToolCall {
                    id: item.str("call_id").unwrap_or_default(),
                    name: restored(tool_names, item.str("name").unwrap_or_default()),
                    input: Input::Text(item.str("input").unwrap_or_default()),
                }));
            }
            _ => {}
        }
    }
    let usage = read_usage(answer.field("usage"));
    let stop = match stop_reason(answer, had_calls) {
        StopReason::EndTurn if refused => StopReason::Refusal,
        stop => stop,
    };
    Answer {
        id: answer.str("id"),
        parts,
        stop,
        usage,
    }
}

/// The text of a reasoning item: its summary's paragraphs, else its reasoning text.
pub(super) fn reasoning_text<'a>(item: &Object<'a>) -> Option<Text<'a>> {
    let texts = |key: &str| -> Vec<Text<'a>> {
        let list = item.field(key).array().unwrap_or_default();
        list.into_iter()
            .filter_map(|p| p.get("text").as_text())
            .collect()
    };
    let mut found = texts("summary");
    if found.is_empty() {
        found = texts("content");
    }
    (!found.is_empty()).then(|| joined(found))
}

/// The ids of one answer's items: a prefix per kind, the upstream's id and the item's place.
#[derive(Debug)]
pub(super) struct ItemIds {
    base: String,
}

impl ItemIds {
    pub fn new(upstream_id: Option<&str>) -> Self {
        let id = upstream_id.unwrap_or("switchyard");
        let base = ["resp_", "msg_", "chatcmpl-"]
            .iter()
            .find_map(|prefix| id.strip_prefix(prefix))
            .unwrap_or(id);
        ItemIds {
            base: base.to_string(),
        }
    }

    pub fn of(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_{}_{index}", self.base)
    }
}

/// An assistant message item of these texts.
pub(super) fn message_item<'a>(id: String, status: &'static str, texts: Vec<Text<'a>>) -> Out<'a> {
    let content = texts
        .into_iter()
        .map(|text| out! {"type" => "output_text", "text" => text, "annotations" => Out::Array(Vec::new())})
        .collect();
    out! {
        "id" => id,
        "type" => "message",
        "status" => status,
        "role" => "assistant",
        "content" => Out::Array(content),
    }
}

/// A reasoning item: its text as the summary, and Anthropic blocks carried for replay.
pub(super) fn reasoning_item<'a>(
    id: String,
    text: Option<Text<'a>>,
    carried: Option<String>,
) -> Out<'a> {
    let summary = text
        .filter(|t| !t.is_empty())
        .map(|text| out! {"type" => "summary_text", "text" => text})
        .into_iter()
        .collect();
    let mut item = vec![
        ("id", Out::from(id)),
        ("type", Out::from("reasoning")),
        ("summary", Out::Array(summary)),
    ];
    if let Some(carried) = carried {
        item.push(("encrypted_content", carried.into()));
    }
    Out::Object(item)
}

/// A tool call item: a `custom_tool_call` for the client's custom tools, else a `function_call`.
pub(super) fn call_item<'a>(
    id: &dyn Fn(&str) -> String,
    status: &'static str,
    call_id: Cow<'a, str>,
    name: Cow<'a, str>,
    arguments: Cow<'a, str>,
    tool_names: &[ToolName],
) -> Out<'a> {
    if is_custom_tool(tool_names, &name) {
        return out! {
            "id" => id("ctc"),
            "type" => "custom_tool_call",
            "status" => status,
            "call_id" => call_id,
            "name" => name,
            "input" => custom_text(arguments),
        };
    }
    out! {
        "id" => id("fc"),
        "type" => "function_call",
        "status" => status,
        "call_id" => call_id,
        "name" => name,
        "arguments" => arguments,
    }
}

/// A custom tool's free text from the arguments the upstream called its function with: the one
/// string parameter, else the arguments as they are.
pub(super) fn custom_text(arguments: Cow<'_, str>) -> Cow<'_, str> {
    let input = Json::parse(arguments.as_bytes())
        .ok()
        .and_then(|args| args.get(CUSTOM_INPUT).as_str())
        .map(Cow::into_owned);
    match input {
        Some(input) => Cow::Owned(input),
        None => arguments,
    }
}

/// The intermediate form as a response that names the client's model.
pub(crate) fn write_answer(
    answer: Answer<'_>,
    client: &Client<'_>,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let ids = ItemIds::new(answer.id.as_deref());
    let (status, incomplete) = status_of(answer.stop);
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("id", &response_id(answer.id.as_deref()).into())?;
    out.member("object", &"response".into())?;
    out.member("created_at", &Out::U64(client.created))?;
    out.member("status", &status.into())?;
    out.member("error", &Out::Null)?;
    out.member("incomplete_details", &Out::Value(incomplete))?;
    out.member("model", &client.model.into())?;
    out.key("output")?;
    out.open_array();
    let mut texts = Vec::new();
    let mut index = 0;
    for part in answer.parts {
        if !matches!(part, Part::Text(_)) && !texts.is_empty() {
            out.value(&message_item(
                ids.of("msg", index),
                "completed",
                std::mem::take(&mut texts),
            ))?;
            index += 1;
        }
        let item = match part {
            Part::Text(text) => {
                texts.push(text);
                continue;
            }
            Part::Thinking { text, signature } => {
                let carried = signature
                    .filter(|s| !s.is_empty())
                    .map(|s| carry::carry(&[carry::thinking_block(&text.decoded(), &s)]));
                reasoning_item(ids.of("rs", index), Some(text), carried)
            }
            Part::RedactedThinking(data) => reasoning_item(
                ids.of("rs", index),
                None,
                Some(carry::carry(&[carry::redacted_block(&data)])),
            ),
            Part::ToolCall(call) => {
                let id = |prefix: &str| ids.of(prefix, index);
                call_item(
                    &id,
                    "completed",
                    call.id,
                    call.name,
                    call.input.into_json(),
                    client.tool_names,
                )
            }
            Part::Image(_) | Part::Document(_) | Part::ToolResult(_) => continue,
        };
        out.value(&item)?;
        index += 1;
    }
    if !texts.is_empty() {
        out.value(&message_item(ids.of("msg", index), "completed", texts))?;
    }
    out.close();
    out.member("parallel_tool_calls", &Out::Bool(true))?;
    out.member("tool_choice", &"auto".into())?;
    out.member("tools", &Out::Array(Vec::new()))?;
    out.member("usage", &Out::Value(usage_json(answer.usage)))?;
    Ok(out.finish())
}

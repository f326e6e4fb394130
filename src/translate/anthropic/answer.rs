//! Whole Messages answers: read into the intermediate form, and written from it.

use super::{message_id, read_usage, stop_reason, stop_word, usage_json};
use crate::translate::hub::Client;
use crate::translate::ir::{restored, Answer, Input, Part, ToolCall};
use crate::translate::lazy::{out, JsonWriter, Object, Out};
use crate::translate::ToolName;

/// A Message in the intermediate form; tools renamed for the upstream get the client's names.
pub(crate) fn read_answer<'a>(answer: &Object<'a>, tool_names: &[ToolName]) -> Answer<'a> {
    let mut parts = Vec::new();
    for block in answer.field("content").array().unwrap_or_default() {
        let block = block.object().unwrap_or_default();
        match block.str("type").unwrap_or_default().as_ref() {
            "text" => parts.push(Part::Text(block.text("text").unwrap_or_default())),
            "thinking" => parts.push(Part::Thinking {
                text: block.text("thinking").unwrap_or_default(),
                signature: block.str("signature"),
            }),
            "redacted_thinking" => parts.push(Part::RedactedThinking(
                block.str("data").unwrap_or_default(),
            )),
            "tool_use" => parts.push(Part::ToolCall(ToolCall {
                id: block.str("id").unwrap_or_default(),
                name: restored(tool_names, block.str("name").unwrap_or_default()),
                input: Input::Json(block.field("input")),
            })),
            _ => {}
        }
    }
    Answer {
        id: answer.str("id"),
        parts,
        stop: stop_reason(answer.str("stop_reason").as_deref()),
        usage: read_usage(answer.field("usage")),
    }
}

/// The intermediate form as a Message that names the client's model.
pub(crate) fn write_answer(
    answer: Answer<'_>,
    client: &Client<'_>,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member("id", &message_id(answer.id.as_deref()).into())?;
    out.member("type", &"message".into())?;
    out.member("role", &"assistant".into())?;
    out.member("model", &client.model.into())?;
    out.key("content")?;
    out.open_array();
    for part in answer.parts {
        match part {
            Part::Text(text) => out.value(&out! {"type" => "text", "text" => text})?,
            Part::Thinking { text, signature } => out.value(&out! {
                "type" => "thinking",
                "thinking" => text,
                "signature" => signature.unwrap_or_default(),
            })?,
            Part::RedactedThinking(data) => {
                out.value(&out! {"type" => "redacted_thinking", "data" => data})?
            }
            Part::ToolCall(call) => {
                let input = match call.input {
                    Input::Json(json) => json.into(),
                    Input::Checked(raw) => Out::RawOwned(raw),
                    Input::Text(text) => out! {"input" => text},
                };
                out.value(&out! {
                    "type" => "tool_use",
                    "id" => call.id,
                    "name" => call.name,
                    "input" => input,
                })?
            }
            Part::Image(_) | Part::Document(_) | Part::ToolResult(_) => {}
        }
    }
    out.close();
    out.member("stop_reason", &stop_word(answer.stop).into())?;
    out.member("stop_sequence", &Out::Null)?;
    out.member("usage", &Out::Value(usage_json(answer.usage)))?;
    Ok(out.finish())
}

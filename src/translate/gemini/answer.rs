//! Whole Gemini answers (`GenerateContentResponse`): read into the intermediate form, and written
//! from it; and the parts both the answer and the stream writer write.

use super::{
    carried_signature, finish_word, made_up_call_id, read_usage, response_id, stop_reason, tool_id,
    usage_json, SKIP_SIGNATURE,
};
use crate::translate::chat::lenient_input;
use crate::translate::hub::Client;
use crate::translate::ir::{restored, Answer, Input, Part, StopReason, ToolCall, CUSTOM_INPUT};
use crate::translate::lazy::{out, Json, JsonWriter, Object, Out, Text, EMPTY_OBJECT};
use crate::translate::responses::carry;
use crate::translate::ToolName;
use serde_json::Value;
use std::borrow::Cow;

/// A Gemini answer in the intermediate form: its first candidate's thoughts, texts and calls. A
/// call's `thoughtSignature` rides in the signature of the thinking before it (an empty one when
/// there was none), so a client of another API gives it back.
pub(crate) fn read_answer<'a>(answer: &Object<'a>, tool_names: &[ToolName]) -> Answer<'a> {
    let id = answer.str("responseId");
    let candidate = answer
        .field("candidates")
        .first_item()
        .object()
        .unwrap_or_default();
    let mut parts: Vec<Part<'a>> = Vec::new();
    let mut calls = 0;
    for part in candidate
        .field("content")
        .get("parts")
        .array()
        .unwrap_or_default()
    {
        let part = part.object().unwrap_or_default();
        let signature = part
            .str("thoughtSignature")
            .filter(|s| !s.is_empty() && s != SKIP_SIGNATURE)
            .map(|s| Cow::Owned(carried_signature(&s)));
        if part.field("thought").as_bool() == Some(true) {
            parts.push(Part::Thinking {
                text: part.text("text").unwrap_or_default(),
                signature,
            });
        } else if let Some(text) = part.text("text") {
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
        } else if let Some(call) = part.field("functionCall").object() {
            if let Some(signature) = signature {
                match parts.last_mut() {
                    Some(Part::Thinking { signature: s, .. }) if s.is_none() => {
                        *s = Some(signature)
                    }
                    _ => parts.push(Part::Thinking {
                        text: Text::default(),
                        signature: Some(signature),
                    }),
                }
            }
            let (id, name, args) = call_of(&call, id.as_deref(), calls);
            calls += 1;
            parts.push(Part::ToolCall(ToolCall {
                id,
                name: restored(tool_names, name),
                input: Input::Json(if args.is_object() { args } else { EMPTY_OBJECT }),
            }));
        }
    }
    let usage = read_usage(answer.field("usageMetadata"));
    Answer {
        id,
        parts,
        stop: answer_stop(answer, &candidate, calls > 0),
        usage,
    }
}

/// How an answer stopped: its candidate's `finishReason`, or a refusal when the prompt itself was
/// blocked (`promptFeedback.blockReason`, no candidate).
pub(super) fn answer_stop(
    answer: &Object<'_>,
    candidate: &Object<'_>,
    had_calls: bool,
) -> StopReason {
    if candidate.is_empty() && !answer.field("promptFeedback").get("blockReason").is_null() {
        return StopReason::Refusal;
    }
    stop_reason(candidate.str("finishReason").as_deref(), had_calls)
}

/// A `functionCall`'s id (made up from the answer's id and its place when it has none), name and
/// arguments.
pub(super) fn call_of<'a>(
    call: &Object<'a>,
    answer_id: Option<&str>,
    index: usize,
) -> (Cow<'a, str>, Cow<'a, str>, Json<'a>) {
    let name = call.str("name").unwrap_or_default();
    let args = call.field("args");
    let id = match call.str("id").filter(|id| !id.is_empty()) {
        Some(id) => tool_id(id),
        None => Cow::Owned(made_up_call_id(answer_id, index, &name, &args.compact())),
    };
    (id, name, args)
}

/// A tool call's input as Gemini `args`, which must be an object: a custom tool's free text is
/// `{"input": text}`, anything else that is no object `{}`.
pub(super) fn args_out(input: Input<'_>) -> Out<'_> {
    match input {
        Input::Json(json) if json.is_object() => json.into(),
        Input::Checked(raw) if raw.get().trim_start().starts_with('{') => Out::RawOwned(raw),
        Input::Text(text) => Out::Object(vec![(CUSTOM_INPUT, text.into())]),
        _ => Out::Object(Vec::new()),
    }
}

/// A tool call's JSON-text arguments (as a stream gathers them) as Gemini `args`.
pub(super) fn args_of(arguments: Cow<'_, str>) -> Out<'_> {
    args_out(lenient_input(arguments))
}

/// A `functionCall` part, with the signature that carries the thinking before it, if any.
pub(super) fn call_part<'a>(
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    args: Out<'a>,
    carried: &mut Vec<Value>,
) -> Out<'a> {
    let mut part = vec![(
        "functionCall",
        out! {"id" => id, "name" => name, "args" => args},
    )];
    if !carried.is_empty() {
        part.push(("thoughtSignature", carry::carry(carried).into()));
        carried.clear();
    }
    Out::Object(part)
}

/// A candidate with these parts, and how it finished when it did.
pub(super) fn candidate<'a>(parts: Vec<Out<'a>>, finish: Option<&'static str>) -> Out<'a> {
    let content = out! {"role" => "model", "parts" => Out::Array(parts)};
    let mut candidate = vec![("content", content)];
    if let Some(finish) = finish {
        candidate.push(("finishReason", finish.into()));
    }
    candidate.push(("index", Out::U64(0)));
    Out::Object(candidate)
}

/// The intermediate form as a Gemini answer that names the client's model. Thinking shows as
/// `thought` parts; Anthropic's signed (and redacted) thinking rides in the `thoughtSignature` of
/// the next call, which Gemini CLI gives back verbatim (see `carry`).
pub(crate) fn write_answer(
    answer: Answer<'_>,
    client: &Client<'_>,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let mut parts = Vec::with_capacity(answer.parts.len());
    let mut carried = Vec::new();
    for part in answer.parts {
        match part {
            Part::Text(text) => parts.push(out! {"text" => text}),
            Part::Thinking { text, signature } => {
                if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                    carried.push(carry::thinking_block(&text.decoded(), &signature));
                }
                if !text.is_empty() {
                    parts.push(out! {"text" => text, "thought" => true});
                }
            }
            Part::RedactedThinking(data) => carried.push(carry::redacted_block(&data)),
            Part::ToolCall(call) => {
                parts.push(call_part(
                    call.id,
                    call.name,
                    args_out(call.input),
                    &mut carried,
                ));
            }
            Part::Image(_) | Part::Document(_) | Part::ToolResult(_) => {}
        }
    }
    let mut out = JsonWriter::with_capacity(capacity);
    out.open_object();
    out.member(
        "candidates",
        &Out::Array(vec![candidate(parts, Some(finish_word(answer.stop)))]),
    )?;
    out.member("usageMetadata", &Out::Value(usage_json(answer.usage)))?;
    out.member("modelVersion", &client.model.into())?;
    out.member("responseId", &response_id(answer.id.as_deref()).into())?;
    Ok(out.finish())
}

//! The mock's OpenAI Responses API (`POST /responses` and `/v1/responses`). It checks a request the
//! way the real API does and refuses what the real API refuses, with the same OpenAI-shaped 400s,
//! so a gateway that writes a bad Responses request finds out in a test. A request it accepts is
//! answered with reasoning (when configured), the scripted tool calls or a text, as one JSON
//! response or as the SSE events Codex CLI builds its items from: every item gets its
//! `response.output_item.done`, and the stream ends with `response.completed` carrying the
//! response id and its usage.
//!
//! As in the real API, a reasoning summary comes back only when the request asks for one
//! (`reasoning.summary`), and `encrypted_content` only when `include` names
//! `reasoning.encrypted_content`.

mod check;

use super::{pieces, reply_pieces, sse, sse_stream, Behaviour, Shared};
use actix_web::HttpResponse;
use check::{check_request, item_type};
use serde_json::{json, Value};
use std::sync::Arc;

/// How every `encrypted_content` the mock hands out begins. A reasoning item replayed with any
/// other is refused, as the real API refuses reasoning it did not encrypt.
pub const ENCRYPTED_PREFIX: &str = "gAAAAB-MOCK-ENCRYPTED-";

/// The input tokens every answer reports; they include [`CACHED_TOKENS`], as in the real API.
pub const INPUT_TOKENS: usize = 2400;

/// The cached part of [`INPUT_TOKENS`].
pub const CACHED_TOKENS: usize = 1920;

/// `created_at` of every response, so answers are the same from run to run.
const CREATED_AT: u64 = 1767225600;

/// The error body of a Responses endpoint answering `status` (for the mock's `status` knob and its
/// key check), with the `type` and `code` the real API uses for that status.
pub(super) fn error_value(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("invalid_request_error", Some("permission_denied")),
        404 => ("invalid_request_error", Some("not_found")),
        413 => ("invalid_request_error", Some("request_too_large")),
        429 => ("requests", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", Some("server_error")),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// One output item of an answer, with the pieces its stream sends it in.
#[derive(Debug, Clone, PartialEq)]
enum Planned {
    Reasoning {
        id: String,
        /// The summary's pieces, when the request asked for a summary.
        summary: Option<Vec<String>>,
        encrypted_content: Option<String>,
    },
    Message {
        id: String,
        text: Vec<String>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        namespace: Option<String>,
        arguments: Vec<String>,
    },
    CustomToolCall {
        id: String,
        call_id: String,
        name: String,
        input: Vec<String>,
    },
}

impl Planned {
    /// The finished item, as `response.output_item.done` and the response's `output` carry it.
    fn item(&self) -> Value {
        match self {
            Planned::Reasoning {
                id,
                summary,
                encrypted_content,
            } => {
                let summary: Vec<Value> = summary
                    .iter()
                    .map(|pieces| json!({"type": "summary_text", "text": pieces.concat()}))
                    .collect();
                let mut item = json!({"id": id, "type": "reasoning", "summary": summary});
                if let Some(content) = encrypted_content {
                    item["encrypted_content"] = json!(content);
                }
                item
            }
            Planned::Message { id, text } => json!({
                "id": id, "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text.concat()}],
            }),
            Planned::FunctionCall {
                id,
                call_id,
                name,
                namespace,
                arguments,
            } => {
                let mut item = json!({"id": id, "type": "function_call", "status": "completed",
                    "arguments": arguments.concat(), "call_id": call_id, "name": name});
                if let Some(namespace) = namespace {
                    item["namespace"] = json!(namespace);
                }
                item
            }
            Planned::CustomToolCall {
                id,
                call_id,
                name,
                input,
            } => json!({"id": id, "type": "custom_tool_call", "status": "completed",
                "call_id": call_id, "name": name, "input": input.concat()}),
        }
    }

    /// The item as `response.output_item.added` announces it: nothing produced yet.
    fn started_item(&self) -> Value {
        let mut item = self.item();
        match self {
            Planned::Reasoning { .. } => item["summary"] = json!([]),
            Planned::Message { .. } => item["content"] = json!([]),
            Planned::FunctionCall { .. } => item["arguments"] = json!(""),
            Planned::CustomToolCall { .. } => item["input"] = json!(""),
        }
        if !matches!(self, Planned::Reasoning { .. }) {
            item["status"] = json!("in_progress");
        }
        item
    }

    fn id(&self) -> &str {
        match self {
            Planned::Reasoning { id, .. }
            | Planned::Message { id, .. }
            | Planned::FunctionCall { id, .. }
            | Planned::CustomToolCall { id, .. } => id,
        }
    }

    /// The events that stream this item, from `output_item.added` to `output_item.done`.
    fn write_events(&self, index: usize, out: &mut EventWriter) {
        let id = self.id();
        out.push(
            "response.output_item.added",
            json!({"output_index": index, "item": self.started_item()}),
        );
        let at = json!({"item_id": id, "output_index": index});
        match self {
            Planned::Reasoning {
                summary: Some(pieces),
                ..
            } => {
                let at = with(&at, json!({"summary_index": 0}));
                let text = pieces.concat();
                out.push(
                    "response.reasoning_summary_part.added",
                    with(&at, json!({"part": {"type": "summary_text", "text": ""}})),
                );
                for piece in pieces {
                    out.push(
                        "response.reasoning_summary_text.delta",
                        with(&at, json!({"delta": piece})),
                    );
                }
                out.push(
                    "response.reasoning_summary_text.done",
                    with(&at, json!({"text": text})),
                );
                out.push(
                    "response.reasoning_summary_part.done",
                    with(&at, json!({"part": {"type": "summary_text", "text": text}})),
                );
            }
            Planned::Reasoning { summary: None, .. } => {}
            Planned::Message { text, .. } => {
                let at = with(&at, json!({"content_index": 0}));
                let part = |text: &str| json!({"part": {"type": "output_text", "annotations": [], "logprobs": [], "text": text}});
                out.push("response.content_part.added", with(&at, part("")));
                for piece in text {
                    out.push(
                        "response.output_text.delta",
                        with(&at, json!({"delta": piece, "logprobs": []})),
                    );
                }
                let whole = text.concat();
                out.push(
                    "response.output_text.done",
                    with(&at, json!({"text": whole, "logprobs": []})),
                );
                out.push("response.content_part.done", with(&at, part(&whole)));
            }
            Planned::FunctionCall { arguments, .. } => {
                for piece in arguments {
                    out.push(
                        "response.function_call_arguments.delta",
                        with(&at, json!({"delta": piece})),
                    );
                }
                out.push(
                    "response.function_call_arguments.done",
                    with(&at, json!({"arguments": arguments.concat()})),
                );
            }
            Planned::CustomToolCall { input, .. } => {
                for piece in input {
                    out.push(
                        "response.custom_tool_call_input.delta",
                        with(&at, json!({"delta": piece})),
                    );
                }
                out.push(
                    "response.custom_tool_call_input.done",
                    with(&at, json!({"input": input.concat()})),
                );
            }
        }
        out.push(
            "response.output_item.done",
            json!({"output_index": index, "item": self.item()}),
        );
    }
}

/// `base` with the fields of `extra` added.
fn with(base: &Value, extra: Value) -> Value {
    let mut merged = base.clone();
    if let (Some(m), Value::Object(e)) = (merged.as_object_mut(), extra) {
        m.extend(e);
    }
    merged
}

/// SSE events with the `type` and `sequence_number` every Responses event carries.
#[derive(Default)]
struct EventWriter {
    events: Vec<String>,
}

impl EventWriter {
    fn push(&mut self, kind: &str, fields: Value) {
        let mut data = json!({"type": kind, "sequence_number": self.events.len()});
        if let (Some(d), Value::Object(f)) = (data.as_object_mut(), fields) {
            d.extend(f);
        }
        self.events.push(sse(kind, data));
    }
}

/// The output of `serial`-th answer: reasoning first (when configured), then the scripted tool
/// calls, or a text once the input ends with a tool's output (the text quotes it).
fn plan_output(b: &Behaviour, request: &Value, serial: usize) -> Vec<Planned> {
    let extra = b.openai.clone().unwrap_or_default();
    let mut output = Vec::new();
    if let Some(reasoning) = &extra.reasoning {
        let wants_summary = request["reasoning"]["summary"]
            .as_str()
            .is_some_and(|s| s != "none");
        let wants_encrypted = request["include"]
            .as_array()
            .is_some_and(|i| i.iter().any(|v| v == "reasoning.encrypted_content"));
        let id = format!("rs_mock_{serial}");
        output.push(Planned::Reasoning {
            summary: wants_summary
                .then(|| reasoning.split_inclusive(' ').map(str::to_string).collect()),
            encrypted_content: wants_encrypted.then(|| format!("{ENCRYPTED_PREFIX}{id}")),
            id,
        });
    }
    let items = request["input"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let last_output = items.last().filter(|item| {
        matches!(
            item_type(item),
            Some("function_call_output" | "custom_tool_call_output")
        )
    });
    if let Some(tool_output) = last_output {
        let quote = format!(
            "{} read the tool output: {}",
            b.name,
            output_text(&tool_output["output"]).trim()
        );
        output.push(Planned::Message {
            id: format!("msg_mock_{serial}"),
            text: pieces(&quote, b.deltas),
        });
        return output;
    }
    if extra.tool_calls.is_empty() {
        output.push(Planned::Message {
            id: format!("msg_mock_{serial}"),
            text: reply_pieces(b),
        });
        return output;
    }
    for (i, (name, arguments)) in extra.tool_calls.iter().enumerate() {
        let call_id = format!("call_mock_{serial}_{i}");
        let arguments = pieces(arguments, extra.argument_pieces);
        output.push(match offered_tool(request, name) {
            OfferedTool::Custom => Planned::CustomToolCall {
                id: format!("ctc_mock_{serial}_{i}"),
                call_id,
                name: name.clone(),
                input: arguments,
            },
            OfferedTool::Function { namespace } => Planned::FunctionCall {
                id: format!("fc_mock_{serial}_{i}"),
                call_id,
                name: name.clone(),
                namespace,
                arguments,
            },
        });
    }
    output
}

/// How the request offers a tool the script calls.
enum OfferedTool {
    /// A `custom` tool: called with a `custom_tool_call` whose input is the scripted text.
    Custom,
    /// A function (the default, also for a tool the request does not offer), maybe in a namespace.
    Function { namespace: Option<String> },
}

/// Looks in `tools` and in the `additional_tools` input items Codex sends to code-mode models.
fn offered_tool(request: &Value, name: &str) -> OfferedTool {
    let listed = |v: &Value| v.as_array().map(Vec::as_slice).unwrap_or(&[]).to_vec();
    let mut tools = listed(&request["tools"]);
    for item in listed(&request["input"]) {
        if item["type"] == "additional_tools" {
            tools.extend(listed(&item["tools"]));
        }
    }
    for tool in &tools {
        match tool["type"].as_str() {
            Some("custom") if tool["name"] == name => return OfferedTool::Custom,
            Some("namespace") => {
                let members = tool["tools"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                if let Some(member) = members.iter().find(|m| m["name"] == name) {
                    return match member["type"].as_str() {
                        Some("custom") => OfferedTool::Custom,
                        _ => OfferedTool::Function {
                            namespace: tool["name"].as_str().map(str::to_string),
                        },
                    };
                }
            }
            _ => {}
        }
    }
    OfferedTool::Function { namespace: None }
}

/// A tool output's text: the string, or its text parts joined.
fn output_text(output: &Value) -> String {
    match output {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// The usage of an answer: the fixed input tokens, and an output token per text piece and per
/// word of reasoning.
fn usage(b: &Behaviour) -> Value {
    let reasoning_tokens = b
        .openai
        .as_ref()
        .and_then(|x| x.reasoning.as_deref())
        .map_or(0, |r| r.split_whitespace().count());
    let output_tokens = reasoning_tokens + b.deltas.max(1);
    json!({
        "input_tokens": INPUT_TOKENS,
        "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": INPUT_TOKENS + output_tokens,
    })
}

/// The response object: `in_progress` with no output and no usage, or `completed` with both.
fn response_object(request: &Value, serial: usize, finished: Option<(&[Planned], Value)>) -> Value {
    let (status, output, usage) = match finished {
        Some((output, usage)) => (
            "completed",
            output.iter().map(Planned::item).collect(),
            usage,
        ),
        None => ("in_progress", Vec::new(), Value::Null),
    };
    let or = |field: &str, default: Value| match &request[field] {
        Value::Null => default,
        value => value.clone(),
    };
    json!({
        "id": format!("resp_mock_{serial}"),
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": or("instructions", Value::Null),
        "model": request["model"],
        "output": output,
        "parallel_tool_calls": or("parallel_tool_calls", json!(true)),
        "previous_response_id": null,
        "reasoning": or("reasoning", json!({"effort": null, "summary": null})),
        "store": or("store", json!(true)),
        "tool_choice": or("tool_choice", json!("auto")),
        "tools": or("tools", json!([])),
        "usage": usage,
    })
}

/// The answer to a Responses request: a refusal, one JSON response, or its SSE stream.
pub(super) fn answer(
    b: &Behaviour,
    body: &[u8],
    serial: usize,
    shared: Arc<Shared>,
) -> HttpResponse {
    let request = match check_request(body) {
        Ok(request) => request,
        Err(refusal) => return refusal.response(),
    };
    let output = plan_output(b, &request, serial);
    let completed = response_object(&request, serial, Some((&output, usage(b))));
    if request["stream"].as_bool() != Some(true) {
        return HttpResponse::Ok().json(completed);
    }
    let started = response_object(&request, serial, None);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(sse_stream(
            b,
            Some(super::Api::Responses),
            stream_events(started, &output, completed),
            shared,
        ))
}

/// The SSE events of an answer: `response.created`, `response.in_progress`, each item from
/// `output_item.added` through its deltas to `output_item.done`, then `response.completed`.
fn stream_events(started: Value, output: &[Planned], completed: Value) -> Vec<String> {
    let mut events = EventWriter::default();
    events.push("response.created", json!({"response": started}));
    events.push("response.in_progress", json!({"response": started}));
    for (index, item) in output.iter().enumerate() {
        item.write_events(index, &mut events);
    }
    events.push("response.completed", json!({"response": completed}));
    events.events
}

#[cfg(test)]
mod tests;

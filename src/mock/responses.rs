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

use super::{pieces, reply_pieces, sse, sse_stream, Behaviour, Shared};
use actix_web::HttpResponse;
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

/// The request body's fields the real API knows; any other is refused as an unknown parameter.
const PARAMETERS: &[&str] = &[
    "background",
    "client_metadata",
    "context_management",
    "conversation",
    "include",
    "input",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "model",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
];

/// Input item types the mock accepts. The first six are checked field by field; the rest are
/// taken as they come (`additional_tools` is what Codex sends to code-mode models).
const ITEM_TYPES: &[&str] = &[
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "item_reference",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "code_interpreter_call",
    "image_generation_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "tool_search_call",
    "tool_search_output",
    "additional_tools",
];

const ROLES: &[&str] = &["assistant", "system", "developer", "user"];
const INPUT_PARTS: &[&str] = &["input_text", "input_image", "input_file"];
const OUTPUT_PARTS: &[&str] = &["output_text", "refusal"];

/// Tool types the mock accepts. `function`, `custom` and `namespace` are checked field by field.
const TOOL_TYPES: &[&str] = &[
    "function",
    "custom",
    "namespace",
    "web_search",
    "web_search_preview",
    "file_search",
    "computer_use_preview",
    "code_interpreter",
    "image_generation",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
];

/// Why the real API would refuse a request: the status and the `error` object it answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: u16,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl Refusal {
    fn bad_request(message: String, param: Option<&str>, code: Option<&'static str>) -> Refusal {
        Refusal {
            status: 400,
            message,
            param: param.map(str::to_string),
            code,
        }
    }

    fn unparsable() -> Refusal {
        Refusal::bad_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON \
             payload, but what was sent was not valid JSON."
                .into(),
            None,
            None,
        )
    }

    fn missing(param: &str) -> Refusal {
        Refusal::bad_request(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    fn unknown_parameter(param: &str) -> Refusal {
        Refusal::bad_request(
            format!("Unknown parameter: '{param}'."),
            Some(param),
            Some("unknown_parameter"),
        )
    }

    fn invalid_value(param: &str, value: &str, supported: &[&str]) -> Refusal {
        Refusal::bad_request(
            format!(
                "Invalid value: '{value}'. Supported values are: {}.",
                quoted_list(supported)
            ),
            Some(param),
            Some("invalid_value"),
        )
    }

    fn invalid_type(param: &str, expected: &str, got: &Value) -> Refusal {
        Refusal::bad_request(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                json_type(got)
            ),
            Some(param),
            Some("invalid_type"),
        )
    }

    /// The answer the real API gives: the status and `{"error":{message, type, param, code}}`.
    pub fn response(&self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
        HttpResponse::build(status).json(json!({"error": {
            "message": self.message,
            "type": "invalid_request_error",
            "param": self.param,
            "code": self.code,
        }}))
    }
}

/// `'a', 'b', and 'c'`, as the real API lists supported values.
fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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

/// The request, parsed, if the real API would take it; else why it would not.
pub(super) fn check_request(body: &[u8]) -> Result<Value, Refusal> {
    let request: Value = serde_json::from_slice(body).map_err(|_| Refusal::unparsable())?;
    let Some(fields) = request.as_object() else {
        return Err(Refusal::unparsable());
    };
    if let Some(unknown) = fields.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
        return Err(Refusal::unknown_parameter(unknown));
    }
    match fields.get("model") {
        Some(Value::String(_)) => {}
        None | Some(Value::Null) => return Err(Refusal::missing("model")),
        Some(other) => return Err(Refusal::invalid_type("model", "a string", other)),
    }
    match fields.get("input") {
        None | Some(Value::Null) => return Err(Refusal::missing("input")),
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_item(&format!("input[{i}]"), item)?;
            }
        }
        Some(other) => {
            return Err(Refusal::invalid_type(
                "input",
                "one of a string or array of input items",
                other,
            ))
        }
    }
    match fields.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, tool) in tools.iter().enumerate() {
                check_tool(&format!("tools[{i}]"), tool)?;
            }
        }
        Some(other) => return Err(Refusal::invalid_type("tools", "an array", other)),
    }
    if let Some(n) = fields.get("max_output_tokens").and_then(Value::as_i64) {
        if n < 16 {
            return Err(Refusal::bad_request(
                format!(
                    "Invalid 'max_output_tokens': integer below minimum value. Expected a value \
                     >= 16, but got {n} instead."
                ),
                Some("max_output_tokens"),
                Some("integer_below_min_value"),
            ));
        }
    }
    // The mock keeps no responses, so every earlier one is unknown to it.
    if let Some(id) = fields.get("previous_response_id").and_then(Value::as_str) {
        return Err(Refusal::bad_request(
            format!("Previous response with id '{id}' not found."),
            Some("previous_response_id"),
            Some("previous_response_not_found"),
        ));
    }
    if let Some(items) = fields.get("input").and_then(Value::as_array) {
        let store = fields.get("store").and_then(Value::as_bool).unwrap_or(true);
        check_history(items, store)?;
    }
    Ok(request)
}

/// An input item's type: its `type`, or `message` for the short `{role, content}` form.
fn item_type(item: &Value) -> Option<&str> {
    match item.get("type") {
        Some(kind) => kind.as_str(),
        None if item.get("role").is_some() => Some("message"),
        None => None,
    }
}

/// One input item's shape.
fn check_item(at: &str, item: &Value) -> Result<(), Refusal> {
    if !item.is_object() {
        return Err(Refusal::invalid_type(at, "an object", item));
    }
    let kind = match (item_type(item), item.get("type")) {
        (Some(kind), _) => kind,
        (None, None) => return Err(Refusal::missing(&format!("{at}.type"))),
        (None, Some(other)) => {
            return Err(Refusal::invalid_type(
                &format!("{at}.type"),
                "a string",
                other,
            ))
        }
    };
    match kind {
        "message" => check_message(at, item),
        "reasoning" => check_reasoning(at, item),
        "function_call" => require_strings(at, item, &["call_id", "name", "arguments"]),
        "custom_tool_call" => require_strings(at, item, &["call_id", "name", "input"]),
        "function_call_output" | "custom_tool_call_output" => {
            require_strings(at, item, &["call_id"])?;
            check_tool_output(at, item)
        }
        known if ITEM_TYPES.contains(&known) => Ok(()),
        unknown => Err(Refusal::invalid_value(
            &format!("{at}.type"),
            unknown,
            ITEM_TYPES,
        )),
    }
}

fn require_strings(at: &str, item: &Value, fields: &[&str]) -> Result<(), Refusal> {
    for field in fields {
        match item.get(*field) {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) => return Err(Refusal::missing(&format!("{at}.{field}"))),
            Some(other) => {
                return Err(Refusal::invalid_type(
                    &format!("{at}.{field}"),
                    "a string",
                    other,
                ))
            }
        }
    }
    Ok(())
}

/// A message: a known role, and content that is a string or parts of the kinds its role may send
/// (an assistant sends `output_text` and `refusal`, everyone else `input_*` parts).
fn check_message(at: &str, item: &Value) -> Result<(), Refusal> {
    let role = match item.get("role") {
        Some(Value::String(role)) => role.as_str(),
        None | Some(Value::Null) => return Err(Refusal::missing(&format!("{at}.role"))),
        Some(other) => {
            return Err(Refusal::invalid_type(
                &format!("{at}.role"),
                "a string",
                other,
            ))
        }
    };
    if !ROLES.contains(&role) {
        return Err(Refusal::invalid_value(&format!("{at}.role"), role, ROLES));
    }
    let parts = match item.get("content") {
        Some(Value::String(_)) => return Ok(()),
        Some(Value::Array(parts)) => parts,
        None | Some(Value::Null) => return Err(Refusal::missing(&format!("{at}.content"))),
        Some(other) => {
            return Err(Refusal::invalid_type(
                &format!("{at}.content"),
                "one of a string or array of content parts",
                other,
            ))
        }
    };
    let allowed = if role == "assistant" {
        OUTPUT_PARTS
    } else {
        INPUT_PARTS
    };
    for (j, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.content[{j}]");
        let Some(kind) = part.get("type").and_then(Value::as_str) else {
            return Err(Refusal::missing(&format!("{part_at}.type")));
        };
        if !allowed.contains(&kind) {
            return Err(Refusal::invalid_value(&part_at, kind, allowed));
        }
        check_part(&part_at, kind, part)?;
    }
    Ok(())
}

/// The field a content part of `kind` cannot go without.
fn check_part(at: &str, kind: &str, part: &Value) -> Result<(), Refusal> {
    match kind {
        "input_text" | "output_text" => require_strings(at, part, &["text"]),
        "refusal" => require_strings(at, part, &["refusal"]),
        "input_image" if part.get("image_url").is_none() && part.get("file_id").is_none() => {
            Err(Refusal::missing(&format!("{at}.image_url")))
        }
        _ => Ok(()),
    }
}

fn check_reasoning(at: &str, item: &Value) -> Result<(), Refusal> {
    let summary = match item.get("summary") {
        Some(Value::Array(summary)) => summary,
        None | Some(Value::Null) => return Err(Refusal::missing(&format!("{at}.summary"))),
        Some(other) => {
            return Err(Refusal::invalid_type(
                &format!("{at}.summary"),
                "an array",
                other,
            ))
        }
    };
    for (j, part) in summary.iter().enumerate() {
        let part_at = format!("{at}.summary[{j}]");
        match part.get("type").and_then(Value::as_str) {
            Some("summary_text") => require_strings(&part_at, part, &["text"])?,
            Some(other) => {
                return Err(Refusal::invalid_value(
                    &format!("{part_at}.type"),
                    other,
                    &["summary_text"],
                ))
            }
            None => return Err(Refusal::missing(&format!("{part_at}.type"))),
        }
    }
    Ok(())
}

/// A tool call's output: a string, or a list of content parts.
fn check_tool_output(at: &str, item: &Value) -> Result<(), Refusal> {
    match item.get("output") {
        Some(Value::String(_)) | Some(Value::Array(_)) => Ok(()),
        None | Some(Value::Null) => Err(Refusal::missing(&format!("{at}.output"))),
        Some(other) => Err(Refusal::invalid_type(
            &format!("{at}.output"),
            "one of a string or array of content parts",
            other,
        )),
    }
}

/// One entry of `tools`: a known type, and for a function its name and parameters.
fn check_tool(at: &str, tool: &Value) -> Result<(), Refusal> {
    let kind = match tool.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        None | Some(Value::Null) => return Err(Refusal::missing(&format!("{at}.type"))),
        Some(other) => {
            return Err(Refusal::invalid_type(
                &format!("{at}.type"),
                "a string",
                other,
            ))
        }
    };
    match kind {
        "function" => {
            check_tool_name(at, tool)?;
            if tool.get("parameters").is_none() {
                return Err(Refusal::missing(&format!("{at}.parameters")));
            }
            Ok(())
        }
        "custom" => check_tool_name(at, tool),
        "namespace" => {
            check_tool_name(at, tool)?;
            let Some(members) = tool.get("tools").and_then(Value::as_array) else {
                return Err(Refusal::missing(&format!("{at}.tools")));
            };
            for (j, member) in members.iter().enumerate() {
                let member_at = format!("{at}.tools[{j}]");
                match member.get("type").and_then(Value::as_str) {
                    Some("function" | "custom") => check_tool(&member_at, member)?,
                    Some(other) => {
                        return Err(Refusal::invalid_value(
                            &format!("{member_at}.type"),
                            other,
                            &["function", "custom"],
                        ))
                    }
                    None => return Err(Refusal::missing(&format!("{member_at}.type"))),
                }
            }
            Ok(())
        }
        known if TOOL_TYPES.contains(&known) => Ok(()),
        unknown => Err(Refusal::invalid_value(
            &format!("{at}.type"),
            unknown,
            TOOL_TYPES,
        )),
    }
}

/// A tool's name: at most 64 letters, digits, `_` or `-` (so `ns.tool`, a flattened namespace
/// name, is refused, as the real API refuses it).
fn check_tool_name(at: &str, tool: &Value) -> Result<(), Refusal> {
    require_strings(at, tool, &["name"])?;
    let name = tool["name"].as_str().unwrap_or_default();
    let param = format!("{at}.name");
    if name.len() > 64 {
        return Err(Refusal::bad_request(
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length 64, \
                 but got a string with length {} instead.",
                name.len()
            ),
            Some(&param),
            Some("string_above_max_length"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(Refusal::bad_request(
            format!(
                "Invalid '{param}': string does not match pattern. Expected a string that \
                 matches the pattern '^[a-zA-Z0-9_-]+$'."
            ),
            Some(&param),
            Some("invalid_value"),
        ));
    }
    Ok(())
}

/// What the real API checks across items: a reasoning item is replayed with the encrypted content
/// it was given (without it, the item would have to be looked up, and nothing is stored); every
/// tool output follows a call of its kind with the same `call_id`, and every call has its output.
fn check_history(items: &[Value], store: bool) -> Result<(), Refusal> {
    // (item type, call_id, answered)
    let mut calls: Vec<(&str, &str, bool)> = Vec::new();
    for item in items {
        let kind = item_type(item).unwrap_or_default();
        let call_id = item["call_id"].as_str().unwrap_or_default();
        match kind {
            "reasoning" => check_replayed_reasoning(item, store)?,
            "item_reference" => {
                return Err(not_stored(item["id"].as_str().unwrap_or_default(), store))
            }
            "function_call" | "custom_tool_call" => calls.push((kind, call_id, false)),
            "function_call_output" | "custom_tool_call_output" => {
                let call_kind = kind.trim_end_matches("_output");
                let call = calls
                    .iter_mut()
                    .find(|(k, id, _)| *k == call_kind && *id == call_id);
                match call {
                    Some((_, _, answered)) => *answered = true,
                    None => {
                        return Err(Refusal::bad_request(
                            format!(
                                "No tool call found for {} output with call_id {call_id}.",
                                call_words(call_kind)
                            ),
                            Some("input"),
                            None,
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    match calls.iter().find(|(_, _, answered)| !answered) {
        Some((kind, call_id, _)) => Err(Refusal::bad_request(
            format!("No tool output found for {} {call_id}.", call_words(kind)),
            Some("input"),
            None,
        )),
        None => Ok(()),
    }
}

fn call_words(kind: &str) -> &'static str {
    if kind == "custom_tool_call" {
        "custom tool call"
    } else {
        "function call"
    }
}

fn check_replayed_reasoning(item: &Value, store: bool) -> Result<(), Refusal> {
    let id = item["id"].as_str();
    match &item["encrypted_content"] {
        Value::String(content) if content.starts_with(ENCRYPTED_PREFIX) => Ok(()),
        Value::String(_) => Err(Refusal::bad_request(
            format!(
                "The encrypted content for item {} could not be verified.",
                id.unwrap_or("(no id)")
            ),
            None,
            Some("invalid_encrypted_content"),
        )),
        // An item with an id and nothing else is a reference to a stored item.
        _ => match id {
            Some(id) => Err(not_stored(id, store)),
            None => Ok(()),
        },
    }
}

fn not_stored(id: &str, store: bool) -> Refusal {
    let hint = if store {
        ""
    } else {
        " Items are not persisted when `store` is set to false. Try again with `store` set to \
         true, or remove this item from your input."
    };
    Refusal {
        status: 404,
        message: format!("Item with id '{id}' not found.{hint}"),
        param: Some("input".into()),
        code: None,
    }
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

fn offered_tool(request: &Value, name: &str) -> OfferedTool {
    let tools = request["tools"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for tool in tools {
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

fn usage(b: &Behaviour, output: &[Planned]) -> Value {
    let reasoning_tokens: usize = output
        .iter()
        .map(|item| match item {
            Planned::Reasoning { .. } => b
                .openai
                .as_ref()
                .and_then(|x| x.reasoning.as_deref())
                .map_or(0, |r| r.split_whitespace().count()),
            _ => 0,
        })
        .sum();
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
    let completed = response_object(&request, serial, Some((&output, usage(b, &output))));
    if request["stream"].as_bool() != Some(true) {
        return HttpResponse::Ok().json(completed);
    }
    let started = response_object(&request, serial, None);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(sse_stream(
            stream_events(started, &output, completed),
            b.event_interval,
            b.drop_after_events,
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

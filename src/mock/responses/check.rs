//! The real Responses API's rules for a request, as the mock enforces them: each rule refuses
//! with the status, message, `param` and `code` the real API answers, so a gateway test sees the
//! same error a real upstream would send.

use super::ENCRYPTED_PREFIX;
use actix_web::HttpResponse;
use serde_json::{json, Value};

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
pub(super) fn item_type(item: &Value) -> Option<&str> {
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

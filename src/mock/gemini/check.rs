//! The Gemini API's rules for a request, as the mock enforces them: each rule refuses with the
//! status and the `{"error": {code, message, status}}` the real API answers, so a gateway that
//! writes a bad Gemini request finds out in a test. Messages are the real API's where they are
//! known (unknown names, roles, empty contents, missing or corrupted thought signatures); the
//! pairing of a `functionResponse` with its call and the two schemas of one declaration are
//! refused with messages of the mock's own, in the same shape.
//!
//! Field names are read in both spellings the real API's JSON parser takes: `functionCall` and
//! `function_call`. Paths in messages use the snake-case spelling, as Google's do.

use super::{error_value, SIGNATURE_PREFIX, SKIP_SIGNATURE};
use actix_web::HttpResponse;
use serde_json::{json, Value};

/// `GenerateContentRequest`'s fields (`v1beta`); any other is refused as an unknown name.
const REQUEST_FIELDS: &[&str] = &[
    "model",
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "generationConfig",
    "cachedContent",
];

/// `CountTokensRequest`'s fields.
const COUNT_FIELDS: &[&str] = &["contents", "generateContentRequest"];

const CONTENT_FIELDS: &[&str] = &["role", "parts"];

/// A `Part`'s fields: the `data` one-of (the first seven) and what may go beside it.
const PART_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
    "mediaResolution",
];

/// How many of [`PART_FIELDS`], from the first, make up the `data` one-of.
const PART_DATA_FIELDS: usize = 7;

const ROLES: &[&str] = &["user", "model"];

const GENERATION_CONFIG_FIELDS: &[&str] = &[
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "mediaResolution",
];

const THINKING_CONFIG_FIELDS: &[&str] = &["includeThoughts", "thinkingBudget", "thinkingLevel"];

const TOOL_FIELDS: &[&str] = &[
    "functionDeclarations",
    "googleSearchRetrieval",
    "codeExecution",
    "googleSearch",
    "computerUse",
    "urlContext",
    "fileSearch",
    "googleMaps",
];

const DECLARATION_FIELDS: &[&str] = &[
    "name",
    "description",
    "behavior",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
];

/// The OpenAPI subset `parameters` (and `responseSchema`) is parsed as: a JSON Schema keyword
/// outside it (`additionalProperties`, `$schema`, `const`, …) is an unknown name.
const SCHEMA_FIELDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// Why the real API would refuse a request: the status and the `error` object it answers with.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub status: u16,
    pub message: String,
    pub details: Option<Value>,
}

impl Refusal {
    /// A 400 `INVALID_ARGUMENT` with `message`.
    pub fn invalid(message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            message: message.into(),
            details: None,
        }
    }

    /// A field the real API's validator names: `* GenerateContentRequest.PATH: WHAT\n`.
    fn at(path: &str, what: &str) -> Refusal {
        Refusal::invalid(format!("* GenerateContentRequest.{path}: {what}\n"))
    }

    /// A name the JSON parser does not know at `at` (the request itself when empty), with the
    /// `BadRequest` field violation the real API adds.
    fn unknown_name(name: &str, at: &str) -> Refusal {
        let message = if at.is_empty() {
            format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
        } else {
            format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
            )
        };
        let mut violation = json!({"description": message});
        if !at.is_empty() {
            violation["field"] = json!(at);
        }
        Refusal {
            status: 400,
            details: Some(
                json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [violation]}]),
            ),
            message,
        }
    }

    /// A list where the parser wants a single value.
    fn not_repeating(name: &str, at: &str) -> Refusal {
        Refusal::invalid(format!(
            "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Proto field is not \
             repeating, cannot start list."
        ))
    }

    /// The answer the real API gives: the status and `{"error": {code, message, status, details?}}`.
    pub fn response(&self) -> HttpResponse {
        let status = actix_web::http::StatusCode::from_u16(self.status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
        HttpResponse::build(status).json(error_value(
            self.status,
            &self.message,
            self.details.clone(),
        ))
    }
}

/// `thoughtSignature` → `thought_signature`: the other spelling the real API's parser takes.
fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The field `camel` of `value`, in either spelling.
pub(super) fn field<'a>(value: &'a Value, camel: &str) -> Option<&'a Value> {
    value
        .get(camel)
        .or_else(|| value.get(snake(camel).as_str()))
        .filter(|v| !v.is_null())
}

/// Refuses the first key of `object` that is none of `known` (in either spelling).
fn known_names(object: &Value, known: &[&str], at: &str) -> Result<(), Refusal> {
    let Some(fields) = object.as_object() else {
        return Ok(());
    };
    for key in fields.keys() {
        if !known.iter().any(|k| *k == key || snake(k) == *key) {
            return Err(Refusal::unknown_name(key, at));
        }
    }
    Ok(())
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The request, parsed, if the real API would take it for `model`; else why it would not.
pub(super) fn check_request(body: &[u8], model: &str) -> Result<Value, Refusal> {
    let request = parse(body)?;
    known_names(&request, REQUEST_FIELDS, "")?;
    let contents = array(field(&request, "contents"));
    if contents.is_empty() {
        return Err(Refusal::at("contents", "contents is not specified"));
    }
    check_contents(contents)?;
    if let Some(system) = field(&request, "systemInstruction") {
        known_names(system, CONTENT_FIELDS, "system_instruction")?;
        for (j, part) in array(field(system, "parts")).iter().enumerate() {
            check_part(part, &format!("system_instruction.parts[{j}]"))?;
        }
    }
    if let Some(config) = field(&request, "generationConfig") {
        check_generation_config(config)?;
    }
    for (i, tool) in array(field(&request, "tools")).iter().enumerate() {
        check_tool(tool, i)?;
    }
    check_function_responses(contents)?;
    check_signatures(contents, thinking_on(&request, model))?;
    Ok(request)
}

/// A `countTokens` request, parsed, if the real API would take it.
pub(super) fn check_count_request(body: &[u8], model: &str) -> Result<Value, Refusal> {
    let request = parse(body)?;
    known_names(&request, COUNT_FIELDS, "")?;
    match field(&request, "generateContentRequest") {
        Some(inner) => {
            check_request(inner.to_string().as_bytes(), model)?;
        }
        None => check_contents(array(field(&request, "contents")))?,
    }
    Ok(request)
}

fn parse(body: &[u8]) -> Result<Value, Refusal> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::invalid("Invalid JSON payload received. Unexpected token."))?;
    if !request.is_object() {
        return Err(Refusal::invalid(
            "Invalid JSON payload received. Unknown name \"\": Root element must be a message.",
        ));
    }
    Ok(request)
}

/// Thinking is on when the request asks for thoughts, a level or a budget other than 0, or
/// when the model is a Gemini 3 one, which always thinks.
pub(super) fn thinking_on(request: &Value, model: &str) -> bool {
    let thinking = field(request, "generationConfig").and_then(|c| field(c, "thinkingConfig"));
    let asked = thinking.is_some_and(|t| {
        field(t, "includeThoughts").and_then(Value::as_bool) == Some(true)
            || field(t, "thinkingLevel").is_some()
            || field(t, "thinkingBudget").is_some_and(|b| b.as_i64() != Some(0))
    });
    asked || model.starts_with("gemini-3")
}

/// Every content: a known role (or none), parts, and parts whose one `data` field is set.
fn check_contents(contents: &[Value]) -> Result<(), Refusal> {
    for (i, content) in contents.iter().enumerate() {
        let at = format!("contents[{i}]");
        known_names(content, CONTENT_FIELDS, &at)?;
        if let Some(role) = field(content, "role") {
            if !role.as_str().is_some_and(|r| ROLES.contains(&r)) {
                return Err(Refusal::invalid("Please use a valid role: user, model."));
            }
        }
        let parts = array(field(content, "parts"));
        if parts.is_empty() {
            return Err(Refusal::at(
                &format!("{at}.parts"),
                "contents.parts must not be empty.",
            ));
        }
        for (j, part) in parts.iter().enumerate() {
            check_part(part, &format!("{at}.parts[{j}]"))?;
        }
    }
    Ok(())
}

fn check_part(part: &Value, at: &str) -> Result<(), Refusal> {
    known_names(part, PART_FIELDS, at)?;
    if !PART_FIELDS[..PART_DATA_FIELDS]
        .iter()
        .any(|name| field(part, name).is_some())
    {
        return Err(Refusal::at(
            &format!("{at}.data"),
            "required oneof field 'data' must have one initialized field",
        ));
    }
    Ok(())
}

fn check_generation_config(config: &Value) -> Result<(), Refusal> {
    known_names(config, GENERATION_CONFIG_FIELDS, "generation_config")?;
    if let Some(thinking) = field(config, "thinkingConfig") {
        known_names(
            thinking,
            THINKING_CONFIG_FIELDS,
            "generation_config.thinking_config",
        )?;
    }
    if let Some(schema) = field(config, "responseSchema") {
        check_schema(schema, "generation_config.response_schema")?;
    }
    Ok(())
}

/// One entry of `tools`: known kinds, and declarations with a valid name and one schema.
fn check_tool(tool: &Value, i: usize) -> Result<(), Refusal> {
    let at = format!("tools[{i}]");
    known_names(tool, TOOL_FIELDS, &at)?;
    for (k, declaration) in array(field(tool, "functionDeclarations"))
        .iter()
        .enumerate()
    {
        let at = format!("{at}.function_declarations[{k}]");
        known_names(declaration, DECLARATION_FIELDS, &at)?;
        let name = field(declaration, "name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(Refusal::at(&format!("{at}.name"), "Name cannot be empty."));
        }
        if !valid_function_name(name) {
            return Err(Refusal::at(
                &format!("{at}.name"),
                "Invalid function name. Must start with a letter or an underscore. Must be \
                 alphameric (a-z, A-Z, 0-9), underscores (_), dots (.) or dashes (-), with a \
                 maximum length of 64.",
            ));
        }
        let parameters = field(declaration, "parameters");
        if parameters.is_some() && field(declaration, "parametersJsonSchema").is_some() {
            return Err(Refusal::at(
                &format!("{at}.parameters_json_schema"),
                "parameters_json_schema and parameters cannot both be set; use one of them.",
            ));
        }
        if let Some(schema) = parameters {
            check_schema(schema, &format!("{at}.parameters"))?;
        }
    }
    Ok(())
}

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// An OpenAPI-subset schema: known keywords only, and one `type` (not a list), all the way down.
fn check_schema(schema: &Value, at: &str) -> Result<(), Refusal> {
    known_names(schema, SCHEMA_FIELDS, at)?;
    if field(schema, "type").is_some_and(Value::is_array) {
        return Err(Refusal::not_repeating("type", at));
    }
    if let Some(properties) = field(schema, "properties").and_then(Value::as_object) {
        for (n, (_, property)) in properties.iter().enumerate() {
            check_schema(property, &format!("{at}.properties[{n}].value"))?;
        }
    }
    if let Some(items) = field(schema, "items") {
        check_schema(items, &format!("{at}.items"))?;
    }
    for (n, option) in array(field(schema, "anyOf")).iter().enumerate() {
        check_schema(option, &format!("{at}.any_of[{n}]"))?;
    }
    Ok(())
}

/// The functions a content calls, in order.
fn called_names(content: &Value) -> Vec<&str> {
    array(field(content, "parts"))
        .iter()
        .filter_map(|p| field(p, "functionCall"))
        .filter_map(|call| field(call, "name").and_then(Value::as_str))
        .collect()
}

fn is_model(content: &Value) -> bool {
    field(content, "role").and_then(Value::as_str) == Some("model")
}

/// Every `functionResponse` comes in the content right after a model content that calls a
/// function of its name.
fn check_function_responses(contents: &[Value]) -> Result<(), Refusal> {
    for (i, content) in contents.iter().enumerate() {
        for (j, part) in array(field(content, "parts")).iter().enumerate() {
            let Some(response) = field(part, "functionResponse") else {
                continue;
            };
            let calls = match i.checked_sub(1).map(|before| &contents[before]) {
                Some(before) if is_model(before) => called_names(before),
                _ => Vec::new(),
            };
            if calls.is_empty() {
                return Err(Refusal::invalid(
                    "Please ensure that function response turn comes immediately after a function \
                     call turn.",
                ));
            }
            let name = field(response, "name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                return Err(Refusal::at(
                    &format!("contents[{i}].parts[{j}].function_response.name"),
                    "Name cannot be empty.",
                ));
            }
            if !calls.contains(&name) {
                return Err(Refusal::at(
                    &format!("contents[{i}].parts[{j}].function_response.name"),
                    &format!(
                        "function response `{name}` answers no function call of the preceding \
                         model turn (which calls {}).",
                        calls.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A `thoughtSignature` the mock accepts on a part: the skip value, or one the mock handed out
/// (for a function call, the one made for that function's name).
fn signature_is_genuine(signature: &str, part: &Value) -> bool {
    if signature == SKIP_SIGNATURE {
        return true;
    }
    match field(part, "functionCall") {
        Some(call) => {
            let name = field(call, "name").and_then(Value::as_str).unwrap_or("");
            signature == super::call_signature(name)
        }
        None => signature.starts_with(SIGNATURE_PREFIX),
    }
}

/// Gemini 3's rules for thought signatures: any signature in the history is one the API gave
/// (else "Corrupted thought signature."), and with thinking on, the first function call of each
/// model step of the current turn (since the last user text) carries one.
fn check_signatures(contents: &[Value], thinking: bool) -> Result<(), Refusal> {
    for content in contents.iter().filter(|c| is_model(c)) {
        for part in array(field(content, "parts")) {
            let signature = field(part, "thoughtSignature").and_then(Value::as_str);
            if signature.is_some_and(|s| !signature_is_genuine(s, part)) {
                return Err(Refusal::invalid("Corrupted thought signature."));
            }
        }
    }
    if !thinking {
        return Ok(());
    }
    let turn_start = contents
        .iter()
        .rposition(|c| {
            let parts = array(field(c, "parts"));
            !is_model(c)
                && parts.iter().any(|p| field(p, "text").is_some())
                && !parts.iter().any(|p| field(p, "functionResponse").is_some())
        })
        .map_or(0, |i| i + 1);
    for (i, content) in contents.iter().enumerate().skip(turn_start) {
        if !is_model(content) {
            continue;
        }
        let first_call = array(field(content, "parts"))
            .iter()
            .find(|p| field(p, "functionCall").is_some());
        let Some(part) = first_call else {
            continue;
        };
        if field(part, "thoughtSignature").is_none() {
            let name = field(part, "functionCall")
                .and_then(|c| field(c, "name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(Refusal::invalid(format!(
                "Function call is missing a thought_signature in functionCall parts. This is \
                 required for tools to work correctly, and missing thought_signature may lead to \
                 degraded model performance. Additional data, function call `default_api:{name}` \
                 , position {}. Please refer to \
                 https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                i + 1
            )));
        }
    }
    Ok(())
}

//! The mock's Gemini API (`/v1beta/models/…`, any path prefix before it): `:generateContent`
//! (JSON), `:streamGenerateContent` (`?alt=sse`: `data:` chunks separated by CRLF CRLF, no end
//! marker, as the real API streams; without `alt=sse` one JSON array), `:countTokens`, and
//! `GET /v1beta/models[/MODEL]`. The key is read from `x-goog-api-key` or the `key` query parameter
//! ([`SeenRequest::gemini_key`] says which a request used).
//!
//! It checks a request the way the real API does and refuses what the real API refuses, with
//! Gemini's `{"error": {code, message, status}}` (`check.rs` lists the rules). A request it accepts
//! is answered like a Gemini 3 model: with thoughts asked for (`thinkingConfig.includeThoughts`)
//! and a reasoning configured, a `thought: true` part first; then the scripted function calls (the
//! first one signed with a `thoughtSignature`, as Gemini signs parallel calls), or once the last
//! content answers a call, a text quoting the `functionResponse`'s output; without a script, the
//! plain text. A structured-output request (`responseMimeType: application/json` with a schema, as
//! Gemini CLI's model router sends) gets JSON text valid for its schema. Every answer ends with
//! `finishReason: STOP` and `usageMetadata`.

mod check;

use super::{pieces, reply_pieces, sse_stream, Behaviour, SeenRequest, Shared};
use actix_web::{HttpRequest, HttpResponse};
use check::{check_count_request, check_request, field, thinking_on};
use serde_json::{json, Value};
use std::sync::Arc;

/// `promptTokenCount` of every answer; it includes [`CACHED_TOKENS`], as in the real API.
pub const PROMPT_TOKENS: usize = 2400;

/// `cachedContentTokenCount` of every answer: the cached part of [`PROMPT_TOKENS`].
pub const CACHED_TOKENS: usize = 1920;

/// The value a client sends as `thoughtSignature` for a call that has none (Google's documented
/// placeholder); the mock accepts it wherever a signature is required.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// How every `thoughtSignature` the mock hands out begins. A signature that is neither one of
/// these nor [`SKIP_SIGNATURE`] is refused as corrupted.
pub const SIGNATURE_PREFIX: &str = "mock-thought-signature-";

/// The signature of a text part of an answer.
pub const TEXT_SIGNATURE: &str = "mock-thought-signature-text";

/// The models `GET /v1beta/models` lists (every model name is answered, listed or not).
pub const MODELS: &[&str] = &[
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
    "gemini-3.5-flash-lite",
    "gemini-3.8-flash",
];

/// The signature the mock gives a call of function `name`; it accepts back on a call of `name`
/// only this one (or [`SKIP_SIGNATURE`]).
pub fn call_signature(name: &str) -> String {
    format!("{SIGNATURE_PREFIX}{}", super::fnv(name))
}

/// Where a Gemini request carried its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeminiKey {
    /// The `x-goog-api-key` header (what the Google SDKs and Gemini CLI send).
    Header(String),
    /// The `key` query parameter.
    Query(String),
}

impl GeminiKey {
    pub fn key(&self) -> &str {
        match self {
            GeminiKey::Header(k) | GeminiKey::Query(k) => k,
        }
    }
}

/// The key of a request: the header when there is one, else the query parameter.
fn key_of(header: Option<&str>, query: &str) -> Option<GeminiKey> {
    header
        .map(|h| GeminiKey::Header(h.to_string()))
        .or_else(|| query_param(query, "key").map(GeminiKey::Query))
}

impl SeenRequest {
    /// The Gemini key this request carried and where, as the mock read it.
    pub fn gemini_key(&self) -> Option<GeminiKey> {
        key_of(self.header("x-goog-api-key"), &self.query)
    }
}

/// A query parameter's value, percent-decoded (`+` is a space).
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The canonical status name of an HTTP status in Google's errors.
fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if (400..500).contains(&status) => "FAILED_PRECONDITION",
        _ => "UNKNOWN",
    }
}

/// A Gemini error body: `{"error": {code, message, status, details?}}`.
pub fn error_value(status: u16, message: &str, details: Option<Value>) -> Value {
    let mut error = json!({"code": status, "message": message, "status": status_name(status)});
    if let Some(details) = details {
        error["details"] = details;
    }
    json!({ "error": error })
}

/// Is this path one of the Gemini API's: `…/v1beta/models…` (or `v1alpha`), or a model method
/// such as `…/v1/models/M:generateContent` (a bare `/v1/models` is the other APIs' list)?
pub(super) fn is_gemini_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    segments.windows(2).any(|w| {
        matches!(w[0], "v1beta" | "v1alpha") && w[1] == "models"
            || (w[0].starts_with("v1") && w[1] == "models" && path.contains(':'))
    })
}

/// What a Gemini path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    ListModels,
    GetModel(String),
    Generate { model: String, stream: bool },
    CountTokens(String),
    Unknown,
}

fn route(method: &str, path: &str) -> Call {
    let Some((_, after)) = path.split_once("/models") else {
        return Call::Unknown;
    };
    let rest = after.trim_start_matches('/');
    if rest.is_empty() {
        return if method == "GET" {
            Call::ListModels
        } else {
            Call::Unknown
        };
    }
    match (method, rest.split_once(':')) {
        ("GET", None) if !rest.contains('/') => Call::GetModel(rest.to_string()),
        ("POST", Some((model, "generateContent"))) => Call::Generate {
            model: model.to_string(),
            stream: false,
        },
        ("POST", Some((model, "streamGenerateContent"))) => Call::Generate {
            model: model.to_string(),
            stream: true,
        },
        ("POST", Some((model, "countTokens"))) => Call::CountTokens(model.to_string()),
        _ => Call::Unknown,
    }
}

fn error_response(status: u16, message: &str, details: Option<Value>) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code).json(error_value(status, message, details))
}

/// The answer to a request for the Gemini API: the key check, the `status` knob, then the call.
pub(super) fn answer(
    req: &HttpRequest,
    b: &Behaviour,
    body: &[u8],
    serial: usize,
    shared: Arc<Shared>,
) -> HttpResponse {
    if let Some(expected) = &b.key {
        let header = req
            .headers()
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok());
        match key_of(header, req.query_string()) {
            None => {
                return error_response(
                    403,
                    "Method doesn't allow unregistered callers (callers without established \
                     identity). Please use API Key or other form of API consumer identity to call \
                     this API.",
                    None,
                )
            }
            Some(key) if key.key() != expected => {
                let message = "API key not valid. Please pass a valid API key.";
                return error_response(
                    400,
                    message,
                    Some(json!([
                        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                         "domain": "googleapis.com",
                         "metadata": {"service": "generativelanguage.googleapis.com"}},
                        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                         "message": message},
                    ])),
                );
            }
            Some(_) => {}
        }
    }
    if let Some(status) = b.status {
        return status_answer(b, status);
    }
    match route(req.method().as_str(), req.path()) {
        Call::ListModels => HttpResponse::Ok().json(json!({
            "models": MODELS.iter().map(|m| model_value(m)).collect::<Vec<_>>(),
        })),
        Call::GetModel(model) => HttpResponse::Ok().json(model_value(&model)),
        Call::CountTokens(model) => match check_count_request(body, &model) {
            Ok(request) => {
                let tokens = count_tokens(&request);
                HttpResponse::Ok().json(json!({"totalTokens": tokens,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]}))
            }
            Err(refusal) => refusal.response(),
        },
        Call::Generate { model, stream } => {
            let request = match check_request(body, &model) {
                Ok(request) => request,
                Err(refusal) => return refusal.response(),
            };
            let planned = plan_answer(b, &request, &model, serial);
            if !stream {
                return HttpResponse::Ok().json(planned.whole());
            }
            let chunks = planned.chunks();
            let sse = query_param(req.query_string(), "alt").as_deref() == Some("sse");
            let (content_type, events) = if sse {
                let events = chunks
                    .iter()
                    .map(|c| format!("data: {c}\r\n\r\n"))
                    .collect();
                ("text/event-stream", events)
            } else {
                // Without `alt=sse` the real API streams one JSON array of the same chunks.
                let last = chunks.len() - 1;
                let events = chunks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let open = if i == 0 { "[" } else { ",\r\n" };
                        let close = if i == last { "]" } else { "" };
                        format!("{open}{c}{close}")
                    })
                    .collect();
                ("application/json", events)
            };
            HttpResponse::Ok()
                .content_type(content_type)
                .insert_header(("cache-control", "no-cache"))
                .streaming(sse_stream(
                    b,
                    sse.then_some(super::Api::Gemini),
                    events,
                    shared,
                ))
        }
        Call::Unknown => error_response(
            404,
            &format!("mock has no Gemini route {} {}", req.method(), req.path()),
            None,
        ),
    }
}

/// The `status` knob's answer: a Gemini error, with `Retry-After` when configured and, for a
/// 429 whose `retry_after` is a number of seconds, the `RetryInfo` detail Gemini sends.
fn status_answer(b: &Behaviour, status: u16) -> HttpResponse {
    let message = b
        .error_message
        .clone()
        .unwrap_or_else(|| format!("mock {} answers {status}", b.name));
    let retry_delay = b
        .retry_after
        .as_deref()
        .filter(|_| status == 429)
        .and_then(|r| r.trim().parse::<u64>().ok());
    let details = retry_delay.map(|s| {
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{s}s")}])
    });
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = if b.error_as_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::build(code)
    };
    if let Some(r) = &b.retry_after {
        builder.insert_header(("retry-after", r.as_str()));
    }
    builder.json(error_value(status, &message, details))
}

/// One model as `GET /v1beta/models` lists it.
fn model_value(model: &str) -> Value {
    json!({
        "name": format!("models/{model}"),
        "version": "mock",
        "displayName": model,
        "description": "A model of the switchyard mock.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2.0,
        "thinking": true,
    })
}

/// A rough count: a token for every 4 characters of text in the contents (at least 1).
fn count_tokens(request: &Value) -> usize {
    let contents = field(request, "generateContentRequest")
        .and_then(|r| field(r, "contents"))
        .or_else(|| field(request, "contents"));
    let chars: usize = contents
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .flat_map(|c| {
            field(c, "parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::len))
        .sum();
    chars.div_ceil(4).max(1)
}

/// What an answer is made of, before it is written as chunks or as one response.
#[derive(Debug, Clone, PartialEq)]
struct Planned {
    model: String,
    response_id: String,
    /// A `thought: true` part first.
    thought: Option<String>,
    /// The text, in the pieces it is streamed in.
    text: Vec<String>,
    /// The signature on the (last) text part.
    text_signature: Option<String>,
    /// Function call parts, each `{functionCall, thoughtSignature?}`.
    calls: Vec<Value>,
    /// Words of thinking, counted as `thoughtsTokenCount`.
    thought_tokens: usize,
}

impl Planned {
    fn usage(&self) -> Value {
        let candidates = self.text.len() + self.calls.len();
        let mut usage = json!({
            "promptTokenCount": PROMPT_TOKENS,
            "cachedContentTokenCount": CACHED_TOKENS,
            "candidatesTokenCount": candidates,
            "totalTokenCount": PROMPT_TOKENS + candidates + self.thought_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": CACHED_TOKENS}],
        });
        if self.thought_tokens > 0 {
            usage["thoughtsTokenCount"] = json!(self.thought_tokens);
        }
        usage
    }

    /// A `GenerateContentResponse` with these parts (and the end, when `finish`).
    fn response(&self, parts: Vec<Value>, finish: bool) -> Value {
        let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
        let usage = if finish {
            candidate["finishReason"] = json!("STOP");
            self.usage()
        } else {
            // Chunks before the last carry the prompt's count only, as the real API's do.
            json!({"promptTokenCount": PROMPT_TOKENS, "totalTokenCount": PROMPT_TOKENS,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}]})
        };
        json!({"candidates": [candidate], "usageMetadata": usage,
            "modelVersion": self.model, "responseId": self.response_id})
    }

    fn thought_part(&self) -> Option<Value> {
        self.thought
            .as_ref()
            .map(|t| json!({"text": t, "thought": true}))
    }

    fn text_part(&self, text: &str, last: bool) -> Value {
        let mut part = json!({ "text": text });
        if let (true, Some(signature)) = (last, &self.text_signature) {
            part["thoughtSignature"] = json!(signature);
        }
        part
    }

    /// The stream's chunks: the thought, each text piece, each call; the last one ends it.
    fn chunks(&self) -> Vec<Value> {
        let mut parts: Vec<Value> = self.thought_part().into_iter().collect();
        let last = self.text.len().saturating_sub(1);
        for (i, piece) in self.text.iter().enumerate() {
            parts.push(self.text_part(piece, i == last));
        }
        parts.extend(self.calls.iter().cloned());
        let n = parts.len();
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| self.response(vec![part], i + 1 == n))
            .collect()
    }

    /// The non-streamed answer: every part in one candidate, the text whole.
    fn whole(&self) -> Value {
        let mut parts: Vec<Value> = self.thought_part().into_iter().collect();
        if !self.text.is_empty() {
            parts.push(self.text_part(&self.text.concat(), true));
        }
        parts.extend(self.calls.iter().cloned());
        self.response(parts, true)
    }
}

/// The text of a `functionResponse`'s `response`: its `output` (or `error`) string, else the
/// whole object as JSON.
fn response_output(response: &Value) -> String {
    let result = field(response, "response").unwrap_or(&Value::Null);
    ["output", "error"]
        .iter()
        .find_map(|k| result[*k].as_str().map(str::to_string))
        .unwrap_or_else(|| result.to_string())
}

/// The `serial`-th answer to an accepted request for `model`.
fn plan_answer(b: &Behaviour, request: &Value, model: &str, serial: usize) -> Planned {
    let extra = b.openai.clone().unwrap_or_default();
    let thinking = thinking_on(request, model);
    let thoughts_asked = field(request, "generationConfig")
        .and_then(|c| field(c, "thinkingConfig"))
        .and_then(|t| field(t, "includeThoughts"))
        .and_then(Value::as_bool)
        == Some(true);
    let reasoning = extra.reasoning.clone().filter(|_| thinking);
    let mut planned = Planned {
        model: model.to_string(),
        response_id: format!("mockresp-{serial}"),
        thought: reasoning.clone().filter(|_| thoughts_asked),
        text: Vec::new(),
        text_signature: None,
        calls: Vec::new(),
        thought_tokens: reasoning.map_or(0, |r| r.split_whitespace().count()),
    };
    let config = field(request, "generationConfig");
    let mime = config
        .and_then(|c| field(c, "responseMimeType"))
        .and_then(Value::as_str);
    if mime == Some("application/json") {
        let schema = config
            .and_then(|c| field(c, "responseJsonSchema").or_else(|| field(c, "responseSchema")));
        let text = match schema {
            Some(schema) => value_for_schema(schema, "").to_string(),
            None => json!({ "text": super::reply_text(b) }).to_string(),
        };
        planned.thought = None;
        planned.text = vec![text];
        return planned;
    }
    let contents = field(request, "contents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let answered: Vec<&Value> = contents
        .last()
        .and_then(|c| field(c, "parts"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| field(p, "functionResponse"))
        .collect();
    if thinking {
        planned.text_signature = Some(TEXT_SIGNATURE.to_string());
    }
    if !answered.is_empty() {
        let outputs: Vec<String> = answered.iter().map(|r| response_output(r)).collect();
        let quote = format!(
            "{} read the tool output: {}",
            b.name,
            outputs.join("\n").trim()
        );
        planned.text = pieces(&quote, b.deltas);
        return planned;
    }
    if extra.tool_calls.is_empty() {
        planned.text = reply_pieces(b);
        return planned;
    }
    planned.text_signature = None;
    for (i, (name, arguments)) in extra.tool_calls.iter().enumerate() {
        let args = match serde_json::from_str::<Value>(arguments) {
            Ok(Value::Object(args)) => Value::Object(args),
            _ => json!({ "input": arguments }),
        };
        let mut part = json!({"functionCall": {"id": format!("mockcall-{serial}-{i}"),
            "name": name, "args": args}});
        // Gemini signs the first call of a step; the parallel ones after it go without.
        if i == 0 {
            part["thoughtSignature"] = json!(call_signature(name));
        }
        planned.calls.push(part);
    }
    planned
}

/// A value valid for `schema` (JSON Schema, or the OpenAPI subset with upper-case types): an
/// object with its required properties (all of them when none are named), the first `enum`
/// value, a number within its bounds (a `…score` 10, else the minimum, else 1), `"mock NAME"` for
/// a string.
pub fn value_for_schema(schema: &Value, name: &str) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(option) = schema["anyOf"].as_array().and_then(|o| o.first()) {
        return value_for_schema(option, name);
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.to_ascii_lowercase(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_ascii_lowercase)
            .find(|t| t != "null")
            .unwrap_or_default(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" => {
            let properties = schema["properties"].as_object();
            let required: Vec<String> = match schema["required"].as_array() {
                Some(r) => r
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                None => properties
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default(),
            };
            let object = required
                .into_iter()
                .map(|key| {
                    let sub = properties.and_then(|p| p.get(&key)).unwrap_or(&Value::Null);
                    let value = value_for_schema(sub, &key);
                    (key, value)
                })
                .collect();
            Value::Object(object)
        }
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(1).max(1);
            (0..n)
                .map(|_| value_for_schema(&schema["items"], name))
                .collect()
        }
        "integer" | "number" => {
            let low = schema["minimum"].as_f64().unwrap_or(1.0);
            let high = schema["maximum"].as_f64().unwrap_or(f64::MAX);
            let wanted = if name.ends_with("score") { 10.0 } else { low };
            let n = wanted.clamp(low, high.max(low));
            if kind == "integer" {
                json!(n.ceil() as i64)
            } else {
                json!(n)
            }
        }
        "boolean" => json!(false),
        _ => json!(format!(
            "mock {}",
            if name.is_empty() { "value" } else { name }
        )),
    }
}

#[cfg(test)]
mod tests;

//! Translation between the LLM APIs the gateway speaks, as pure functions and state machines over
//! bytes, through one hub: each API has a reader (request, JSON answer, SSE stream → the
//! intermediate form in `ir`) and a writer (the other way), so N APIs are 2N pieces and a
//! translation is always "the client's reader, then the upstream's writer" (or the reverse for
//! answers), never a pair of APIs.
//!
//! The relay picks the work per attempt from (client API, endpoint API) with [`Route::of`]: the same
//! API is a passthrough and never enters the hub; otherwise [`translate_request`] rewrites the body,
//! [`translate_answer`] a JSON answer, a [`StreamTranslator`] an SSE answer chunk by chunk, and
//! [`translate_error`] an upstream error. Nothing here knows of sockets, actors or the config.
//!
//! | Messages | intermediate form | Chat Completions |
//! | --- | --- | --- |
//! | `system` (string or text blocks, joined by a blank line) | system text | first `system` message (`system`/`developer` messages anywhere are hoisted back) |
//! | `text` / `image` (base64 → data URL, url) blocks | text, image parts | `content` string (text only) or `text` / `image_url` parts |
//! | `tool_use` blocks | tool calls | assistant `tool_calls`, `input` as a JSON-string `arguments` |
//! | `tool_result` blocks (`is_error` → `Error: ` prefix; images move to a user message after) | tool results | `tool` messages with `tool_call_id`, before the rest of the user turn |
//! | `tools[]` `name`/`description`/`input_schema` | tools | `tools[]` `function` `name`/`description`/`parameters` |
//! | `tool_choice` auto / any / tool / none, `disable_parallel_tool_use` | tool choice | `auto` / `required` / `{function}` / `none`, `parallel_tool_calls: false` |
//! | `max_tokens` (a Chat client's, else [`RequestOptions::default_max_tokens`]) | max tokens | `max_tokens` / `max_completion_tokens` |
//! | `stop_sequences`, `temperature` (Chat's 0–2 capped at 1), `top_p`, `metadata.user_id` | settings | `stop`, `temperature`, `top_p`, `user` |
//! | `thinking.budget_tokens` | reasoning | `reasoning_effort` (only a client's own) |
//! | `stream` | stream | `stream` + `stream_options.include_usage` |
//! | `thinking` blocks / `thinking_delta` | thinking | `reasoning_content` (or OpenRouter's `reasoning`) |
//! | `stop_reason` end_turn / max_tokens / tool_use / refusal | stop reason | `finish_reason` stop / length / tool_calls / content_filter |
//! | `input_tokens` + `cache_read_input_tokens` (+ cache writes) | usage | `prompt_tokens` (with `cached_tokens`) |
//! | one more tool (the format's name, its schema as `input_schema`) the model must call; its input comes back as the text, `stop_reason` end_turn | output format: JSON schema | `response_format` `json_schema` (Responses: `text.format`) |
//!
//! The Responses API's reader and writer are described in the `responses` module, Gemini's in
//! the `gemini` module. A Gemini request names its model and whether it streams in its path
//! ([`GeminiCall::of_path`]), so a Gemini client's request is translated with
//! [`translate_gemini_request`], and a request for a Gemini upstream goes to [`gemini_path`].
//!
//! `cache_control` (on system blocks, content blocks, tool results and tools) is carried as
//! [`ir::CacheMarks`] to the writers that have a place for it: Messages, and Chat Completions for a
//! Claude model (the Anthropic-shaped relays read it on content parts).
//!
//! Dropped: prior `thinking` blocks for an OpenAI upstream, `top_k` (kept for Messages and
//! Gemini), `seed`,
//! `service_tier`, `store`, a format's `strict` for a Messages upstream. Refused with a 400 naming
//! the field: Chat `n > 1`, `logprobs`/`top_logprobs`, `logit_bias`, non-zero penalties, audio,
//! for a Messages upstream `json_object` output (JSON without a schema) and a schema whose root is
//! no object, legacy `functions`; Messages server tools (no `input_schema`), `mcp_servers`, URL and
//! file documents (text documents become text, base64 PDFs `file` parts).

mod anthropic;
mod chat;
mod errors;
mod extras;
mod field;
mod gemini;
mod headers;
mod hub;
pub(crate) mod ir;
mod lazy;
mod replay;
mod responses;
mod sse;
mod structured;
mod values;

#[cfg(test)]
mod answer;
#[cfg(test)]
mod chat_stream;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod messages_stream;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod request;

pub use errors::{translate_error, ErrorKind};
pub use extras::{count_tokens_answer, estimate_input_tokens, models_list};
pub use gemini::{
    gemini_path, gemini_retry_delay, gemini_without_carried_thinking,
    messages_without_gemini_thinking, GeminiCall, GeminiMethod,
};
pub use headers::{is_foreign_header, upstream_path, TRANSLATED_ACCEPT_ENCODING};
use hub::{AnyReader, AnyWriter, Pipe};
pub use ir::ToolName;
pub use replay::translate_answer_as_stream;
pub use responses::carry::without_carried_reasoning;
pub use sse::{EventTooLarge, SseEvent, SseParser, MAX_EVENT};
pub use values::{
    answer_usage, chat_answer_to_messages, chat_to_messages, messages_answer_to_chat,
    messages_to_chat,
};

pub use crate::wire::Api;

/// What one attempt does with a generation request: pass it on, or translate both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Client and endpoint speak the same API: bytes go through unchanged.
    Passthrough,
    /// The request is translated from `client` to `upstream`, the answer back.
    Translate { client: Api, upstream: Api },
}

impl Route {
    /// The route for a client of `client` in front of an endpoint of `endpoint`.
    pub fn of(client: Api, endpoint: Api) -> Route {
        if client == endpoint {
            Route::Passthrough
        } else {
            Route::Translate {
                client,
                upstream: endpoint,
            }
        }
    }
}

/// What the caller decides for a translated request.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// The model to send upstream (`model_map` already applied); `None` keeps the client's.
    pub upstream_model: Option<String>,
    /// `max_tokens` for a Messages upstream when the client gave none.
    pub default_max_tokens: u64,
    /// Unix seconds, shown as `created` in Chat answers.
    pub now_unix: u64,
    /// The most `max_tokens` the upstream accepts (DeepSeek: 8192); a larger request is lowered.
    pub max_tokens_cap: Option<u64>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            upstream_model: None,
            default_max_tokens: DEFAULT_MAX_TOKENS,
            now_unix: 0,
            max_tokens_cap: None,
        }
    }
}

/// `max_tokens` sent to a Messages upstream when a client sets no limit.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// What the answer's translation needs to know about the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub client: Api,
    pub upstream: Api,
    /// The model the client asked for: translated answers name it.
    pub client_model: String,
    /// The model sent upstream.
    pub upstream_model: String,
    /// The client asked for an SSE answer.
    pub stream: bool,
    /// A Chat client asked for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Unix seconds for `created` in Chat answers.
    pub created: u64,
    /// Tools the upstream knows by another name (shortened for OpenAI) or as a function (a
    /// Responses custom tool): answers give them back as the client knows them.
    pub tool_names: Vec<ToolName>,
}

/// A request body rewritten for the upstream's API, and what its answer's translation needs.
#[derive(Debug, Clone)]
pub struct TranslatedRequest {
    pub body: Vec<u8>,
    pub exchange: Exchange,
}

/// A request the upstream's API cannot express: answered 400 to the client, never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the request body is not a JSON object: {0}")]
    NotJson(String),
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
}

impl Refusal {
    pub(crate) fn unsupported(field: impl Into<String>, reason: impl Into<String>) -> Refusal {
        Refusal::Unsupported {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The request field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Refusal::NotJson(_) => None,
            Refusal::Unsupported { field, .. } => Some(field),
        }
    }

    /// The 400 body in the client's API shape (OpenAI's `param` names the field).
    pub fn body(&self, client: Api) -> Vec<u8> {
        let message = format!("switchyard cannot translate this request: {self}");
        let mut body: serde_json::Value = serde_json::from_slice(&errors::error_body(
            client,
            ErrorKind::InvalidRequest,
            &message,
        ))
        .unwrap_or_default();
        if let (Api::OpenAi | Api::Responses, Some(field)) = (client, self.field()) {
            body["error"]["param"] = field.into();
        }
        body.to_string().into_bytes()
    }
}

/// Rewrites a client's generation request for an upstream of another API: the client API's reader
/// reads it, the upstream API's writer writes it. The request is read where it lies, turn by turn,
/// and the new body written as it is read: the translation holds about the body's size once more,
/// whatever its shape.
pub fn translate_request(
    client: Api,
    upstream: Api,
    body: &[u8],
    options: &RequestOptions,
) -> Result<TranslatedRequest, Refusal> {
    translate(client, upstream, body, None, options, Vec::new())
}

/// [`translate_request`] for a Gemini client, whose request names its model and whether it
/// streams in its path, not its body: `model` and `stream` are what the path said (see
/// [`GeminiCall::of_path`]). The exchange remembers them as the client's model and wish.
pub fn translate_gemini_request(
    upstream: Api,
    body: &[u8],
    model: &str,
    stream: bool,
    options: &RequestOptions,
) -> Result<TranslatedRequest, Refusal> {
    translate(
        Api::Gemini,
        upstream,
        body,
        Some((model, stream)),
        options,
        Vec::new(),
    )
}

/// [`translate_request`] (for a Gemini client, [`translate_gemini_request`] with the model and
/// stream wish `gemini_path` names), the new body written into `buffer`'s memory (its bytes are
/// cleared first). A caller that translates one request after another hands back the last body's
/// buffer once nothing else holds it: the new body then needs no fresh memory, which the
/// allocator would otherwise fault in anew each time.
pub fn translate_request_into(
    client: Api,
    upstream: Api,
    body: &[u8],
    gemini_path: Option<(&str, bool)>,
    options: &RequestOptions,
    buffer: Vec<u8>,
) -> Result<TranslatedRequest, Refusal> {
    let path = gemini_path.filter(|_| client == Api::Gemini);
    translate(client, upstream, body, path, options, buffer)
}

/// A client's request translated into `buffer`'s memory; `path` is the model and stream wish a
/// Gemini client's path names (other APIs name them in the body).
fn translate(
    client: Api,
    upstream: Api,
    body: &[u8],
    path: Option<(&str, bool)>,
    options: &RequestOptions,
    mut buffer: Vec<u8>,
) -> Result<TranslatedRequest, Refusal> {
    let document = lazy::Document::parse(body).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let request = document
        .root()
        .object()
        .ok_or_else(|| Refusal::NotJson("expected an object".into()))?;
    let (client_model, stream) = match path {
        Some((model, stream)) => (model.to_string(), stream),
        None => (
            request.str("model").unwrap_or_default().into_owned(),
            request.field("stream").as_bool().unwrap_or(false),
        ),
    };
    let upstream_model = options
        .upstream_model
        .clone()
        .unwrap_or_else(|| client_model.clone());
    let (body, include_usage, tool_names) = if client == upstream {
        // One API on both sides is a passthrough, never translated.
        buffer.clear();
        buffer.extend_from_slice(body);
        (buffer, false, Vec::new())
    } else {
        let gemini = match client {
            Api::Gemini => gemini::Prepared::of(&request, stream),
            _ => gemini::Prepared::default(),
        };
        let read = hub::read_request(client, &request, upstream, &gemini)?;
        let include_usage = read.include_usage;
        let target = hub::Target {
            model: &upstream_model,
            default_max_tokens: options.default_max_tokens,
            max_tokens_cap: options.max_tokens_cap,
            // The new body is about as long as the client's: room for it, and some to spare.
            capacity: body.len() + body.len() / 8 + 1024,
        };
        let written = hub::write_request(upstream, read, &target, buffer)?;
        (written.body, include_usage, written.tool_names)
    };
    Ok(TranslatedRequest {
        body,
        exchange: Exchange {
            client,
            upstream,
            client_model,
            upstream_model,
            stream,
            include_usage,
            created: options.now_unix,
            tool_names,
        },
    })
}

/// Rewrites an upstream's successful JSON answer for the client; `None` when it is not JSON. The
/// answer is read where it lies and the new one written part by part.
pub fn translate_answer(exchange: &Exchange, body: &[u8]) -> Option<Vec<u8>> {
    let document = lazy::Document::parse(body).ok()?;
    let answer = document.root().object().unwrap_or_default();
    if exchange.client == exchange.upstream {
        return Some(body.to_vec());
    }
    let read = hub::read_answer(exchange.upstream, &answer, &exchange.tool_names);
    let client = hub::Client {
        model: &exchange.client_model,
        created: exchange.created,
        tool_names: &exchange.tool_names,
    };
    hub::write_answer(exchange.client, read, &client, body.len() + 1024).ok()
}

/// The client API's SSE error event, which ends a stream that failed midway.
pub fn error_event(client: Api, kind: ErrorKind, message: &str) -> Vec<u8> {
    match client {
        Api::Responses => responses::failed_event(kind, message),
        Api::Anthropic | Api::OpenAi | Api::Gemini => errors::error_event(client, kind, message),
    }
}

/// The upstream's SSE stream ended before its final event, or carried an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Cut {
    pub reason: String,
    /// The upstream's own error event was already translated and sent to the client.
    pub error_sent: bool,
}

impl Cut {
    /// The client's final error event, unless one was already sent.
    pub fn error_event(&self, client: Api) -> Vec<u8> {
        if self.error_sent {
            Vec::new()
        } else {
            error_event(
                client,
                ErrorKind::Api,
                &format!("switchyard: upstream stream failed: {}", self.reason),
            )
        }
    }
}

/// Translates an upstream SSE answer for the client as its bytes arrive: the upstream API's stream
/// reader joined to the client API's stream writer.
#[derive(Debug)]
pub struct StreamTranslator(Pipe<AnyReader, AnyWriter>);

impl StreamTranslator {
    /// The translator for this exchange; `None` when client and upstream speak the same API.
    pub fn for_exchange(exchange: &Exchange) -> Option<StreamTranslator> {
        if exchange.client == exchange.upstream {
            return None;
        }
        Some(StreamTranslator(Pipe::join(
            AnyReader::of(exchange.upstream, exchange.tool_names.clone()),
            AnyWriter::of(exchange),
        )))
    }

    /// The client's bytes for these upstream bytes (possibly none yet).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.0.feed(bytes)
    }

    /// The client's last bytes once the upstream stream ended, or why it was cut short.
    pub fn finish(&mut self) -> Result<Vec<u8>, Cut> {
        self.0.finish()
    }

    /// The upstream sent an event too large to follow: the client already has its error event,
    /// and the rest of the upstream's stream need not be read.
    pub fn gave_up(&self) -> bool {
        self.0.gave_up()
    }

    /// Tokens the upstream reported so far.
    pub fn usage(&self) -> Tokens {
        self.0.usage()
    }
}

/// Chat Completions chunks → Messages events: the Chat stream reader and the Messages stream writer.
#[cfg(test)]
pub(crate) type ChatToMessages = Pipe<chat::StreamReader, anthropic::StreamWriter>;

#[cfg(test)]
impl ChatToMessages {
    /// A translator whose events name `client_model`.
    pub fn new(client_model: &str) -> Self {
        Pipe::join(
            chat::StreamReader::new(Vec::new()),
            anthropic::StreamWriter::new(client_model),
        )
    }

    /// Tool names shortened for the upstream, as (short, original): blocks carry the original.
    pub fn with_tool_names(self, names: Vec<(String, String)>) -> Self {
        self.with_reader(chat::StreamReader::new(ToolName::renamed(&names)))
    }
}

/// Messages events → Chat Completions chunks: the Messages stream reader and the Chat stream writer.
#[cfg(test)]
pub(crate) type MessagesToChat = Pipe<anthropic::StreamReader, chat::StreamWriter>;

#[cfg(test)]
impl MessagesToChat {
    /// A translator whose chunks name `client_model`; `include_usage` adds the usage chunk.
    pub fn new(client_model: &str, include_usage: bool, created: u64) -> Self {
        Pipe::join(
            anthropic::StreamReader::new(Vec::new()),
            chat::StreamWriter::new(client_model, include_usage, created),
        )
    }
}

/// The one model of tokens, shared with the usage meter: translators read an upstream's usage
/// into it and write the client's from it.
pub use crate::wire::usage::Tokens;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_reads_and_writes_lowercase_and_defaults_to_anthropic() {
        assert_eq!(Api::default(), Api::Anthropic);
        let a: Api = serde_json::from_str("\"openai\"").unwrap();
        assert_eq!(a, Api::OpenAi);
        assert_eq!(serde_json::to_string(&Api::OpenAi).unwrap(), "\"openai\"");
        assert_eq!(
            serde_json::to_string(&Api::Anthropic).unwrap(),
            "\"anthropic\""
        );
        assert!(serde_json::from_str::<Api>("\"OpenAI\"").is_err());
        assert_eq!(Api::OpenAi.to_string(), "openai");
    }

    #[test]
    fn a_body_written_into_a_used_buffer_is_the_body_written_fresh() {
        let messages = br#"{"model": "m", "max_tokens": 10, "stream": true, "system": "s",
            "messages": [{"role": "user", "content": "hi \n there"}]}"#;
        let gemini = br#"{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}"#;
        let options = RequestOptions::default();
        let mut pairs = 0;
        for client in [Api::Anthropic, Api::OpenAi, Api::Responses, Api::Gemini] {
            for upstream in [Api::Anthropic, Api::OpenAi, Api::Responses, Api::Gemini] {
                let (body, path): (&[u8], _) = match client {
                    Api::Gemini => (gemini, Some(("gemini-2.5-pro", true))),
                    _ => (messages, None),
                };
                let fresh = match path {
                    Some((model, stream)) => {
                        translate_gemini_request(upstream, body, model, stream, &options)
                    }
                    None => translate_request(client, upstream, body, &options),
                };
                let Ok(fresh) = fresh else {
                    continue;
                };
                // A buffer with room to spare and old bytes in it.
                let mut used = Vec::with_capacity(1 << 16);
                used.extend_from_slice(&[b'x'; 300]);
                let address = used.as_ptr();
                let reused =
                    translate_request_into(client, upstream, body, path, &options, used).unwrap();
                let pair = format!("{client} -> {upstream}");
                assert_eq!(
                    String::from_utf8_lossy(&reused.body),
                    String::from_utf8_lossy(&fresh.body),
                    "{pair}"
                );
                assert_eq!(reused.exchange, fresh.exchange, "{pair}");
                assert_eq!(reused.body.as_ptr(), address, "{pair}: the same memory");
                pairs += 1;
            }
        }
        assert_eq!(pairs, 16, "every pair translated");
    }

    #[test]
    fn carried_texts_reach_every_upstream_as_the_client_escaped_them() {
        // Escapes a writer would have written otherwise (`\/`, `\u00e9`): kept as the client's.
        let escaped = r#"see a\/b \u00e9\n"#;
        let text: String = serde_json::from_str(&format!("\"{escaped}\"")).unwrap();
        let request = format!(
            r#"{{"model": "m", "max_tokens": 10, "system": "{escaped}", "messages": [
                {{"role": "user", "content": [{{"type": "text", "text": "{escaped}"}}]}},
                {{"role": "assistant", "content": [{{"type": "tool_use", "id": "t1", "name": "f", "input": {{}}}}]}},
                {{"role": "user", "content": [{{"type": "tool_result", "tool_use_id": "t1", "content": "{escaped}"}}]}}]}}"#
        );
        for upstream in [Api::OpenAi, Api::Responses, Api::Gemini] {
            let written = translate_request(
                Api::Anthropic,
                upstream,
                request.as_bytes(),
                &RequestOptions::default(),
            )
            .unwrap();
            let body = String::from_utf8(written.body).unwrap();
            assert_eq!(body.matches(escaped).count(), 3, "{upstream:?}: {body}");
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            let strings = strings_of(&value);
            assert_eq!(
                strings.iter().filter(|s| **s == text).count(),
                3,
                "{upstream:?}"
            );
            // And back: that API's reader carries them to a Messages upstream as well.
            let options = RequestOptions::default();
            let back = match upstream {
                Api::Gemini => {
                    translate_gemini_request(Api::Anthropic, body.as_bytes(), "m", false, &options)
                }
                client => translate_request(client, Api::Anthropic, body.as_bytes(), &options),
            };
            let back = String::from_utf8(back.unwrap().body).unwrap();
            assert_eq!(
                back.matches(escaped).count(),
                3,
                "{upstream:?} back: {back}"
            );
        }
    }

    /// Every string in a JSON value.
    fn strings_of(value: &serde_json::Value) -> Vec<&str> {
        match value {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(items) => items.iter().flat_map(strings_of).collect(),
            serde_json::Value::Object(members) => members.values().flat_map(strings_of).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_route_is_passthrough_only_for_the_same_api() {
        assert_eq!(
            Route::of(Api::Anthropic, Api::Anthropic),
            Route::Passthrough
        );
        assert_eq!(Route::of(Api::OpenAi, Api::OpenAi), Route::Passthrough);
        assert_eq!(
            Route::of(Api::Anthropic, Api::OpenAi),
            Route::Translate {
                client: Api::Anthropic,
                upstream: Api::OpenAi
            }
        );
    }

    #[test]
    fn a_translated_request_remembers_the_clients_model_and_usage_wish() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#;
        let t = translate_request(
            Api::OpenAi,
            Api::Anthropic,
            body,
            &RequestOptions {
                upstream_model: Some("claude-sonnet-4-5".into()),
                now_unix: 1700000000,
                ..RequestOptions::default()
            },
        )
        .unwrap();
        assert_eq!(t.exchange.client_model, "gpt-4o");
        assert_eq!(t.exchange.upstream_model, "claude-sonnet-4-5");
        assert!(t.exchange.stream && t.exchange.include_usage);
        let sent: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(sent["model"], "claude-sonnet-4-5");
        assert_eq!(sent["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(StreamTranslator::for_exchange(&t.exchange).is_some());
    }

    #[test]
    fn max_tokens_is_lowered_to_the_upstreams_cap() {
        let body =
            br#"{"model":"claude","max_tokens":32000,"messages":[{"role":"user","content":"hi"}]}"#;
        let options = RequestOptions {
            max_tokens_cap: Some(8192),
            ..RequestOptions::default()
        };
        let t = translate_request(Api::Anthropic, Api::OpenAi, body, &options).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(sent["max_tokens"], 8192);
        let small = br#"{"model":"claude","max_tokens":100,"messages":[]}"#;
        let t = translate_request(Api::Anthropic, Api::OpenAi, small, &options).unwrap();
        let sent: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(sent["max_tokens"], 100);
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused_in_the_clients_shape() {
        let e = translate_request(
            Api::OpenAi,
            Api::Anthropic,
            b"[1]",
            &RequestOptions::default(),
        )
        .unwrap_err();
        let body: serde_json::Value = serde_json::from_slice(&e.body(Api::OpenAi)).unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(translate_request(
            Api::Anthropic,
            Api::OpenAi,
            b"{",
            &RequestOptions::default()
        )
        .is_err());
    }
}

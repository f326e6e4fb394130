//! Anthropic Messages ⇄ OpenAI Chat Completions, as pure functions and state machines over bytes.
//!
//! The relay picks the work per attempt from (client API, endpoint API) with [`Route::of`]: the same
//! API is a passthrough; otherwise [`translate_request`] rewrites the body, [`translate_answer`] a
//! JSON answer, a [`StreamTranslator`] an SSE answer chunk by chunk, and [`translate_error`] an
//! upstream error. Nothing here knows of sockets, actors or the config.
//!
//! | Messages | Chat Completions |
//! | --- | --- |
//! | `system` (string or text blocks, joined by a blank line) | first `system` message (`system`/`developer` messages anywhere are hoisted back) |
//! | `text` / `image` (base64 → data URL, url) blocks | `content` string (text only) or `text` / `image_url` parts |
//! | `tool_use` blocks | assistant `tool_calls`, `input` as a JSON-string `arguments` |
//! | `tool_result` blocks (`is_error` → `Error: ` prefix; images move to a user message after) | `tool` messages with `tool_call_id`, before the rest of the user turn |
//! | `tools[]` `name`/`description`/`input_schema` | `tools[]` `function` `name`/`description`/`parameters` |
//! | `tool_choice` auto / any / tool / none, `disable_parallel_tool_use` | `auto` / `required` / `{function}` / `none`, `parallel_tool_calls: false` |
//! | `max_tokens` (a Chat client's, else [`RequestOptions::default_max_tokens`]) | `max_tokens` / `max_completion_tokens` |
//! | `stop_sequences`, `temperature` (Chat's 0–2 capped at 1), `top_p`, `metadata.user_id` | `stop`, `temperature`, `top_p`, `user` |
//! | `stream` | `stream` + `stream_options.include_usage` |
//! | `thinking` blocks / `thinking_delta` | `reasoning_content` (or OpenRouter's `reasoning`) |
//! | `stop_reason` end_turn / max_tokens / tool_use / refusal | `finish_reason` stop / length / tool_calls / content_filter |
//! | `input_tokens` + `cache_read_input_tokens` (+ cache writes) | `prompt_tokens` (with `cached_tokens`) |
//!
//! Dropped: prior `thinking` blocks, `top_k`, `thinking` settings, `cache_control`, `seed`,
//! `reasoning_effort`, `service_tier`, `store`. Refused with a 400 naming the field: Chat `n > 1`,
//! `logprobs`/`top_logprobs`, `logit_bias`, non-zero penalties, audio, JSON `response_format`, legacy
//! `functions`; Messages server tools (no `input_schema`), `mcp_servers`, URL and file documents
//! (text documents become text, base64 PDFs `file` parts).

mod answer;
mod chat_stream;
mod errors;
mod extras;
mod headers;
mod lazy;
mod messages_stream;
mod replay;
mod request;
mod sse;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod property_tests;

pub use answer::{answer_usage, chat_answer_to_messages, messages_answer_to_chat};
pub use chat_stream::ChatToMessages;
pub use errors::{error_event, translate_error, ErrorKind};
pub use extras::{count_tokens_answer, estimate_input_tokens, models_list};
pub use headers::{is_foreign_header, upstream_path, TRANSLATED_ACCEPT_ENCODING};
pub use messages_stream::MessagesToChat;
pub use replay::translate_answer_as_stream;
pub use request::{chat_to_messages, messages_to_chat};
pub use sse::{EventTooLarge, SseEvent, SseParser, MAX_EVENT};

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
    /// `max_tokens` for a Messages upstream when the Chat client gave none.
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

/// `max_tokens` sent to a Messages upstream when a Chat client sets no limit.
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
    /// Tool names shortened for an OpenAI upstream, as (short, original): answers use the original.
    pub tool_names: Vec<(String, String)>,
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
        if let (Api::OpenAi, Some(field)) = (client, self.field()) {
            body["error"]["param"] = field.into();
        }
        body.to_string().into_bytes()
    }
}

/// Rewrites a client's generation request for an upstream of another API. The request is read
/// where it lies and the new body written as it is read: the translation holds about the body's
/// size once more, whatever its shape.
pub fn translate_request(
    client: Api,
    upstream: Api,
    body: &[u8],
    options: &RequestOptions,
) -> Result<TranslatedRequest, Refusal> {
    let request = lazy::Json::parse(body)
        .map_err(|e| Refusal::NotJson(e.to_string()))?
        .object()
        .ok_or_else(|| Refusal::NotJson("expected an object".into()))?;
    let client_model = request.str("model").unwrap_or_default().into_owned();
    let upstream_model = options
        .upstream_model
        .clone()
        .unwrap_or_else(|| client_model.clone());
    let stream = request.field("stream").as_bool().unwrap_or(false);
    let target = request::Target {
        model: &upstream_model,
        default_max_tokens: options.default_max_tokens,
        max_tokens_cap: options.max_tokens_cap,
    };
    // The new body is about as long as the client's: room for it, and some to spare, at once.
    let capacity = body.len() + body.len() / 8 + 1024;
    let mut tool_names = Vec::new();
    let (out, include_usage) = match (client, upstream) {
        (Api::Anthropic, Api::OpenAi) => {
            tool_names = request::shortened_tool_names(&request);
            let out = request::write_messages_as_chat(&request, target, capacity)?;
            (out, false)
        }
        (Api::OpenAi, Api::Anthropic) => (
            request::write_chat_as_messages(&request, target, capacity)?,
            request
                .field("stream_options")
                .get("include_usage")
                .as_bool()
                .unwrap_or(false),
        ),
        // One API on both sides is a passthrough, never translated.
        _ => (body.to_vec(), false),
    };
    Ok(TranslatedRequest {
        body: out,
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
/// answer is read where it lies and the new one written block by block.
pub fn translate_answer(exchange: &Exchange, body: &[u8]) -> Option<Vec<u8>> {
    let answer = lazy::Json::parse(body).ok()?.object().unwrap_or_default();
    let capacity = body.len() + 1024;
    match (exchange.upstream, exchange.client) {
        (Api::OpenAi, Api::Anthropic) => answer::write_chat_answer_as_messages(
            &answer,
            &exchange.client_model,
            &exchange.tool_names,
            capacity,
        )
        .ok(),
        (Api::Anthropic, Api::OpenAi) => answer::write_messages_answer_as_chat(
            &answer,
            &exchange.client_model,
            exchange.created,
            capacity,
        )
        .ok(),
        _ => Some(body.to_vec()),
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

/// Translates an upstream SSE answer for the client as its bytes arrive.
#[derive(Debug)]
pub enum StreamTranslator {
    ChatToMessages(ChatToMessages),
    MessagesToChat(MessagesToChat),
}

impl StreamTranslator {
    /// The translator for this exchange; `None` when client and upstream speak the same API.
    pub fn for_exchange(exchange: &Exchange) -> Option<StreamTranslator> {
        match (exchange.upstream, exchange.client) {
            (Api::OpenAi, Api::Anthropic) => Some(StreamTranslator::ChatToMessages(
                ChatToMessages::new(&exchange.client_model)
                    .with_tool_names(exchange.tool_names.clone()),
            )),
            (Api::Anthropic, Api::OpenAi) => {
                Some(StreamTranslator::MessagesToChat(MessagesToChat::new(
                    &exchange.client_model,
                    exchange.include_usage,
                    exchange.created,
                )))
            }
            _ => None,
        }
    }

    /// The client's bytes for these upstream bytes (possibly none yet).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self {
            StreamTranslator::ChatToMessages(t) => t.feed(bytes),
            StreamTranslator::MessagesToChat(t) => t.feed(bytes),
        }
    }

    /// The client's last bytes once the upstream stream ended, or why it was cut short.
    pub fn finish(&mut self) -> Result<Vec<u8>, Cut> {
        match self {
            StreamTranslator::ChatToMessages(t) => t.finish(),
            StreamTranslator::MessagesToChat(t) => t.finish(),
        }
    }

    /// The upstream sent an event too large to follow: the client already has its error event,
    /// and the rest of the upstream's stream need not be read.
    pub fn gave_up(&self) -> bool {
        match self {
            StreamTranslator::ChatToMessages(t) => t.gave_up(),
            StreamTranslator::MessagesToChat(t) => t.gave_up(),
        }
    }

    /// Tokens the upstream reported so far: (input, output, cache read, cache write).
    pub fn usage(&self) -> Usage {
        match self {
            StreamTranslator::ChatToMessages(t) => t.usage(),
            StreamTranslator::MessagesToChat(t) => t.usage(),
        }
    }
}

/// Token counts in Anthropic's terms (input excludes cache reads and writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

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

//! Translations of requests and answers already parsed into `serde_json::Value`s (for tests and
//! tools): each goes through the hub as the bytes of the value.

use super::lazy::{Json, NULL};
use super::{
    anthropic, chat, gemini, responses, translate_answer, translate_request, Api, Exchange,
    Refusal, RequestOptions, Tokens, ToolName,
};
use serde_json::Value;

/// A Messages request as a Chat Completions request for `upstream_model`.
pub fn messages_to_chat(request: &Value, upstream_model: &str) -> Result<Value, Refusal> {
    request_through(
        Api::Anthropic,
        Api::OpenAi,
        request,
        upstream_model,
        super::DEFAULT_MAX_TOKENS,
    )
}

/// A Chat Completions request as a Messages request for `upstream_model`, with `default_max_tokens`
/// when the client set no limit.
pub fn chat_to_messages(
    request: &Value,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Value, Refusal> {
    request_through(
        Api::OpenAi,
        Api::Anthropic,
        request,
        upstream_model,
        default_max_tokens,
    )
}

fn request_through(
    client: Api,
    upstream: Api,
    request: &Value,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Value, Refusal> {
    let bytes = serde_json::to_vec(request).map_err(|e| Refusal::NotJson(e.to_string()))?;
    let options = RequestOptions {
        upstream_model: Some(upstream_model.to_string()),
        default_max_tokens,
        ..RequestOptions::default()
    };
    let translated = translate_request(client, upstream, &bytes, &options)?;
    serde_json::from_slice(&translated.body).map_err(|e| Refusal::NotJson(e.to_string()))
}

/// A Chat completion as a Message that names `client_model`; `tool_names` maps shortened tool
/// names (short, original) back.
pub fn chat_answer_to_messages(
    answer: &Value,
    client_model: &str,
    tool_names: &[(String, String)],
) -> Value {
    let mut exchange = exchange(Api::Anthropic, Api::OpenAi, client_model, 0);
    exchange.tool_names = ToolName::renamed(tool_names);
    answer_through(&exchange, answer)
}

/// A Message as a Chat completion that names `client_model`, created at `created`.
pub fn messages_answer_to_chat(answer: &Value, client_model: &str, created: u64) -> Value {
    answer_through(
        &exchange(Api::OpenAi, Api::Anthropic, client_model, created),
        answer,
    )
}

fn exchange(client: Api, upstream: Api, client_model: &str, created: u64) -> Exchange {
    Exchange {
        client,
        upstream,
        client_model: client_model.to_string(),
        upstream_model: String::new(),
        stream: false,
        include_usage: false,
        created,
        tool_names: Vec::new(),
    }
}

fn answer_through(exchange: &Exchange, answer: &Value) -> Value {
    let text = serde_json::to_vec(answer).unwrap_or_default();
    translate_answer(exchange, &text)
        .and_then(|body| serde_json::from_slice(&body).ok())
        .unwrap_or_default()
}

/// The tokens a JSON answer of `api` reports.
pub fn answer_usage(api: Api, answer: &Value) -> Tokens {
    let text = serde_json::to_vec(answer).unwrap_or_default();
    let key = match api {
        Api::Gemini => "usageMetadata",
        _ => "usage",
    };
    let usage = Json::parse(&text).map_or(NULL, |answer| answer.get(key));
    match api {
        Api::OpenAi => chat::read_usage(usage),
        Api::Anthropic => anthropic::read_usage(usage),
        Api::Responses => responses::read_usage(usage),
        Api::Gemini => gemini::read_usage(usage),
    }
}

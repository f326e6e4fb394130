//! An endpoint's own probe request: `GET /v1/models`, or a minimal `POST /v1/messages` with
//! `max_tokens: 1`. Sent with the endpoint's key, never a client's.

use crate::config::{EndpointConfig, ProbeKind, Timeouts};
use crate::translate::Api;
use crate::upstream::outcome::TransportError;
use crate::upstream::{self, headers};
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, Uri};
use futures_util::StreamExt;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// What a probe saw.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub status: u16,
    pub latency: Duration,
    pub retry_after: Option<Duration>,
    /// For a 2xx: why its body is not the answer asked for (some relays answer 200 with an error
    /// body); `None` when it is one.
    pub not_an_answer: Option<String>,
}

/// Largest part of a probe's answer that is read (and judged); the rest is left unread.
const PROBE_BODY_LIMIT: usize = 64 << 10;

/// Why a 2xx probe answer is not what was asked for: a model list must have a `data` array; a
/// message must be Anthropic's `message` or, from an OpenAI-format endpoint, have `choices`. An
/// `error` member, a body that is not JSON, or a cut one (over the read limit) gives a reason.
/// `None`: a real answer.
pub fn not_an_answer(kind: ProbeKind, api: Api, body: &[u8], whole: bool) -> Option<String> {
    if !whole {
        return (kind == ProbeKind::Messages).then(|| {
            format!(
                "a 1-token answer longer than {} KiB",
                PROBE_BODY_LIMIT >> 10
            )
        });
    }
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Some("answered 200 with a body that is not JSON".to_string());
    };
    if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| error.as_str())
            .unwrap_or("(no message)");
        let message: String = message.chars().take(200).collect();
        return Some(format!("answered 200 with an error body: {message}"));
    }
    let real = match (kind, api) {
        (ProbeKind::Messages, Api::OpenAi) => answer.get("choices").is_some_and(|c| c.is_array()),
        (ProbeKind::Messages, Api::Responses) => answer.get("output").is_some_and(|o| o.is_array()),
        (ProbeKind::Messages, Api::Gemini) => {
            answer.get("candidates").is_some_and(|c| c.is_array())
        }
        (ProbeKind::Messages, Api::Anthropic) => {
            answer.get("type").and_then(|t| t.as_str()) == Some("message")
                || answer.get("content").is_some_and(|c| c.is_array())
        }
        (ProbeKind::Models | ProbeKind::Off, _) => answer.get("data").is_some_and(|d| d.is_array()),
    };
    (!real).then(|| {
        let wanted = match (kind, api) {
            (ProbeKind::Messages, Api::OpenAi) => "a chat completion",
            (ProbeKind::Messages, Api::Responses) => "a response",
            (ProbeKind::Messages, Api::Gemini) => "a Gemini answer",
            (ProbeKind::Messages, Api::Anthropic) => "a message",
            _ => "a model list",
        };
        format!("answered 200 with something other than {wanted}")
    })
}

/// The model a `messages` probe asks for: a model the endpoint lists by exact name, else a small one.
/// The endpoint's `model_map` applies, as for a real request.
fn probe_model(endpoint: &EndpointConfig) -> String {
    let model = endpoint
        .models
        .iter()
        .find(|m| !m.contains('*'))
        .cloned()
        .unwrap_or_else(|| "claude-3-5-haiku-latest".to_string());
    match endpoint.upstream_model(&model) {
        Some(renamed) => renamed.to_string(),
        None => model,
    }
}

/// The path a Gemini endpoint's `messages` probe asks: its model's `generateContent`.
fn gemini_probe_path(endpoint: &EndpointConfig) -> String {
    crate::translate::gemini_path(&probe_model(endpoint), false)
}

/// Sends one probe and reads (and drops) its answer.
pub async fn send(
    client: &awc::Client,
    endpoint: &EndpointConfig,
    kind: ProbeKind,
    timeouts: &Timeouts,
) -> Result<ProbeResult, TransportError> {
    let timeout = timeouts.first_byte;
    let openai = endpoint.api != Api::Anthropic;
    let (method, path, body) = match kind {
        // An OpenAI-format base URL already ends in its version: `/chat/completions`, `/models`.
        ProbeKind::Messages if endpoint.api == Api::Gemini => (
            Method::POST,
            &*gemini_probe_path(endpoint),
            serde_json::json!({
                "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                "generationConfig": {"maxOutputTokens": 1},
            })
            .to_string(),
        ),
        ProbeKind::Models | ProbeKind::Off if endpoint.api == Api::Gemini => {
            (Method::GET, "/v1beta/models", String::new())
        }
        ProbeKind::Messages if endpoint.api == Api::Responses => (
            Method::POST,
            "/responses",
            serde_json::json!({
                "model": probe_model(endpoint),
                "max_output_tokens": 16,
                "input": "ping",
                "store": false,
            })
            .to_string(),
        ),
        ProbeKind::Messages if openai => (
            Method::POST,
            "/chat/completions",
            serde_json::json!({
                "model": probe_model(endpoint),
                "max_tokens": 1,
                "messages": [{"role": "user", "content": "ping"}],
            })
            .to_string(),
        ),
        ProbeKind::Models | ProbeKind::Off if openai => (Method::GET, "/models", String::new()),
        ProbeKind::Messages => (
            Method::POST,
            "/v1/messages",
            serde_json::json!({
                "model": probe_model(endpoint),
                "max_tokens": 1,
                "messages": [{"role": "user", "content": "ping"}],
            })
            .to_string(),
        ),
        ProbeKind::Models | ProbeKind::Off => (Method::GET, "/v1/models", String::new()),
    };
    let url =
        upstream::upstream_uri(endpoint, &Uri::from_static("/")).map_err(TransportError::Other)?;
    let url = format!("{}{}", url.to_string().trim_end_matches('/'), path);
    let mut request = client.request(method, url).timeout(timeout);
    *request.headers_mut() = headers::upstream_headers(&HeaderMap::new(), endpoint);
    if openai {
        request.headers_mut().remove("anthropic-version");
    }
    if !body.is_empty() {
        request = request.insert_header(("content-type", "application/json"));
    }
    let started = Instant::now();
    let mut response = request
        .send_body(body)
        .await
        .map_err(|e| TransportError::from_send(&e, timeouts))?;
    let latency = started.elapsed();
    let retry_after = headers::retry_hint(response.headers(), SystemTime::now());
    // Read the start of the body: a success must be the answer asked for.
    let mut body = bytes::BytesMut::new();
    let mut whole = false;
    while let Ok(next) = tokio::time::timeout(timeout, response.next()).await {
        match next {
            Some(Ok(chunk)) => body.extend_from_slice(&chunk),
            Some(Err(_)) => break,
            None => {
                whole = true;
                break;
            }
        }
        if body.len() > PROBE_BODY_LIMIT {
            break;
        }
    }
    let status = response.status().as_u16();
    let not_an_answer = (200..300)
        .contains(&status)
        .then(|| not_an_answer(kind, endpoint.api, &body, whole))
        .flatten();
    Ok(ProbeResult {
        status,
        latency,
        retry_after,
        not_an_answer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(kind: ProbeKind, api: Api, body: &str) -> Option<String> {
        not_an_answer(kind, api, body.as_bytes(), true)
    }

    #[test]
    fn real_answers_pass() {
        let message = r#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"p"}],"usage":{"input_tokens":1,"output_tokens":1}}"#;
        assert_eq!(judge(ProbeKind::Messages, Api::Anthropic, message), None);
        let completion = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"p"}}]}"#;
        assert_eq!(judge(ProbeKind::Messages, Api::OpenAi, completion), None);
        for api in [Api::Anthropic, Api::OpenAi] {
            assert_eq!(judge(ProbeKind::Models, api, r#"{"data":[]}"#), None);
            assert_eq!(
                judge(
                    ProbeKind::Models,
                    api,
                    r#"{"object":"list","data":[{"id":"m"}],"error":null}"#
                ),
                None
            );
        }
    }

    #[test]
    fn a_200_with_an_error_body_is_no_answer() {
        for (kind, api, body) in [
            (
                ProbeKind::Messages,
                Api::Anthropic,
                r#"{"type":"error","error":{"type":"api_error","message":"upstream saturated"}}"#,
            ),
            (
                ProbeKind::Messages,
                Api::OpenAi,
                r#"{"error":{"message":"upstream saturated","type":"new_api_error"}}"#,
            ),
            (
                ProbeKind::Models,
                Api::Anthropic,
                r#"{"error":"upstream saturated","data":[]}"#,
            ),
        ] {
            let reason = judge(kind, api, body).expect("refused");
            assert!(
                reason.contains("error body: upstream saturated"),
                "{reason}"
            );
        }
    }

    #[test]
    fn other_bodies_are_no_answer() {
        let html = "<html><body>Just a moment...</body></html>";
        assert!(judge(ProbeKind::Models, Api::Anthropic, html)
            .unwrap()
            .contains("not JSON"));
        assert!(
            judge(ProbeKind::Messages, Api::Anthropic, r#"{"choices":[]}"#)
                .unwrap()
                .contains("other than a message")
        );
        assert!(judge(
            ProbeKind::Messages,
            Api::OpenAi,
            r#"{"type":"message","content":[]}"#
        )
        .unwrap()
        .contains("other than a chat completion"));
        assert!(judge(ProbeKind::Models, Api::OpenAi, r#"{"models":[]}"#)
            .unwrap()
            .contains("other than a model list"));
        // A long error message is cut, on a character boundary.
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "é".repeat(500));
        assert!(
            judge(ProbeKind::Models, Api::OpenAi, &long)
                .unwrap()
                .chars()
                .count()
                < 260
        );
    }

    #[test]
    fn a_cut_body_counts_only_for_a_one_token_message() {
        assert!(not_an_answer(ProbeKind::Messages, Api::Anthropic, b"{", false).is_some());
        assert_eq!(
            not_an_answer(ProbeKind::Models, Api::Anthropic, b"{", false),
            None
        );
    }
}

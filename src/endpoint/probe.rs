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
    match crate::proxy::request::mapped_model(endpoint, &model) {
        Some(mapped) => mapped.to_string(),
        None => model,
    }
}

/// Sends one probe and reads (and drops) its answer.
pub async fn send(
    client: &awc::Client,
    endpoint: &EndpointConfig,
    kind: ProbeKind,
    timeouts: &Timeouts,
) -> Result<ProbeResult, TransportError> {
    let timeout = timeouts.first_byte;
    let openai = endpoint.api == Api::OpenAi;
    let (method, path, body) = match kind {
        // An OpenAI-format base URL already ends in its version: `/chat/completions`, `/models`.
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
    // Drain a little of the body so the connection can be reused; the answer itself is not needed.
    let mut read = 0usize;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(timeout, response.next()).await {
        read += chunk.len();
        if read > 64 << 10 {
            break;
        }
    }
    Ok(ProbeResult {
        status: response.status().as_u16(),
        latency,
        retry_after,
    })
}

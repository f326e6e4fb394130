//! The request path: read the request → ask the Balancer for an endpoint → forward → on a failure
//! before any byte reached the client, tell the endpoint's actor and try another → stream the answer
//! back → tell the endpoint's actor how it ended.

pub mod errors;
pub mod report;
pub mod request;
pub mod scan;
pub mod stream;

use crate::balancer::{NoEndpoint, NoEndpointReason, SelectEndpoint, Selected};
use crate::config::{Config, EndpointConfig};
use crate::endpoint::health::{classify_status, Failure, Verdict};
use crate::upstream::redact::Redactor;
use crate::upstream::{self, headers};
use crate::AppState;
use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use awc::error::{ConnectError, SendRequestError};
use bytes::{Bytes, BytesMut};
use errors::{ApiShape, GatewayError};
use futures_util::StreamExt;
use report::{AccessLog, Attempt};
use request::RequestFacts;
use std::time::{Duration, SystemTime};
use stream::{RelayBody, StreamKind};
use tokio::time::Instant;

/// `x-switchyard-endpoint`: the endpoint that answered.
pub const ENDPOINT_HEADER: &str = "x-switchyard-endpoint";
/// `x-switchyard-attempts`: endpoints tried for this request.
pub const ATTEMPTS_HEADER: &str = "x-switchyard-attempts";
/// `x-request-id`: the client's, or one the gateway made.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Largest upstream error body read to look for quota words before it is passed on.
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// The client's request id when it sent a usable one, else a new one.
pub fn request_id(req: &HttpRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("sy-{:016x}", fastrand::u64(..)))
}

/// The API shape of a request, from its path and headers.
pub fn api_shape(req: &HttpRequest) -> ApiShape {
    let headers = req.headers();
    ApiShape::of(
        req.path(),
        headers.contains_key("anthropic-version") || headers.contains_key("x-api-key"),
    )
}

/// The model list the config names, when every enabled endpoint has a fixed `models` list:
/// then no upstream is needed to answer `GET /v1/models`. Globs cannot be listed and are left out.
pub fn configured_models(config: &Config) -> Option<Vec<String>> {
    let enabled: Vec<&EndpointConfig> = config.endpoints.iter().filter(|e| e.enabled).collect();
    if enabled.is_empty() || enabled.iter().any(|e| e.models.is_empty()) {
        return None;
    }
    let mut models: Vec<String> = enabled
        .iter()
        .flat_map(|e| e.models.iter())
        .filter(|m| !m.contains('*'))
        .cloned()
        .collect();
    models.sort();
    models.dedup();
    (!models.is_empty()).then_some(models)
}

/// `GET /v1/models`: answered from the config when it names every model (in one shape that both
/// the Anthropic and the OpenAI SDKs read), otherwise forwarded like any request.
pub async fn list_models(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let Some(models) = configured_models(&state.config()) else {
        return forward(req, payload, state, client).await;
    };
    let data: Vec<serde_json::Value> = models
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id, "object": "model", "type": "model", "display_name": id,
                "created": 0, "created_at": "1970-01-01T00:00:00Z", "owned_by": "switchyard",
            })
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "first_id": models.first(),
        "last_id": models.last(),
    }))
}

/// Handles every request that is not the gateway's own.
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let config = state.config();
    let shape = api_shape(&req);
    let request_id = request_id(&req);
    let log = AccessLog {
        enabled: config.proxy.access_log,
        metrics: state.metrics.clone(),
        failed_over: Vec::new(),
        endpoint: None,
        request_id: request_id.clone(),
        method: req.method().to_string(),
        path: req.path().to_string(),
        model: None,
        attempts: Vec::new(),
        status: 0,
        started: Instant::now(),
        first_byte: None,
        bytes: 0,
    };
    let mut response = Relay {
        req: &req,
        state: &state,
        config: &config,
        client: &client,
        shape,
        log,
    }
    .run(payload)
    .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    response
}

struct Relay<'a> {
    req: &'a HttpRequest,
    state: &'a AppState,
    config: &'a Config,
    client: &'a awc::Client,
    shape: ApiShape,
    log: AccessLog,
}

impl Relay<'_> {
    async fn run(mut self, payload: web::Payload) -> HttpResponse {
        let body = match read_body(
            payload,
            self.req,
            self.config.proxy.max_request_body,
            self.config.timeouts.idle,
        )
        .await
        {
            Ok(body) => body,
            Err(e) => return self.refuse(e),
        };
        let facts = request::request_facts(self.req.headers(), &body);
        self.log.model = facts.model.clone();
        if let Some(problem) = &facts.model_problem {
            // Model rules (allowlists, renames, per-model accounting) hold only if the gateway
            // reads the same model the upstream will: a doubtful one goes nowhere.
            if request::model_rules_apply(&self.config.endpoints) {
                return self.refuse(GatewayError::UnreadableModel(problem.clone()));
            }
        }
        let max_attempts = self.config.balancer.max_attempts as usize;
        let mut tried: Vec<String> = Vec::new();
        let mut transport_failures: Vec<String> = Vec::new();
        let mut next = self.select(&facts, &tried, false).await;
        loop {
            let chosen = match next {
                Ok(chosen) => chosen,
                Err(no) => return self.no_endpoint(no, &transport_failures, tried.len()),
            };
            let endpoint = chosen.endpoint.clone();
            tried.push(endpoint.id.clone());
            let mut attempt = Attempt::new(chosen.addr, chosen.claim);
            let upstream = match self.upstream_request(&endpoint, &facts) {
                Ok(upstream) => upstream,
                Err(e) => return self.refuse(e),
            };
            let outbound = match facts
                .model
                .as_deref()
                .and_then(|m| request::mapped_model(&endpoint, m))
            {
                Some(model) => request::rewrite_model(&body, model).unwrap_or_else(|| body.clone()),
                None => body.clone(),
            };
            let sent_at = Instant::now();
            match upstream.send_body(outbound).await {
                Err(e) => {
                    let (label, detail) = describe_send_error(&e, self.config);
                    self.log.attempts.push(format!("{}:{label}", endpoint.id));
                    transport_failures.push(format!("{}: {detail}", endpoint.id));
                    attempt.failed(None, None, detail);
                    if tried.len() >= max_attempts {
                        return self.unreachable(&transport_failures, tried.len());
                    }
                    next = self.select(&facts, &tried, true).await;
                    if next.is_ok() {
                        self.log.failed_over.push(endpoint.id.clone());
                    }
                }
                Ok(mut response) => {
                    let status = response.status();
                    let latency = sent_at.elapsed();
                    attempt.answered(status.as_u16(), latency);
                    self.log
                        .attempts
                        .push(format!("{}:{}", endpoint.id, status.as_u16()));
                    let Verdict::Failure(kind) = classify_status(status.as_u16()) else {
                        return self.relay(
                            response,
                            &endpoint,
                            Some(attempt),
                            tried.len(),
                            latency,
                        );
                    };
                    // Error bodies are small; read one to tell an exhausted quota from a rate limit.
                    let (error_body, complete) =
                        read_error_body(&mut response, self.config.timeouts.idle).await;
                    let quota = matches!(kind, Failure::Quota)
                        || (matches!(status.as_u16(), 403 | 429)
                            && says_quota_exhausted(&error_body));
                    let retry_after = headers::retry_hint(response.headers(), SystemTime::now());
                    let mut detail = format!("HTTP {}", status.as_u16());
                    if quota {
                        detail.push_str(" (quota or balance exhausted)");
                    }
                    attempt.failed_with(Some(status.as_u16()), retry_after, detail, quota);
                    if tried.len() < max_attempts {
                        let budgeted = matches!(kind, Failure::Transient);
                        match self.select(&facts, &tried, budgeted).await {
                            Ok(chosen) => {
                                self.log.failed_over.push(endpoint.id.clone());
                                next = Ok(chosen);
                                continue;
                            }
                            Err(_) => {
                                log::debug!(
                                    "no endpoint left to retry; passing the upstream answer on"
                                );
                            }
                        }
                    }
                    // Nothing left to try: the client gets this upstream answer as it came.
                    return self.relay_buffered(
                        response,
                        (error_body, complete),
                        &endpoint,
                        tried.len(),
                        latency,
                    );
                }
            }
        }
    }

    async fn select(
        &self,
        facts: &RequestFacts,
        tried: &[String],
        budgeted: bool,
    ) -> Result<Selected, NoEndpoint> {
        let ask = SelectEndpoint {
            model: facts.model.clone(),
            exclude: tried.to_vec(),
            session: facts.session.clone(),
            budgeted,
        };
        match self.state.balancer.send(ask).await {
            Ok(result) => result,
            Err(e) => Err(NoEndpoint {
                reason: NoEndpointReason::NothingSelectable,
                message: format!("the balancer did not answer ({e})"),
                retry_after: None,
            }),
        }
    }

    fn upstream_request(
        &self,
        endpoint: &EndpointConfig,
        facts: &RequestFacts,
    ) -> Result<awc::ClientRequest, GatewayError> {
        let url =
            upstream::upstream_uri(endpoint, self.req.uri()).map_err(GatewayError::BadPath)?;
        let mut upstream = self
            .client
            .request(self.req.method().clone(), url)
            .timeout(self.config.timeouts.first_byte);
        *upstream.headers_mut() = headers::upstream_headers(self.req.headers(), endpoint);
        if facts.stream {
            // Ask intermediaries not to buffer the stream.
            upstream = upstream.insert_header(("cache-control", "no-cache"));
        }
        Ok(upstream)
    }

    fn response_head(
        &mut self,
        status: StatusCode,
        upstream_headers: &actix_web::http::header::HeaderMap,
        endpoint: &EndpointConfig,
        attempts: usize,
        latency: Duration,
    ) -> actix_web::HttpResponseBuilder {
        self.log.status = status.as_u16();
        self.log.endpoint = Some(endpoint.id.clone());
        self.log.first_byte = Some(self.log.started.elapsed().max(latency));
        let mut builder = HttpResponse::build(status);
        for (name, value) in headers::downstream_headers(upstream_headers) {
            builder.append_header((name.clone(), value.clone()));
        }
        if let Ok(id) = HeaderValue::from_str(&endpoint.id) {
            builder.insert_header((HeaderName::from_static(ENDPOINT_HEADER), id));
        }
        builder.insert_header((HeaderName::from_static(ATTEMPTS_HEADER), attempts));
        builder
    }

    /// Streams the upstream answer to the client as it arrives.
    fn relay<S>(
        mut self,
        response: awc::ClientResponse<S>,
        endpoint: &EndpointConfig,
        attempt: Option<Attempt>,
        attempts: usize,
        latency: Duration,
    ) -> HttpResponse
    where
        S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin + 'static,
    {
        let status = response.status();
        let mut builder =
            self.response_head(status, response.headers(), endpoint, attempts, latency);
        let no_body = self.req.method() == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        if no_body {
            if let Some(attempt) = attempt {
                attempt.succeeded();
            }
            self.log.finish("ok", None);
            return builder.finish();
        }
        let content_length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let is_sse = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        let kind = if is_sse {
            let path = self.req.path();
            let end_marker: Option<&'static [u8]> = if path.ends_with("/v1/messages") {
                Some(b"message_stop")
            } else if path.ends_with("/chat/completions") || path.ends_with("/v1/completions") {
                Some(b"[DONE]")
            } else {
                None
            };
            StreamKind::Sse {
                shape: self.shape,
                end_marker,
            }
        } else {
            StreamKind::Plain {
                length: content_length,
            }
        };
        let redactor = if status.as_u16() >= 400 {
            Redactor::for_key(endpoint.api_key.expose())
        } else {
            None
        };
        let sized = content_length.filter(|_| redactor.is_none());
        let body = RelayBody::new(response, kind, self.config.timeouts.idle, attempt, self.log)
            .redacting(redactor);
        // Not `streaming()`: it would add a content-type the upstream did not send.
        match sized {
            Some(length) => builder.body(SizedStream::new(length, body)),
            None => builder.body(BodyStream::new(body)),
        }
    }

    /// Passes on an upstream failure whose body was read in part (`complete: false`) or whole,
    /// with the endpoint's key replaced wherever the answer echoes it.
    fn relay_buffered<S>(
        mut self,
        response: awc::ClientResponse<S>,
        (read, complete): (Bytes, bool),
        endpoint: &EndpointConfig,
        attempts: usize,
        latency: Duration,
    ) -> HttpResponse
    where
        S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin + 'static,
    {
        let mut builder = self.response_head(
            response.status(),
            response.headers(),
            endpoint,
            attempts,
            latency,
        );
        let key = endpoint.api_key.expose();
        if complete {
            let body = Redactor::redact_all(key, &read);
            self.log.add_bytes(read.len());
            self.log.finish("upstream_error", None);
            return builder.body(body);
        }
        // The rest of a long error body follows as it arrives.
        let rest = futures_util::stream::once(std::future::ready(Ok(read))).chain(response);
        let body = RelayBody::new(
            rest,
            StreamKind::Plain { length: None },
            self.config.timeouts.idle,
            None,
            self.log,
        )
        .redacting(Redactor::for_key(key))
        .ok_outcome("upstream_error");
        builder.body(BodyStream::new(body))
    }

    fn refuse(self, error: GatewayError) -> HttpResponse {
        let mut log = self.log;
        log.status = error.status().as_u16();
        log.finish(error.kind(), None);
        error.response(self.shape)
    }

    fn no_endpoint(
        self,
        no: NoEndpoint,
        transport_failures: &[String],
        attempts: usize,
    ) -> HttpResponse {
        if !transport_failures.is_empty() {
            return self.unreachable(transport_failures, attempts);
        }
        let error = match no.reason {
            NoEndpointReason::UnknownModel { .. } => GatewayError::UnknownModel(no.message),
            NoEndpointReason::RetryBudget => GatewayError::RetryBudget,
            NoEndpointReason::NothingSelectable => GatewayError::NoEndpoint {
                message: no.message,
                retry_after: no.retry_after,
            },
        };
        with_attempts(self.refuse(error), attempts)
    }

    fn unreachable(self, failures: &[String], attempts: usize) -> HttpResponse {
        let error = GatewayError::UpstreamUnreachable(failures.join("; "));
        with_attempts(self.refuse(error), attempts)
    }
}

fn with_attempts(mut response: HttpResponse, attempts: usize) -> HttpResponse {
    response.headers_mut().insert(
        HeaderName::from_static(ATTEMPTS_HEADER),
        HeaderValue::from(attempts),
    );
    response
}

/// Reads the request body up to `limit` bytes; a body whose bytes stop for longer than `idle` is
/// refused (nothing goes upstream).
async fn read_body(
    mut payload: web::Payload,
    req: &HttpRequest,
    limit: u64,
    idle: Duration,
) -> Result<Bytes, GatewayError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    loop {
        let chunk = match tokio::time::timeout(idle, payload.next()).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) => return Err(GatewayError::BodyTimeout { idle }),
        };
        let chunk = chunk.map_err(|e| GatewayError::BadRequestBody(e.to_string()))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(GatewayError::BodyTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads the start of an upstream error body (bounded in size and time); `true` when that was
/// the whole body, `false` when more may follow (it is then relayed as it comes).
async fn read_error_body<S>(response: &mut awc::ClientResponse<S>, idle: Duration) -> (Bytes, bool)
where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, response.next()).await {
            Ok(Some(Ok(chunk))) => {
                body.extend_from_slice(&chunk);
                if body.len() >= ERROR_BODY_LIMIT {
                    return (body.freeze(), false);
                }
            }
            Ok(None) => return (body.freeze(), true),
            // A broken or stalled error body: pass on what came.
            Ok(Some(Err(_))) | Err(_) => return (body.freeze(), true),
        }
    }
}

/// Whether an error body says the account's balance, credit or quota is used up.
pub fn says_quota_exhausted(body: &[u8]) -> bool {
    let text =
        String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_LIMIT)]).to_ascii_lowercase();
    [
        "insufficient_quota",
        "insufficient balance",
        "insufficient_balance",
        "credit balance is too low",
        "quota exceeded",
        "quota has been exhausted",
        "exceeded your current quota",
        "out of credits",
        "billing",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// A short label for the access log and a sentence for the endpoint's `last_error`.
fn describe_send_error(error: &SendRequestError, config: &Config) -> (&'static str, String) {
    let t = &config.timeouts;
    match error {
        SendRequestError::Connect(ConnectError::Timeout) => (
            "connect-timeout",
            format!("no connection within {:?} (timeouts.connect)", t.connect),
        ),
        SendRequestError::Connect(ConnectError::Io(e))
            if e.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            ("refused", "connection refused".to_string())
        }
        SendRequestError::Connect(e) => ("connect", format!("cannot connect: {e}")),
        SendRequestError::Timeout => (
            "timeout",
            format!(
                "no response head within {:?} (timeouts.first_byte)",
                t.first_byte
            ),
        ),
        SendRequestError::Send(e) => ("broken", format!("connection broke while sending: {e}")),
        SendRequestError::Response(e) => {
            ("bad-response", format!("invalid or cut response head: {e}"))
        }
        other => ("error", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_words_are_recognised() {
        assert!(says_quota_exhausted(
            br#"{"error":{"code":"insufficient_quota"}}"#
        ));
        assert!(says_quota_exhausted(
            b"Your credit balance is too low to access the API"
        ));
        assert!(!says_quota_exhausted(
            br#"{"error":{"type":"rate_limit_error"}}"#
        ));
    }
}

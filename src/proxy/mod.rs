//! The request path: read the request → ask the Balancer for an endpoint → forward → on a failure
//! before any byte reached the client, tell the endpoint's actor and try another → stream the answer
//! back → tell the endpoint's actor how it ended. The decisions between attempts are plain
//! functions in [`decide`]; what the client gets is built in `respond.rs`.

mod body;
pub mod decide;
mod meter;
mod models;
pub mod report;
pub mod request;
mod respond;
pub mod scan;
pub mod stage;
pub mod stream;
mod translated;

pub use body::BodyBudget;
pub use models::{configured_models, list_models};

use crate::balancer::{NoEndpoint, SelectEndpoint, Selected};
use crate::config::{Config, EndpointConfig, RateLimitScope};
use crate::gateway_error::{ApiShape, GatewayError};
use crate::server::AppState;
use crate::translate::{Api, Refusal, Route};
use crate::upstream::outcome::{classify_status, TransportError, UpstreamError, Verdict};
use crate::upstream::{headers, ratelimit};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use decide::Step;
use report::{AccessLog, Attempt};
use request::RequestFacts;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// `x-switchyard-endpoint`: the endpoint that answered.
pub const ENDPOINT_HEADER: &str = "x-switchyard-endpoint";
/// `x-switchyard-attempts`: endpoints tried for this request.
pub const ATTEMPTS_HEADER: &str = "x-switchyard-attempts";

/// The value of `x-switchyard-attempts`: a static one for the usual counts (no formatting).
pub fn attempts_value(attempts: usize) -> actix_web::http::header::HeaderValue {
    use actix_web::http::header::HeaderValue;
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match SMALL.get(attempts) {
        Some(text) => HeaderValue::from_static(text),
        None => HeaderValue::from(attempts),
    }
}
/// `x-request-id`: the client's, or one the gateway made.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The client's request id when it sent a usable one, else a new one (`sy-` and 16 hex digits).
pub fn request_id(req: &HttpRequest) -> HeaderValue {
    let sent = req.headers().get(&headers::names::X_REQUEST_ID);
    if let Some(text) = sent.and_then(|v| v.to_str().ok()) {
        let id = text.trim();
        if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) {
            if let Ok(value) = HeaderValue::from_str(id) {
                return value;
            }
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = fastrand::u64(..);
    let mut id = *b"sy-0000000000000000";
    for (i, digit) in id[3..].iter_mut().enumerate() {
        *digit = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    HeaderValue::from_bytes(&id).unwrap_or(HeaderValue::from_static("sy-0"))
}

/// Handles every request that is not the gateway's own.
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<crate::upstream::WorkerClient>,
) -> HttpResponse {
    let config = state.config();
    let client = client.get(&config.timeouts);
    let shape = ApiShape::of_request(&req);
    let request_id = request_id(&req);
    let log = AccessLog {
        enabled: config.proxy.access_log
            && log::log_enabled!(target: "switchyard::access", log::Level::Info),
        metrics: state.metrics.clone(),
        failed_over: Vec::new(),
        failures: Vec::new(),
        endpoint: None,
        request_id: request_id.clone(),
        method: req.method().clone(),
        target: req.uri().clone(),
        model: None,
        attempts: 0,
        attempt_notes: Vec::new(),
        status: 0,
        started: Instant::now(),
        first_byte: None,
        bytes: 0,
        rectified: false,
        usage: None,
    };
    let call = translated::Call::of(req.method(), req.path());
    let mut response = Relay {
        call,
        req: &req,
        state: &state,
        config: &config,
        client: &client,
        shape,
        log,
    }
    .run(payload)
    .await;
    response
        .headers_mut()
        .insert(HeaderName::from_static(REQUEST_ID_HEADER), request_id);
    response
}

struct Relay<'a> {
    /// What the client calls, which decides the endpoints that may take it and their routes.
    call: translated::Call,
    req: &'a HttpRequest,
    state: &'a AppState,
    config: &'a Config,
    /// The worker's client for this request's config.
    client: &'a awc::Client,
    shape: ApiShape,
    log: AccessLog,
}

impl Relay<'_> {
    async fn run(mut self, payload: web::Payload) -> HttpResponse {
        let limits = body::BodyLimits {
            one: self.config.proxy.max_request_body,
            total: self.config.proxy.max_request_bodies_total,
            idle: self.config.timeouts.idle,
        };
        // `_held` counts the body in what all requests hold until this request is done here
        // (answered or dropped); the answer's body never needs the request's.
        let (body, _held) =
            match body::read_body(payload, self.req, &self.state.bodies, limits).await {
                Ok(read) => read,
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
        // The ids of the endpoints tried, shared with their configs.
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut unreachable: Vec<(String, TransportError)> = Vec::new();
        // The last attempt's upstream answer, while it may still be the one passed on.
        let mut last_answer = None;
        let mut budgeted = false;
        let mut rectified = false;
        let mut keep_session = false;
        // The first translation refusal, while the request looks for an endpoint that takes it
        // as it is; `skipped`: endpoints passed over for it (never sent anything).
        let mut refused: Option<(Refusal, Api)> = None;
        let mut skipped = 0;
        let mut moved_on = false;
        loop {
            let chosen = match self.select(&facts, &tried, (budgeted, keep_session)).await {
                Ok(chosen) => chosen,
                Err(no) => {
                    let nothing_sent = last_answer.is_none() && unreachable.is_empty();
                    if let Some((refusal, client)) = refused {
                        if decide::refusal_stands(nothing_sent, &no) {
                            // The refusal says what to change.
                            return self.refuse_translation(refusal, client);
                        }
                    }
                    let attempts = tried.len() - skipped;
                    return self.nothing_left(last_answer, unreachable, Some(no), attempts);
                }
            };
            if let (true, Some(previous)) = (moved_on, tried.last()) {
                // The request moves on from the endpoint that failed it.
                self.log.failed_over.push(previous.to_string());
            }
            let endpoint = chosen.endpoint.clone();
            tried.push(endpoint.wire.shared_id.clone());
            let upstream_model = facts
                .model
                .as_ref()
                .map(|m| request::upstream_model(&endpoint, m));
            let addr = chosen.addr.clone();
            let mut attempt = Attempt::new(chosen.addr, chosen.claim, upstream_model);
            if self.call.answered_here(endpoint.api) {
                return self
                    .count_tokens_here(&body, &endpoint, tried.len() - skipped)
                    .await;
            }
            let route = self.call.route(endpoint.api);
            let mapped = facts
                .model
                .as_deref()
                .and_then(|m| request::mapped_model(&endpoint, m));
            let (mut outbound, exchange) =
                match translated::outbound(route, &body, mapped, &endpoint, self.config).await {
                    Ok(outbound) => outbound,
                    Err(refusal) => {
                        let client = match route {
                            Route::Translate { client, .. } => client,
                            Route::Passthrough => endpoint.api,
                        };
                        if matches!(refusal, Refusal::NotJson(_)) {
                            // No endpoint of any kind can read it.
                            return self.refuse_translation(refusal, client);
                        }
                        // This endpoint cannot carry the request; one that speaks the client's
                        // API may. No failure of the endpoint's, and its session binding stays.
                        self.log.passed_over(&endpoint.id);
                        refused.get_or_insert((refusal, client));
                        skipped += 1;
                        moved_on = false;
                        (budgeted, keep_session) = (false, true);
                        continue;
                    }
                };
            moved_on = true;
            let attempts = tried.len() - skipped;
            let (answer, failed) = loop {
                let upstream = match self.upstream_request(&endpoint, &facts, route) {
                    Ok(upstream) => upstream,
                    Err(e) => return self.refuse(e),
                };
                let sent_at = Instant::now();
                let sent = upstream.send_body(body::in_pieces(outbound.clone()));
                let mut response = match sent.await {
                    Err(e) => {
                        let error = TransportError::from_send(&e, &self.config.timeouts);
                        unreachable.push((endpoint.id.clone(), error.clone()));
                        break (None, Some(UpstreamError::Transport(error)));
                    }
                    Ok(response) => response,
                };
                let status = response.status().as_u16();
                let latency = sent_at.elapsed();
                attempt.answered(status, latency);
                if !is_worth_reading(status) {
                    attempt.budget_used_up(ratelimit::exhausted_budget_wait(
                        response.headers(),
                        SystemTime::now(),
                    ));
                    let answer = Answer {
                        response,
                        addr: addr.clone(),
                        endpoint: endpoint.clone(),
                        latency,
                        error_body: None,
                        exchange: exchange.clone(),
                    };
                    break (Some(answer), None);
                }
                // Error bodies are small: read the start of one to tell an exhausted quota from a
                // rate limit, and a foreign thinking signature from any other bad request.
                let read = body::read_error_body(&mut response, self.config.timeouts.idle).await;
                if !rectified && ratelimit::is_invalid_thinking_signature(status, &read.0) {
                    if let Some(stripped) = ratelimit::without_thinking_blocks(&outbound) {
                        // Once per request, on the same endpoint: the conversation moved between
                        // upstreams and this one cannot verify the earlier turns' signatures.
                        rectified = true;
                        self.log.rectified = true;
                        self.state.metrics.rectified();
                        log::info!(
                            "endpoint {}: thinking signatures from another upstream refused; retrying once without the thinking blocks",
                            endpoint.id
                        );
                        outbound = stripped;
                        continue;
                    }
                }
                let retry_after = headers::retry_hint(response.headers(), SystemTime::now());
                let quota = ratelimit::quota_exhausted(status, &read.0);
                let failed = UpstreamError::from_status(status, retry_after, quota);
                let answer = Answer {
                    response,
                    addr: addr.clone(),
                    endpoint: endpoint.clone(),
                    latency,
                    error_body: Some(read),
                    exchange: exchange.clone(),
                };
                break (Some(answer), failed);
            };
            let status = answer.as_ref().map(|a| a.response.status().as_u16());
            // A 429 for this model says nothing about the endpoint's other models: the session
            // stays bound to it for them.
            keep_session = status == Some(429)
                && facts.model.is_some()
                && self.config.health.rate_limit_scope == RateLimitScope::Model;
            self.log.attempt(&endpoint.id, status, failed.as_ref());
            let step = decide::next_step(failed.as_ref(), attempts, max_attempts);
            let attempt = match failed {
                Some(error) => {
                    attempt.failed(error);
                    None
                }
                None => Some(attempt),
            };
            match (step, answer) {
                (Step::Relay, Some(answer)) => {
                    if translated::read_whole_first(&answer) {
                        return self.relay_whole(answer, attempt, attempts).await;
                    }
                    return self.relay(answer, attempt, attempts);
                }
                (Step::Retry { budgeted: spend }, answer) => {
                    budgeted = spend;
                    last_answer = answer;
                }
                (Step::GiveUp | Step::Relay, answer) => {
                    return self.nothing_left(answer, unreachable, None, attempts)
                }
            }
        }
    }

    async fn select(
        &self,
        facts: &RequestFacts,
        tried: &[Arc<str>],
        (budgeted, keep_session): (bool, bool),
    ) -> Result<Selected, NoEndpoint> {
        let ask = SelectEndpoint {
            model: facts.model.clone(),
            exclude: tried.to_vec(),
            session: facts.session.clone(),
            budgeted,
            keep_session,
            api: self.call.endpoint_api(),
        };
        match self.state.balancer.send(ask).await {
            Ok(result) => result,
            Err(e) => Err(NoEndpoint::BalancerGone(e.to_string())),
        }
    }

    fn upstream_request(
        &self,
        endpoint: &EndpointConfig,
        facts: &RequestFacts,
        route: Route,
    ) -> Result<awc::ClientRequest, GatewayError> {
        let url = translated::upstream_target(endpoint, self.req.uri(), route)
            .map_err(GatewayError::BadPath)?;
        let mut upstream = self
            .client
            .request(self.req.method().clone(), url)
            .timeout(self.config.timeouts.first_byte);
        *upstream.headers_mut() = headers::upstream_headers(self.req.headers(), endpoint);
        translated::adjust_headers(upstream.headers_mut(), endpoint.api, route);
        if facts.stream {
            // Ask intermediaries not to buffer the stream.
            upstream = upstream.insert_header(("cache-control", "no-cache"));
        }
        Ok(upstream)
    }
}

/// Whether an answer's body is read before anything is decided: failures (to classify them) and
/// the client errors whose body can change the verdict (an exhausted balance, a foreign thinking
/// signature).
fn is_worth_reading(status: u16) -> bool {
    matches!(classify_status(status), Verdict::Failure(_)) || matches!(status, 400 | 402 | 403)
}

/// An upstream's answer to one attempt, kept while it may still be relayed or passed on.
struct Answer<S> {
    response: awc::ClientResponse<S>,
    /// The answering endpoint's actor (its budget is charged for the answer).
    addr: crate::endpoint::EndpointAddr,
    endpoint: Arc<EndpointConfig>,
    /// Time to the response head.
    latency: Duration,
    /// For a failure status: the start of its body (and whether that was all of it).
    error_body: Option<(Bytes, bool)>,
    /// For a translated request: what the answer's translation needs.
    exchange: Option<crate::translate::Exchange>,
}

#[cfg(test)]
mod attempts_tests {
    #[test]
    fn attempts_are_written_in_decimal_static_or_not() {
        for (n, text) in [(0, "0"), (1, "1"), (9, "9"), (10, "10"), (123, "123")] {
            assert_eq!(super::attempts_value(n), text);
        }
    }
}

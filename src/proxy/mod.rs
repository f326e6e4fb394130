//! The request path: read the request → ask the Balancer for an endpoint → forward → on a failure
//! before any byte reached the client, tell the endpoint's actor and try another → stream the answer
//! back → tell the endpoint's actor how it ended. The decisions between attempts are plain
//! functions in [`decide`]; what the client gets is built in `respond.rs`.

mod body;
#[cfg(test)]
mod cache_tests;
pub mod context;
pub mod decide;
mod fallback;
pub mod finish;
mod handles;
mod in_stream;
mod meter;
mod models;
pub mod report;
pub mod request;
mod respond;
pub mod stage;
mod start;
pub mod stream;
mod translated;
mod usage_chunk;

pub use body::BodyBudget;
pub use models::{configured_models, list_models};

use crate::balancer::{NoEndpoint, SelectEndpoint, Selected};
use crate::config::{Config, EndpointConfig, RateLimitScope};
use crate::edge::call::Call;
use crate::gateway_error::GatewayError;
use crate::translate::{Api, Refusal, Route};
use crate::upstream::outcome::{classify_status, TransportError, UpstreamError, Verdict};
use crate::upstream::{headers, ratelimit};
use actix_web::http::header::HeaderName;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use context::RequestContext;
use decide::Step;
use finish::Finish;
pub use handles::Forwarding;
use handles::Handles;
use report::Attempt;
use request::ModelProblem;
use start::Start;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// `x-switchyard-endpoint`: the endpoint that answered.
pub const ENDPOINT_HEADER: &str = "x-switchyard-endpoint";
/// `x-switchyard-attempts`: endpoints tried for this request.
pub const ATTEMPTS_HEADER: &str = "x-switchyard-attempts";
/// `x-switchyard-model`: the model that served an answer, when it is a fallback (`fallbacks:`).
pub const MODEL_HEADER: &str = "x-switchyard-model";

/// The value of `x-switchyard-attempts`: a static one for the usual counts (no formatting).
pub fn attempts_value(attempts: usize) -> actix_web::http::header::HeaderValue {
    use actix_web::http::header::HeaderValue;
    const SMALL: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    match SMALL.get(attempts) {
        Some(text) => HeaderValue::from_static(text),
        None => HeaderValue::from(attempts),
    }
}
/// Handles every request that is not the gateway's own.
pub async fn forward(req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let ctx = RequestContext::of(&req);
    let Some(parts) = req.app_data::<web::Data<Forwarding>>() else {
        return GatewayError::Internal("the forwarding handler has no shared parts".into())
            .response(ctx.client);
    };
    let config = parts.live.get();
    let state = Handles::of(parts);
    let client = parts.client.get(&config.timeouts);
    let request_id = ctx.id.header_value();
    let end = Box::new(Finish::new(
        ctx,
        state.metrics.clone(),
        config.proxy.access_log,
    ));
    let mut response = Relay {
        req: &req,
        state: &state,
        config: &config,
        client: &client,
        end,
    }
    .run(payload)
    .await;
    response.headers_mut().insert(
        HeaderName::from_static(crate::edge::REQUEST_ID_HEADER),
        request_id,
    );
    response
}

struct Relay<'a> {
    req: &'a HttpRequest,
    state: &'a Handles<'a>,
    config: &'a Config,
    /// The worker's client for this request's config.
    client: &'a awc::Client,
    /// The request's facts and its end, settled once: boxed, as it moves with the relay through
    /// every step and into the answer's body, and is a kilobyte and more.
    end: Box<Finish>,
}

impl Relay<'_> {
    /// The request's facts.
    fn ctx(&self) -> &RequestContext {
        self.end.ctx()
    }

    /// What the client calls.
    fn call(&self) -> Call {
        self.end.ctx().call
    }
}

/// What a request carries from one attempt to the next.
struct Progress<S> {
    /// The model the request is on: the client's, or a fallback of it.
    model: Option<Arc<str>>,
    /// The ids of the endpoints tried for this model, shared with their configs (passed-over
    /// ones included).
    tried: Vec<Arc<str>>,
    /// Endpoints an earlier model's attempts took out of this request (all but those that
    /// turned that model away with a rate limit for it alone).
    excluded: Vec<Arc<str>>,
    /// Endpoints that answered a rate limit for this model alone: a fallback may use them.
    limited: Vec<Arc<str>>,
    /// Attempts made for earlier models.
    earlier_attempts: usize,
    /// The fallback models not yet tried, once the request needed one.
    fallbacks: Option<fallback::FallbackChain>,
    /// Why the client's own model could not be served, once the request moved to a fallback:
    /// what the client is told when no fallback serves either.
    first_refusal: Option<NoEndpoint>,
    /// Endpoints that gave no answer, with why.
    unreachable: Vec<(String, TransportError)>,
    /// The last attempt's upstream answer, while it may still be the one passed on.
    last_answer: Option<Answer<S>>,
    /// The next attempt spends the retry budget (it follows a transient failure).
    budgeted: bool,
    /// The thinking rectifier ran (it runs once per request).
    rectified: bool,
    /// The session stays bound to the endpoint that turned this attempt away.
    keep_session: bool,
    /// The first translation refusal, while the request looks for an endpoint that takes it as
    /// it is.
    refused: Option<(Refusal, Api)>,
    /// Endpoints passed over for a refusal (never sent anything).
    skipped: usize,
    /// The last endpoint tried was sent the request (so a next one is a failover).
    sent: bool,
}

impl<S> Progress<S> {
    fn new(model: Option<Arc<str>>) -> Self {
        Progress {
            model,
            tried: Vec::new(),
            excluded: Vec::new(),
            limited: Vec::new(),
            earlier_attempts: 0,
            fallbacks: None,
            first_refusal: None,
            unreachable: Vec::new(),
            last_answer: None,
            budgeted: false,
            rectified: false,
            keep_session: false,
            refused: None,
            skipped: 0,
            sent: false,
        }
    }

    /// Endpoints the request was sent to, for every model (`x-switchyard-attempts`).
    fn attempts(&self) -> usize {
        self.earlier_attempts + self.model_attempts()
    }

    /// Endpoints the request was sent to for the model it is on (`balancer.max_attempts` bounds
    /// these).
    fn model_attempts(&self) -> usize {
        self.tried.len() - self.skipped
    }

    /// The endpoints the Balancer is not to choose.
    fn exclude(&self) -> Vec<Arc<str>> {
        if self.excluded.is_empty() {
            return self.tried.clone();
        }
        let mut all = self.excluded.clone();
        all.extend(self.tried.iter().cloned());
        all
    }

    /// Moves the request on to `model`, a fallback: its own attempts over the same selection,
    /// without the endpoints that failed the earlier model for any reason but its rate limit.
    fn move_to(&mut self, model: Arc<str>) {
        self.earlier_attempts = self.attempts();
        let limited = std::mem::take(&mut self.limited);
        let tried = std::mem::take(&mut self.tried);
        self.excluded
            .extend(tried.into_iter().filter(|id| !limited.contains(id)));
        self.skipped = 0;
        self.model = Some(model);
        self.sent = false;
        (self.budgeted, self.keep_session) = (false, false);
    }
}

/// What goes to the client once an attempt is decided.
// Made once per request and matched at once, as `Outcome` is.
#[allow(clippy::large_enum_variant)]
enum Reply<'a, S> {
    /// The answer, ready to go out.
    Now(HttpResponse),
    /// An answer read whole before it goes out (a translated one), with the attempts it took.
    Whole(Relay<'a>, Answer<S>, usize),
}

/// A request body made ready for one endpoint.
struct Prepared {
    outbound: Bytes,
    exchange: Option<crate::translate::Exchange>,
    /// The gateway asked for the usage chunk of a Chat stream its client did not ask for.
    hide_usage_chunk: bool,
}

/// How one attempt ended.
// Made once per attempt and moved once: boxing the answer would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Outcome<S> {
    /// The upstream answered; `failed` when the answer counts against the endpoint.
    Answered {
        answer: Answer<S>,
        failed: Option<UpstreamError>,
    },
    /// No answer came (the connection failed, a timeout).
    Unreachable(TransportError),
    /// The endpoint cannot carry the request as it is; one of another API may.
    PassedOver(Refusal, Api),
    /// No endpoint of any kind can read the request.
    Unreadable(Refusal, Api),
    /// The path has no call in the endpoint's API: the gateway answers it (a token estimate).
    AnsweredHere,
    /// The gateway's own error, before anything was sent.
    Refused(GatewayError),
}

impl<'a> Relay<'a> {
    /// Reads the request, then select → attempt → decide until an answer goes out.
    async fn run(mut self, payload: web::Payload) -> HttpResponse {
        let limits = body::BodyLimits {
            one: self.config.proxy.max_request_body,
            total: self.config.proxy.max_request_bodies_total,
            idle: self.config.timeouts.idle,
        };
        // `_held` counts the body in what all requests hold until this request is done here
        // (answered or dropped); the answer's body never needs the request's.
        let (body, _held) =
            match body::read_body(payload, self.req, self.state.bodies, limits).await {
                Ok(read) => read,
                Err(e) => return self.refuse(e),
            };
        let mut facts = request::request_facts(self.req.headers(), &body);
        if self.ctx().client == Api::Gemini {
            request::gemini_facts(self.req.match_info().as_str(), &body, &mut facts);
        }
        self.end.ctx_mut().facts = facts;
        if let Some(error) = self.model_refusal() {
            return self.refuse(error);
        }
        let mut progress = Progress::new(self.ctx().model().cloned());
        loop {
            let chosen = match self.select(&progress).await {
                Ok(chosen) => chosen,
                Err(no) => match self.fall_back(&mut progress, no) {
                    Ok(()) => continue,
                    Err(no) => return self.no_endpoint(progress, no),
                },
            };
            if let (true, Some(previous)) = (progress.sent, progress.tried.last()) {
                // The request moves on from the endpoint that failed it.
                self.end.note_failed_over(previous);
            }
            if let Some(from) = &chosen.session_moved_from {
                self.state.metrics.session_moved();
                self.end.note_session_moved(from);
            }
            let endpoint = chosen.endpoint.clone();
            progress.tried.push(endpoint.wire.shared_id.clone());
            // The name this endpoint receives, worked out once for the attempt.
            let upstream_model = progress
                .model
                .as_ref()
                .map(|m| request::upstream_model(&endpoint, m));
            self.end.attempt_started(Attempt::new(
                chosen.addr.clone(),
                chosen.claim,
                upstream_model.clone(),
            ));
            let served = progress.model.clone();
            let outcome = self
                .attempt(
                    &body,
                    &chosen,
                    (served, upstream_model),
                    &mut progress.rectified,
                )
                .await;
            let answer = match outcome {
                Outcome::Answered { answer, failed } => (Some(answer), failed),
                Outcome::Unreachable(error) => {
                    progress
                        .unreachable
                        .push((endpoint.id.clone(), error.clone()));
                    (None, Some(UpstreamError::Transport(error)))
                }
                Outcome::PassedOver(refusal, client) => {
                    // No failure of the endpoint's, and its session binding stays.
                    self.end.note_passed_over(&endpoint.id);
                    progress.refused.get_or_insert((refusal, client));
                    progress.skipped += 1;
                    progress.sent = false;
                    (progress.budgeted, progress.keep_session) = (false, true);
                    continue;
                }
                Outcome::Unreadable(refusal, client) => {
                    return self.refuse_translation(refusal, client)
                }
                Outcome::AnsweredHere => {
                    let attempts = progress.attempts();
                    return self.count_tokens_here(&body, &endpoint, attempts).await;
                }
                Outcome::Refused(error) => return self.refuse(error),
            };
            progress.sent = true;
            self = match self.decide(answer, &endpoint, &mut progress) {
                Ok(Reply::Now(response)) => return response,
                // Boxed: only a translated answer waits here, and its state is a kilobyte that
                // every request's state would otherwise carry.
                Ok(Reply::Whole(relay, answer, attempts)) => {
                    return Box::pin(relay.relay_whole(answer, attempts)).await
                }
                Err(relay) => relay,
            };
        }
    }

    /// A model the gateway must not route: one with control characters always, one it cannot
    /// read with certainty while model rules (allowlists, renames, per-model accounting) depend
    /// on reading the same model the upstream will.
    fn model_refusal(&self) -> Option<GatewayError> {
        let problem = self.ctx().facts.model_problem.as_ref()?;
        let refused = match problem {
            ModelProblem::ControlCharacters => true,
            ModelProblem::Uncertain(_) => request::model_rules_apply(&self.config.endpoints),
        };
        refused.then(|| GatewayError::UnreadableModel(problem.to_string()))
    }

    /// One attempt on the chosen endpoint: the body in its API (for `model`, the model the
    /// request is on, and `upstream_model`, the name the endpoint receives for it), sent, and
    /// the answer's start read where it decides the verdict. Reports nothing to the endpoint
    /// (the caller does).
    async fn attempt(
        &mut self,
        body: &Bytes,
        chosen: &Selected,
        (model, upstream_model): (Option<Arc<str>>, Option<Arc<str>>),
        rectified: &mut bool,
    ) -> Outcome<impl respond::UpstreamBody> {
        let endpoint = &chosen.endpoint;
        if self.call().answered_here(endpoint.api) {
            return Outcome::AnsweredHere;
        }
        let route = self.call().route(endpoint.api);
        let Prepared {
            mut outbound,
            exchange,
            hide_usage_chunk,
        } = match self
            .prepare(body, endpoint, upstream_model.clone(), route)
            .await
        {
            Ok(prepared) => prepared,
            Err((refusal @ Refusal::NotJson(_), client)) => {
                return Outcome::Unreadable(refusal, client)
            }
            Err((refusal, client)) => return Outcome::PassedOver(refusal, client),
        };
        loop {
            let upstream = match self.upstream_request(endpoint, route, upstream_model.as_deref()) {
                Ok(upstream) => upstream,
                Err(e) => return Outcome::Refused(e),
            };
            let sent_at = Instant::now();
            let sent = body::send(upstream, outbound.clone());
            // Bounded here rather than by awc, whose timeout boxes a timer per request.
            let first_byte = self.config.timeouts.first_byte;
            let response = match tokio::time::timeout(first_byte, sent).await {
                Err(_) => {
                    return Outcome::Unreachable(TransportError::FirstByteTimeout(first_byte))
                }
                Ok(Err(e)) => {
                    return Outcome::Unreachable(TransportError::from_send(
                        &e,
                        &self.config.timeouts,
                    ))
                }
                Ok(Ok(response)) => response,
            };
            let status = response.status().as_u16();
            let latency = sent_at.elapsed();
            if let Some(attempt) = self.end.attempt_mut() {
                attempt.answered(status, latency);
            }
            let mut answer = Answer {
                response,
                addr: chosen.addr.clone(),
                endpoint: endpoint.clone(),
                latency,
                error_body: None,
                held: Bytes::new(),
                stream_error: None,
                exchange: exchange.clone(),
                hide_usage_chunk,
                model: model.clone(),
                upstream_model: upstream_model.clone(),
                list_for: match self.call() {
                    Call::ModelList(Some(caller)) if caller != endpoint.api => Some(caller),
                    _ => None,
                },
                in_hand: None,
            };
            if !is_worth_reading(status) {
                let now = SystemTime::now();
                let limits = ratelimit::rate_limits(answer.response.headers(), now);
                if let Some(attempt) = self.end.attempt_mut() {
                    attempt.limits_seen(limits, now);
                }
                return match self.call().stream_events(endpoint.api) {
                    // Boxed: only a stream's start waits here, and its state is a kilobyte that
                    // every request's state would otherwise carry.
                    Some(api) if opens_a_stream(&answer.response) => {
                        Box::pin(self.held_start(answer, api)).await
                    }
                    // A plain answer broken off with its head fails over unseen.
                    _ => match respond::look_at_body(self.req.method(), &mut answer) {
                        Ok(()) => Outcome::Answered {
                            answer,
                            failed: None,
                        },
                        Err(broken) => Outcome::Unreachable(broken),
                    },
                };
            }
            // Error bodies are small: read the start of one to tell an exhausted quota from a
            // rate limit, and a foreign thinking signature from any other bad request.
            let read = body::read_error_body(&mut answer.response, self.config.timeouts.idle).await;
            if !*rectified && ratelimit::is_invalid_thinking_signature(status, &read.0) {
                if let Some(stripped) = ratelimit::without_thinking_blocks(&outbound) {
                    *rectified = true;
                    self.note_rectified(endpoint);
                    outbound = stripped;
                    continue;
                }
            }
            return judged(answer, read);
        }
    }

    /// Holds a streamed answer's start until its content begins (see [`start`]): the attempt's
    /// verdict is what its opening events say, judged as a head with the status an error among
    /// them stands for would be.
    async fn held_start<S: respond::UpstreamBody>(
        &self,
        mut answer: Answer<S>,
        api: Api,
    ) -> Outcome<S> {
        let limits = start::StartLimits {
            within: self.config.timeouts.stream_start,
            idle: self.config.timeouts.idle,
            size: start::START_LIMIT,
        };
        match start::hold(&mut answer.response, api, limits).await {
            Start::Began(held) => answer.held = held,
            Start::TooLong(held) => {
                log::info!(
                    "endpoint {}: its stream sent more than {} of opening events before any content; passed on as it came (this stream cannot fail over)",
                    answer.endpoint.id,
                    crate::text::size_words(start::START_LIMIT)
                );
                answer.held = held;
            }
            Start::Failed { error, data, held } => {
                match verdict(error.status, &answer, data.as_bytes()) {
                    Some(failed) => {
                        answer.stream_error = Some(error.status);
                        let body = error.body(answer.endpoint.api);
                        answer.error_body = Some((Bytes::from(body), true));
                        return Outcome::Answered {
                            answer,
                            failed: Some(failed.in_stream(&error.word)),
                        };
                    }
                    // The request's own error (an invalid request): passed on as it came.
                    None => answer.held = held,
                }
            }
            Start::Broken(error) => return Outcome::Unreachable(error),
        }
        Outcome::Answered {
            answer,
            failed: None,
        }
    }

    /// The body as `endpoint` takes it (its API, its model name, usage asked for), or why the
    /// endpoint cannot take it, with the client's API the refusal is told in.
    async fn prepare(
        &self,
        body: &Bytes,
        endpoint: &EndpointConfig,
        upstream_model: Option<Arc<str>>,
        route: Route,
    ) -> Result<Prepared, (Refusal, Api)> {
        // Only a name the endpoint renames is written into the body.
        let mapped = upstream_model
            .as_deref()
            .filter(|m| self.ctx().model().is_some_and(|asked| **asked != **m));
        let facts = &self.ctx().facts;
        let gemini_client = (self.ctx().client == Api::Gemini)
            .then(|| facts.model.as_deref().map(|m| (m, facts.stream)))
            .flatten();
        let (outbound, exchange) = translated::outbound(
            route,
            body,
            mapped,
            endpoint,
            self.config,
            gemini_client,
            facts.no_carried_signatures,
        )
        .await
        .map_err(|refusal| match route {
            Route::Translate { client, .. } => (refusal, client),
            Route::Passthrough => (refusal, endpoint.api),
        })?;
        // Every streamed Chat answer reports its usage, so that it is charged; the usage chunk is
        // taken out again for a client that did not ask for it.
        let asking = (route == Route::Passthrough
            && self.call() == Call::Generation(Api::OpenAi)
            && self.ctx().facts.stream)
            .then(|| usage_chunk::ask_for_usage(&outbound))
            .flatten();
        Ok(Prepared {
            hide_usage_chunk: asking.is_some(),
            outbound: asking.unwrap_or(outbound),
            exchange,
        })
    }

    /// The thinking rectifier runs: once per request, on the same endpoint, because the
    /// conversation moved between upstreams and this one cannot verify earlier signatures.
    fn note_rectified(&mut self, endpoint: &EndpointConfig) {
        self.state.metrics.rectified();
        self.end.note_rectified();
        log::info!(
            "endpoint {}: thinking signatures from another upstream refused; retrying once without the thinking blocks",
            endpoint.id
        );
    }

    /// Carries out [`decide::next_step`] for an attempt that reached its endpoint (`answer` is
    /// `None` when none came): the answer that goes out (or the one to read whole before it
    /// does), or the relay back to try another endpoint.
    fn decide<S: respond::UpstreamBody>(
        mut self,
        (answer, failed): (Option<Answer<S>>, Option<UpstreamError>),
        endpoint: &EndpointConfig,
        progress: &mut Progress<S>,
    ) -> Result<Reply<'a, S>, Self> {
        let status = answer.as_ref().map(|a| a.status().as_u16());
        // A 429 for this model says nothing about the endpoint's other models: the session stays
        // bound to it for them.
        progress.keep_session = status == Some(429)
            && progress.model.is_some()
            && self.config.health.rate_limit_scope == RateLimitScope::Model;
        if progress.keep_session {
            progress.limited.push(endpoint.wire.shared_id.clone());
        }
        self.end.note_attempt(&endpoint.id, status, failed.as_ref());
        let attempts = progress.attempts();
        let max_attempts = self.config.balancer.max_attempts as usize;
        let step = decide::next_step(failed.as_ref(), progress.model_attempts(), max_attempts);
        if let Some(error) = failed {
            // The endpoint hears of its failure now, whatever the client gets.
            if let Some(attempt) = self.end.take_attempt() {
                attempt.failed(error);
            }
        }
        match (step, answer) {
            (Step::Relay, Some(answer)) if translated::read_whole_first(&answer) => {
                Ok(Reply::Whole(self, answer, attempts))
            }
            (Step::Relay, Some(answer)) => Ok(Reply::Now(self.relay(answer, attempts))),
            (Step::Retry { budgeted }, answer) => {
                progress.budgeted = budgeted;
                progress.last_answer = answer;
                Err(self)
            }
            (Step::GiveUp | Step::Relay, answer) => {
                let unreachable = std::mem::take(&mut progress.unreachable);
                Ok(Reply::Now(self.nothing_left(
                    answer,
                    unreachable,
                    None,
                    attempts,
                )))
            }
        }
    }

    /// The Balancer had no endpoint: a translation refusal that stands, else the last answer or
    /// why nothing could serve.
    fn no_endpoint<S: respond::UpstreamBody>(
        self,
        progress: Progress<S>,
        no: NoEndpoint,
    ) -> HttpResponse {
        let nothing_sent = progress.last_answer.is_none() && progress.unreachable.is_empty();
        let attempts = progress.attempts();
        if let Some((refusal, client)) = progress.refused {
            if decide::refusal_stands(nothing_sent, &no) {
                // The refusal says what to change.
                return self.refuse_translation(refusal, client);
            }
        }
        self.nothing_left(
            progress.last_answer,
            progress.unreachable,
            Some(no),
            attempts,
        )
    }

    /// Asks the Balancer for the next endpoint to try.
    async fn select<S>(&self, progress: &Progress<S>) -> Result<Selected, NoEndpoint> {
        let facts = &self.ctx().facts;
        let ask = SelectEndpoint {
            model: progress.model.clone(),
            exclude: progress.exclude(),
            session: facts.session.clone(),
            budgeted: progress.budgeted,
            keep_session: progress.keep_session,
            api: self.call().endpoint_api(),
            prefer: self.call().preferred_api(),
        };
        match self.state.balancer.send(ask).await {
            Ok(result) => result,
            Err(e) => Err(NoEndpoint::BalancerGone(e.to_string())),
        }
    }

    fn upstream_request(
        &self,
        endpoint: &EndpointConfig,
        route: Route,
        upstream_model: Option<&str>,
    ) -> Result<awc::ClientRequest, GatewayError> {
        let stream = self.ctx().facts.stream;
        let url =
            translated::upstream_target(endpoint, self.req.uri(), route, upstream_model, stream)
                .map_err(GatewayError::BadPath)?;
        let mut upstream = self.client.request(self.req.method().clone(), url);
        headers::write_upstream_headers(self.req.headers(), endpoint, upstream.headers_mut());
        translated::adjust_headers(upstream.headers_mut(), endpoint.api, route);
        if self.ctx().facts.stream {
            // Ask intermediaries not to buffer the stream.
            upstream = upstream.insert_header(("cache-control", "no-cache"));
        }
        Ok(upstream)
    }
}

/// An answer whose start was read, with the verdict its status, headers and body give.
fn judged<S>(mut answer: Answer<S>, read: (Bytes, bool)) -> Outcome<S> {
    let status = answer.response.status().as_u16();
    let failed = verdict(status, &answer, &read.0);
    answer.error_body = Some(read);
    Outcome::Answered { answer, failed }
}

/// The one place an answer's failure is classified: `status` is its head's, or the one an error
/// inside its stream stands for, and `error` the start of that error (a body, or the event's
/// data), whose words tell an exhausted quota from a rate limit.
fn verdict<S>(status: u16, answer: &Answer<S>, error: &[u8]) -> Option<UpstreamError> {
    let mut retry_after = headers::retry_hint(answer.response.headers(), SystemTime::now());
    if answer.endpoint.api == Api::Gemini && retry_after.is_none() {
        // Gemini says how long to wait in the body (google.rpc.RetryInfo), not in a header.
        retry_after = crate::translate::gemini_retry_delay(error);
    }
    let quota = ratelimit::quota_exhausted(status, error);
    UpstreamError::from_status(status, retry_after, quota)
}

/// Whether an answer opens an event stream: a successful head of `text/event-stream`.
fn opens_a_stream<S>(response: &awc::ClientResponse<S>) -> bool {
    let status = response.status();
    status.is_success()
        && status != actix_web::http::StatusCode::NO_CONTENT
        && is_event_stream(response.headers())
}

/// The `content-length` a message declares, when it declares one that reads as a number.
pub(super) fn content_length(headers: &actix_web::http::header::HeaderMap) -> Option<u64> {
    let value = headers.get(actix_web::http::header::CONTENT_LENGTH)?;
    decimal(value.as_bytes().trim_ascii())
}

/// The number `digits` writes in decimal, as `u64::from_str` reads it (a leading `+` allowed);
/// `None` for anything else or a number past `u64::MAX`. Read from the bytes: a header's value
/// need not be checked as text first.
fn decimal(digits: &[u8]) -> Option<u64> {
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let d = d.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Whether an answer's content type is `text/event-stream`.
pub(super) fn is_event_stream(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
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
    /// For a failure status: the start of its body (and whether that was all of it). For an
    /// error inside a stream: that error as a body of the endpoint's API.
    error_body: Option<(Bytes, bool)>,
    /// A stream's start, read while it was held: the first bytes the client gets.
    held: Bytes,
    /// The status an error inside the stream stands for, when one came before any content: the
    /// client is told that status, not the head's 200.
    stream_error: Option<u16>,
    /// For a translated request: what the answer's translation needs.
    exchange: Option<crate::translate::Exchange>,
    /// The gateway asked this upstream for a Chat stream's usage chunk that its client did not
    /// ask for: the chunk is read, then kept from the client.
    hide_usage_chunk: bool,
    /// A model list that goes to a caller of this other API: read whole and put in its shape.
    list_for: Option<Api>,
    /// The model this answer serves: the client's, or a fallback of it.
    model: Option<Arc<str>>,
    /// The name the endpoint received for that model.
    upstream_model: Option<Arc<str>>,
    /// What of a plain answer's body came with its head ([`respond::look_at_body`]).
    in_hand: Option<stream::InHand>,
}

impl<S> Answer<S> {
    /// The status the client is told: the head's, or the one an error inside the stream stands
    /// for.
    fn status(&self) -> actix_web::http::StatusCode {
        self.stream_error
            .and_then(|status| actix_web::http::StatusCode::from_u16(status).ok())
            .unwrap_or_else(|| self.response.status())
    }
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

#[cfg(test)]
mod content_length_tests {
    use proptest::prelude::*;

    /// What `content_length` read before it read bytes: the value as text, trimmed, parsed.
    fn as_text(value: &[u8]) -> Option<u64> {
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    }

    #[test]
    fn lengths_read_from_bytes_are_the_lengths_read_as_text() {
        for value in [
            &b"0"[..],
            b"42",
            b" 42\t",
            b"+7",
            b"+",
            b"-0",
            b"",
            b"4 2",
            b"0042",
            b"18446744073709551615",
            b"18446744073709551616",
            b"99999999999999999999",
            b"1e3",
            b"\xd9\xa3",
        ] {
            assert_eq!(
                super::decimal(value.trim_ascii()),
                as_text(value),
                "{value:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_value_reads_the_same_from_bytes(value in "[ \t+0-9a-]{0,24}") {
            let bytes = value.as_bytes();
            prop_assert_eq!(super::decimal(bytes.trim_ascii()), as_text(bytes));
        }
    }
}

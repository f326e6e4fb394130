//! What the client gets: an upstream answer relayed (streamed, or passed on after its start was
//! read), or the gateway's own error; and, when nothing is left to try, the one rule of
//! [`decide::last_resort`] carried out.

use super::decide::{self, LastResort};
use super::finish::End;
use super::meter::{Answered, UsageTap};
use super::report::Ending;
use super::stage::{BodyStage, Stages};
use super::stream::{in_hand, InHand, RelayBody, StreamKind};
use super::translated;
use super::usage_chunk::UsageChunkFilter;
use super::{Answer, Relay, ATTEMPTS_HEADER, ENDPOINT_HEADER, MODEL_HEADER};
use crate::balancer::{describe_states, NoEndpoint};
use crate::gateway_error::GatewayError;
use crate::translate::translate_error;
use crate::upstream::headers;
use crate::upstream::outcome::{TransportError, UpstreamError};
use crate::upstream::redact::Redactor;
use actix_web::body::{BodyStream, SizedStream};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::StreamExt;

/// The upstream's body stream as awc gives it.
pub(super) trait UpstreamBody:
    futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin + 'static
{
}

/// The most of a plain (not SSE) answer taken whole when it has come with its head: such an
/// answer goes to the client in one piece with its `content-length`.
const IN_HAND_LIMIT: usize = 256 * 1024;

/// The gateway's own answer headers' names, checked once rather than on every answer.
static ENDPOINT_NAME: HeaderName = HeaderName::from_static(ENDPOINT_HEADER);
static ATTEMPTS_NAME: HeaderName = HeaderName::from_static(ATTEMPTS_HEADER);
static MODEL_NAME: HeaderName = HeaderName::from_static(MODEL_HEADER);
/// What the names of the gateway's own answer headers start with.
const OWN_PREFIX: &str = "x-switchyard-";

impl<S> UpstreamBody for S where
    S: futures_util::Stream<Item = Result<Bytes, awc::error::PayloadError>> + Unpin + 'static
{
}

impl Relay<'_> {
    /// Nothing is left to try: the last attempt decides what the client gets (see
    /// [`decide::last_resort`]). `no` is the Balancer's answer, when it was asked and had none.
    pub(super) fn nothing_left<S: UpstreamBody>(
        self,
        last_answer: Option<Answer<S>>,
        unreachable: Vec<(String, TransportError)>,
        no: Option<NoEndpoint>,
        attempts: usize,
    ) -> HttpResponse {
        let retry_after = no.as_ref().and_then(NoEndpoint::retry_after);
        let error = match (
            decide::last_resort(last_answer.is_some(), !unreachable.is_empty()),
            last_answer,
        ) {
            (LastResort::PassOnAnswer, Some(answer)) => {
                log::debug!("no endpoint left to retry; passing the last upstream answer on");
                return self.relay_buffered(answer, attempts);
            }
            (LastResort::Unreachable, _) => GatewayError::UpstreamUnreachable {
                failures: unreachable,
                retry_after,
            },
            (LastResort::NoEndpoint | LastResort::PassOnAnswer, _) => match no {
                Some(no @ NoEndpoint::UnknownModel { .. }) => {
                    GatewayError::UnknownModel(no.to_string())
                }
                Some(NoEndpoint::RetryBudget) => GatewayError::RetryBudget,
                Some(no @ NoEndpoint::RateLimited { retry_after }) => GatewayError::RateLimited {
                    message: no.to_string(),
                    retry_after,
                },
                Some(
                    no @ (NoEndpoint::NothingSelectable { .. }
                    | NoEndpoint::BalancerGone(_)
                    | NoEndpoint::WrongApi(_)),
                ) => GatewayError::NoEndpoint {
                    message: no.to_string(),
                    retry_after,
                },
                None => GatewayError::NoEndpoint {
                    message: describe_states(&[]),
                    retry_after,
                },
            },
        };
        with_attempts(self.refuse(error), attempts)
    }

    /// The head of a relayed answer: the upstream's status and headers, and who answered.
    pub(super) fn response_head<S>(
        &mut self,
        answer: &Answer<S>,
        attempts: usize,
    ) -> actix_web::HttpResponseBuilder {
        let mut builder = HttpResponse::build(answer.status());
        self.write_head(answer, attempts, &mut builder);
        builder
    }

    /// [`Self::response_head`] as a response whose body is still to come: the headers go into
    /// the response's own map, not through the builder's per-header conversions.
    fn head_response<S>(&mut self, answer: &Answer<S>, attempts: usize) -> HttpResponse<()> {
        let mut response = HttpResponse::with_body(answer.status(), ());
        let headers = response.headers_mut();
        headers.reserve(answer.response.headers().len() + 2);
        self.write_head(answer, attempts, headers);
        response
    }

    /// Writes the head's headers (the upstream's, then the gateway's own) into `out`, and tells
    /// the request's [`super::finish::Finish`] who answered and how to meter it.
    fn write_head<S>(&mut self, answer: &Answer<S>, attempts: usize, out: &mut impl HeadSink) {
        let (status, endpoint, latency) = (answer.status(), &answer.endpoint, answer.latency);
        let upstream_headers = answer.response.headers();
        self.end.answer_started(endpoint, status.as_u16(), latency);
        let content_type = upstream_headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let usage = UsageTap::new(
            self.state,
            Answered {
                content_type,
                endpoint,
                addr: answer.addr.clone(),
                model: self.end.ctx().model(),
                upstream_model: answer.upstream_model.as_ref(),
                client: &self.end.ctx().agent,
                prices: &self.config.usage.prices,
                status: status.as_u16(),
                latency,
            },
        );
        self.end.meter(usage);
        // The gateway's own headers replace any the upstream sent under their names; when it
        // sent none (nearly always), they are appended, which skips the replaced value an insert
        // hands back.
        let mut sent_ours = false;
        for (name, value) in headers::downstream_headers(upstream_headers) {
            sent_ours |= name.as_str().starts_with(OWN_PREFIX);
            out.append(name.clone(), value.clone());
        }
        let put = if sent_ours {
            HeadSink::insert
        } else {
            HeadSink::append
        };
        put(out, ENDPOINT_NAME.clone(), endpoint.wire.id.clone());
        put(out, ATTEMPTS_NAME.clone(), super::attempts_value(attempts));
        let fallback = answer
            .model
            .as_ref()
            .filter(|served| self.end.ctx().model() != Some(*served));
        if let Some(served) = fallback {
            if let Ok(value) = HeaderValue::from_str(served) {
                put(out, MODEL_NAME.clone(), value);
            }
            self.end.served_by(served.clone());
        }
        if status == StatusCode::TOO_MANY_REQUESTS && !upstream_headers.contains_key(RETRY_AFTER) {
            // Some clients (Codex) retry a 429 only when told when: the wait the gateway itself
            // gives a rate limit that names none.
            let wait = self.config.health.cooldown_default;
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            out.insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
    }

    /// Streams the upstream answer to the client as it arrives.
    pub(super) fn relay<S: UpstreamBody>(
        mut self,
        answer: Answer<S>,
        attempts: usize,
    ) -> HttpResponse {
        if answer.error_body.is_some() {
            // A client error whose start was read (to classify it): the endpoint did its part.
            return self.relay_buffered(answer, attempts);
        }
        let mut head = self.head_response(&answer, attempts);
        let Answer {
            response,
            endpoint,
            exchange,
            hide_usage_chunk,
            held,
            in_hand,
            ..
        } = answer;
        let status = response.status();
        let no_body = self.req.method() == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        if no_body {
            self.end.finish(End::with(Ending::Ok));
            return head.map_into_boxed_body();
        }
        // An answer the attempt looked at is plain (not SSE).
        let is_sse = in_hand.is_none() && super::is_event_stream(response.headers());
        // Any answer may echo the key: an error event inside a 200 stream, a 200 JSON error body.
        let redactor = endpoint.wire.key_finder.clone().map(Redactor::with);
        let translation = exchange
            .as_ref()
            .map(|exchange| translated::answer_stage(exchange, status.as_u16(), is_sse));
        let mut stage = None;
        if let Some(translation) = translation {
            if let Some(Ok(content_type)) = translation.content_type.map(HeaderValue::from_str) {
                head.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            stage = Some(translation.stage);
        } else if hide_usage_chunk && is_sse && status.is_success() {
            stage = Some(Box::new(UsageChunkFilter::default()) as Box<dyn BodyStage>);
        }
        let stages = Stages::default().then(stage).redacting(redactor);
        let held = match in_hand {
            Some(InHand::Whole(body)) => return self.relay_in_hand(head, body, stages),
            // A broken one failed over in the attempt.
            Some(InHand::Part { bytes, .. }) => bytes,
            None => held,
        };
        let content_length = super::content_length(response.headers());
        // The upstream's own events, read for an error it reports after content began.
        let watched = self
            .call()
            .stream_events(endpoint.api)
            .filter(|_| is_sse && status.is_success());
        let kind = if is_sse {
            StreamKind::Sse {
                client: self.ctx().client,
                // A translator knows the upstream API's last event and reports a cut itself.
                end: match exchange {
                    Some(_) => None,
                    None => self.call().stream_end(),
                },
            }
        } else {
            StreamKind::Plain {
                length: content_length,
            }
        };
        let sized = content_length.filter(|_| stages.is_empty());
        let body = RelayBody::new(response, kind, self.config.timeouts.idle, self.end)
            .starting_with(held)
            .watching(watched)
            .through(stages);
        // Not `streaming()`: it would add a content-type the upstream did not send.
        match sized {
            Some(length) => head
                .set_body(SizedStream::new(length, body))
                .map_into_boxed_body(),
            None => head.set_body(BodyStream::new(body)).map_into_boxed_body(),
        }
    }

    /// An answer that came whole with its head: through `stages` (a translator, the redactor) in
    /// one piece, out with its length, and the request settled now.
    fn relay_in_hand(self, head: HttpResponse<()>, body: Bytes, stages: Stages) -> HttpResponse {
        let mut end = self.end;
        end.relayed(&body);
        let out = stages.whole(body);
        match out.cut {
            // The stage wrote what the client gets instead (a translation that could not end).
            Some(reason) => {
                let failure =
                    UpstreamError::Transport(TransportError::TranslationCut(reason.clone()));
                end.finish(End::broken(failure, &reason));
            }
            None => end.finish(End::with(Ending::Ok)),
        }
        head.set_body(out.bytes).map_into_boxed_body()
    }

    /// Passes on an upstream failure whose body was read in part (`complete: false`) or whole,
    /// with the endpoint's key replaced wherever the answer echoes it.
    fn relay_buffered<S: UpstreamBody>(
        mut self,
        answer: Answer<S>,
        attempts: usize,
    ) -> HttpResponse {
        let mut head = self.head_response(&answer, attempts);
        let status = answer.status().as_u16();
        let Answer {
            response,
            endpoint,
            error_body,
            exchange,
            stream_error,
            ..
        } = answer;
        let (read, complete) = error_body.unwrap_or((Bytes::new(), true));
        let finder = endpoint.wire.key_finder.as_ref();
        // An error inside a stream goes out as an error answer, not as a stream.
        if exchange.is_some() || stream_error.is_some() {
            head.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if complete {
            let body = match &exchange {
                Some(exchange) => {
                    let translated = translate_error(exchange.client, status, &read);
                    Redactor::whole_with(finder, Bytes::from(translated))
                }
                None => Redactor::whole_with(finder, read.clone()),
            };
            self.end.relayed(&read);
            self.end.finish(End::with(Ending::UpstreamError));
            return head.set_body(body).map_into_boxed_body();
        }
        // The rest of a long error body follows as it arrives.
        let rest = futures_util::stream::once(std::future::ready(Ok(read))).chain(response);
        let body = RelayBody::new(
            rest,
            StreamKind::Plain { length: None },
            self.config.timeouts.idle,
            self.end,
        )
        .staged(
            exchange
                .as_ref()
                .map(|exchange| translated::answer_stage(exchange, status, false).stage),
        )
        .redacting(finder.cloned().map(Redactor::with))
        .ok_outcome(Ending::UpstreamError);
        head.set_body(BodyStream::new(body)).map_into_boxed_body()
    }

    /// The gateway's own answer; the access log says whose fault it is.
    pub(super) fn refuse(self, error: GatewayError) -> HttpResponse {
        let client = self.ctx().client;
        self.end.refused(&error);
        error.response(client)
    }
}

/// Takes what of a plain answer's body came with its head (see [`in_hand`]) into
/// `answer.in_hand`, where the relay finds it; `Err` when the body already broke off (short of its
/// length, or failed): nothing has reached the client, so the attempt fails over. Answers it
/// does not apply to (SSE, no body, over [`IN_HAND_LIMIT`], read whole for a translation) are
/// left as they are.
pub(super) fn look_at_body<S: UpstreamBody>(
    method: &Method,
    answer: &mut Answer<S>,
) -> Result<(), TransportError> {
    let response = &answer.response;
    let status = response.status();
    let content_length = super::content_length(response.headers());
    let applies = method != Method::HEAD
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
        && answer.held.is_empty()
        && answer.error_body.is_none()
        && !super::is_event_stream(response.headers())
        && !translated::read_whole_first(answer)
        && content_length.map_or(true, |length| length <= IN_HAND_LIMIT as u64);
    if !applies {
        return Ok(());
    }
    match in_hand(&mut answer.response, content_length, IN_HAND_LIMIT) {
        InHand::Part {
            bytes,
            ended: Some(ended),
        } => Err(ended.err().unwrap_or(TransportError::CutShort {
            received: bytes.len() as u64,
            length: content_length.unwrap_or_default(),
        })),
        look => {
            answer.in_hand = Some(look);
            Ok(())
        }
    }
}

/// Where a relayed answer's head is written: the response's own header map, or (for the
/// translated path) a builder.
pub(super) trait HeadSink {
    fn append(&mut self, name: HeaderName, value: HeaderValue);
    fn insert(&mut self, name: HeaderName, value: HeaderValue);
}

impl HeadSink for HeaderMap {
    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        HeaderMap::append(self, name, value);
    }

    fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        HeaderMap::insert(self, name, value);
    }
}

impl HeadSink for actix_web::HttpResponseBuilder {
    fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.append_header((name, value));
    }

    fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert_header((name, value));
    }
}

fn with_attempts(mut response: HttpResponse, attempts: usize) -> HttpResponse {
    response.headers_mut().insert(
        HeaderName::from_static(ATTEMPTS_HEADER),
        super::attempts_value(attempts),
    );
    response
}

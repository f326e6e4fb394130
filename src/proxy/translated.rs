//! The relay's side of translation (see [`crate::translate`]): what a client's call is, which
//! endpoints may take it, the upstream URL and headers of each attempt, the request body in the
//! endpoint's API, and the body stages that turn the answer back into the client's API as it
//! arrives.

use super::finish::End;
use super::report::Ending;
use super::respond::UpstreamBody;
use super::stage::{BodyStage, StageEnd};
use super::stream::sse_error_event;
use super::{body, request, Answer, Relay, ATTEMPTS_HEADER, ENDPOINT_HEADER};
use crate::config::{Config, EndpointConfig};
use crate::gateway_error::GatewayError;
use crate::translate::{
    self, count_tokens_answer, is_foreign_header, translate_answer, translate_answer_as_stream,
    translate_error, upstream_path, Api, Exchange, Refusal, RequestOptions, Route,
    StreamTranslator, TRANSLATED_ACCEPT_ENCODING,
};
use crate::upstream;
use crate::upstream::outcome::UpstreamError;
use crate::upstream::redact::Redactor;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Uri;
use actix_web::HttpResponse;
use bytes::Bytes;
use std::cell::RefCell;
use std::time::SystemTime;

/// The upstream URL of one attempt. An Anthropic endpoint gets the client's path as before; an
/// OpenAI endpoint's `base_url` ends in its version, so `/v1/<rest>` goes to `base_url + /<rest>`,
/// and a translated request to the endpoint API's generation path without the client's query. A
/// Gemini endpoint's path names the model (`upstream_model`) and whether it streams. A client's
/// `?key=` never goes on.
pub(super) fn upstream_target(
    endpoint: &EndpointConfig,
    target: &Uri,
    route: Route,
    upstream_model: Option<&str>,
    stream: bool,
) -> Result<Uri, String> {
    let translated = route != Route::Passthrough;
    let stripped = target.query().and_then(crate::auth::without_query_key);
    let query = stripped.as_deref().or(target.query()).unwrap_or_default();
    if endpoint.api == Api::Gemini {
        let path = match (translated, upstream_model) {
            (true, Some(model)) => translate::gemini_path(model, stream),
            (true, None) => return Err("a Gemini endpoint is asked for a model by name".into()),
            (false, model) => gemini_passthrough_path(target.path(), query, model),
        };
        return upstream::endpoint_uri(endpoint, &path);
    }
    if endpoint.api == Api::Anthropic && !translated {
        return match stripped {
            None => upstream::upstream_uri(endpoint, target),
            Some(query) => upstream::endpoint_uri(endpoint, &with_query(target.path(), &query)),
        };
    }
    let path = upstream_path(endpoint.api, target.path(), query, translated);
    upstream::endpoint_uri(endpoint, &path)
}

/// A Gemini client's path and query for a Gemini endpoint: the model in it renamed to `model`
/// when the endpoint's `model_map` renames it.
fn gemini_passthrough_path(path: &str, query: &str, model: Option<&str>) -> String {
    let renamed = model.and_then(|model| {
        let call = translate::GeminiCall::of_path(path)?;
        let at = path.find(&format!("/models/{}:", call.model))?;
        let start = at + "/models/".len();
        Some(format!(
            "{}{model}{}",
            &path[..start],
            &path[start + call.model.len()..]
        ))
    });
    with_query(renamed.as_deref().unwrap_or(path), query)
}

/// `path` and, when there is one, `?query`.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// Takes out of the upstream headers what the endpoint's API does not know: `anthropic-*` for an
/// OpenAI endpoint; for a translated request also the client API's own headers and the
/// compression the translator cannot read.
pub(super) fn adjust_headers(headers: &mut HeaderMap, endpoint: Api, route: Route) {
    let translated = route != Route::Passthrough;
    let drop: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            (endpoint != Api::Anthropic && name.as_str().starts_with("anthropic-"))
                || (translated && is_foreign_header(endpoint, name.as_str()))
        })
        .cloned()
        .collect();
    for name in drop {
        headers.remove(name);
    }
    if translated {
        headers.insert(
            HeaderName::from_static("accept-encoding"),
            HeaderValue::from_static(TRANSLATED_ACCEPT_ENCODING),
        );
        headers.insert(
            HeaderName::from_static("content-type"),
            HeaderValue::from_static("application/json"),
        );
    }
}

/// The body sent upstream: the client's with the endpoint's model, or, for a translated route,
/// rewritten for the endpoint's API (with what the answer's translation needs; a large body is
/// translated on a thread of its own). `no_carried_signatures` is the request's fact of that name.
pub(super) async fn outbound(
    route: Route,
    body: &Bytes,
    upstream_model: Option<&str>,
    endpoint: &EndpointConfig,
    config: &Config,
    gemini_client: Option<(&str, bool)>,
    no_carried_signatures: bool,
) -> Result<(Bytes, Option<Exchange>), Refusal> {
    match route {
        Route::Passthrough => {
            let body = upstream_model
                .and_then(|model| request::rewrite_model(body, model))
                .unwrap_or_else(|| body.clone());
            // Thinking the gateway carried for another API means nothing to this one (the
            // conversation failed over between endpoints of two APIs). The scan that read the
            // request's facts saw whether any string could be such (a new model name changes
            // no other string).
            let carried = match endpoint.api {
                _ if no_carried_signatures => None,
                Api::Responses => translate::without_carried_reasoning(&body),
                Api::Gemini => translate::gemini_without_carried_thinking(&body),
                Api::Anthropic => translate::messages_without_gemini_thinking(&body),
                Api::OpenAi => None,
            };
            let body = carried.map(Bytes::from).unwrap_or(body);
            Ok((body, None))
        }
        Route::Translate { client, upstream } => {
            let options = RequestOptions {
                upstream_model: upstream_model.map(str::to_string),
                default_max_tokens: config.translate.default_max_tokens,
                now_unix: SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default(),
                max_tokens_cap: endpoint.max_tokens,
            };
            // A Gemini client names its model and whether it streams in the path.
            let gemini = gemini_client.map(|(model, stream)| (model.to_string(), stream));
            let run = move |body: &[u8]| {
                let path = gemini
                    .as_ref()
                    .map(|(model, stream)| (model.as_str(), *stream));
                let buffer = last_translated_buffer();
                let translated = translate::translate_request_into(
                    client, upstream, body, path, &options, buffer,
                )?;
                let body = Bytes::from(translated.body);
                keep_translated(&body);
                Ok::<_, Refusal>((body, translated.exchange))
            };
            let (body, exchange) = if body.len() < OFF_THE_WORKER {
                run(body)?
            } else {
                // Tens of milliseconds of work: on a thread of its own, the worker keeps
                // answering every other request (and `/healthz`) meanwhile.
                let body = body.clone();
                let work = move || run(&body);
                actix_web::rt::task::spawn_blocking(work)
                    .await
                    .map_err(|e| {
                        Refusal::NotJson(format!("the translation did not finish: {e}"))
                    })??
            };
            Ok((body, Some(exchange)))
        }
    }
}

thread_local! {
    /// The body this thread translated last, kept so that its memory holds the next one.
    static LAST_TRANSLATED: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// Translated bodies up to this size lend their memory to the next translation on their thread.
const KEPT_AT_MOST: usize = 4 << 20;

/// The memory of this thread's last translated body once nothing else holds it (its request is
/// over), else an empty buffer. With fresh memory for each body, glibc could give the top of the
/// thread's heap back to the kernel as a large request freed its buffers, and the next request
/// faulted those pages in anew: up to 40 faults for a 128 KiB body, a tenth of its translation.
fn last_translated_buffer() -> Vec<u8> {
    LAST_TRANSLATED
        .with(|last| last.borrow_mut().take())
        .and_then(|body| body.try_into_mut().ok())
        .map(|mut body| {
            body.clear();
            Vec::from(body)
        })
        .unwrap_or_default()
}

/// Keeps `body` (a share of it) as this thread's last translated body.
fn keep_translated(body: &Bytes) {
    if body.len() <= KEPT_AT_MOST {
        LAST_TRANSLATED.with(|last| *last.borrow_mut() = Some(body.clone()));
    }
}

/// Request bodies at least this large are translated (or counted) off the worker's thread.
const OFF_THE_WORKER: usize = 256 << 10;

/// How a translated answer reaches the client: the stage that rewrites its bytes, and the
/// content type the result has when it differs from the upstream's.
pub(super) struct AnswerTranslation {
    pub stage: Box<dyn BodyStage>,
    pub content_type: Option<&'static str>,
}

/// The stage for an upstream answer with this status, SSE or not.
pub(super) fn answer_stage(exchange: &Exchange, status: u16, is_sse: bool) -> AnswerTranslation {
    let client = exchange.client;
    if status >= 400 {
        return AnswerTranslation {
            stage: Box::new(Whole::new(move |body| {
                translate_error(client, status, body)
            })),
            content_type: Some("application/json"),
        };
    }
    if is_sse {
        if let Some(translator) = StreamTranslator::for_exchange(exchange) {
            return AnswerTranslation {
                stage: Box::new(SseStage { translator, client }),
                content_type: None,
            };
        }
    }
    let exchange = exchange.clone();
    AnswerTranslation {
        content_type: whole_answer_type(&exchange),
        stage: Box::new(Whole::new(move |body| whole_answer(&exchange, body))),
    }
}

/// A JSON answer in the client's API: a translated answer, or, when the upstream ignored
/// `stream: true`, the stream the client asked for (a body that is not JSON passes unchanged).
fn whole_answer(exchange: &Exchange, body: &[u8]) -> Vec<u8> {
    let translated = if exchange.stream {
        translate_answer_as_stream(exchange, body)
    } else {
        translate_answer(exchange, body)
    };
    translated.unwrap_or_else(|| body.to_vec())
}

/// The content type of [`whole_answer`]'s result, when it is not the upstream's.
fn whole_answer_type(exchange: &Exchange) -> Option<&'static str> {
    exchange.stream.then_some("text/event-stream")
}

/// Whether an answer is read whole before its head goes out: a successful answer to a translated
/// request (or a model list put in the caller's API) that is not SSE. Its translation needs all of it, and reading it first lets one that
/// is too large or breaks off get a 502 instead of a cut 200.
pub(super) fn read_whole_first<S>(answer: &Answer<S>) -> bool {
    let response = &answer.response;
    // The header is looked up last: most answers are passed through.
    (answer.exchange.is_some() || answer.list_for.is_some())
        && answer.error_body.is_none()
        && response.status().is_success()
        && response.status() != actix_web::http::StatusCode::NO_CONTENT
        && !super::is_event_stream(response.headers())
}

/// An upstream SSE answer, translated event by event as its bytes arrive.
struct SseStage {
    translator: StreamTranslator,
    client: Api,
}

impl BodyStage for SseStage {
    fn feed(&mut self, chunk: Bytes) -> Bytes {
        Bytes::from(self.translator.feed(&chunk))
    }

    fn gave_up(&self) -> bool {
        self.translator.gave_up()
    }

    fn finish(&mut self) -> StageEnd {
        match self.translator.finish() {
            Ok(bytes) => StageEnd {
                bytes: Bytes::from(bytes),
                cut: None,
            },
            Err(cut) => {
                // The same final event a passthrough stream cut midway ends with.
                let event = if cut.error_sent {
                    Vec::new()
                } else {
                    sse_error_event(
                        self.client,
                        &format!("switchyard: upstream stream failed: {}", cut.reason),
                    )
                };
                StageEnd {
                    bytes: Bytes::from(event),
                    cut: Some(cut.reason),
                }
            }
        }
    }
}

/// Longest JSON answer held for translation: its translation holds a tree of it, a few times its
/// size.
const MAX_WHOLE: usize = 16 << 20;

/// A JSON answer, held until it ends and then rewritten at once.
struct Whole<F> {
    body: Vec<u8>,
    too_large: bool,
    rewrite: F,
}

impl<F: FnMut(&[u8]) -> Vec<u8>> Whole<F> {
    fn new(rewrite: F) -> Self {
        Whole {
            body: Vec::new(),
            too_large: false,
            rewrite,
        }
    }
}

impl<F: FnMut(&[u8]) -> Vec<u8>> BodyStage for Whole<F> {
    fn feed(&mut self, chunk: Bytes) -> Bytes {
        if self.body.len() + chunk.len() > MAX_WHOLE {
            self.too_large = true;
            self.body = Vec::new();
        } else if !self.too_large {
            self.body.extend_from_slice(&chunk);
        }
        Bytes::new()
    }

    fn gave_up(&self) -> bool {
        self.too_large
    }

    fn finish(&mut self) -> StageEnd {
        if self.too_large {
            // What the rewrite makes of nothing: for an error, one in the client's shape.
            return StageEnd {
                bytes: Bytes::from((self.rewrite)(&[])),
                cut: Some(format!(
                    "the answer is larger than the {} MiB the gateway translates",
                    MAX_WHOLE >> 20
                )),
            };
        }
        StageEnd {
            bytes: Bytes::from((self.rewrite)(&std::mem::take(&mut self.body))),
            cut: None,
        }
    }
}

/// What a whole answer becomes for the client.
enum Rewrite {
    /// The answer in the client's API.
    Translate(Exchange),
    /// A model list in the caller's API (the ids kept, in order).
    ModelList(Api),
}

impl Relay<'_> {
    /// A successful JSON answer to a translated request (see [`read_whole_first`]): read whole,
    /// at most [`MAX_WHOLE`] bytes, then translated and sent with its length. One that is larger
    /// or breaks off gets a 502 in the client's shape and counts against the endpoint.
    pub(super) async fn relay_whole<S: UpstreamBody>(
        mut self,
        mut answer: Answer<S>,
        attempts: usize,
    ) -> HttpResponse {
        let rewrite = match (answer.exchange.clone(), answer.list_for) {
            (Some(exchange), _) => Rewrite::Translate(exchange),
            (None, Some(caller)) => Rewrite::ModelList(caller),
            (None, None) => return self.relay(answer, attempts),
        };
        let idle = self.config.timeouts.idle;
        let body = match body::read_answer(&mut answer.response, MAX_WHOLE, idle).await {
            Ok(body) => body,
            Err(error) => {
                let message = format!("{}: {error}", answer.endpoint.id);
                let failure = UpstreamError::Transport(error);
                let error = GatewayError::BadAnswer(message);
                let client = self.ctx().client;
                self.end.answered_here(0, Some(&answer.endpoint));
                self.end.refused_after(&error, Some(failure));
                let mut response = error.response(client);
                response.headers_mut().insert(
                    HeaderName::from_static(ATTEMPTS_HEADER),
                    super::attempts_value(attempts),
                );
                return response;
            }
        };
        let mut builder = self.response_head(&answer, attempts);
        self.end.relayed(&body);
        let (out, content_type) = match &rewrite {
            Rewrite::Translate(exchange) => {
                (whole_answer(exchange, &body), whole_answer_type(exchange))
            }
            Rewrite::ModelList(caller) => match super::models::in_callers_shape(*caller, &body) {
                Some(list) => (list, Some("application/json")),
                // Not a list the gateway knows: passed on as it came.
                None => (body.to_vec(), None),
            },
        };
        drop(body);
        let out = Redactor::whole_with(answer.endpoint.wire.key_finder.as_ref(), Bytes::from(out));
        if let Some(content_type) = content_type {
            builder.insert_header(("content-type", content_type));
        }
        self.end.finish(End::with(Ending::Ok));
        builder.body(out)
    }

    /// A request the endpoint's API cannot express: 400 in the client's shape, never sent.
    pub(super) fn refuse_translation(mut self, refusal: Refusal, client: Api) -> HttpResponse {
        self.end.answered_here(400, None);
        let detail = refusal.to_string();
        self.end
            .finish(End::with(Ending::Untranslatable).detail(&detail));
        HttpResponse::BadRequest()
            .content_type("application/json")
            .body(refusal.body(client))
    }

    /// A token count for an endpoint of another API, which has no such call: the gateway's
    /// estimate, in the client's API.
    pub(super) async fn count_tokens_here(
        mut self,
        body: &Bytes,
        endpoint: &std::sync::Arc<EndpointConfig>,
        attempts: usize,
    ) -> HttpResponse {
        let client = self.ctx().client;
        let model = self
            .ctx()
            .model()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let answer = if body.len() < OFF_THE_WORKER {
            count_tokens_answer(client, body, &model)
        } else {
            let body = body.clone();
            actix_web::rt::task::spawn_blocking(move || count_tokens_answer(client, &body, &model))
                .await
                .unwrap_or_else(|e| Err(Refusal::NotJson(format!("the count did not finish: {e}"))))
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(refusal) => return self.refuse_translation(refusal, client),
        };
        self.end.answered_here(200, Some(endpoint));
        self.end.add_bytes(answer.len());
        self.end.finish(End::with(Ending::Estimated));
        let mut response = HttpResponse::Ok();
        response.content_type("application/json");
        if let Ok(id) = HeaderValue::from_str(&endpoint.id) {
            response.insert_header((HeaderName::from_static(ENDPOINT_HEADER), id));
        }
        response.insert_header((
            HeaderName::from_static(ATTEMPTS_HEADER),
            super::attempts_value(attempts),
        ));
        response.body(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::call::Call;

    fn endpoints() -> Vec<EndpointConfig> {
        crate::config::parse(
            "endpoints:\n  - base_url: https://relay.example/api\n    api_key: k\n  \
             - base_url: https://api.deepseek.com/v1\n    api_key: k\n    api: openai\n",
            &|_| None,
        )
        .unwrap()
        .endpoints
    }

    #[test]
    fn a_translated_body_lends_its_memory_to_the_next_once_nothing_holds_it() {
        // Each test runs on a thread of its own: this one's last body starts empty.
        assert_eq!(last_translated_buffer().capacity(), 0);
        let mut written = Vec::with_capacity(4096);
        written.extend_from_slice(b"{}");
        let body = Bytes::from(written);
        let address = body.as_ptr();
        keep_translated(&body);
        // The request still holds its body: the next translation gets fresh memory.
        assert_eq!(last_translated_buffer().capacity(), 0);
        keep_translated(&body);
        drop(body);
        let reused = last_translated_buffer();
        assert_eq!(reused.as_ptr(), address);
        assert!(reused.is_empty(), "no bytes of the last body");
        // Taken once: the memory is the new body's now.
        assert_eq!(last_translated_buffer().capacity(), 0);
        // A body above the limit keeps no memory back.
        let large = Bytes::from(vec![b' '; KEPT_AT_MOST + 1]);
        keep_translated(&large);
        drop(large);
        assert_eq!(last_translated_buffer().capacity(), 0);
    }

    #[test]
    fn upstream_urls_follow_the_endpoints_api_and_the_route() {
        let [anthropic, openai] = &endpoints()[..] else {
            panic!("two endpoints")
        };
        let target: Uri = "/v1/messages?beta=true".parse().unwrap();
        let to_openai = Call::Generation(Api::Anthropic).route(Api::OpenAi);
        assert_eq!(
            upstream_target(openai, &target, to_openai, None, false).unwrap(),
            "https://api.deepseek.com/v1/chat/completions"
        );
        assert_eq!(
            upstream_target(anthropic, &target, Route::Passthrough, None, false).unwrap(),
            "https://relay.example/api/v1/messages?beta=true"
        );
        let chat: Uri = "/v1/chat/completions".parse().unwrap();
        let to_anthropic = Call::Generation(Api::OpenAi).route(Api::Anthropic);
        assert_eq!(
            upstream_target(anthropic, &chat, to_anthropic, None, false).unwrap(),
            "https://relay.example/api/v1/messages"
        );
        let embeddings: Uri = "/v1/embeddings?x=1".parse().unwrap();
        assert_eq!(
            upstream_target(openai, &embeddings, Route::Passthrough, None, false).unwrap(),
            "https://api.deepseek.com/v1/embeddings?x=1"
        );
        // A path that tries to leave the endpoint stays a path on it.
        let sneaky: Uri = "/v1//evil.example/x".parse().unwrap();
        let uri = upstream_target(openai, &sneaky, Route::Passthrough, None, false).unwrap();
        assert_eq!(uri.host(), Some("api.deepseek.com"));
    }

    #[test]
    fn an_openai_endpoint_gets_no_anthropic_headers_and_a_translated_request_no_compression() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "x"),
            ("accept-encoding", "gzip"),
            ("x-request-id", "r1"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let mut passthrough = headers.clone();
        adjust_headers(&mut passthrough, Api::Anthropic, Route::Passthrough);
        assert_eq!(
            passthrough.len(),
            headers.len(),
            "unchanged for a passthrough"
        );
        assert_eq!(passthrough.get("accept-encoding").unwrap(), "gzip");
        let route = Call::Generation(Api::Anthropic).route(Api::OpenAi);
        adjust_headers(&mut headers, Api::OpenAi, route);
        assert!(headers.get("anthropic-version").is_none());
        assert!(headers.get("anthropic-beta").is_none());
        assert_eq!(headers.get("accept-encoding").unwrap(), "identity");
        assert_eq!(headers.get("content-type").unwrap(), "application/json");
        assert_eq!(headers.get("x-request-id").unwrap(), "r1");
    }

    #[test]
    fn an_oversized_error_answer_is_reported_cut_and_not_read_further() {
        let mut whole = Whole::new(|b: &[u8]| translate_error(Api::Anthropic, 500, b));
        assert!(whole.feed(Bytes::from(vec![b'x'; MAX_WHOLE])).is_empty());
        assert!(!whole.gave_up());
        assert!(whole.feed(Bytes::from_static(b"y")).is_empty());
        assert!(whole.gave_up(), "the relay stops reading");
        let end = whole.finish();
        let error: serde_json::Value = serde_json::from_slice(&end.bytes).unwrap();
        assert_eq!(error["error"]["message"], "upstream answered 500");
        assert!(end.cut.is_some());
    }
}

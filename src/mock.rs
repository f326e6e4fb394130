//! A streaming mock upstream that speaks enough of Anthropic `/v1/messages`, OpenAI
//! `/v1/chat/completions`, the OpenAI Responses API (`/v1/responses`, see [`responses`]) and the
//! Gemini API (`/v1beta/models/…`, see [`gemini`]), plain and streamed, for the demo, the tests and
//! the benchmark. Each run can be told to answer a status, add
//! `Retry-After`, delay, hang, drop the connection after N events, or fail inside a `200` stream
//! ([`StreamFault`]); it counts hits and keeps what it received.

pub mod gemini;
pub mod responses;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the mock answers. Change it while running with [`MockUpstream::set`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Shown in answers, so a client sees which mock replied.
    pub name: String,
    /// The key it accepts in `x-api-key` or `Authorization: Bearer` (the Responses API: only
    /// `Bearer`); anything else gets 401. The Gemini API takes it in `x-goog-api-key` or `?key=`
    /// and answers as Google does: 403 without a key, 400 `API_KEY_INVALID` for another.
    pub key: Option<String>,
    /// Answer every request with this status and an error body in the API's shape.
    pub status: Option<u16>,
    /// Error body text to use with `status` (default: a message naming the status).
    pub error_message: Option<String>,
    /// Send the error body of `status` with HTTP 200, as some relays do.
    pub error_as_ok: bool,
    pub retry_after: Option<String>,
    /// Wait before the response head.
    pub head_delay: Duration,
    /// Never answer.
    pub hang: bool,
    /// Text deltas in a streamed answer (the stream has 5 more framing events for Anthropic, 2 for OpenAI).
    pub deltas: usize,
    /// Gap between two SSE events.
    pub event_interval: Duration,
    /// Cut the connection after this many SSE events.
    pub drop_after_events: Option<usize>,
    /// A fault worked into every streamed answer (of any API; a Gemini stream only with
    /// `alt=sse`), whose head is `200` all the same.
    pub stream_fault: Option<StreamFault>,
    /// OpenAI answers that carry more than text (reasoning, tool calls, a usage chunk when the
    /// request asks for one); its tool calls also go into Anthropic answers as `tool_use` blocks,
    /// its reasoning and tool calls into Responses answers as items, and into Gemini answers as a
    /// thought and `functionCall` parts. `None` keeps the plain text answers.
    pub openai: Option<OpenAiAnswer>,
    /// Prompt-cache use its Anthropic and Chat Completions answers report, in each API's own
    /// fields; `None` reports none.
    pub cache: Option<PromptCache>,
    /// Headers every successful answer carries, as a real upstream's rate-limit headers
    /// (`anthropic-ratelimit-*`, `x-ratelimit-*`) come with its answers.
    pub headers: Vec<(String, String)>,
}

/// Prompt-cache use the mock's answers report besides their 10 uncached input tokens: Anthropic
/// answers give reads and writes of both lifetimes (`cache_creation` split by TTL), Chat
/// Completions answers the reads as `prompt_tokens_details.cached_tokens` inside `prompt_tokens`
/// (OpenAI reports no writes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PromptCache {
    pub read: u64,
    pub write_5m: u64,
    pub write_1h: u64,
}

/// The uncached input tokens of every Anthropic and Chat Completions answer of the mock.
pub const INPUT_TOKENS: u64 = 10;

/// An Anthropic `usage` object with `output` tokens and the cache use `b` reports.
fn anthropic_usage(b: &Behaviour, output: usize) -> serde_json::Value {
    let mut usage = serde_json::json!({"input_tokens": INPUT_TOKENS, "output_tokens": output});
    if let Some(cache) = b.cache {
        usage["cache_read_input_tokens"] = cache.read.into();
        usage["cache_creation_input_tokens"] = (cache.write_5m + cache.write_1h).into();
        usage["cache_creation"] = serde_json::json!({
            "ephemeral_5m_input_tokens": cache.write_5m,
            "ephemeral_1h_input_tokens": cache.write_1h,
        });
    }
    usage
}

/// A Chat Completions `usage` object with `completion` tokens and the cache reads `b` reports.
fn chat_usage(b: &Behaviour, completion: usize) -> serde_json::Value {
    let read = b.cache.map_or(0, |c| c.read);
    let prompt = INPUT_TOKENS + read;
    serde_json::json!({"prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": prompt + completion as u64, "prompt_tokens_details": {"cached_tokens": read}})
}

/// A failure inside a streamed answer, as upstreams and relays fail after a `200` head. A
/// stream's opening events are Anthropic's `message_start` and `content_block_start`, Chat's role
/// chunk, Responses' `response.created` to the first `content_part.added`, and (added for a
/// fault) a Gemini chunk without parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFault {
    /// The opening events, then the API's error event for this status (`overloaded_error` for
    /// 529, `rate_limit_error` for 429, `api_error` for 500), then the end.
    ErrorBeforeContent(u16),
    /// The head, then the connection closes.
    CloseAfterHead,
    /// The opening events and the first content event, then the error event, then the end.
    ErrorAfterContent(u16),
    /// The opening events, then keep-alives (one per `event_interval`, at most 10,000) and
    /// nothing else.
    KeepAlivesOnly,
    /// The opening events, keep-alives of about `bytes` bytes, then the error event.
    ErrorAfterKeepAlives { bytes: usize, status: u16 },
    /// The opening events and the first content event, then nothing: the connection stays open.
    StallAfterContent,
}

impl StreamFault {
    /// The fault a word names (`error-before-content:529`, `close-after-head`,
    /// `error-after-content:500`, `keep-alives`, `stall-after-content`); the status defaults to
    /// 529.
    pub fn from_word(word: &str) -> Option<StreamFault> {
        let (name, status) = match word.split_once(':') {
            Some((name, status)) => (name, status.parse().ok()?),
            None => (word, 529),
        };
        Some(match name {
            "error-before-content" => StreamFault::ErrorBeforeContent(status),
            "close-after-head" => StreamFault::CloseAfterHead,
            "error-after-content" => StreamFault::ErrorAfterContent(status),
            "keep-alives" => StreamFault::KeepAlivesOnly,
            "stall-after-content" => StreamFault::StallAfterContent,
            _ => return None,
        })
    }
}

/// What an OpenAI-format answer of the mock carries besides its text.
#[derive(Debug, Clone)]
pub struct OpenAiAnswer {
    /// `reasoning_content` sent before the text, as DeepSeek does (streamed word by word); in the
    /// Responses API a `reasoning` item before the others.
    pub reasoning: Option<String>,
    /// Tool calls as (name, JSON arguments), made unless the request's last message is a `tool`
    /// result, so a client's tool round trip ends with a text answer. A Responses answer calls a
    /// tool the request offers as `custom` with a `custom_tool_call` whose input is the text. An
    /// Anthropic request that forces one of these tools (`tool_choice` `tool`) gets that call
    /// alone, without text, as Anthropic answers it. A Gemini answer makes them once the last
    /// content is no `functionResponse`, signing the first.
    pub tool_calls: Vec<(String, String)>,
    /// How many pieces each tool call's arguments are streamed in (Gemini sends each call whole).
    pub argument_pieces: usize,
}

impl Default for OpenAiAnswer {
    fn default() -> Self {
        OpenAiAnswer {
            reasoning: None,
            tool_calls: Vec::new(),
            argument_pieces: 3,
        }
    }
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            name: "mock".to_string(),
            key: None,
            status: None,
            error_message: None,
            error_as_ok: false,
            retry_after: None,
            head_delay: Duration::ZERO,
            hang: false,
            deltas: 3,
            event_interval: Duration::ZERO,
            drop_after_events: None,
            stream_fault: None,
            openai: None,
            cache: None,
            headers: Vec::new(),
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl SeenRequest {
    /// Every value of a header (names are lower case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    hits: AtomicUsize,
    seen: Mutex<Vec<SeenRequest>>,
    event_times: Mutex<Vec<Instant>>,
    /// SSE streams dropped before their last event (the gateway cancelled them).
    streams_cancelled: AtomicUsize,
    /// Responses answered so far: numbers their ids, so no two answers share a `call_id`.
    responses: AtomicUsize,
    /// Gemini requests answered so far: numbers their `responseId`s and call ids.
    gemini: AtomicUsize,
}

/// Counts a stream as cancelled if it is dropped before it ends.
struct StreamGuard {
    shared: Arc<Shared>,
    ended: bool,
}

impl StreamGuard {
    /// The stream reached its end (or its planned cut): not a cancellation.
    fn end(mut self) {
        self.ended = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.streams_cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

const SEEN_LIMIT: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running mock upstream on 127.0.0.1, stopped when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockUpstream {
    /// Starts a mock on an ephemeral port.
    pub fn start(behaviour: Behaviour) -> std::io::Result<MockUpstream> {
        Self::start_on(0, behaviour)
    }

    /// Starts a mock on `port` (0: any free port) in a thread of its own.
    pub fn start_on(port: u16, behaviour: Behaviour) -> std::io::Result<MockUpstream> {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            event_times: Mutex::new(Vec::new()),
            streams_cancelled: AtomicUsize::new(0),
            responses: AtomicUsize::new(0),
            gemini: AtomicUsize::new(0),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let for_server = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("mock-{}", addr.port()))
            .spawn(move || {
                let system = actix_rt::System::new();
                let result = system.block_on(async move {
                    let data = web::Data::from(for_server);
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(256 << 20))
                            .default_service(web::to(answer))
                    })
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .listen(listener)?
                    .run();
                    let _ = tx.send(server.handle());
                    server.await
                });
                if let Err(e) = result {
                    log::error!("mock upstream stopped: {e}");
                }
            })?;
        let handle = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| std::io::Error::other("mock upstream did not start"))?;
        Ok(MockUpstream {
            addr,
            shared,
            handle,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }

    /// Changes how the next requests are answered.
    pub fn set(&self, behaviour: Behaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }

    /// Changes part of the behaviour.
    pub fn update(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut lock(&self.shared.behaviour));
    }

    /// What the mock received (the first 10,000 requests).
    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.shared.seen).clone()
    }

    /// When each SSE event was handed to the connection.
    pub fn event_times(&self) -> Vec<Instant> {
        lock(&self.shared.event_times).clone()
    }

    /// SSE streams that were dropped before their last event: the other side went away.
    pub fn streams_cancelled(&self) -> usize {
        self.shared.streams_cancelled.load(Ordering::SeqCst)
    }

    /// Forgets hits, requests and event times.
    pub fn clear(&self) {
        self.shared.hits.store(0, Ordering::SeqCst);
        lock(&self.shared.seen).clear();
        lock(&self.shared.event_times).clear();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop without waiting for open (possibly hanging) requests.
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(handle.stop(false));
        });
        if let Some(thread) = self.thread.take() {
            drop(thread);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Anthropic,
    OpenAi,
    Responses,
    Gemini,
    Models,
    Other,
}

async fn answer(req: HttpRequest, body: Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let extra = lock(&shared.behaviour).headers.clone();
    let mut response = answer_of(req, body, shared).await;
    if response.status().is_success() {
        for (name, value) in extra {
            if let (Ok(name), Ok(value)) = (
                actix_web::http::header::HeaderName::try_from(name),
                actix_web::http::header::HeaderValue::try_from(value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    response
}

async fn answer_of(req: HttpRequest, body: Bytes, shared: web::Data<Shared>) -> HttpResponse {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    {
        let mut seen = lock(&shared.seen);
        if seen.len() < SEEN_LIMIT {
            seen.push(SeenRequest {
                method: req.method().to_string(),
                path: req.path().to_string(),
                query: req.query_string().to_string(),
                headers: req
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.clone(),
            });
        }
    }
    let b = lock(&shared.behaviour).clone();
    if b.hang {
        std::future::pending::<()>().await;
    }
    if !b.head_delay.is_zero() {
        actix_rt::time::sleep(b.head_delay).await;
    }
    let path = req.path();
    let api = if gemini::is_gemini_path(path) {
        Api::Gemini
    } else if path.ends_with("/v1/messages") {
        Api::Anthropic
    } else if path.ends_with("/chat/completions") {
        Api::OpenAi
    } else if path.ends_with("/responses") {
        Api::Responses
    } else if path.ends_with("/v1/models") {
        Api::Models
    } else {
        Api::Other
    };
    if api == Api::Gemini {
        let serial = shared.gemini.fetch_add(1, Ordering::SeqCst) + 1;
        return gemini::answer(&req, &b, &body, serial, shared.into_inner());
    }
    if let Some(expected) = &b.key {
        let headers = req.headers();
        let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let x_api_key = x_api_key.filter(|_| api != Api::Responses);
        // Google's header, on a path no API of the mock has (a client's `HEAD /`).
        let goog = headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .filter(|_| api == Api::Other);
        let presented = [x_api_key, bearer, goog];
        if !presented.contains(&Some(expected.as_str())) {
            let message = if api == Api::Responses {
                "Incorrect API key provided."
            } else {
                "invalid x-api-key"
            };
            return error(api, 401, message, None);
        }
    }
    if let Some(status) = b.status {
        let message = b
            .error_message
            .clone()
            .unwrap_or_else(|| format!("mock {} answers {status}", b.name));
        let mut answer = error(api, status, &message, b.retry_after.as_deref());
        if b.error_as_ok {
            *answer.status_mut() = actix_web::http::StatusCode::OK;
        }
        return answer;
    }
    if api == Api::Responses {
        let serial = shared.responses.fetch_add(1, Ordering::SeqCst) + 1;
        return responses::answer(&b, &body, serial, shared.into_inner());
    }
    let request: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let model = request["model"]
        .as_str()
        .unwrap_or("mock-model")
        .to_string();
    let stream = request["stream"].as_bool().unwrap_or(false);
    // Claude models since Sonnet 4.5 refuse the two together.
    if api == Api::Anthropic && !request["temperature"].is_null() && !request["top_p"].is_null() {
        let message = "`temperature` and `top_p` cannot both be specified for this model. Please use only one.";
        return error(api, 400, message, None);
    }
    match api {
        // Each API's own list shape: OpenAI's for an OpenAI-format mock, else Anthropic's.
        Api::Models if b.openai.is_some() => HttpResponse::Ok().json(serde_json::json!({
            "object": "list",
            "data": [{"id": "mock-model", "object": "model", "created": 1700000000, "owned_by": "mock"}],
        })),
        Api::Models => HttpResponse::Ok().json(serde_json::json!({
            "data": [{"id": "mock-model", "type": "model", "display_name": "Mock model",
                "created_at": "2025-01-01T00:00:00Z"}],
            "has_more": false, "first_id": "mock-model", "last_id": "mock-model",
        })),
        Api::Other => error(api, 404, &format!("mock has no route {path}"), None),
        Api::Anthropic if b.openai.as_ref().is_some_and(|x| !x.tool_calls.is_empty()) => {
            anthropic_tool_answer(&b, &request, &model, stream, shared.into_inner())
        }
        // A forced tool the script does not call (a structured-output request made a tool): its
        // call, with an input its schema accepts, as a model would answer.
        Api::Anthropic if request["tool_choice"]["type"] == "tool" => {
            let name = request["tool_choice"]["name"].as_str().unwrap_or_default();
            let schema = request["tools"]
                .as_array()
                .and_then(|tools| tools.iter().find(|t| t["name"] == name))
                .map(|tool| tool["input_schema"].clone())
                .unwrap_or_default();
            let mut scripted = b.clone();
            let extra = scripted.openai.get_or_insert_with(OpenAiAnswer::default);
            extra.tool_calls = vec![(name.to_string(), example_of(&schema).to_string())];
            anthropic_tool_answer(&scripted, &request, &model, stream, shared.into_inner())
        }
        Api::Anthropic if !stream => HttpResponse::Ok().json(serde_json::json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": reply_text(&b)}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": anthropic_usage(&b, b.deltas),
        })),
        Api::OpenAi if b.openai.is_some() => openai_rich_answer(&b, &request, &model, stream, shared.into_inner()),
        Api::OpenAi if !stream => HttpResponse::Ok().json(serde_json::json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_text(&b)}, "finish_reason": "stop"}],
            "usage": chat_usage(&b, b.deltas),
        })),
        _ => {
            let events = if api == Api::Anthropic { anthropic_events(&b, &model) } else { openai_events(&b, &model) };
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .insert_header(("cache-control", "no-cache"))
                .streaming(sse_stream(&b, Some(api), events, shared.into_inner()))
        }
    }
}

/// The answer's text in `deltas` pieces: "Hello from NAME:", " word1", " word2", …
fn reply_pieces(b: &Behaviour) -> Vec<String> {
    (0..b.deltas.max(1))
        .map(|i| {
            if i == 0 {
                format!("Hello from {}:", b.name)
            } else {
                format!(" word{i}")
            }
        })
        .collect()
}

fn reply_text(b: &Behaviour) -> String {
    reply_pieces(b).concat()
}

fn error(api: Api, status: u16, message: &str, retry_after: Option<&str>) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(code);
    if let Some(r) = retry_after {
        builder.insert_header(("retry-after", r));
    }
    let kind = error_type(status);
    match api {
        Api::OpenAi => builder
            .json(serde_json::json!({"error": {"message": message, "type": kind, "code": status}})),
        Api::Responses => builder.json(responses::error_value(status, message)),
        _ => builder.json(
            serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}),
        ),
    }
}

/// Anthropic's `error.type` for a status (the mock's OpenAI errors use the same words).
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

fn anthropic_events(b: &Behaviour, model: &str) -> Vec<String> {
    let mut events = vec![
        sse(
            "message_start",
            serde_json::json!({"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": anthropic_usage(b, 1)}}),
        ),
        sse(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    let text = reply_text(b);
    for word in text.split_inclusive(' ').take(b.deltas.max(1)) {
        events.push(sse(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": word}}),
        ));
    }
    events.push(sse(
        "content_block_stop",
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(sse("message_delta", serde_json::json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": b.deltas}})));
    events.push(sse(
        "message_stop",
        serde_json::json!({"type": "message_stop"}),
    ));
    events
}

/// One Chat Completions SSE chunk.
fn chat_chunk(model: &str, delta: serde_json::Value, finish: Option<&str>) -> String {
    format!(
        "data: {}\n\n",
        serde_json::json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk",
        "created": 0, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    )
}

fn openai_events(b: &Behaviour, model: &str) -> Vec<String> {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| chat_chunk(model, delta, finish);
    let mut events = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    )];
    for word in reply_pieces(b) {
        events.push(chunk(serde_json::json!({"content": word}), None));
    }
    events.push(chunk(serde_json::json!({}), Some("stop")));
    events.push("data: [DONE]\n\n".to_string());
    events
}

/// The tool calls this request gets: none once the conversation's last message is a tool result.
fn tool_calls_for<'a>(
    extra: &'a OpenAiAnswer,
    request: &serde_json::Value,
) -> &'a [(String, String)] {
    let last_is_tool_result = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .is_some_and(|m| m["role"] == "tool");
    if last_is_tool_result {
        &[]
    } else {
        &extra.tool_calls
    }
}

/// `s` in `n` pieces of nearly equal length (split on character boundaries).
fn pieces(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn openai_rich_answer(
    b: &Behaviour,
    request: &serde_json::Value,
    model: &str,
    stream: bool,
    shared: Arc<Shared>,
) -> HttpResponse {
    let extra = b.openai.clone().unwrap_or_default();
    let calls = tool_calls_for(&extra, request);
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let usage = chat_usage(b, b.deltas);
    if !stream {
        let mut message = serde_json::json!({"role": "assistant", "content": reply_text(b)});
        if let Some(r) = &extra.reasoning {
            message["reasoning_content"] = serde_json::json!(r);
        }
        if !calls.is_empty() {
            message["tool_calls"] = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    serde_json::json!({"id": format!("call_mock_{i}"), "type": "function",
                    "function": {"name": name, "arguments": args}})
                })
                .collect();
        }
        return HttpResponse::Ok().json(serde_json::json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }));
    }
    let chunk = |delta: serde_json::Value, finish: Option<&str>| chat_chunk(model, delta, finish);
    let mut events = vec![chunk(
        serde_json::json!({"role": "assistant", "content": null}),
        None,
    )];
    if let Some(r) = &extra.reasoning {
        for word in r.split_inclusive(' ') {
            events.push(chunk(serde_json::json!({"reasoning_content": word}), None));
        }
    }
    for word in reply_pieces(b) {
        events.push(chunk(serde_json::json!({"content": word}), None));
    }
    for (i, (name, args)) in calls.iter().enumerate() {
        events.push(chunk(
            serde_json::json!({"tool_calls": [{"index": i, "id": format!("call_mock_{i}"),
            "type": "function", "function": {"name": name, "arguments": ""}}]}),
            None,
        ));
        for piece in pieces(args, extra.argument_pieces) {
            events.push(chunk(
                serde_json::json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    events.push(chunk(serde_json::json!({}), Some(finish)));
    if request["stream_options"]["include_usage"].as_bool() == Some(true) {
        events.push(format!(
            "data: {}\n\n",
            serde_json::json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                "model": model, "choices": [], "usage": usage})
        ));
    }
    events.push("data: [DONE]\n\n".to_string());
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(sse_stream(b, Some(Api::OpenAi), events, shared))
}

/// An Anthropic answer with text and then `tool_use` blocks (arguments streamed in pieces), unless
/// the conversation's last turn carries a tool result; a forced tool's call alone when the request
/// forces one of the scripted tools.
fn anthropic_tool_answer(
    b: &Behaviour,
    request: &serde_json::Value,
    model: &str,
    stream: bool,
    shared: Arc<Shared>,
) -> HttpResponse {
    let extra = b.openai.clone().unwrap_or_default();
    let thinking_on = request["thinking"]["type"] == "enabled";
    if thinking_on {
        if let Err(message) = check_thinking(request) {
            return error(Api::Anthropic, 400, &message, None);
        }
    }
    // With thinking on, the answer starts with a signed thinking block (the reasoning given).
    let thinking = extra.reasoning.as_deref().filter(|_| thinking_on);
    let answered = request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    let calls: &[(String, String)] = if answered { &[] } else { &extra.tool_calls };
    // A request that forces a tool the script calls gets that call alone, as Anthropic answers a
    // forced tool: no text before it.
    let forced = (request["tool_choice"]["type"] == "tool")
        .then(|| request["tool_choice"]["name"].as_str())
        .flatten()
        .and_then(|name| calls.iter().position(|(n, _)| n == name));
    let calls = match forced {
        Some(i) => &calls[i..=i],
        None => calls,
    };
    let with_text = forced.is_none();
    let stop = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    let input = |args: &str| serde_json::from_str::<serde_json::Value>(args).unwrap_or_default();
    if !stream {
        let mut content: Vec<serde_json::Value> = thinking
            .map(|text| {
                serde_json::json!({"type": "thinking", "thinking": text,
                    "signature": mock_signature(text)})
            })
            .into_iter()
            .collect();
        if with_text {
            content.push(serde_json::json!({"type": "text", "text": reply_text(b)}));
        }
        for (i, (name, args)) in calls.iter().enumerate() {
            content.push(
                serde_json::json!({"type": "tool_use", "id": format!("toolu_mock_{i}"),
                "name": name, "input": input(args)}),
            );
        }
        return HttpResponse::Ok().json(serde_json::json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": anthropic_usage(b, b.deltas),
        }));
    }
    let mut events = anthropic_events(b, model);
    // Keep message_start and the text block (message_start alone for a forced tool); the tool
    // blocks and the end follow.
    events.truncate(if with_text { events.len() - 2 } else { 1 });
    let text_blocks = usize::from(with_text);
    let first_tool = match thinking {
        Some(text) => {
            // The thinking block comes first: the text block moves to index 1.
            let text_events: Vec<String> = events
                .drain(1..)
                .map(|e| e.replace("\"index\":0", "\"index\":1"))
                .collect();
            events.extend(thinking_events(text));
            events.extend(text_events);
            1 + text_blocks
        }
        None => text_blocks,
    };
    for (i, (name, args)) in calls.iter().enumerate() {
        let index = i + first_tool;
        events.push(sse(
            "content_block_start",
            serde_json::json!({"type": "content_block_start",
            "index": index, "content_block": {"type": "tool_use", "id": format!("toolu_mock_{i}"),
            "name": name, "input": {}}}),
        ));
        for piece in pieces(args, extra.argument_pieces) {
            events.push(sse(
                "content_block_delta",
                serde_json::json!({"type": "content_block_delta",
                "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(sse(
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(sse("message_delta", serde_json::json!({"type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": b.deltas}})));
    events.push(sse(
        "message_stop",
        serde_json::json!({"type": "message_stop"}),
    ));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(sse_stream(b, Some(Api::Anthropic), events, shared))
}

/// A value a JSON schema accepts: every property of an object, the first `enum` value of a
/// string, a number at its `minimum` (at least 1, at most its `maximum`).
fn example_of(schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{json, Value};
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let bounded = || {
        let low = schema["minimum"].as_f64().unwrap_or(1.0).max(1.0);
        schema["maximum"].as_f64().map_or(low, |high| low.min(high))
    };
    match schema["type"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("object") => Value::Object(
            schema["properties"]
                .as_object()
                .map(|properties| {
                    properties
                        .iter()
                        .map(|(name, property)| (name.clone(), example_of(property)))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some("integer") => json!(bounded() as i64),
        Some("number") => json!(bounded()),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("string") => json!("mock"),
        _ => Value::Null,
    }
}

/// The signature the mock gives a thinking block: it accepts back only its own, unchanged.
pub fn mock_signature(thinking: &str) -> String {
    format!("mocksig-{}", fnv(thinking))
}

/// FNV-1a of `s` in 16 hex digits: stable across runs and platforms.
fn fnv(s: &str) -> String {
    let hash = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The events of a signed thinking block at index 0.
fn thinking_events(text: &str) -> Vec<String> {
    vec![
        sse(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        sse(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": text}}),
        ),
        sse(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": mock_signature(text)}}),
        ),
        sse(
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": 0}),
        ),
    ]
}

/// What Anthropic requires of a request with thinking on: the last assistant turn that uses a tool
/// starts with a thinking block, and every thinking block carries the signature it was given.
fn check_thinking(request: &serde_json::Value) -> Result<(), String> {
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    for (i, message) in messages.iter().enumerate() {
        let Some(blocks) = message["content"].as_array() else {
            continue;
        };
        for (j, block) in blocks.iter().enumerate() {
            if block["type"] == "thinking" {
                let text = block["thinking"].as_str().unwrap_or_default();
                if block["signature"].as_str() != Some(mock_signature(text).as_str()) {
                    return Err(format!(
                        "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                    ));
                }
            }
        }
        let uses_tool = blocks.iter().any(|b| b["type"] == "tool_use");
        let first = blocks
            .first()
            .map(|b| b["type"].clone())
            .unwrap_or_default();
        let last_tool_turn = messages[i + 1..].iter().all(|later| {
            later["role"] != "assistant"
                || !later["content"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|b| b["type"] == "tool_use"))
        });
        if message["role"] == "assistant"
            && uses_tool
            && last_tool_turn
            && first != "thinking"
            && first != "redacted_thinking"
        {
            return Err(format!(
                "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).",
                first.as_str().unwrap_or("none")
            ));
        }
    }
    Ok(())
}

fn sse(event: &str, data: serde_json::Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// A streamed answer's events as the behaviour sends them: `events` of `api` (`None`: a stream
/// that is not SSE, which no [`StreamFault`] touches), paced by `event_interval`, cut after
/// `drop_after_events`, with the scripted fault worked in.
fn sse_stream(
    b: &Behaviour,
    api: Option<Api>,
    events: Vec<String>,
    shared: Arc<Shared>,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let script = match (b.stream_fault, api) {
        (Some(fault), Some(api)) => faulted(fault, api, events, b),
        _ => Script {
            events,
            drop_after: b.drop_after_events,
            stall: false,
        },
    };
    let Script {
        events,
        drop_after,
        stall,
    } = script;
    let interval = b.event_interval;
    let guard = StreamGuard {
        shared,
        ended: false,
    };
    futures_util::stream::unfold(
        (0usize, events, guard),
        move |(i, events, mut guard): (usize, Vec<String>, StreamGuard)| async move {
            if i == usize::MAX {
                return None;
            }
            if drop_after.is_some_and(|n| i >= n) {
                // Let what was sent reach the socket before the connection is cut.
                actix_rt::time::sleep(Duration::from_millis(50)).await;
                guard.ended = true;
                let cut = actix_web::error::ErrorInternalServerError("mock drops the connection");
                return Some((Err(cut), (usize::MAX, events, guard)));
            }
            if i >= events.len() {
                if stall {
                    // Until the other side goes away (the guard then counts a cancelled stream).
                    std::future::pending::<()>().await;
                }
                guard.end();
                return None;
            }
            if i > 0 && !interval.is_zero() {
                actix_rt::time::sleep(interval).await;
            }
            lock(&guard.shared.event_times).push(Instant::now());
            let event = Bytes::from(events[i].clone());
            Some((Ok(event), (i + 1, events, guard)))
        },
    )
}

/// What a stream sends: its events, where it is cut, whether it stalls after its last event.
struct Script {
    events: Vec<String>,
    drop_after: Option<usize>,
    stall: bool,
}

/// `events` of `api` with `fault` worked in.
fn faulted(fault: StreamFault, api: Api, mut events: Vec<String>, b: &Behaviour) -> Script {
    if fault == StreamFault::CloseAfterHead {
        return Script {
            events: Vec::new(),
            drop_after: Some(0),
            stall: false,
        };
    }
    if api == Api::Gemini {
        // Gemini's chunks all carry parts: a stream that fails before content opens with one
        // that carries none.
        let opening =
            serde_json::json!({"candidates": [{"content": {"role": "model"}, "index": 0}]});
        events.insert(0, format!("data: {opening}\r\n\r\n"));
    }
    let first = events
        .iter()
        .position(|event| !opens(api, event))
        .unwrap_or(events.len());
    let message = b
        .error_message
        .clone()
        .unwrap_or_else(|| format!("mock {} fails inside its stream", b.name));
    let keep_alive = match api {
        Api::Anthropic => sse("ping", serde_json::json!({"type": "ping"})),
        _ => ": keep-alive\n\n".to_string(),
    };
    let mut stall = false;
    match fault {
        StreamFault::ErrorBeforeContent(status) => {
            events.truncate(first);
            events.push(stream_error_event(api, status, &message));
        }
        StreamFault::ErrorAfterContent(status) => {
            events.truncate(first + 1);
            events.push(stream_error_event(api, status, &message));
        }
        StreamFault::KeepAlivesOnly => {
            events.truncate(first);
            events.extend(std::iter::repeat(keep_alive).take(10_000));
        }
        StreamFault::ErrorAfterKeepAlives { bytes, status } => {
            events.truncate(first);
            let count = bytes.div_ceil(keep_alive.len());
            events.extend(std::iter::repeat(keep_alive).take(count));
            events.push(stream_error_event(api, status, &message));
        }
        StreamFault::StallAfterContent => {
            events.truncate(first + 1);
            stall = true;
        }
        StreamFault::CloseAfterHead => {}
    }
    Script {
        events,
        drop_after: b.drop_after_events,
        stall,
    }
}

/// Whether `event` is one a stream of `api` opens with, before any content.
fn opens(api: Api, event: &str) -> bool {
    match api {
        Api::Anthropic => ["message_start", "content_block_start", "ping"]
            .iter()
            .any(|name| event.starts_with(&format!("event: {name}\n"))),
        Api::OpenAi => event.contains("\"role\":\"assistant\""),
        Api::Responses => [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
        ]
        .iter()
        .any(|name| event.starts_with(&format!("event: {name}\n"))),
        Api::Gemini => !event.contains("\"parts\""),
        Api::Models | Api::Other => false,
    }
}

/// The event with which a stream of `api` reports an error of `status`.
fn stream_error_event(api: Api, status: u16, message: &str) -> String {
    match api {
        Api::OpenAi => format!(
            "data: {}\n\n",
            serde_json::json!({"error": {"message": message, "type": error_type(status), "code": status}})
        ),
        Api::Responses => {
            let code = match status {
                429 => "rate_limit_exceeded",
                503 | 529 => "server_is_overloaded",
                _ => "server_error",
            };
            sse(
                "response.failed",
                serde_json::json!({"type": "response.failed", "response": {
                    "id": "resp_mock_failed", "object": "response", "status": "failed",
                    "error": {"code": code, "message": message}, "output": []}}),
            )
        }
        Api::Gemini => format!(
            "data: {}\r\n\r\n",
            gemini::error_value(status, message, None)
        ),
        Api::Anthropic | Api::Models | Api::Other => sse(
            "error",
            serde_json::json!({"type": "error", "error": {"type": error_type(status), "message": message}}),
        ),
    }
}

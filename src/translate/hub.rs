//! The hub: each API's reader into the intermediate form and writer out of it, each chosen by one
//! API (never by the pair of them), and the pipe that joins an upstream's stream reader to the
//! client's stream writer.

use super::ir::{Answer, Event, Request};
use super::lazy::{Json, JsonWriter, Object, Out};
use super::sse::SseParser;
use super::structured::{self, AnswerText};
use super::{anthropic, chat, gemini, responses};
use super::{Api, Cut, ErrorKind, Exchange, Refusal, Tokens, ToolName};

/// What a request writer needs to know besides the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'m> {
    /// The model named in the translated request.
    pub model: &'m str,
    /// The most tokens to generate when the client gave no limit (Messages requires one).
    pub default_max_tokens: u64,
    /// The most tokens the upstream takes; a larger limit is lowered.
    pub max_tokens_cap: Option<u64>,
    /// Room for the new body, reserved at once.
    pub capacity: usize,
}

impl Target<'_> {
    /// A token limit as the client wrote it, lowered to the upstream's cap.
    pub fn max_tokens<'a>(&self, max: Json<'a>) -> Out<'a> {
        match (self.max_tokens_cap, max.as_u64()) {
            (Some(cap), Some(n)) if n > cap => Out::U64(cap),
            _ => max.into(),
        }
    }
}

/// A request body a writer wrote, and the tools its answer must give back under other names.
pub(crate) struct Written {
    pub body: Vec<u8>,
    pub tool_names: Vec<ToolName>,
}

/// What an answer writer needs to know of the client.
pub(crate) struct Client<'e> {
    /// The model the client asked for: answers name it.
    pub model: &'e str,
    /// Unix seconds, for the answer's creation time.
    pub created: u64,
    pub tool_names: &'e [ToolName],
}

/// A body the translation wrote that serde could not: never expected, still not a panic.
pub(crate) fn unwritable(e: serde_json::Error) -> Refusal {
    Refusal::NotJson(format!("the translated request could not be written: {e}"))
}

/// A client's request in the intermediate form, read by the reader of the client's API (a Gemini
/// client's with what its path said and its schemas made JSON Schema: `gemini`).
pub(crate) fn read_request<'a>(
    client: Api,
    request: &Object<'a>,
    upstream: Api,
    gemini: &'a gemini::Prepared<'a>,
) -> Result<Request<'a>, Refusal> {
    match client {
        Api::Anthropic => anthropic::read_request(request, upstream),
        Api::OpenAi => chat::read_request(request, upstream),
        Api::Responses => responses::read_request(request, upstream),
        Api::Gemini => gemini::read_request(request, upstream, gemini),
    }
}

/// The intermediate form written by the writer of the upstream's API, into `buffer`'s memory (its
/// bytes are cleared first).
pub(crate) fn write_request(
    upstream: Api,
    request: Request<'_>,
    target: &Target<'_>,
    buffer: Vec<u8>,
) -> Result<Written, Refusal> {
    let out = JsonWriter::reusing(buffer, target.capacity);
    match upstream {
        Api::Anthropic => anthropic::write_request(request, target, out),
        Api::OpenAi => chat::write_request(request, target, out),
        Api::Responses => responses::write_request(request, target, out),
        Api::Gemini => gemini::write_request(request, target, out),
    }
}

/// An upstream's JSON answer in the intermediate form; the call of a tool the request writer
/// forced for a structured output is the answer's text.
pub(crate) fn read_answer<'a>(
    upstream: Api,
    answer: &Object<'a>,
    tool_names: &[ToolName],
) -> Answer<'a> {
    let answer = match upstream {
        Api::Anthropic => anthropic::read_answer(answer, tool_names),
        Api::OpenAi => chat::read_answer(answer, tool_names),
        Api::Responses => responses::read_answer(answer, tool_names),
        Api::Gemini => gemini::read_answer(answer, tool_names),
    };
    structured::answer_as_text(answer, tool_names)
}

/// The intermediate form as the client's JSON answer.
pub(crate) fn write_answer(
    client: Api,
    answer: Answer<'_>,
    view: &Client<'_>,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    match client {
        Api::Anthropic => anthropic::write_answer(answer, view, capacity),
        Api::OpenAi => chat::write_answer(answer, view, capacity),
        Api::Responses => responses::write_answer(answer, view, capacity),
        Api::Gemini => gemini::write_answer(answer, view, capacity),
    }
}

/// Reads one API's stream: each SSE event's data becomes intermediate events.
pub(crate) trait ReadStream {
    /// The events one SSE event's data says.
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>));
    /// The events owed when the stream ends without its final event, or why it was cut short.
    fn finish(&mut self, emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String>;
    /// Tokens the upstream reported so far.
    fn usage(&self) -> Tokens;
}

/// Writes one API's stream from intermediate events.
pub(crate) trait WriteStream {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>);
}

/// The stream reader of an upstream's API, with the call of a tool the request writer forced for
/// a structured output read as text.
#[derive(Debug)]
pub(crate) struct AnyReader {
    api: ApiReader,
    answer: AnswerText,
}

#[derive(Debug)]
enum ApiReader {
    Anthropic(anthropic::StreamReader),
    Chat(chat::StreamReader),
    Responses(responses::StreamReader),
    Gemini(gemini::StreamReader),
}

impl AnyReader {
    /// The reader for an upstream of `api`; renamed tools get their client's names back.
    pub fn of(api: Api, tool_names: Vec<ToolName>) -> AnyReader {
        let answer = AnswerText::new(&tool_names);
        let api = match api {
            Api::Anthropic => ApiReader::Anthropic(anthropic::StreamReader::new(tool_names)),
            Api::OpenAi => ApiReader::Chat(chat::StreamReader::new(tool_names)),
            Api::Responses => ApiReader::Responses(responses::StreamReader::new(tool_names)),
            Api::Gemini => ApiReader::Gemini(gemini::StreamReader::new(tool_names)),
        };
        AnyReader { api, answer }
    }

    fn inner(&mut self) -> (&mut dyn ReadStream, &mut AnswerText) {
        let reader: &mut dyn ReadStream = match &mut self.api {
            ApiReader::Anthropic(r) => r,
            ApiReader::Chat(r) => r,
            ApiReader::Responses(r) => r,
            ApiReader::Gemini(r) => r,
        };
        (reader, &mut self.answer)
    }
}

impl ReadStream for AnyReader {
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>)) {
        let (reader, answer) = self.inner();
        reader.read(data, &mut |event| answer.pass(event, emit))
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String> {
        let (reader, answer) = self.inner();
        reader.finish(&mut |event| answer.pass(event, emit))
    }

    fn usage(&self) -> Tokens {
        match &self.api {
            ApiReader::Anthropic(r) => r.usage(),
            ApiReader::Chat(r) => r.usage(),
            ApiReader::Responses(r) => r.usage(),
            ApiReader::Gemini(r) => r.usage(),
        }
    }
}

/// The stream writer of a client's API.
#[derive(Debug)]
pub(crate) enum AnyWriter {
    Anthropic(anthropic::StreamWriter),
    Chat(chat::StreamWriter),
    Responses(responses::StreamWriter),
    Gemini(gemini::StreamWriter),
}

impl AnyWriter {
    /// The writer for the client of an exchange.
    pub fn of(exchange: &Exchange) -> AnyWriter {
        let model = &exchange.client_model;
        match exchange.client {
            Api::Anthropic => AnyWriter::Anthropic(anthropic::StreamWriter::new(model)),
            Api::OpenAi => AnyWriter::Chat(chat::StreamWriter::new(
                model,
                exchange.include_usage,
                exchange.created,
            )),
            Api::Responses => AnyWriter::Responses(responses::StreamWriter::new(
                model,
                exchange.created,
                exchange.tool_names.clone(),
            )),
            Api::Gemini => AnyWriter::Gemini(gemini::StreamWriter::new(model)),
        }
    }
}

impl WriteStream for AnyWriter {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        match self {
            AnyWriter::Anthropic(w) => w.write(event, out),
            AnyWriter::Chat(w) => w.write(event, out),
            AnyWriter::Responses(w) => w.write(event, out),
            AnyWriter::Gemini(w) => w.write(event, out),
        }
    }
}

/// An upstream's SSE answer translated for the client as its bytes arrive: the SSE parser, the
/// upstream API's stream reader and the client API's stream writer. It stops at the answer's end
/// or at the upstream's error, and [`Pipe::finish`] reports a stream that was cut short.
#[derive(Debug)]
pub(crate) struct Pipe<R, W> {
    parser: SseParser,
    reader: R,
    writer: W,
    ended: bool,
    failed: Option<String>,
}

/// A pipe reads as its reader: what the upstream said so far (usage, tool calls) is the reader's.
impl<R, W> std::ops::Deref for Pipe<R, W> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.reader
    }
}

impl<R: ReadStream, W: WriteStream> Pipe<R, W> {
    /// A pipe at the start of a stream.
    pub fn join(reader: R, writer: W) -> Self {
        Pipe {
            parser: SseParser::new(),
            reader,
            writer,
            ended: false,
            failed: None,
        }
    }

    /// The pipe with another reader, before anything was fed.
    #[cfg(test)]
    pub(crate) fn with_reader(mut self, reader: R) -> Self {
        self.reader = reader;
        self
    }

    /// The client's bytes for these upstream bytes (possibly none yet).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        // A client's events run about as long as the upstream's, up to twice (Responses events
        // name their item and number): room for that at once, rather than a growth per event.
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(2).saturating_add(256));
        let Pipe {
            parser,
            reader,
            writer,
            ended,
            failed,
        } = self;
        parser.feed_each(bytes, |_, data| {
            on_data(reader, writer, ended, failed, data, &mut out)
        });
        if let Some(too_large) = self.parser.too_large() {
            if !self.ended && self.failed.is_none() {
                let message = format!("switchyard: {too_large}");
                self.writer.write(
                    Event::Error {
                        kind: ErrorKind::Api,
                        message: message.into(),
                    },
                    &mut out,
                );
                self.failed = Some(too_large.to_string());
            }
        }
        out
    }

    /// The client's last bytes once the upstream stream ended, or why it was cut short.
    pub fn finish(&mut self) -> Result<Vec<u8>, Cut> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            let (reader, writer) = (&mut self.reader, &mut self.writer);
            on_data(
                reader,
                writer,
                &mut self.ended,
                &mut self.failed,
                &event.data,
                &mut out,
            );
        }
        if let Some(reason) = &self.failed {
            return Err(Cut {
                reason: reason.clone(),
                error_sent: true,
            });
        }
        if self.ended {
            return Ok(out);
        }
        let (writer, ended, failed) = (&mut self.writer, &mut self.ended, &mut self.failed);
        let owed = self
            .reader
            .finish(&mut |event| pass(event, writer, ended, failed, &mut out));
        match owed {
            Ok(()) => Ok(out),
            Err(reason) => Err(Cut {
                reason,
                error_sent: false,
            }),
        }
    }

    /// The upstream sent an event too large to follow: the client already has its error event,
    /// and the rest of the upstream's stream need not be read.
    pub fn gave_up(&self) -> bool {
        self.parser.too_large().is_some()
    }

    /// Tokens the upstream reported so far.
    pub fn usage(&self) -> Tokens {
        self.reader.usage()
    }
}

/// Reads one upstream event's data and writes what it means for the client, unless the stream
/// already ended or failed.
fn on_data<R: ReadStream, W: WriteStream>(
    reader: &mut R,
    writer: &mut W,
    ended: &mut bool,
    failed: &mut Option<String>,
    data: &str,
    out: &mut Vec<u8>,
) {
    if *ended || failed.is_some() {
        return;
    }
    reader.read(data, &mut |event| pass(event, writer, ended, failed, out));
}

/// Hands one event to the writer, unless the stream already ended; notes an end or an error.
fn pass<W: WriteStream>(
    event: Event<'_>,
    writer: &mut W,
    ended: &mut bool,
    failed: &mut Option<String>,
    out: &mut Vec<u8>,
) {
    if *ended || failed.is_some() {
        return;
    }
    match &event {
        Event::End { .. } => *ended = true,
        Event::Error { message, .. } => *failed = Some(format!("upstream stream error: {message}")),
        _ => {}
    }
    writer.write(event, out);
}

//! Gemini streams: `data: <GenerateContentResponse>` chunks read into the intermediate form as
//! they arrive, and written from it.
//!
//! The reader ends the answer at the chunk that carries `finishReason`; a stream that closes
//! before it was cut. The writer sends each text and thought delta as a chunk of its own, each
//! tool call whole as one `functionCall` part once its block ends (its arguments held until
//! then), and a last chunk with `finishReason` and `usageMetadata`.

use super::answer::{answer_stop, args_of, call_of, call_part, candidate};
use super::{carried_signature, finish_word, read_usage, response_id, usage_json, SKIP_SIGNATURE};
use crate::translate::errors::{error_event, read_error, ErrorKind};
use crate::translate::hub::{ReadStream, WriteStream};
use crate::translate::ir::{restored, Event, StopReason};
use crate::translate::lazy::{out, Document, Object, Out};
use crate::translate::responses::carry;
use crate::translate::{Api, Tokens, ToolName};
use serde_json::Value;
use std::borrow::Cow;

/// Reads a Gemini upstream's chunks.
#[derive(Debug, Default)]
pub struct StreamReader {
    started: bool,
    /// The answer's `responseId`, for the ids of calls that come without one.
    id: Option<String>,
    calls: usize,
    /// The last event opened a thinking block, which a call's signature can join (once: a block
    /// has one signature).
    thinking_open: bool,
    thinking_signed: bool,
    usage: Tokens,
    tool_names: Vec<ToolName>,
}

impl StreamReader {
    /// A reader that gives renamed tools their client's names.
    pub fn new(tool_names: Vec<ToolName>) -> Self {
        StreamReader {
            tool_names,
            ..StreamReader::default()
        }
    }

    /// A Gemini signature as the signature of the thinking block in progress (one opened for it
    /// when none is, or when that one is signed already).
    fn signature(&mut self, signature: &str, emit: &mut dyn FnMut(Event<'_>)) {
        if self.thinking_open && self.thinking_signed {
            emit(Event::BlockStop);
            self.thinking_open = false;
        }
        if !self.thinking_open {
            emit(Event::Thinking(Cow::Borrowed("")));
        }
        emit(Event::Signature(Cow::Owned(carried_signature(signature))));
        self.thinking_open = true;
        self.thinking_signed = true;
    }

    fn on_part(&mut self, part: &Object<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        let signature = part
            .str("thoughtSignature")
            .filter(|s| !s.is_empty() && s != SKIP_SIGNATURE);
        if part.field("thought").as_bool() == Some(true) {
            if let Some(text) = part.str("text").filter(|t| !t.is_empty()) {
                if self.thinking_open && self.thinking_signed {
                    // Thought after a signature is new thinking: a block of its own.
                    emit(Event::BlockStop);
                    self.thinking_open = false;
                }
                if !self.thinking_open {
                    self.thinking_signed = false;
                }
                emit(Event::Thinking(text));
                self.thinking_open = true;
            }
            if let Some(signature) = signature {
                self.signature(&signature, emit);
            }
        } else if let Some(text) = part.str("text") {
            // A text part's signature is Gemini's own business: it does not check it.
            if !text.is_empty() {
                emit(Event::Text(text));
                self.thinking_open = false;
            }
        } else if let Some(call) = part.field("functionCall").object() {
            if let Some(signature) = signature {
                self.signature(&signature, emit);
            }
            let index = self.calls;
            self.calls += 1;
            let (id, name, args) = call_of(&call, self.id.as_deref(), index);
            let arguments = if args.is_object() {
                args.compact()
            } else {
                Cow::Borrowed("{}")
            };
            emit(Event::ToolCall {
                index,
                id,
                name: restored(&self.tool_names, name),
                arguments,
            });
            emit(Event::BlockStop);
            self.thinking_open = false;
        }
    }
}

impl ReadStream for StreamReader {
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>)) {
        // Checked in one pass that notes where each object and array ends, so the reads below
        // skip nested values without searching them.
        let Ok(document) = Document::parse(data.as_bytes()) else {
            log::debug!("ignoring a Gemini stream chunk that is not JSON");
            return;
        };
        let chunk = document.root().object().unwrap_or_default();
        if chunk.get("error").is_some() {
            let (kind, message) =
                read_error(&chunk).unwrap_or((None, "upstream stream error".to_string()));
            return emit(Event::Error {
                kind: kind.unwrap_or(ErrorKind::Api),
                message: Cow::Owned(message),
            });
        }
        if !self.started {
            self.started = true;
            self.id = chunk.str("responseId").map(Cow::into_owned);
            emit(Event::Start {
                id: chunk.str("responseId"),
            });
        }
        if let Some(usage) = chunk.get("usageMetadata").filter(|u| u.is_object()) {
            self.usage = read_usage(usage);
        }
        let candidate = chunk
            .field("candidates")
            .first_item()
            .object()
            .unwrap_or_default();
        for part in candidate
            .field("content")
            .get("parts")
            .array()
            .unwrap_or_default()
        {
            self.on_part(&part.object().unwrap_or_default(), emit);
        }
        let finished = candidate.str("finishReason").is_some_and(|f| !f.is_empty());
        let blocked = answer_stop(&chunk, &candidate, false) == StopReason::Refusal;
        if finished || blocked {
            emit(Event::Stop(answer_stop(&chunk, &candidate, self.calls > 0)));
            emit(Event::End { usage: self.usage });
        }
    }

    fn finish(&mut self, _emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String> {
        Err("upstream closed the stream before a chunk with finishReason".into())
    }

    fn usage(&self) -> Tokens {
        self.usage
    }
}

/// A tool call whose arguments are arriving.
#[derive(Debug)]
struct OpenCall {
    index: usize,
    id: String,
    name: String,
    arguments: String,
}

/// Writes Gemini chunks for a client.
#[derive(Debug)]
pub struct StreamWriter {
    client_model: String,
    id: Option<String>,
    /// The thinking block in progress: its text and signature.
    thinking: Option<(String, String)>,
    /// Signed thinking blocks (as Anthropic writes them) waiting for the next call to carry them.
    carried: Vec<Value>,
    call: Option<OpenCall>,
    stop: StopReason,
    dropped_fragment: bool,
    ended: bool,
}

impl StreamWriter {
    /// A writer whose chunks name `client_model`.
    pub fn new(client_model: &str) -> Self {
        StreamWriter {
            client_model: client_model.to_string(),
            id: None,
            thinking: None,
            carried: Vec::new(),
            call: None,
            stop: StopReason::EndTurn,
            dropped_fragment: false,
            ended: false,
        }
    }

    /// One chunk: a candidate with these parts (and how it finished), and usage.
    fn chunk(
        &self,
        parts: Vec<Out<'_>>,
        finish: Option<&'static str>,
        usage: Option<Value>,
        out: &mut Vec<u8>,
    ) {
        let mut chunk = vec![("candidates", Out::Array(vec![candidate(parts, finish)]))];
        if let Some(usage) = usage {
            chunk.push(("usageMetadata", Out::Value(usage)));
        }
        chunk.push(("modelVersion", self.client_model.as_str().into()));
        chunk.push(("responseId", response_id(self.id.as_deref()).into()));
        out.extend_from_slice(b"data: ");
        // Every value here is one the translation made: writing it cannot fail.
        let _ = Out::Object(chunk).write_to(out);
        out.extend_from_slice(b"\n\n");
    }

    /// Ends the thinking block or the call in progress: signed thinking waits for a call to
    /// carry it, a call goes out whole.
    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((text, signature)) = self.thinking.take() {
            if !signature.is_empty() {
                self.carried.push(carry::thinking_block(&text, &signature));
            }
        }
        if let Some(call) = self.call.take() {
            let mut carried = std::mem::take(&mut self.carried);
            let part = call_part(
                Cow::Borrowed(&call.id),
                Cow::Borrowed(&call.name),
                args_of(Cow::Borrowed(&call.arguments)),
                &mut carried,
            );
            self.chunk(vec![part], None, None, out);
        }
    }
}

impl WriteStream for StreamWriter {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        match event {
            Event::Start { id } => {
                if self.id.is_none() {
                    self.id = id.map(Cow::into_owned);
                }
            }
            Event::Text(text) => {
                self.close(out);
                if !text.is_empty() {
                    self.chunk(vec![out! {"text" => text}], None, None, out);
                }
            }
            Event::Thinking(text) => {
                if self.thinking.is_none() {
                    self.close(out);
                    self.thinking = Some((String::new(), String::new()));
                }
                if let Some((all, _)) = &mut self.thinking {
                    all.push_str(&text);
                }
                if !text.is_empty() {
                    let part = out! {"text" => text, "thought" => true};
                    self.chunk(vec![part], None, None, out);
                }
            }
            Event::Signature(more) => {
                if let Some((_, signature)) = &mut self.thinking {
                    signature.push_str(&more);
                }
            }
            Event::RedactedThinking(data) => {
                self.close(out);
                self.carried.push(carry::redacted_block(&data));
            }
            Event::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                self.close(out);
                self.call = Some(OpenCall {
                    index,
                    id: id.into_owned(),
                    name: name.into_owned(),
                    arguments: arguments.into_owned(),
                });
            }
            Event::ToolArguments { index, text } => {
                match &mut self.call {
                    Some(call) if call.index == index => call.arguments.push_str(&text),
                    _ if text.is_empty() || self.dropped_fragment => {}
                    _ => {
                        // A call already sent whole cannot take more: Gemini has no fragments.
                        self.dropped_fragment = true;
                        log::warn!("dropping argument fragments for earlier tool calls (interleaved calls)");
                    }
                }
            }
            Event::BlockStop => self.close(out),
            Event::Stop(stop) => {
                self.close(out);
                self.stop = stop;
            }
            Event::End { usage } => {
                self.close(out);
                self.ended = true;
                // Gemini CLI takes a last chunk whose only part is empty text; it needs the
                // finishReason to know the answer is whole.
                let parts = vec![out! {"text" => ""}];
                let usage = usage_json(usage);
                self.chunk(parts, Some(finish_word(self.stop)), Some(usage), out);
            }
            Event::Error { kind, message } => {
                // A call the error cut short is not sent: the client would run half of it.
                self.call = None;
                self.ended = true;
                out.extend(error_event(Api::Gemini, kind, &message));
            }
        }
    }
}

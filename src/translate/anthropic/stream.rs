//! Messages streams: events read into the intermediate form as they arrive, and written from it.
//!
//! The writer keeps one block open at a time and numbers blocks 0, 1, 2 … in the order they open;
//! a block is closed before the next opens, and `message_delta` (stop reason, usage) and
//! `message_stop` come once, at the end. Each event's members are written in alphabetical order,
//! the order its bytes have always had.

use super::{message_id, stop_reason, stop_word, usage_fields, usage_json};
use crate::translate::errors::{error_event, read_error, ErrorKind};
use crate::translate::hub::{ReadStream, WriteStream};
use crate::translate::ir::{restored, Event, StopReason};
use crate::translate::lazy::{out, Document, Object, Out};
use crate::translate::sse::write_named_event;
use crate::translate::{Api, Tokens, ToolName};
use crate::wire::usage::UsageFields;
use std::borrow::Cow;
use std::collections::HashMap;

/// Reads an Anthropic upstream's events.
#[derive(Debug, Default)]
pub struct StreamReader {
    /// Messages block index → the tool call it is.
    tool_of_block: HashMap<u64, usize>,
    next_tool: usize,
    /// The usage fields of `message_start` and `message_delta` so far (running totals).
    usage: UsageFields,
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
}

impl ReadStream for StreamReader {
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>)) {
        // Checked in one pass that notes where each object and array ends, so the reads below
        // skip nested values without searching them.
        let Ok(document) = Document::parse(data.as_bytes()) else {
            log::debug!("ignoring a Messages stream event that is not JSON");
            return;
        };
        let event = document.root().object().unwrap_or_default();
        match event.str("type").unwrap_or_default().as_ref() {
            "message_start" => {
                let message = event.field("message").object().unwrap_or_default();
                self.usage.merge(&usage_fields(message.field("usage")));
                emit(Event::Start {
                    id: message.str("id"),
                });
            }
            "content_block_start" => self.on_block_start(&event, emit),
            "content_block_delta" => {
                let delta = event.field("delta").object().unwrap_or_default();
                let text = |key: &str| delta.str(key).unwrap_or_default();
                match delta.str("type").unwrap_or_default().as_ref() {
                    "text_delta" => emit(Event::Text(text("text"))),
                    "thinking_delta" => emit(Event::Thinking(text("thinking"))),
                    "signature_delta" => emit(Event::Signature(text("signature"))),
                    "input_json_delta" => {
                        let partial = text("partial_json");
                        let tool = event
                            .field("index")
                            .as_u64()
                            .and_then(|i| self.tool_of_block.get(&i).copied());
                        if let (false, Some(index)) = (partial.is_empty(), tool) {
                            emit(Event::ToolArguments {
                                index,
                                text: partial,
                            });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => emit(Event::BlockStop),
            "message_delta" => {
                self.usage.merge(&usage_fields(event.field("usage")));
                let stop = event.field("delta").get("stop_reason").as_str();
                emit(Event::Stop(stop_reason(stop.as_deref())));
            }
            "message_stop" => emit(Event::End {
                usage: self.usage(),
            }),
            "error" => {
                let (kind, message) =
                    read_error(&event).unwrap_or((None, "upstream stream error".to_string()));
                emit(Event::Error {
                    kind: kind.unwrap_or(ErrorKind::Api),
                    message: Cow::Owned(message),
                });
            }
            _ => {}
        }
    }

    fn finish(&mut self, _emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String> {
        Err("upstream closed the stream before message_stop".into())
    }

    fn usage(&self) -> Tokens {
        self.usage.tokens().unwrap_or_default()
    }
}

impl StreamReader {
    fn on_block_start(&mut self, event: &Object<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        let block = event.field("content_block").object().unwrap_or_default();
        match block.str("type").unwrap_or_default().as_ref() {
            "tool_use" => {
                let index = self.next_tool;
                self.next_tool += 1;
                self.tool_of_block
                    .insert(event.field("index").as_u64().unwrap_or(u64::MAX), index);
                let input = block.field("input");
                let arguments = match input.object() {
                    Some(fields) if !fields.is_empty() => input.compact(),
                    _ => Cow::Borrowed(""),
                };
                emit(Event::ToolCall {
                    index,
                    id: block.str("id").unwrap_or_default(),
                    name: restored(&self.tool_names, block.str("name").unwrap_or_default()),
                    arguments,
                });
            }
            "text" => {
                if let Some(text) = block.str("text").filter(|t| !t.is_empty()) {
                    emit(Event::Text(text));
                }
            }
            "thinking" => {
                if let Some(text) = block.str("thinking").filter(|t| !t.is_empty()) {
                    emit(Event::Thinking(text));
                }
            }
            "redacted_thinking" => emit(Event::RedactedThinking(
                block.str("data").unwrap_or_default(),
            )),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking(usize),
    Text(usize),
    Redacted(usize),
    /// A tool block and the call it belongs to.
    Tool(usize, usize),
}

/// Writes Messages events for a client.
#[derive(Debug)]
pub struct StreamWriter {
    client_model: String,
    started: bool,
    next_index: usize,
    open: Option<Open>,
    stop: StopReason,
    /// A fragment for a closed block was dropped (logged once per stream).
    dropped_fragment: bool,
    ended: bool,
}

impl StreamWriter {
    /// A writer whose events name `client_model`.
    pub fn new(client_model: &str) -> Self {
        StreamWriter {
            client_model: client_model.to_string(),
            started: false,
            next_index: 0,
            open: None,
            stop: StopReason::EndTurn,
            dropped_fragment: false,
            ended: false,
        }
    }

    fn start(&mut self, id: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = out! {
            "content" => Out::Array(Vec::new()),
            "id" => message_id(id),
            "model" => self.client_model.as_str(),
            "role" => "assistant",
            "stop_reason" => Out::Null,
            "stop_sequence" => Out::Null,
            "type" => "message",
            "usage" => out! {"input_tokens" => Out::U64(0), "output_tokens" => Out::U64(0)},
        };
        write_named_event(
            out,
            "message_start",
            &out! {"message" => message, "type" => "message_start"},
        );
    }

    /// Closes the open block and opens `block`; returns its index.
    fn open_block(&mut self, block: Out<'_>, out: &mut Vec<u8>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        write_named_event(
            out,
            "content_block_start",
            &out! {
                "content_block" => block,
                "index" => Out::U64(index as u64),
                "type" => "content_block_start",
            },
        );
        index
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            let index = match open {
                Open::Thinking(i) | Open::Text(i) | Open::Redacted(i) | Open::Tool(i, _) => i,
            };
            write_named_event(
                out,
                "content_block_stop",
                &out! {"index" => Out::U64(index as u64), "type" => "content_block_stop"},
            );
        }
    }
}

impl WriteStream for StreamWriter {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if let Event::Start { id } = &event {
            return self.start(id.as_deref(), out);
        }
        if let Event::Error { kind, message } = &event {
            return out.extend(error_event(Api::Anthropic, *kind, message));
        }
        self.start(None, out);
        match event {
            Event::Text(text) => {
                let index = match self.open {
                    Some(Open::Text(i)) => i,
                    _ => self.open_block(out! {"text" => "", "type" => "text"}, out),
                };
                self.open = Some(Open::Text(index));
                block_delta(index, out! {"text" => text, "type" => "text_delta"}, out);
            }
            Event::Thinking(text) => {
                let index = match self.open {
                    Some(Open::Thinking(i)) => i,
                    _ => self.open_block(
                        out! {"signature" => "", "thinking" => "", "type" => "thinking"},
                        out,
                    ),
                };
                self.open = Some(Open::Thinking(index));
                block_delta(
                    index,
                    out! {"thinking" => text, "type" => "thinking_delta"},
                    out,
                );
            }
            Event::Signature(signature) => {
                if let Some(Open::Thinking(index)) = self.open {
                    block_delta(
                        index,
                        out! {"signature" => signature, "type" => "signature_delta"},
                        out,
                    );
                }
            }
            Event::RedactedThinking(data) => {
                let index =
                    self.open_block(out! {"data" => data, "type" => "redacted_thinking"}, out);
                self.open = Some(Open::Redacted(index));
            }
            Event::ToolCall {
                index: call,
                id,
                name,
                arguments,
            } => {
                let index = self.open_block(
                    out! {
                        "id" => id,
                        "input" => Out::Object(Vec::new()),
                        "name" => name,
                        "type" => "tool_use",
                    },
                    out,
                );
                self.open = Some(Open::Tool(index, call));
                if !arguments.is_empty() {
                    block_delta(
                        index,
                        out! {"partial_json" => arguments, "type" => "input_json_delta"},
                        out,
                    );
                }
            }
            Event::ToolArguments { index: call, text } => {
                if text.is_empty() {
                    return;
                }
                match self.open {
                    Some(Open::Tool(index, open)) if open == call => block_delta(
                        index,
                        out! {"partial_json" => text, "type" => "input_json_delta"},
                        out,
                    ),
                    _ if !self.dropped_fragment => {
                        // A closed block cannot take more input: Messages has no way to reopen it.
                        self.dropped_fragment = true;
                        log::warn!(
                            "dropping argument fragments for earlier tool calls (interleaved calls)"
                        );
                    }
                    _ => {}
                }
            }
            Event::BlockStop => self.close(out),
            Event::Stop(stop) => {
                self.close(out);
                self.stop = stop;
            }
            Event::End { usage, .. } => {
                self.close(out);
                self.ended = true;
                let delta =
                    out! {"stop_reason" => stop_word(self.stop), "stop_sequence" => Out::Null};
                write_named_event(
                    out,
                    "message_delta",
                    &out! {
                        "delta" => delta,
                        "type" => "message_delta",
                        "usage" => Out::Value(usage_json(usage)),
                    },
                );
                write_named_event(out, "message_stop", &out! {"type" => "message_stop"});
            }
            Event::Start { .. } | Event::Error { .. } => {}
        }
    }
}

fn block_delta(index: usize, delta: Out<'_>, out: &mut Vec<u8>) {
    write_named_event(
        out,
        "content_block_delta",
        &out! {
            "delta" => delta,
            "index" => Out::U64(index as u64),
            "type" => "content_block_delta",
        },
    );
}

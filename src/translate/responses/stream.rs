//! Responses streams: events read into the intermediate form as they arrive, and written from it.
//!
//! The writer turns each block into an output item: `response.output_item.added`, its deltas, their
//! `.done` events and `response.output_item.done` with the whole item (clients such as Codex build
//! their items from that event alone); the stream opens with `response.created` and ends with
//! `response.completed` (usage with cached and reasoning tokens) or `response.failed`.

use super::answer::{
    call_item, custom_text, message_item, reasoning_item, reasoning_text, ItemIds,
};
use super::{
    carry, error_json, kind_of_code, read_usage, response_id, status_of, stop_reason, usage_json,
};
use crate::translate::errors::ErrorKind;
use crate::translate::hub::{ReadStream, WriteStream};
use crate::translate::ir::{custom_input_json, restored, Event, StopReason};
use crate::translate::lazy::{out, Document, Object, Out, Text};
use crate::translate::sse::write_named_event;
use crate::translate::{Tokens, ToolName};
use std::borrow::Cow;

/// Reads a Responses upstream's events.
#[derive(Debug, Default)]
pub struct StreamReader {
    usage: Tokens,
    had_calls: bool,
    /// The output index of the item in progress, and whether deltas carried its content.
    current: Option<(u64, bool)>,
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

    /// Notes a delta of the item at `index`.
    fn saw_delta(&mut self, index: u64) {
        self.current = Some((index, true));
    }

    fn on_item_added(&mut self, index: u64, item: &Object<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        self.current = Some((index, false));
        if item.str("type").as_deref() == Some("function_call") {
            self.had_calls = true;
            emit(Event::ToolCall {
                index: index as usize,
                id: item.str("call_id").unwrap_or_default(),
                name: restored(&self.tool_names, item.str("name").unwrap_or_default()),
                arguments: item.str("arguments").unwrap_or_default(),
            });
        }
    }

    /// A finished item: what no delta carried (some servers send items whole), then its end.
    fn on_item_done(&mut self, index: u64, item: &Object<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        let (added, saw_delta) = match self.current {
            Some((current, saw)) if current == index => (true, saw),
            _ => (false, false),
        };
        match item.str("type").unwrap_or_default().as_ref() {
            "message" if !saw_delta => {
                for part in item.field("content").array().unwrap_or_default() {
                    let part = part.object().unwrap_or_default();
                    let text = part.str("text").or_else(|| part.str("refusal"));
                    if let Some(text) = text.filter(|t| !t.is_empty()) {
                        emit(Event::Text(text));
                    }
                }
            }
            "reasoning" if !saw_delta => {
                if let Some(text) = reasoning_text(item) {
                    emit(Event::Thinking(text.into_decoded()));
                }
            }
            "function_call" if !added => {
                self.on_item_added(index, item, emit);
            }
            "function_call" if !saw_delta => {
                let arguments = item.str("arguments").unwrap_or_default();
                if !arguments.is_empty() {
                    emit(Event::ToolArguments {
                        index: index as usize,
                        text: arguments,
                    });
                }
            }
            "custom_tool_call" => {
                // Its input is free text: the client's function takes it as one JSON member.
                self.had_calls = true;
                let input = item.str("input").unwrap_or_default();
                emit(Event::ToolCall {
                    index: index as usize,
                    id: item.str("call_id").unwrap_or_default(),
                    name: restored(&self.tool_names, item.str("name").unwrap_or_default()),
                    arguments: Cow::Owned(custom_input_json(&input)),
                });
            }
            _ => {}
        }
        self.current = None;
        emit(Event::BlockStop);
    }
}

impl ReadStream for StreamReader {
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>)) {
        // Checked in one pass that notes where each object and array ends, so the reads below
        // skip nested values without searching them.
        let Ok(document) = Document::parse(data.as_bytes()) else {
            log::debug!("ignoring a Responses stream event that is not JSON");
            return;
        };
        let event = document.root().object().unwrap_or_default();
        let index = event.field("output_index").as_u64().unwrap_or(0);
        let delta = || event.str("delta").unwrap_or_default();
        match event.str("type").unwrap_or_default().as_ref() {
            "response.created" => emit(Event::Start {
                id: event.field("response").get("id").as_str(),
            }),
            "response.output_item.added" => self.on_item_added(
                index,
                &event.field("item").object().unwrap_or_default(),
                emit,
            ),
            "response.output_text.delta" | "response.refusal.delta" => {
                self.saw_delta(index);
                emit(Event::Text(delta()));
            }
            // Summary paragraphs, one after the other.
            "response.reasoning_summary_part.added"
                if event.field("summary_index").as_u64().unwrap_or(0) > 0 =>
            {
                emit(Event::Thinking(Cow::Borrowed("\n\n")));
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.saw_delta(index);
                emit(Event::Thinking(delta()));
            }
            "response.function_call_arguments.delta" => {
                self.saw_delta(index);
                emit(Event::ToolArguments {
                    index: index as usize,
                    text: delta(),
                });
            }
            "response.output_item.done" => self.on_item_done(
                index,
                &event.field("item").object().unwrap_or_default(),
                emit,
            ),
            "response.completed" | "response.incomplete" => {
                let response = event.field("response").object().unwrap_or_default();
                self.usage = read_usage(response.field("usage"));
                emit(Event::Stop(stop_reason(&response, self.had_calls)));
                emit(Event::End { usage: self.usage });
            }
            "response.failed" => {
                let response = event.field("response").object().unwrap_or_default();
                let error = response.field("error").object().unwrap_or_default();
                emit(error_event(&error, "the upstream's response failed"));
            }
            "error" => emit(error_event(&event, "upstream stream error")),
            _ => {}
        }
    }

    fn finish(&mut self, _emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String> {
        Err("upstream closed the stream before response.completed".into())
    }

    fn usage(&self) -> Tokens {
        self.usage
    }
}

/// The error an `error` object (`code`, `message`) reports.
fn error_event<'a>(error: &Object<'a>, otherwise: &'static str) -> Event<'a> {
    let code = error
        .str("code")
        .or_else(|| error.str("type"))
        .unwrap_or_default();
    Event::Error {
        kind: kind_of_code(&code),
        message: error.str("message").unwrap_or(Cow::Borrowed(otherwise)),
    }
}

/// The output item in progress.
#[derive(Debug)]
enum OpenItem {
    Message {
        id: String,
        text: String,
    },
    Reasoning {
        id: String,
        text: String,
        signature: String,
    },
    Call {
        /// The reader's index of the call.
        call: usize,
        call_id: String,
        name: String,
        arguments: String,
        custom: bool,
    },
}

/// Writes Responses events for a client.
#[derive(Debug)]
pub struct StreamWriter {
    client_model: String,
    created: u64,
    tool_names: Vec<ToolName>,
    id: String,
    ids: ItemIds,
    sequence: u64,
    started: bool,
    /// The finished items, as written: `response.completed` lists them all.
    items: Vec<Vec<u8>>,
    open: Option<OpenItem>,
    stop: StopReason,
    dropped_fragment: bool,
    ended: bool,
}

impl StreamWriter {
    /// A writer whose events name `client_model`; `tool_names` tells custom tools apart.
    pub fn new(client_model: &str, created: u64, tool_names: Vec<ToolName>) -> Self {
        StreamWriter {
            client_model: client_model.to_string(),
            created,
            tool_names,
            id: response_id(None),
            ids: ItemIds::new(None),
            sequence: 0,
            started: false,
            items: Vec::new(),
            open: None,
            stop: StopReason::EndTurn,
            dropped_fragment: false,
            ended: false,
        }
    }

    fn item_id(&self, prefix: &str) -> String {
        self.ids.of(prefix, self.items.len())
    }

    /// One event: its `type`, `sequence_number` and these members.
    fn event(&mut self, name: &str, members: Vec<(&'static str, Out<'_>)>, out: &mut Vec<u8>) {
        let mut data = Vec::with_capacity(members.len() + 2);
        data.push(("type", name.into()));
        data.push(("sequence_number", Out::U64(self.sequence)));
        data.extend(members);
        self.sequence += 1;
        write_named_event(out, name, &Out::Object(data));
    }

    /// The response object as it stands.
    fn response<'a>(
        &'a self,
        status: &'static str,
        usage: Out<'a>,
        extra: Vec<(&'static str, Out<'a>)>,
    ) -> Out<'a> {
        let output = self.items.iter().map(|item| Out::Written(item)).collect();
        let mut response = vec![
            ("id", Out::from(self.id.as_str())),
            ("object", "response".into()),
            ("created_at", Out::U64(self.created)),
            ("status", status.into()),
            ("model", self.client_model.as_str().into()),
            ("output", Out::Array(output)),
            ("parallel_tool_calls", true.into()),
            ("tool_choice", "auto".into()),
            ("tools", Out::Array(Vec::new())),
            ("usage", usage),
        ];
        response.extend(extra);
        Out::Object(response)
    }

    fn start(&mut self, id: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = response_id(id);
        self.ids = ItemIds::new(id);
        for name in ["response.created", "response.in_progress"] {
            let response = self.response("in_progress", Out::Null, vec![("error", Out::Null)]);
            let mut bytes = Vec::new();
            let _ = response.write_to(&mut bytes);
            self.event(name, vec![("response", Out::Written(&bytes))], out);
        }
    }

    fn output_index(&self) -> Out<'static> {
        Out::U64(self.items.len() as u64)
    }

    /// Opens an item (after closing the one in progress).
    fn open_item(&mut self, item: OpenItem, out: &mut Vec<u8>) {
        self.close(out);
        let added = match &item {
            OpenItem::Message { id, .. } => message_item(id.clone(), "in_progress", Vec::new()),
            OpenItem::Reasoning { id, .. } => reasoning_item(id.clone(), None, None),
            OpenItem::Call {
                call_id,
                name,
                custom,
                ..
            } => {
                let (prefix, input_key) = if *custom {
                    ("ctc", "input")
                } else {
                    ("fc", "arguments")
                };
                let mut item = vec![
                    ("id", Out::from(self.item_id(prefix))),
                    (
                        "type",
                        Out::from(if *custom {
                            "custom_tool_call"
                        } else {
                            "function_call"
                        }),
                    ),
                    ("status", "in_progress".into()),
                    ("call_id", call_id.as_str().into()),
                    ("name", name.as_str().into()),
                ];
                item.push((input_key, "".into()));
                Out::Object(item)
            }
        };
        let mut bytes = Vec::new();
        let _ = added.write_to(&mut bytes);
        let index = self.output_index();
        self.event(
            "response.output_item.added",
            vec![("output_index", index), ("item", Out::Written(&bytes))],
            out,
        );
        match &item {
            OpenItem::Message { id, .. } => {
                let part = out! {"type" => "output_text", "text" => "", "annotations" => Out::Array(Vec::new())};
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", self.output_index()),
                    ("content_index", Out::U64(0)),
                    ("part", part),
                ];
                self.event("response.content_part.added", members, out);
            }
            OpenItem::Reasoning { id, .. } => {
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", self.output_index()),
                    ("summary_index", Out::U64(0)),
                    ("part", out! {"type" => "summary_text", "text" => ""}),
                ];
                self.event("response.reasoning_summary_part.added", members, out);
            }
            OpenItem::Call { .. } => {}
        }
        self.open = Some(item);
    }

    /// Closes the item in progress: its `.done` events, then `response.output_item.done`.
    fn close(&mut self, out: &mut Vec<u8>) {
        let Some(item) = self.open.take() else {
            return;
        };
        let index = self.output_index();
        let finished = match item {
            OpenItem::Message { id, text } => {
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", index.clone()),
                    ("content_index", Out::U64(0)),
                    ("text", text.as_str().into()),
                    ("logprobs", Out::Array(Vec::new())),
                ];
                self.event("response.output_text.done", members, out);
                let part = out! {"type" => "output_text", "text" => text.as_str(), "annotations" => Out::Array(Vec::new())};
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", index.clone()),
                    ("content_index", Out::U64(0)),
                    ("part", part),
                ];
                self.event("response.content_part.done", members, out);
                written(message_item(id, "completed", vec![Text::from(text)]))
            }
            OpenItem::Reasoning {
                id,
                text,
                signature,
            } => {
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", index.clone()),
                    ("summary_index", Out::U64(0)),
                    ("text", text.as_str().into()),
                ];
                self.event("response.reasoning_summary_text.done", members, out);
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", index.clone()),
                    ("summary_index", Out::U64(0)),
                    (
                        "part",
                        out! {"type" => "summary_text", "text" => text.as_str()},
                    ),
                ];
                self.event("response.reasoning_summary_part.done", members, out);
                let carried = (!signature.is_empty())
                    .then(|| carry::carry(&[carry::thinking_block(&text, &signature)]));
                written(reasoning_item(id, Some(Text::from(text)), carried))
            }
            OpenItem::Call {
                call_id,
                name,
                arguments,
                custom,
                ..
            } => {
                let prefix = if custom { "ctc" } else { "fc" };
                let item_id = Out::from(self.item_id(prefix));
                if custom {
                    let input = custom_text(Cow::Borrowed(&arguments)).into_owned();
                    let members = vec![
                        ("item_id", item_id.clone()),
                        ("output_index", index.clone()),
                        ("delta", input.as_str().into()),
                    ];
                    self.event("response.custom_tool_call_input.delta", members, out);
                    let members = vec![
                        ("item_id", item_id),
                        ("output_index", index.clone()),
                        ("input", input.as_str().into()),
                    ];
                    self.event("response.custom_tool_call_input.done", members, out);
                } else {
                    let members = vec![
                        ("item_id", item_id),
                        ("output_index", index.clone()),
                        ("arguments", arguments.as_str().into()),
                    ];
                    self.event("response.function_call_arguments.done", members, out);
                }
                let ids = |prefix: &str| self.item_id(prefix);
                written(call_item(
                    &ids,
                    "completed",
                    Cow::Owned(call_id),
                    Cow::Owned(name),
                    Cow::Owned(arguments),
                    &self.tool_names,
                ))
            }
        };
        self.event(
            "response.output_item.done",
            vec![("output_index", index), ("item", Out::Written(&finished))],
            out,
        );
        self.items.push(finished);
    }

    /// A reasoning item that carries a redacted thinking block and nothing to show.
    fn redacted(&mut self, data: &str, out: &mut Vec<u8>) {
        self.close(out);
        let id = self.item_id("rs");
        let added = written(reasoning_item(id.clone(), None, None));
        let index = self.output_index();
        self.event(
            "response.output_item.added",
            vec![
                ("output_index", index.clone()),
                ("item", Out::Written(&added)),
            ],
            out,
        );
        let carried = carry::carry(&[carry::redacted_block(data)]);
        let finished = written(reasoning_item(id, None, Some(carried)));
        self.event(
            "response.output_item.done",
            vec![("output_index", index), ("item", Out::Written(&finished))],
            out,
        );
        self.items.push(finished);
    }

    fn failed(&mut self, kind: ErrorKind, message: &str, out: &mut Vec<u8>) {
        let error = Out::Value(error_json(kind, message));
        let response = self.response("failed", Out::Null, vec![("error", error)]);
        let mut bytes = Vec::new();
        let _ = response.write_to(&mut bytes);
        self.event(
            "response.failed",
            vec![("response", Out::Written(&bytes))],
            out,
        );
    }
}

/// An item's JSON text.
fn written(item: Out<'_>) -> Vec<u8> {
    // An item is a few hundred bytes and its texts: room for the usual one at once.
    let mut bytes = Vec::with_capacity(256);
    let _ = item.write_to(&mut bytes);
    bytes
}

impl WriteStream for StreamWriter {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if let Event::Start { id } = &event {
            return self.start(id.as_deref(), out);
        }
        self.start(None, out);
        match event {
            Event::Text(text) => {
                if !matches!(self.open, Some(OpenItem::Message { .. })) {
                    self.close(out);
                    let id = self.item_id("msg");
                    self.open_item(
                        OpenItem::Message {
                            id,
                            text: String::new(),
                        },
                        out,
                    );
                }
                let Some(OpenItem::Message { id, text: all }) = &mut self.open else {
                    return;
                };
                all.push_str(&text);
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", self.output_index()),
                    ("content_index", Out::U64(0)),
                    ("delta", Out::from(text)),
                    ("logprobs", Out::Array(Vec::new())),
                ];
                self.event("response.output_text.delta", members, out);
            }
            Event::Thinking(text) => {
                if !matches!(self.open, Some(OpenItem::Reasoning { .. })) {
                    self.close(out);
                    let id = self.item_id("rs");
                    let item = OpenItem::Reasoning {
                        id,
                        text: String::new(),
                        signature: String::new(),
                    };
                    self.open_item(item, out);
                }
                let Some(OpenItem::Reasoning { id, text: all, .. }) = &mut self.open else {
                    return;
                };
                all.push_str(&text);
                let members = vec![
                    ("item_id", Out::from(id.clone())),
                    ("output_index", self.output_index()),
                    ("summary_index", Out::U64(0)),
                    ("delta", Out::from(text)),
                ];
                self.event("response.reasoning_summary_text.delta", members, out);
            }
            Event::Signature(more) => {
                if let Some(OpenItem::Reasoning { signature, .. }) = &mut self.open {
                    signature.push_str(&more);
                }
            }
            Event::RedactedThinking(data) => self.redacted(&data, out),
            Event::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                let custom = crate::translate::ir::is_custom_tool(&self.tool_names, &name);
                let item = OpenItem::Call {
                    call: index,
                    call_id: id.into_owned(),
                    name: name.into_owned(),
                    arguments: String::new(),
                    custom,
                };
                self.open_item(item, out);
                self.write(
                    Event::ToolArguments {
                        index,
                        text: arguments,
                    },
                    out,
                );
            }
            Event::ToolArguments { index, text } => {
                if text.is_empty() {
                    return;
                }
                let custom = match &mut self.open {
                    Some(OpenItem::Call {
                        call,
                        arguments,
                        custom,
                        ..
                    }) if *call == index => {
                        arguments.push_str(&text);
                        *custom
                    }
                    _ => {
                        if !self.dropped_fragment {
                            self.dropped_fragment = true;
                            log::warn!("dropping argument fragments for earlier tool calls (interleaved calls)");
                        }
                        return;
                    }
                };
                // A custom tool's free text is known only once its JSON is whole.
                if !custom {
                    let members = vec![
                        ("item_id", Out::from(self.item_id("fc"))),
                        ("output_index", self.output_index()),
                        ("delta", Out::from(text)),
                    ];
                    self.event("response.function_call_arguments.delta", members, out);
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
                let (status, incomplete) = status_of(self.stop);
                let usage = Out::Value(usage_json(usage));
                let extra = vec![
                    ("error", Out::Null),
                    ("incomplete_details", Out::Value(incomplete)),
                ];
                let response = self.response(status, usage, extra);
                let mut bytes = Vec::new();
                let _ = response.write_to(&mut bytes);
                self.event(
                    "response.completed",
                    vec![("response", Out::Written(&bytes))],
                    out,
                );
            }
            Event::Error { kind, message } => {
                // An item the error cut short is not done: a client would keep half of it.
                self.open = None;
                self.ended = true;
                self.failed(kind, &message, out);
            }
            Event::Start { .. } => {}
        }
    }
}

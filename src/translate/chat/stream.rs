//! Chat Completions streams: chunks read into the intermediate form as they arrive, and written
//! from it.
//!
//! The reader follows each tool call by its index (and id, for servers that reuse one index for
//! parallel calls) and holds arguments that come before the call's name. It says the answer ended
//! once the upstream has said both how it finished and, if it will, its usage (or `[DONE]`).

use super::usage_json;
use super::{completion_id, finish_word, read_usage, reasoning_of, stop_reason};
use crate::translate::errors::{error_event, read_error, ErrorKind};
use crate::translate::hub::{ReadStream, WriteStream};
use crate::translate::ir::{client_tool_name, Event};
use crate::translate::lazy::{out, Document, Json, Object, Out};
use crate::translate::sse::write_data_event;
use crate::translate::{Api, Tokens, ToolName};
use std::borrow::Cow;
use std::collections::HashMap;

/// A tool call as its fragments arrive: its id once one came, and whether it began (it needs a
/// name to).
#[derive(Debug)]
struct ToolSlot {
    id: Option<String>,
    /// Arguments that arrived before the name (held until the call can begin).
    held: String,
    started: bool,
}

/// Reads an OpenAI-compatible upstream's chunks.
#[derive(Debug, Default)]
pub struct StreamReader {
    started: bool,
    tools: Vec<ToolSlot>,
    /// The upstream's tool-call index → its latest slot (fragments find their call in one step).
    pub(crate) slot_of_index: HashMap<u64, usize>,
    /// (index, id) → slot, for servers that reuse one index for parallel calls with their own ids.
    pub(crate) slot_of_id: HashMap<(u64, String), usize>,
    began_tool: bool,
    finish_reason: Option<String>,
    usage: Option<Tokens>,
    ended: bool,
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

    fn start(&mut self, id: Option<Cow<'_, str>>, emit: &mut dyn FnMut(Event<'_>)) {
        if !self.started {
            self.started = true;
            emit(Event::Start { id });
        }
    }

    /// How the answer stopped and its end, once.
    fn end(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        if self.ended {
            return;
        }
        self.ended = true;
        emit(Event::Stop(stop_reason(
            self.finish_reason.as_deref(),
            self.began_tool,
        )));
        emit(Event::End {
            usage: self.usage.unwrap_or_default(),
        });
    }

    fn on_delta(&mut self, delta: &Object<'_>, emit: &mut dyn FnMut(Event<'_>)) {
        if let Some(thinking) = reasoning_of(delta) {
            emit(Event::Thinking(thinking));
        }
        for key in ["content", "refusal"] {
            if let Some(text) = delta.str(key).filter(|t| !t.is_empty()) {
                emit(Event::Text(text));
            }
        }
        let calls = delta.field("tool_calls").array().unwrap_or_default();
        for (position, call) in calls.into_iter().enumerate() {
            self.on_tool_fragment(call, position as u64, emit);
        }
    }

    fn on_tool_fragment(&mut self, call: Json<'_>, position: u64, emit: &mut dyn FnMut(Event<'_>)) {
        let call = call.object().unwrap_or_default();
        let function = call.field("function").object().unwrap_or_default();
        let chat_index = call.field("index").as_u64().unwrap_or(position);
        let id = call.str("id").filter(|s| !s.is_empty());
        let id = id.as_deref();
        let name = function.str("name").filter(|s| !s.is_empty());
        let arguments = function.str("arguments").unwrap_or_default();
        let slot = match self.slot_for(chat_index, id) {
            Some(slot) => slot,
            None => {
                self.tools.push(ToolSlot {
                    id: None,
                    held: String::new(),
                    started: false,
                });
                let slot = self.tools.len() - 1;
                self.slot_of_index.insert(chat_index, slot);
                slot
            }
        };
        if let (None, Some(id)) = (&self.tools[slot].id, id) {
            self.tools[slot].id = Some(id.to_string());
            self.slot_of_id.insert((chat_index, id.to_string()), slot);
        }
        if self.tools[slot].started {
            if !arguments.is_empty() {
                emit(Event::ToolArguments {
                    index: slot,
                    text: arguments,
                });
            }
            return;
        }
        self.tools[slot].held.push_str(&arguments);
        if let Some(name) = name {
            let name = client_tool_name(&self.tool_names, &name).to_string();
            let id = self.tools[slot]
                .id
                .clone()
                .unwrap_or_else(|| format!("toolu_switchyard_{slot}"));
            self.began_tool = true;
            self.tools[slot].started = true;
            let held = std::mem::take(&mut self.tools[slot].held);
            emit(Event::ToolCall {
                index: slot,
                id: Cow::Owned(id),
                name: Cow::Owned(name),
                arguments: Cow::Owned(held),
            });
        }
    }

    /// The slot a fragment with this index and id continues, if any. Some servers reuse one index
    /// for parallel calls and tell them apart only by id: a fragment with an id continues the
    /// call with that id, or the index's call that has no id yet (then the only one it has).
    fn slot_for(&self, chat_index: u64, id: Option<&str>) -> Option<usize> {
        let latest = self.slot_of_index.get(&chat_index).copied();
        match id {
            None => latest,
            Some(id) => self
                .slot_of_id
                .get(&(chat_index, id.to_string()))
                .copied()
                .or(latest.filter(|&slot| self.tools[slot].id.is_none())),
        }
    }
}

impl ReadStream for StreamReader {
    fn read(&mut self, data: &str, emit: &mut dyn FnMut(Event<'_>)) {
        if data.trim() == "[DONE]" {
            self.start(None, emit);
            self.end(emit);
            return;
        }
        // Checked in one pass that notes where each object and array ends, so the reads below
        // skip nested values without searching them.
        let Ok(document) = Document::parse(data.as_bytes()) else {
            log::debug!("ignoring a Chat stream event that is not JSON");
            return;
        };
        let chunk = document.root().object().unwrap_or_default();
        if let Some((kind, message)) = read_error(&chunk) {
            emit(Event::Error {
                kind: kind.unwrap_or(ErrorKind::Api),
                message: Cow::Owned(message),
            });
            return;
        }
        self.start(chunk.str("id"), emit);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(read_usage(usage));
        }
        for choice in chunk.field("choices").array().unwrap_or_default() {
            let choice = choice.object().unwrap_or_default();
            if choice.field("index").as_u64().unwrap_or(0) != 0 {
                continue;
            }
            self.on_delta(&choice.field("delta").object().unwrap_or_default(), emit);
            if let Some(reason) = choice.str("finish_reason") {
                self.finish_reason = Some(reason.into_owned());
                emit(Event::BlockStop);
            }
        }
        if self.finish_reason.is_some() && self.usage.is_some() {
            self.end(emit);
        }
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Event<'_>)) -> Result<(), String> {
        if self.finish_reason.is_some() {
            self.end(emit);
            return Ok(());
        }
        Err("upstream closed the stream before its finish_reason".into())
    }

    fn usage(&self) -> Tokens {
        self.usage.unwrap_or_default()
    }
}

/// Writes Chat chunks for a client: the role chunk first, text and thinking (as
/// `reasoning_content`) as content deltas, tool calls numbered 0, 1, … in the order they begin
/// (each first sent with its id and name), the finish chunk once, then the usage chunk (when the
/// client asked for it) and `data: [DONE]`. Each chunk's members are written in alphabetical
/// order, the order its bytes have always had.
#[derive(Debug)]
pub struct StreamWriter {
    client_model: String,
    include_usage: bool,
    created: u64,
    id: String,
    started: bool,
    /// The reader's call index → the Chat tool call index.
    tool_of_call: HashMap<usize, u64>,
    finished: bool,
    ended: bool,
}

impl StreamWriter {
    /// A writer whose chunks name `client_model`; `include_usage` adds the usage chunk.
    pub fn new(client_model: &str, include_usage: bool, created: u64) -> Self {
        StreamWriter {
            client_model: client_model.to_string(),
            include_usage,
            created,
            id: completion_id(None),
            started: false,
            tool_of_call: HashMap::new(),
            finished: false,
            ended: false,
        }
    }

    fn role_chunk(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunk(out! {"content" => "", "role" => "assistant"}, None, out);
        }
    }

    fn chunk(&self, delta: Out<'_>, finish: Option<&str>, out: &mut Vec<u8>) {
        let choice = out! {
            "delta" => delta,
            "finish_reason" => finish.map_or(Out::Null, Out::from),
            "index" => Out::U64(0),
            "logprobs" => Out::Null,
        };
        write_data_event(
            out,
            &out! {
                "choices" => vec![choice],
                "created" => Out::U64(self.created),
                "id" => self.id.as_str(),
                "model" => self.client_model.as_str(),
                "object" => "chat.completion.chunk",
            },
        );
    }

    fn finish_chunk(&mut self, reason: &str, out: &mut Vec<u8>) {
        if !self.finished {
            self.finished = true;
            self.chunk(Out::Object(Vec::new()), Some(reason), out);
        }
    }
}

impl WriteStream for StreamWriter {
    fn write(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        match &event {
            Event::Error { kind, message } => {
                return out.extend(error_event(Api::OpenAi, *kind, message))
            }
            Event::BlockStop => return,
            Event::Start { id: Some(id) } => self.id = completion_id(Some(id)),
            _ => {}
        }
        self.role_chunk(out);
        match event {
            Event::Text(text) => self.chunk(out! {"content" => text}, None, out),
            Event::Thinking(text) => self.chunk(out! {"reasoning_content" => text}, None, out),
            Event::ToolCall {
                index,
                id,
                name,
                arguments,
            } => {
                let tool = self.tool_of_call.len() as u64;
                self.tool_of_call.insert(index, tool);
                let call = out! {
                    "function" => out! {"arguments" => arguments, "name" => name},
                    "id" => id,
                    "index" => Out::U64(tool),
                    "type" => "function",
                };
                self.chunk(out! {"tool_calls" => vec![call]}, None, out);
            }
            Event::ToolArguments { index, text } => {
                if let (false, Some(tool)) = (text.is_empty(), self.tool_of_call.get(&index)) {
                    let call = out! {
                        "function" => out! {"arguments" => text},
                        "index" => Out::U64(*tool),
                    };
                    self.chunk(out! {"tool_calls" => vec![call]}, None, out);
                }
            }
            Event::Stop(stop) => self.finish_chunk(finish_word(stop), out),
            Event::End { usage } => {
                self.finish_chunk("stop", out);
                if self.include_usage {
                    write_data_event(
                        out,
                        &out! {
                            "choices" => Out::Array(Vec::new()),
                            "created" => Out::U64(self.created),
                            "id" => self.id.as_str(),
                            "model" => self.client_model.as_str(),
                            "object" => "chat.completion.chunk",
                            "usage" => Out::Value(usage_json(usage)),
                        },
                    );
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.ended = true;
            }
            Event::Start { .. }
            | Event::Signature(_)
            | Event::RedactedThinking(_)
            | Event::BlockStop
            | Event::Error { .. } => {}
        }
    }
}

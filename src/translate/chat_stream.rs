//! Chat Completions chunks → Messages events, as they arrive.
//!
//! One block is open at a time and blocks are numbered 0, 1, 2 … in the order they open: reasoning
//! becomes a `thinking` block, content a `text` block, each tool call a `tool_use` block whose
//! argument fragments pass on as `input_json_delta`s, unchanged. A block is closed before the next
//! opens; `message_delta` (stop reason, usage) and `message_stop` come once, when the upstream has
//! said both how it finished and, if it will, its usage.

use super::answer::{message_id, original_tool_name, reasoning_of, stop_reason, usage_from_chat};
use super::errors::{error_event, read_error, ErrorKind};
use super::lazy::{Json, Object};
use super::sse::{named_event, SseParser};
use super::{Api, Cut, Usage};
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking(usize),
    Text(usize),
    /// A tool block and the tool slot it belongs to.
    Tool(usize, usize),
}

/// A tool call as its fragments arrive: its id once one came, and our block once it has a name.
#[derive(Debug)]
struct ToolSlot {
    id: Option<String>,
    /// Arguments that arrived before the name (held until the block can start).
    held: String,
    block: Option<usize>,
}

/// The Chat → Messages stream translator.
#[derive(Debug)]
pub struct ChatToMessages {
    parser: SseParser,
    client_model: String,
    started: bool,
    next_index: usize,
    open: Option<Open>,
    tools: Vec<ToolSlot>,
    /// The upstream's tool-call index → its latest slot (fragments find their call in one step).
    slot_of_index: HashMap<u64, usize>,
    /// (index, id) → slot, for servers that reuse one index for parallel calls with their own ids.
    slot_of_id: HashMap<(u64, String), usize>,
    /// A fragment for a closed block was dropped (logged once per stream).
    dropped_fragment: bool,
    emitted_tool: bool,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done_marker: bool,
    stopped: bool,
    failed: Option<String>,
    tool_names: Vec<(String, String)>,
}

impl ChatToMessages {
    /// A translator whose events name `client_model`.
    pub fn new(client_model: &str) -> Self {
        ChatToMessages {
            parser: SseParser::new(),
            client_model: client_model.to_string(),
            started: false,
            next_index: 0,
            open: None,
            tools: Vec::new(),
            slot_of_index: HashMap::new(),
            slot_of_id: HashMap::new(),
            dropped_fragment: false,
            emitted_tool: false,
            finish_reason: None,
            usage: None,
            done_marker: false,
            stopped: false,
            failed: None,
            tool_names: Vec::new(),
        }
    }

    /// Tool names shortened for the upstream, as (short, original): blocks carry the original.
    pub fn with_tool_names(mut self, names: Vec<(String, String)>) -> Self {
        self.tool_names = names;
        self
    }

    /// Client events for these upstream bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.parser.feed(bytes) {
            self.on_data(&event.data, &mut out);
        }
        if let Some(too_large) = self.parser.too_large() {
            if !self.stopped && self.failed.is_none() {
                let message = format!("switchyard: {too_large}");
                out.extend(error_event(Api::Anthropic, ErrorKind::Api, &message));
                self.failed = Some(too_large.to_string());
            }
        }
        out
    }

    /// The upstream sent an event too large to follow: nothing more of its stream is read.
    pub fn gave_up(&self) -> bool {
        self.parser.too_large().is_some()
    }

    /// The last events when the upstream ended; a cut when it ended before saying it finished.
    pub fn finish(&mut self) -> Result<Vec<u8>, Cut> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            self.on_data(&event.data, &mut out);
        }
        if let Some(reason) = &self.failed {
            return Err(Cut {
                reason: reason.clone(),
                error_sent: true,
            });
        }
        if self.stopped {
            return Ok(out);
        }
        if self.finish_reason.is_some() || self.done_marker {
            self.end(&mut out);
            return Ok(out);
        }
        Err(Cut {
            reason: "upstream closed the stream before its finish_reason".into(),
            error_sent: false,
        })
    }

    /// Usage the upstream reported so far, in Anthropic's terms.
    pub fn usage(&self) -> Usage {
        self.usage.unwrap_or_default()
    }

    fn on_data(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.stopped || self.failed.is_some() {
            return;
        }
        if data.trim() == "[DONE]" {
            self.done_marker = true;
            self.start(None, out);
            self.end(out);
            return;
        }
        let Ok(chunk) = Json::parse(data.as_bytes()) else {
            log::debug!("ignoring a Chat stream event that is not JSON");
            return;
        };
        let chunk = chunk.object().unwrap_or_default();
        if let Some((kind, message)) = read_error(&chunk) {
            let kind = kind.unwrap_or(ErrorKind::Api);
            out.extend(error_event(Api::Anthropic, kind, &message));
            self.failed = Some(format!("upstream stream error: {message}"));
            return;
        }
        self.start(chunk.str("id").as_deref(), out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage_from_chat(usage));
        }
        for choice in chunk.field("choices").array().unwrap_or_default() {
            let choice = choice.object().unwrap_or_default();
            if choice.field("index").as_u64().unwrap_or(0) != 0 {
                continue;
            }
            self.on_delta(&choice.field("delta").object().unwrap_or_default(), out);
            if let Some(reason) = choice.str("finish_reason") {
                self.finish_reason = Some(reason.into_owned());
                self.close(out);
            }
        }
        if self.finish_reason.is_some() && self.usage.is_some() {
            self.end(out);
        }
    }

    fn on_delta(&mut self, delta: &Object<'_>, out: &mut Vec<u8>) {
        if let Some(thinking) = reasoning_of(delta) {
            let index = match self.open {
                Some(Open::Thinking(i)) => i,
                _ => self.open_block(
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    out,
                ),
            };
            self.open = Some(Open::Thinking(index));
            block_delta(
                index,
                json!({"type": "thinking_delta", "thinking": thinking}),
                out,
            );
        }
        for key in ["content", "refusal"] {
            if let Some(text) = delta.str(key).filter(|t| !t.is_empty()) {
                let index = match self.open {
                    Some(Open::Text(i)) => i,
                    _ => self.open_block(json!({"type": "text", "text": ""}), out),
                };
                self.open = Some(Open::Text(index));
                block_delta(index, json!({"type": "text_delta", "text": text}), out);
            }
        }
        let calls = delta.field("tool_calls").array().unwrap_or_default();
        for (position, call) in calls.into_iter().enumerate() {
            self.on_tool_fragment(call, position as u64, out);
        }
    }

    fn on_tool_fragment(&mut self, call: Json<'_>, position: u64, out: &mut Vec<u8>) {
        let call = call.object().unwrap_or_default();
        let function = call.field("function").object().unwrap_or_default();
        let chat_index = call.field("index").as_u64().unwrap_or(position);
        let id = call.str("id").filter(|s| !s.is_empty());
        let id = id.as_deref();
        let name = function.str("name").filter(|s| !s.is_empty());
        let name = name.as_deref();
        let arguments = function.str("arguments").unwrap_or_default();
        let arguments = arguments.as_ref();
        let slot = match self.slot_for(chat_index, id) {
            Some(slot) => slot,
            None => {
                self.tools.push(ToolSlot {
                    id: None,
                    held: String::new(),
                    block: None,
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
        match self.tools[slot].block {
            None => {
                self.tools[slot].held.push_str(arguments);
                if let Some(name) = name {
                    let name = original_tool_name(&self.tool_names, name).to_string();
                    let id = self.tools[slot]
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("toolu_switchyard_{slot}"));
                    let index = self.open_block(
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                        out,
                    );
                    self.emitted_tool = true;
                    self.tools[slot].block = Some(index);
                    self.open = Some(Open::Tool(index, slot));
                    let held = std::mem::take(&mut self.tools[slot].held);
                    if !held.is_empty() {
                        block_delta(
                            index,
                            json!({"type": "input_json_delta", "partial_json": held}),
                            out,
                        );
                    }
                }
            }
            Some(index) => {
                if arguments.is_empty() {
                    return;
                }
                if self.open == Some(Open::Tool(index, slot)) {
                    block_delta(
                        index,
                        json!({"type": "input_json_delta", "partial_json": arguments}),
                        out,
                    );
                } else if !self.dropped_fragment {
                    // A closed block cannot take more input: Messages has no way to reopen it.
                    self.dropped_fragment = true;
                    log::warn!(
                        "dropping argument fragments for earlier tool calls (interleaved calls)"
                    );
                }
            }
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

    fn start(&mut self, chat_id: Option<&str>, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        out.extend(named_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message_id(chat_id), "type": "message", "role": "assistant",
                "model": self.client_model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        ));
    }

    /// Closes the open block and opens `block`; returns its index.
    fn open_block(&mut self, block: Value, out: &mut Vec<u8>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.extend(named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        index
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some(open) = self.open.take() {
            let index = match open {
                Open::Thinking(i) | Open::Text(i) | Open::Tool(i, _) => i,
            };
            out.extend(named_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// `message_delta` and `message_stop`, once.
    fn end(&mut self, out: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        self.close(out);
        self.stopped = true;
        let stop = stop_reason(self.finish_reason.as_deref(), self.emitted_tool);
        out.extend(named_event(
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null},
                "usage": self.usage().to_messages_json()}),
        ));
        out.extend(named_event(
            "message_stop",
            &json!({"type": "message_stop"}),
        ));
    }
}

fn block_delta(index: usize, delta: Value, out: &mut Vec<u8>) {
    out.extend(named_event(
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "model": "up", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    }

    fn events(bytes: &[u8]) -> Vec<Value> {
        let mut p = SseParser::new();
        p.feed(bytes)
            .into_iter()
            .map(|e| {
                let v: Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(v["type"].as_str().unwrap(), e.name);
                v
            })
            .collect()
    }

    #[test]
    fn a_plain_text_stream_becomes_one_text_block() {
        let mut t = ChatToMessages::new("claude-x");
        let mut out = t.feed(chunk(json!({"role": "assistant", "content": ""}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"content": "Hel"}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({"content": "lo"}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({}), Some("stop")).as_bytes()));
        out.extend(t.feed(b"data: [DONE]\n\n"));
        out.extend(t.finish().unwrap());
        let e = events(&out);
        let types: Vec<&str> = e.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(e[0]["message"]["model"], "claude-x");
        assert_eq!(e[5]["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn the_block_closes_at_finish_reason_and_the_end_waits_for_usage() {
        let mut t = ChatToMessages::new("m");
        t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        let at_finish =
            String::from_utf8(t.feed(chunk(json!({}), Some("length")).as_bytes())).unwrap();
        assert!(at_finish.contains("content_block_stop") && !at_finish.contains("message_delta"));
        let usage = format!(
            "data: {}\n\n",
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}})
        );
        let end = events(&t.feed(usage.as_bytes()));
        assert_eq!(end[0]["delta"]["stop_reason"], "max_tokens");
        assert_eq!(end[0]["usage"]["input_tokens"], 9);
        assert_eq!(end[1]["type"], "message_stop");
        assert!(t.feed(b"data: [DONE]\n\n").is_empty());
        assert_eq!(t.finish().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_stream_that_stops_before_finishing_is_a_cut() {
        let mut t = ChatToMessages::new("m");
        t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        let cut = t.finish().unwrap_err();
        assert!(!cut.error_sent);
        assert!(String::from_utf8(cut.error_event(Api::Anthropic))
            .unwrap()
            .starts_with("event: error"));
    }

    #[test]
    fn an_upstream_error_event_becomes_an_anthropic_error_event() {
        let mut t = ChatToMessages::new("m");
        let out =
            t.feed(b"data: {\"error\":{\"message\":\"slow\",\"type\":\"rate_limit_error\"}}\n\n");
        let e = events(&out);
        assert_eq!(e.last().unwrap()["error"]["type"], "rate_limit_error");
        let cut = t.finish().unwrap_err();
        assert!(cut.error_sent && cut.error_event(Api::Anthropic).is_empty());
    }

    #[test]
    fn a_tool_call_whose_name_comes_late_keeps_its_early_arguments() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": "{\"a\""}}]}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ":1}"}}]}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({}), Some("tool_calls")).as_bytes()));
        out.extend(t.finish().unwrap());
        let e = events(&out);
        assert_eq!(e[1]["content_block"]["id"], "call_1");
        assert_eq!(e[2]["delta"]["partial_json"], "{\"a\":1}");
        assert_eq!(e[3]["type"], "content_block_stop");
        assert_eq!(e[4]["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn a_shortened_tool_name_is_given_back_as_the_client_wrote_it() {
        let mut t = ChatToMessages::new("m")
            .with_tool_names(vec![("short".into(), "the_long_original".into())]);
        let out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "short", "arguments": "{}"}}]}), None).as_bytes());
        assert_eq!(
            events(&out)[1]["content_block"]["name"],
            "the_long_original"
        );
    }

    #[test]
    fn an_event_too_large_to_follow_ends_the_stream_with_an_error_event() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        out.extend(t.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""));
        let mib = vec![b'x'; 1 << 20];
        for _ in 0..=super::super::MAX_EVENT >> 20 {
            out.extend(t.feed(&mib));
        }
        assert!(t.gave_up());
        assert!(t.feed(b"\"}}]}\n\n").is_empty(), "nothing after the error");
        let e = events(&out);
        let last = e.last().unwrap();
        assert_eq!(last["type"], "error");
        assert!(last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB"));
        let cut = t.finish().unwrap_err();
        assert!(
            cut.error_sent && cut.reason.contains("SSE event"),
            "{cut:?}"
        );
    }

    /// One chunk whose delta carries `n` tool calls, indices 0.., each with its id and name.
    fn many_tool_calls(n: usize, one_index: bool) -> String {
        let calls: Vec<String> = (0..n)
            .map(|i| {
                let index = if one_index { 0 } else { i };
                format!(r#"{{"index":{index},"id":"c{i}","function":{{"name":"f","arguments":"{{}}"}}}}"#)
            })
            .collect();
        format!(
            "data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{}]}},\"finish_reason\":\"tool_calls\"}}]}}\n\n",
            calls.join(",")
        )
    }

    #[test]
    fn many_tool_calls_in_one_chunk_are_found_by_index_not_by_search() {
        const N: usize = 20_000;
        for one_index in [false, true] {
            let mut t = ChatToMessages::new("m");
            let started = std::time::Instant::now();
            let out = t.feed(many_tool_calls(N, one_index).as_bytes());
            let took = started.elapsed();
            // Each call is found in its maps: one entry per index, one per (index, id).
            let indices = if one_index { 1 } else { N };
            assert_eq!((t.slot_of_index.len(), t.slot_of_id.len()), (indices, N));
            let mut p = SseParser::new();
            let starts: Vec<String> = p
                .feed(&out)
                .iter()
                .filter(|e| e.name == "content_block_start")
                .map(|e| {
                    serde_json::from_str::<Value>(&e.data).unwrap()["content_block"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(starts.len(), N);
            assert!(starts
                .iter()
                .enumerate()
                .all(|(i, id)| *id == format!("c{i}")));
            // Generous even for a debug build on a busy machine (a search per fragment took
            // 2.75 s for 80,000 calls in a release build).
            assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        }
    }

    #[test]
    fn parallel_calls_on_one_index_are_told_apart_by_id() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}), Some("tool_calls")).as_bytes()));
        out.extend(t.finish().unwrap());
        let starts: Vec<(u64, String)> = events(&out)
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .map(|e| {
                (
                    e["index"].as_u64().unwrap(),
                    e["content_block"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(starts, [(0, "a".to_string()), (1, "b".to_string())]);
    }
}

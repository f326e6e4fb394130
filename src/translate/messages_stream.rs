//! Messages events → Chat Completions chunks, as they arrive.
//!
//! `message_start` gives the role chunk; text, thinking (as `reasoning_content`) and tool input
//! deltas become content and `tool_calls` deltas (tool calls numbered 0, 1, … in block order, each
//! first sent with its id and name); `message_delta` gives the `finish_reason` chunk; `message_stop`
//! the usage chunk (when the client asked for it) and `data: [DONE]`.

use super::answer::{completion_id, finish_reason, usage_from_messages};
use super::errors::{error_event, read_error, ErrorKind};
use super::lazy::Json;
use super::sse::{data_event, SseParser};
use super::{Api, Cut, Usage};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A value the client gets as the upstream wrote it (an id, a text).
fn value_of(json: Json<'_>) -> Value {
    serde_json::from_str(json.text()).unwrap_or_default()
}

/// The Messages → Chat stream translator.
#[derive(Debug)]
pub struct MessagesToChat {
    parser: SseParser,
    client_model: String,
    include_usage: bool,
    created: u64,
    id: String,
    started: bool,
    /// Messages block index → Chat tool call index.
    tool_of_block: HashMap<u64, u64>,
    next_tool: u64,
    usage: Usage,
    finished: bool,
    stopped: bool,
    failed: Option<String>,
}

impl MessagesToChat {
    /// A translator whose chunks name `client_model`; `include_usage` adds the usage chunk.
    pub fn new(client_model: &str, include_usage: bool, created: u64) -> Self {
        MessagesToChat {
            parser: SseParser::new(),
            client_model: client_model.to_string(),
            include_usage,
            created,
            id: completion_id(None),
            started: false,
            tool_of_block: HashMap::new(),
            next_tool: 0,
            usage: Usage::default(),
            finished: false,
            stopped: false,
            failed: None,
        }
    }

    /// Client chunks for these upstream bytes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for event in self.parser.feed(bytes) {
            self.on_event(&event.data, &mut out);
        }
        if let Some(too_large) = self.parser.too_large() {
            if !self.stopped && self.failed.is_none() {
                let message = format!("switchyard: {too_large}");
                out.extend(error_event(Api::OpenAi, ErrorKind::Api, &message));
                self.failed = Some(too_large.to_string());
            }
        }
        out
    }

    /// The upstream sent an event too large to follow: nothing more of its stream is read.
    pub fn gave_up(&self) -> bool {
        self.parser.too_large().is_some()
    }

    /// The last chunks when the upstream ended; a cut when it ended before `message_stop`.
    pub fn finish(&mut self) -> Result<Vec<u8>, Cut> {
        let mut out = Vec::new();
        if let Some(event) = self.parser.finish() {
            self.on_event(&event.data, &mut out);
        }
        if let Some(reason) = &self.failed {
            return Err(Cut {
                reason: reason.clone(),
                error_sent: true,
            });
        }
        if self.stopped {
            Ok(out)
        } else {
            Err(Cut {
                reason: "upstream closed the stream before message_stop".into(),
                error_sent: false,
            })
        }
    }

    /// Usage the upstream reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn on_event(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.stopped || self.failed.is_some() {
            return;
        }
        let Ok(event) = Json::parse(data.as_bytes()) else {
            log::debug!("ignoring a Messages stream event that is not JSON");
            return;
        };
        let event = event.object().unwrap_or_default();
        match event.str("type").unwrap_or_default().as_ref() {
            "message_start" => {
                let message = event.field("message").object().unwrap_or_default();
                if let Some(id) = message.str("id") {
                    self.id = completion_id(Some(&id));
                }
                self.usage = usage_from_messages(message.field("usage"), self.usage);
                self.role_chunk(out);
            }
            "content_block_start" => {
                self.role_chunk(out);
                let block = event.field("content_block").object().unwrap_or_default();
                match block.str("type").unwrap_or_default().as_ref() {
                    "tool_use" => {
                        let tool = self.next_tool;
                        self.next_tool += 1;
                        self.tool_of_block
                            .insert(event.field("index").as_u64().unwrap_or(u64::MAX), tool);
                        let input = block.field("input");
                        let input = match input.object() {
                            Some(fields) if !fields.is_empty() => input.compact().into_owned(),
                            _ => String::new(),
                        };
                        self.chunk(
                            json!({"tool_calls": [{"index": tool, "id": value_of(block.field("id")),
                                "type": "function", "function": {"name": value_of(block.field("name")),
                                "arguments": input}}]}),
                            None,
                            out,
                        );
                    }
                    "text" => {
                        if let Some(text) = block.str("text").filter(|t| !t.is_empty()) {
                            self.chunk(json!({"content": text}), None, out);
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                self.role_chunk(out);
                let delta = event.field("delta").object().unwrap_or_default();
                match delta.str("type").unwrap_or_default().as_ref() {
                    "text_delta" => {
                        let text = value_of(delta.field("text"));
                        self.chunk(json!({"content": text}), None, out);
                    }
                    "thinking_delta" => {
                        let thinking = value_of(delta.field("thinking"));
                        self.chunk(json!({"reasoning_content": thinking}), None, out);
                    }
                    "input_json_delta" => {
                        let partial = delta.str("partial_json").unwrap_or_default();
                        let tool = event
                            .field("index")
                            .as_u64()
                            .and_then(|i| self.tool_of_block.get(&i).copied());
                        if let (false, Some(tool)) = (partial.is_empty(), tool) {
                            self.chunk(
                                json!({"tool_calls": [{"index": tool, "function": {"arguments": partial}}]}),
                                None,
                                out,
                            );
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                self.role_chunk(out);
                self.usage = usage_from_messages(event.field("usage"), self.usage);
                if !self.finished {
                    self.finished = true;
                    let stop = event.field("delta").get("stop_reason").as_str();
                    let reason = finish_reason(stop.as_deref());
                    self.chunk(json!({}), Some(reason), out);
                }
            }
            "message_stop" => {
                self.role_chunk(out);
                if !self.finished {
                    self.finished = true;
                    self.chunk(json!({}), Some("stop"), out);
                }
                if self.include_usage {
                    out.extend(data_event(&json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": self.client_model, "choices": [], "usage": self.usage.to_chat_json(),
                    })));
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.stopped = true;
            }
            "error" => {
                let (kind, message) =
                    read_error(&event).unwrap_or((None, "upstream stream error".to_string()));
                out.extend(error_event(
                    Api::OpenAi,
                    kind.unwrap_or(ErrorKind::Api),
                    &message,
                ));
                self.failed = Some(format!("upstream stream error: {message}"));
            }
            _ => {}
        }
    }

    fn role_chunk(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            self.chunk(json!({"role": "assistant", "content": ""}), None, out);
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>, out: &mut Vec<u8>) {
        out.extend(data_event(&json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.client_model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(v: Value) -> String {
        format!("event: {}\ndata: {}\n\n", v["type"].as_str().unwrap(), v)
    }

    fn chunks(bytes: &[u8]) -> Vec<Value> {
        let mut p = SseParser::new();
        p.feed(bytes)
            .into_iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    fn transcript() -> String {
        [
            ev(json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 3}}})),
            ev(json!({"type": "ping"})),
            ev(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}})),
            ev(json!({"type": "content_block_stop", "index": 0})),
            ev(json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}})),
            ev(json!({"type": "content_block_stop", "index": 1})),
            ev(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}})),
            ev(json!({"type": "message_stop"})),
        ]
        .concat()
    }

    #[test]
    fn a_tool_stream_becomes_role_content_tool_call_and_finish_chunks() {
        let mut t = MessagesToChat::new("gpt-4o", true, 5);
        let mut out = t.feed(transcript().as_bytes());
        out.extend(t.finish().unwrap());
        assert!(out.ends_with(b"data: [DONE]\n\n"));
        let c = chunks(&out);
        assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(c[1]["choices"][0]["delta"]["content"], "Hi");
        let call = &c[2]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            (
                call["index"].as_u64(),
                call["id"].as_str(),
                call["function"]["name"].as_str()
            ),
            (Some(0), Some("toolu_1"), Some("f"))
        );
        assert_eq!(
            c[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":"
        );
        assert_eq!(c[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c[6]["choices"], json!([]));
        assert_eq!(c[6]["usage"]["prompt_tokens"], 10);
        assert_eq!(c[6]["usage"]["completion_tokens"], 12);
        assert_eq!(c.len(), 7);
        assert!(c
            .iter()
            .all(|c| c["model"] == "gpt-4o" && c["id"] == "chatcmpl-msg_1"));
    }

    #[test]
    fn without_include_usage_there_is_no_usage_chunk_and_a_cut_is_reported() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let out = t.feed(transcript().as_bytes());
        assert!(chunks(&out).iter().all(|c| c.get("usage").is_none()));
        let mut cut = MessagesToChat::new("gpt", false, 0);
        let half = transcript();
        cut.feed(&half.as_bytes()[..half.len() / 2]);
        assert!(!cut.finish().unwrap_err().error_sent);
    }

    #[test]
    fn an_event_too_large_to_follow_ends_the_stream_with_an_openai_error_chunk() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let mut out = t.feed(
            transcript()
                .split("event: content_block_stop")
                .next()
                .unwrap()
                .as_bytes(),
        );
        out.extend(t.feed(b"event: content_block_delta\ndata: "));
        let mib = vec![b'x'; 1 << 20];
        for _ in 0..=super::super::MAX_EVENT >> 20 {
            out.extend(t.feed(&mib));
        }
        assert!(t.gave_up());
        let c = chunks(&out);
        assert_eq!(c[1]["choices"][0]["delta"]["content"], "Hi");
        let last = c.last().unwrap();
        assert!(last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB"));
        assert!(t.finish().unwrap_err().error_sent);
    }

    #[test]
    fn an_overloaded_event_becomes_an_openai_error_chunk() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let out = t.feed(ev(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})).as_bytes());
        let c = chunks(&out);
        assert_eq!(c[0]["error"]["code"], "overloaded");
        assert_eq!(c[0]["error"]["message"], "Overloaded");
        assert!(t.finish().unwrap_err().error_sent);
    }
}

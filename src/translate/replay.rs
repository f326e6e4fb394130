//! An upstream that answered `stream: true` with one JSON body: the body read into the
//! intermediate form, replayed as the events a stream of it would have carried, and written by the
//! client API's stream writer, so the client still gets SSE. Each part of the answer (a text, a
//! tool call, a block) is one event, so no event is much larger than the largest part.

use super::hub::{read_answer, AnyWriter, WriteStream};
use super::ir::{Answer, Event, Part};
use super::lazy::Json;
use super::Exchange;
use std::borrow::Cow;

#[cfg(test)]
use super::Api;

/// The events that would have streamed an answer.
fn answer_events(answer: Answer<'_>, write: &mut dyn FnMut(Event<'_>)) {
    write(Event::Start { id: answer.id });
    for (index, part) in answer.parts.into_iter().enumerate() {
        match part {
            Part::Text(text) => write(Event::Text(text.into_decoded())),
            Part::Thinking { text, signature } => {
                write(Event::Thinking(text.into_decoded()));
                if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                    write(Event::Signature(signature));
                }
            }
            Part::RedactedThinking(data) => write(Event::RedactedThinking(data)),
            Part::ToolCall(call) => {
                write(Event::ToolCall {
                    index,
                    id: call.id,
                    name: call.name,
                    arguments: Cow::Borrowed(""),
                });
                write(Event::ToolArguments {
                    index,
                    text: call.input.into_json(),
                });
            }
            Part::Image(_) | Part::Document(_) | Part::ToolResult(_) => continue,
        }
        write(Event::BlockStop);
    }
    write(Event::Stop(answer.stop));
    write(Event::End {
        usage: answer.usage,
    });
}

/// A JSON answer from an upstream that ignored `stream: true`, as the SSE stream the client asked
/// for, in the client's API; `None` when the body is not a JSON answer.
pub fn translate_answer_as_stream(exchange: &Exchange, body: &[u8]) -> Option<Vec<u8>> {
    let answer = Json::parse(body).ok()?.object()?;
    if answer.get("error").is_some() {
        return None;
    }
    let answer = read_answer(exchange.upstream, &answer, &exchange.tool_names);
    let mut writer = AnyWriter::of(exchange);
    let mut out = Vec::new();
    answer_events(answer, &mut |event| writer.write(event, &mut out));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::SseParser;
    use serde_json::{json, Value};

    fn exchange(client: Api, upstream: Api) -> Exchange {
        Exchange {
            client,
            upstream,
            client_model: "client-model".into(),
            upstream_model: "up".into(),
            stream: true,
            include_usage: true,
            created: 0,
            tool_names: Vec::new(),
        }
    }

    fn events(bytes: &[u8]) -> Vec<Value> {
        SseParser::new()
            .feed(bytes)
            .into_iter()
            .map(|e| serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)))
            .collect()
    }

    #[test]
    fn a_chat_json_answer_replays_as_a_messages_stream() {
        let answer = json!({"id": "x", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "hi", "reasoning_content": "hm",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 2}});
        let ex = exchange(Api::Anthropic, Api::OpenAi);
        let out = translate_answer_as_stream(&ex, answer.to_string().as_bytes()).unwrap();
        let e = events(&out);
        let kinds: Vec<&str> = e
            .iter()
            .filter(|v| v["type"] == "content_block_start")
            .map(|v| v["content_block"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["thinking", "text", "tool_use"]);
        let end = e.iter().find(|v| v["type"] == "message_delta").unwrap();
        assert_eq!(end["delta"]["stop_reason"], "tool_use");
        assert_eq!(end["usage"]["input_tokens"], 4);
        assert_eq!(e.last().unwrap()["type"], "message_stop");
    }

    #[test]
    fn a_messages_json_answer_replays_as_chat_chunks() {
        let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 3, "output_tokens": 5}});
        let ex = exchange(Api::OpenAi, Api::Anthropic);
        let out = translate_answer_as_stream(&ex, answer.to_string().as_bytes()).unwrap();
        let e = events(&out);
        assert_eq!(e.last().unwrap(), "[DONE]");
        assert_eq!(e[1]["choices"][0]["delta"]["content"], "hi");
        assert_eq!(e[2]["choices"][0]["delta"]["tool_calls"][0]["id"], "t1");
        assert_eq!(
            e[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":1}"
        );
        assert_eq!(e[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(e[5]["usage"]["completion_tokens"], 5);
    }

    #[test]
    fn odd_tool_calls_do_not_stop_the_replay() {
        let answer =
            json!({"choices": [{"message": {"content": "x", "tool_calls": ["junk", null]}}]});
        let ex = exchange(Api::Anthropic, Api::OpenAi);
        assert!(translate_answer_as_stream(&ex, answer.to_string().as_bytes()).is_some());
    }

    #[test]
    fn an_error_body_is_not_replayed() {
        let ex = exchange(Api::Anthropic, Api::OpenAi);
        assert!(translate_answer_as_stream(&ex, br#"{"error":{"message":"x"}}"#).is_none());
        assert!(translate_answer_as_stream(&ex, b"not json").is_none());
    }
}

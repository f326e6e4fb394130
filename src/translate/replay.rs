//! An upstream that answered `stream: true` with one JSON body: the body replayed as the SSE
//! stream its API would have sent, then translated like any stream, so the client still gets SSE.

use super::sse::{data_event, named_event};
use super::{Api, Exchange, StreamTranslator};
use serde_json::{json, Value};

/// A Chat completion as the chunks that would have streamed it.
fn chat_answer_as_sse(answer: &Value) -> Vec<u8> {
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    let head = |choices: Value| {
        json!({"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"],
            "model": answer["model"], "choices": choices})
    };
    let mut delta = json!({"role": "assistant"});
    for key in ["reasoning_content", "reasoning", "content", "refusal"] {
        if let Some(text) = message[key].as_str() {
            delta[key] = json!(text);
        }
    }
    if let Some(calls) = message["tool_calls"].as_array() {
        let calls: Vec<Value> = calls
            .iter()
            .filter_map(Value::as_object)
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c.insert("index".into(), json!(i));
                Value::Object(c)
            })
            .collect();
        delta["tool_calls"] = Value::Array(calls);
    }
    let mut out = data_event(&head(
        json!([{"index": 0, "delta": delta, "finish_reason": null}]),
    ));
    let finish = choice["finish_reason"].as_str().unwrap_or("stop");
    out.extend(data_event(&head(
        json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
    )));
    if answer["usage"].is_object() {
        let mut usage = head(json!([]));
        usage["usage"] = answer["usage"].clone();
        out.extend(data_event(&usage));
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

/// A Message as the events that would have streamed it.
fn messages_answer_as_sse(answer: &Value) -> Vec<u8> {
    let mut start = answer.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut out = named_event(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    );
    for (index, block) in answer["content"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let (empty, delta) = match block["type"].as_str().unwrap_or_default() {
            "text" => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            ),
            "thinking" => (
                json!({"type": "thinking", "thinking": ""}),
                json!({"type": "thinking_delta", "thinking": block["thinking"]}),
            ),
            "tool_use" => (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            ),
            _ => (block.clone(), Value::Null),
        };
        out.extend(named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": empty}),
        ));
        if !delta.is_null() {
            out.extend(named_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        out.extend(named_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    out.extend(named_event(
        "message_delta",
        &json!({"type": "message_delta",
            "delta": {"stop_reason": answer["stop_reason"], "stop_sequence": answer["stop_sequence"]},
            "usage": answer["usage"]}),
    ));
    out.extend(named_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    out
}

/// A JSON answer from an upstream that ignored `stream: true`, as the SSE stream the client asked
/// for, in the client's API; `None` when the body is not a JSON answer.
pub fn translate_answer_as_stream(exchange: &Exchange, body: &[u8]) -> Option<Vec<u8>> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    if !answer.is_object() || answer.get("error").is_some() {
        return None;
    }
    let upstream_sse = match exchange.upstream {
        Api::OpenAi => chat_answer_as_sse(&answer),
        Api::Anthropic => messages_answer_as_sse(&answer),
    };
    match StreamTranslator::for_exchange(exchange) {
        None => Some(upstream_sse),
        Some(mut translator) => {
            let mut out = translator.feed(&upstream_sse);
            out.extend(translator.finish().ok()?);
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::SseParser;

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

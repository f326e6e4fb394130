//! An upstream that answered `stream: true` with one JSON body: the body replayed as the SSE
//! stream its API would have sent, then translated like any stream, so the client still gets SSE.
//! The replay writes one event per part of the answer (text, each tool call, each block), so no
//! event is much larger than the largest part.

use super::lazy::{Json, JsonWriter, Object, Out};
use super::{Api, Exchange, StreamTranslator};

/// Appends one SSE event (`event:` only when `name` is given) whose data `write` writes.
fn event(
    sse: &mut Vec<u8>,
    name: Option<&str>,
    write: impl FnOnce(&mut JsonWriter) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    let mut data = JsonWriter::with_capacity(0);
    write(&mut data)?;
    if let Some(name) = name {
        sse.extend_from_slice(b"event: ");
        sse.extend_from_slice(name.as_bytes());
        sse.push(b'\n');
    }
    sse.extend_from_slice(b"data: ");
    sse.extend_from_slice(&data.finish());
    sse.extend_from_slice(b"\n\n");
    Ok(())
}

/// A Chat completion as the chunks that would have streamed it.
fn chat_answer_as_sse(answer: &Object<'_>) -> serde_json::Result<Vec<u8>> {
    let (choice, message) = super::answer::first_choice(answer);
    // Every chunk: the answer's id, created and model, and `choices` as `write_choices` writes it.
    let chunk =
        |sse: &mut Vec<u8>, write_choices: &dyn Fn(&mut JsonWriter) -> serde_json::Result<()>| {
            event(sse, None, |w| {
                w.open_object();
                w.member("id", &answer.field("id").into())?;
                w.member("object", &"chat.completion.chunk".into())?;
                w.member("created", &answer.field("created").into())?;
                w.member("model", &answer.field("model").into())?;
                w.key("choices")?;
                write_choices(w)
            })
        };
    // One delta at index 0, unfinished.
    let delta = |sse: &mut Vec<u8>, members: Vec<(&'static str, Out<'_>)>| {
        chunk(sse, &|w: &mut JsonWriter| {
            w.open_array();
            w.open_object();
            w.member("index", &Out::U64(0))?;
            w.member("delta", &Out::Object(members.clone()))?;
            w.member("finish_reason", &Out::Null)?;
            w.close();
            w.close();
            Ok(())
        })
    };
    let mut sse = Vec::new();
    let mut first = vec![("role", Out::from("assistant"))];
    for key in ["reasoning_content", "reasoning", "content", "refusal"] {
        if let Some(text) = message.str(key) {
            first.push((key, text.into()));
        }
    }
    delta(&mut sse, first)?;
    let calls = message.field("tool_calls").array().unwrap_or_default();
    let calls = calls.into_iter().filter_map(Json::object);
    for (i, call) in calls.enumerate() {
        let mut members: Vec<(&'static str, Out)> = Vec::new();
        for key in ["id", "type", "function"] {
            if let Some(value) = call.get(key) {
                members.push((key, value.into()));
            }
        }
        members.push(("index", Out::U64(i as u64)));
        delta(
            &mut sse,
            vec![("tool_calls", Out::Array(vec![Out::Object(members)]))],
        )?;
    }
    let finish = choice.str("finish_reason");
    let finish = finish.as_deref().unwrap_or("stop");
    chunk(&mut sse, &|w: &mut JsonWriter| {
        w.open_array();
        w.open_object();
        w.member("index", &Out::U64(0))?;
        w.member("delta", &Out::Object(Vec::new()))?;
        w.member("finish_reason", &finish.into())?;
        w.close();
        w.close();
        Ok(())
    })?;
    let usage = answer.field("usage");
    if usage.object().is_some() {
        chunk(&mut sse, &|w: &mut JsonWriter| {
            w.open_array();
            w.close();
            w.member("usage", &usage.into())
        })?;
    }
    sse.extend_from_slice(b"data: [DONE]\n\n");
    Ok(sse)
}

/// A Message as the events that would have streamed it.
fn messages_answer_as_sse(answer: &Object<'_>) -> serde_json::Result<Vec<u8>> {
    let mut sse = Vec::new();
    event(&mut sse, Some("message_start"), |w| {
        w.open_object();
        w.member("type", &"message_start".into())?;
        w.key("message")?;
        w.open_object();
        for (key, value) in answer.members() {
            if key != "content" && key != "stop_reason" {
                w.member(key, &value.into())?;
            }
        }
        w.member("content", &Out::Array(Vec::new()))?;
        w.member("stop_reason", &Out::Null)
    })?;
    let blocks = answer.field("content").array().unwrap_or_default();
    for (index, block) in blocks.into_iter().enumerate() {
        let fields = block.object().unwrap_or_default();
        let index = Out::U64(index as u64);
        let (empty, delta): (Out, Option<Out>) = match fields.str("type").as_deref() {
            Some("text") => (
                out_of(&[("type", "text".into()), ("text", "".into())]),
                Some(out_of(&[
                    ("type", "text_delta".into()),
                    ("text", fields.field("text").into()),
                ])),
            ),
            Some("thinking") => (
                out_of(&[("type", "thinking".into()), ("thinking", "".into())]),
                Some(out_of(&[
                    ("type", "thinking_delta".into()),
                    ("thinking", fields.field("thinking").into()),
                ])),
            ),
            Some("tool_use") => (
                out_of(&[
                    ("type", "tool_use".into()),
                    ("id", fields.field("id").into()),
                    ("name", fields.field("name").into()),
                    ("input", Out::Object(Vec::new())),
                ]),
                Some(out_of(&[
                    ("type", "input_json_delta".into()),
                    ("partial_json", fields.field("input").compact().into()),
                ])),
            ),
            _ => (block.into(), None),
        };
        event(&mut sse, Some("content_block_start"), |w| {
            w.open_object();
            w.member("type", &"content_block_start".into())?;
            w.member("index", &index)?;
            w.member("content_block", &empty)
        })?;
        if let Some(delta) = delta {
            event(&mut sse, Some("content_block_delta"), |w| {
                w.open_object();
                w.member("type", &"content_block_delta".into())?;
                w.member("index", &index)?;
                w.member("delta", &delta)
            })?;
        }
        event(&mut sse, Some("content_block_stop"), |w| {
            w.open_object();
            w.member("type", &"content_block_stop".into())?;
            w.member("index", &index)
        })?;
    }
    event(&mut sse, Some("message_delta"), |w| {
        w.open_object();
        w.member("type", &"message_delta".into())?;
        w.key("delta")?;
        w.open_object();
        w.member("stop_reason", &answer.field("stop_reason").into())?;
        w.member("stop_sequence", &answer.field("stop_sequence").into())?;
        w.close();
        w.member("usage", &answer.field("usage").into())
    })?;
    event(&mut sse, Some("message_stop"), |w| {
        w.open_object();
        w.member("type", &"message_stop".into())
    })?;
    Ok(sse)
}

/// An object of these members.
fn out_of<'a>(members: &[(&'static str, Out<'a>)]) -> Out<'a> {
    Out::Object(members.to_vec())
}

/// A JSON answer from an upstream that ignored `stream: true`, as the SSE stream the client asked
/// for, in the client's API; `None` when the body is not a JSON answer.
pub fn translate_answer_as_stream(exchange: &Exchange, body: &[u8]) -> Option<Vec<u8>> {
    let answer = Json::parse(body).ok()?.object()?;
    if answer.get("error").is_some() {
        return None;
    }
    let upstream_sse = match exchange.upstream {
        Api::OpenAi => chat_answer_as_sse(&answer),
        Api::Anthropic => messages_answer_as_sse(&answer),
    }
    .ok()?;
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

//! Property tests: any valid stream of one API, fed in pieces split anywhere, translates to a valid
//! stream of the other, with text, reasoning and tool arguments surviving byte for byte.

use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Segment {
    Reasoning(Vec<String>),
    Text(Vec<String>),
    /// Tool calls: (name, argument fragments).
    Tools(Vec<(String, Vec<String>)>),
}

fn fragments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("(?s).{0,6}", 1..5)
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        fragments().prop_map(Segment::Reasoning),
        fragments().prop_map(Segment::Text),
        prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,12}", fragments()), 1..4)
            .prop_map(Segment::Tools),
    ]
}

/// Feeds `bytes` cut at `cuts` (taken modulo the length) and returns all output and the end.
fn feed_in_pieces(
    t: &mut StreamTranslator,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<u8>, Result<(), Cut>) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        out.extend(t.feed(&bytes[from..p]));
        from = p;
    }
    let end = t.finish().map(|tail| out.extend(tail));
    (out, end)
}

fn parse_sse(bytes: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut all = p.feed(bytes);
    all.extend(p.finish());
    all
}

struct ChatCase {
    bytes: Vec<u8>,
    reasoning: String,
    text: String,
    tools: Vec<(String, String, String)>,
}

fn chat_transcript(segments: &[Segment], finish: &str, usage: u8, done: bool) -> ChatCase {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut chunks = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
    let (mut reasoning, mut text, mut tools) = (String::new(), String::new(), Vec::new());
    for segment in segments {
        match segment {
            Segment::Reasoning(parts) => {
                for p in parts {
                    reasoning.push_str(p);
                    chunks.push(chunk(
                        json!({"content": null, "reasoning_content": p}),
                        None,
                    ));
                }
            }
            Segment::Text(parts) => {
                for p in parts {
                    text.push_str(p);
                    chunks.push(chunk(json!({"content": p}), None));
                }
            }
            Segment::Tools(calls) => {
                for (name, parts) in calls {
                    let index = tools.len();
                    let id = format!("call_{index}");
                    chunks.push(chunk(
                        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                        "function": {"name": name, "arguments": parts[0]}}]}),
                        None,
                    ));
                    for p in &parts[1..] {
                        chunks.push(chunk(
                            json!({"tool_calls": [{"index": index, "function": {"arguments": p}}]}),
                            None,
                        ));
                    }
                    tools.push((id, name.clone(), parts.concat()));
                }
            }
        }
    }
    let mut last = chunk(json!({}), Some(finish));
    let usage_value = json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18});
    if usage == 1 {
        last["usage"] = usage_value.clone();
    }
    chunks.push(last);
    if usage == 2 {
        chunks.push(json!({"id": "chatcmpl-p", "object": "chat.completion.chunk", "choices": [], "usage": usage_value}));
    }
    let mut bytes: Vec<u8> = chunks
        .iter()
        .flat_map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    if done {
        bytes.extend_from_slice(b"data: [DONE]\n\n");
    }
    ChatCase {
        bytes,
        reasoning,
        text,
        tools,
    }
}

/// Checks the Messages event grammar and returns (thinking, text, tools) as the client reads them.
fn read_messages_stream(bytes: &[u8]) -> (String, String, Vec<(String, String, String)>, String) {
    let events = parse_sse(bytes);
    assert!(!events.is_empty());
    let values: Vec<Value> = events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(
                v["type"].as_str(),
                Some(e.name.as_str()),
                "event name matches its type"
            );
            v
        })
        .collect();
    assert_eq!(values[0]["type"], "message_start");
    assert_eq!(values[0]["message"]["model"], "claude-client");
    let (mut thinking, mut text, mut tools) = (String::new(), String::new(), Vec::new());
    let mut open: Option<(u64, String)> = None;
    let mut next = 0u64;
    let mut stop_reason = String::new();
    let mut deltas = 0;
    for (i, v) in values.iter().enumerate().skip(1) {
        match v["type"].as_str().unwrap() {
            "content_block_start" => {
                assert!(
                    open.is_none(),
                    "a block opens only after the previous one closed"
                );
                assert_eq!(v["index"].as_u64(), Some(next), "indices are contiguous");
                let kind = v["content_block"]["type"].as_str().unwrap().to_string();
                if kind == "tool_use" {
                    let b = &v["content_block"];
                    tools.push((
                        b["id"].as_str().unwrap().to_string(),
                        b["name"].as_str().unwrap().to_string(),
                        String::new(),
                    ));
                }
                open = Some((next, kind));
                next += 1;
            }
            "content_block_delta" => {
                let (index, kind) = open.clone().expect("a delta belongs to an open block");
                assert_eq!(v["index"].as_u64(), Some(index));
                let d = &v["delta"];
                match (kind.as_str(), d["type"].as_str().unwrap()) {
                    ("thinking", "thinking_delta") => {
                        thinking.push_str(d["thinking"].as_str().unwrap())
                    }
                    ("text", "text_delta") => text.push_str(d["text"].as_str().unwrap()),
                    ("tool_use", "input_json_delta") => tools
                        .last_mut()
                        .unwrap()
                        .2
                        .push_str(d["partial_json"].as_str().unwrap()),
                    other => panic!("delta {other:?} does not fit its block"),
                }
            }
            "content_block_stop" => {
                let (index, _) = open.take().expect("stop closes an open block");
                assert_eq!(v["index"].as_u64(), Some(index));
            }
            "message_delta" => {
                assert!(open.is_none(), "every block is closed before message_delta");
                deltas += 1;
                stop_reason = v["delta"]["stop_reason"].as_str().unwrap().to_string();
            }
            "message_stop" => assert_eq!(i, values.len() - 1, "message_stop comes last"),
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(deltas, 1, "exactly one message_delta");
    assert_eq!(
        values
            .iter()
            .filter(|v| v["type"] == "message_stop")
            .count(),
        1,
        "exactly one message_stop"
    );
    (thinking, text, tools, stop_reason)
}

#[derive(Debug, Clone)]
enum Block {
    Thinking(Vec<String>),
    Text(Vec<String>),
    Tool(String, Vec<String>),
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        fragments().prop_map(Block::Thinking),
        fragments().prop_map(Block::Text),
        ("[a-zA-Z_][a-zA-Z0-9_]{0,12}", fragments()).prop_map(|(n, f)| Block::Tool(n, f)),
    ]
}

fn messages_transcript(blocks: &[Block], stop: &str, ping: bool) -> Vec<u8> {
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": "msg_p", "type": "message", "role": "assistant",
        "model": "claude-up", "content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}}),
    ];
    if ping {
        events.push(json!({"type": "ping"}));
    }
    for (index, b) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match b {
            Block::Thinking(parts) => (
                json!({"type": "thinking", "thinking": ""}),
                parts
                    .iter()
                    .map(|p| json!({"type": "thinking_delta", "thinking": p}))
                    .chain([json!({"type": "signature_delta", "signature": "sig"})])
                    .collect(),
            ),
            Block::Text(parts) => (
                json!({"type": "text", "text": ""}),
                parts
                    .iter()
                    .map(|p| json!({"type": "text_delta", "text": p}))
                    .collect(),
            ),
            Block::Tool(name, parts) => (
                json!({"type": "tool_use", "id": format!("toolu_{index}"), "name": name, "input": {}}),
                parts
                    .iter()
                    .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                    .collect(),
            ),
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        for d in deltas {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": d}));
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 9}}));
    events.push(json!({"type": "message_stop"}));
    events
        .iter()
        .flat_map(|e| {
            format!(
                "event: {}\ndata: {e}\n\n",
                e["type"].as_str().unwrap_or_default()
            )
            .into_bytes()
        })
        .collect()
}

proptest! {
    #[test]
    fn any_chat_stream_becomes_a_valid_messages_stream(
        segments in prop::collection::vec(segment(), 0..6),
        finish in prop::sample::select(vec!["stop", "length", "tool_calls", "content_filter"]),
        usage in 0u8..3,
        done in any::<bool>(),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let case = chat_transcript(&segments, finish, usage, done);
        let bytes = if crlf {
            String::from_utf8(case.bytes.clone()).unwrap().replace('\n', "\r\n").into_bytes()
        } else {
            case.bytes.clone()
        };
        let ex = Exchange { client: Api::Anthropic, upstream: Api::OpenAi, client_model: "claude-client".into(),
            upstream_model: "up".into(), stream: true, include_usage: false, created: 0, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let (thinking, text, tools, stop) = read_messages_stream(&out);
        prop_assert_eq!(thinking, case.reasoning);
        prop_assert_eq!(text, case.text);
        prop_assert_eq!(&tools, &case.tools);
        let want = match finish {
            "length" => "max_tokens",
            "content_filter" => "refusal",
            _ if !case.tools.is_empty() => "tool_use",
            _ => "end_turn",
        };
        prop_assert_eq!(stop, want);
        if usage > 0 {
            prop_assert_eq!(t.usage().input, 11);
        }
    }

    #[test]
    fn any_messages_stream_becomes_a_valid_chat_stream(
        blocks in prop::collection::vec(block(), 0..6),
        stop in prop::sample::select(vec!["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"]),
        ping in any::<bool>(),
        include_usage in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = messages_transcript(&blocks, stop, ping);
        let ex = Exchange { client: Api::OpenAi, upstream: Api::Anthropic, client_model: "gpt-client".into(),
            upstream_model: "claude-up".into(), stream: true, include_usage, created: 3, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let events = parse_sse(&out);
        prop_assert_eq!(events.iter().filter(|e| e.data == "[DONE]").count(), 1);
        prop_assert_eq!(&events.last().unwrap().data, "[DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect();
        prop_assert_eq!(&chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let (mut text, mut reasoning) = (String::new(), String::new());
        let mut calls: Vec<(String, String, String)> = Vec::new();
        let mut finishes = Vec::new();
        let mut usage_chunks = 0;
        for c in &chunks {
            prop_assert_eq!(&c["model"], "gpt-client");
            prop_assert_eq!(&c["object"], "chat.completion.chunk");
            if c["choices"].as_array().unwrap().is_empty() {
                usage_chunks += 1;
                prop_assert_eq!(&c["usage"]["prompt_tokens"], 5);
                prop_assert_eq!(&c["usage"]["completion_tokens"], 9);
                prop_assert_eq!(finishes.len(), 1, "usage follows the finish chunk");
                continue;
            }
            let choice = &c["choices"][0];
            prop_assert!(finishes.is_empty(), "nothing follows the finish chunk but usage");
            if let Some(f) = choice["finish_reason"].as_str() {
                finishes.push(f.to_string());
            }
            let d = &choice["delta"];
            text.push_str(d["content"].as_str().unwrap_or_default());
            reasoning.push_str(d["reasoning_content"].as_str().unwrap_or_default());
            for call in d["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap() as usize;
                if index == calls.len() {
                    calls.push((call["id"].as_str().unwrap().to_string(), call["function"]["name"].as_str().unwrap().to_string(), String::new()));
                }
                prop_assert!(index < calls.len(), "tool call indices are contiguous");
                calls[index].2.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
            }
        }
        prop_assert_eq!(usage_chunks, usize::from(include_usage));
        let want_finish = match stop {
            "max_tokens" => "length",
            "tool_use" => "tool_calls",
            "refusal" => "content_filter",
            _ => "stop",
        };
        prop_assert_eq!(finishes, vec![want_finish.to_string()]);
        let (mut want_text, mut want_reasoning, mut want_calls) = (String::new(), String::new(), Vec::new());
        for (index, b) in blocks.iter().enumerate() {
            match b {
                Block::Thinking(p) => want_reasoning.push_str(&p.concat()),
                Block::Text(p) => want_text.push_str(&p.concat()),
                Block::Tool(name, p) => want_calls.push((format!("toolu_{index}"), name.clone(), p.concat())),
            }
        }
        prop_assert_eq!(text, want_text);
        prop_assert_eq!(reasoning, want_reasoning);
        prop_assert_eq!(calls, want_calls);
    }
}

/// One conversation turn as a Messages request writes it.
#[derive(Debug, Clone)]
enum Turn {
    /// Tool results (for the previous assistant turn's calls: is_error, content) and user text.
    User(Vec<(bool, String)>, Option<String>),
    /// Assistant text and tool calls (name, input fields).
    Assistant(Option<String>, Vec<(String, Vec<(String, String)>)>),
}

fn text() -> impl Strategy<Value = String> {
    "(?s).{1,12}"
}

fn conversation() -> impl Strategy<Value = Vec<Turn>> {
    let assistant = (
        prop::option::of(text()),
        prop::collection::vec(
            (
                "[a-zA-Z_]{1,10}",
                prop::collection::vec(("[a-z]{1,6}", text()), 0..3),
            ),
            0..3,
        ),
    )
        .prop_filter("an assistant turn says something", |(t, c)| {
            t.is_some() || !c.is_empty()
        });
    let pair = (
        assistant,
        prop::collection::vec((any::<bool>(), text()), 0..3),
        prop::option::of(text()),
    );
    (text(), prop::collection::vec(pair, 0..4)).prop_map(|(first, pairs)| {
        let mut turns = vec![Turn::User(Vec::new(), Some(first))];
        for ((atext, calls), results, utext) in pairs {
            let n = calls.len();
            turns.push(Turn::Assistant(atext, calls));
            // One result per call, then maybe text; a user turn must say something.
            let mut results: Vec<(bool, String)> = results.into_iter().cycle().take(n).collect();
            if results.len() < n {
                results.resize(n, (false, "ok".into()));
            }
            let utext = if n == 0 && utext.is_none() {
                Some("go on".into())
            } else {
                utext
            };
            turns.push(Turn::User(results, utext));
        }
        turns
    })
}

fn messages_request(turns: &[Turn]) -> Value {
    let mut messages = Vec::new();
    let mut last_ids: Vec<String> = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        match turn {
            Turn::User(results, text) => {
                let mut blocks: Vec<Value> = results
                    .iter()
                    .zip(&last_ids)
                    .map(|((is_error, content), id)| json!({"type": "tool_result", "tool_use_id": id, "content": content, "is_error": is_error}))
                    .collect();
                if let Some(text) = text {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                messages.push(json!({"role": "user", "content": blocks}));
            }
            Turn::Assistant(text, calls) => {
                let mut blocks = Vec::new();
                if let Some(text) = text {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                last_ids.clear();
                for (c, (name, fields)) in calls.iter().enumerate() {
                    let id = format!("toolu_{t}_{c}");
                    let input: serde_json::Map<String, Value> =
                        fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    blocks
                        .push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
                    last_ids.push(id);
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
        }
    }
    json!({"model": "claude", "max_tokens": 100, "system": "sys", "messages": messages})
}

/// A Messages conversation reduced to what must survive: per turn, its role, its text, its tool
/// calls (id, name, input) and its tool results (id, content with errors marked).
/// (role, text, tool calls, tool results) of one turn.
type TurnEssence = (String, String, Vec<Value>, Vec<(String, String)>);

fn essence(request: &Value) -> Vec<TurnEssence> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let blocks = match &m["content"] {
                Value::String(s) => vec![json!({"type": "text", "text": s})],
                other => other.as_array().unwrap().clone(),
            };
            let mut texts = Vec::new();
            let mut calls = Vec::new();
            let mut results = Vec::new();
            for b in blocks {
                match b["type"].as_str().unwrap() {
                    "text" => texts.push(b["text"].as_str().unwrap().to_string()),
                    "tool_use" => calls.push(json!([b["id"], b["name"], b["input"]])),
                    "tool_result" => {
                        let content = b["content"].as_str().unwrap().to_string();
                        let marked = if b["is_error"] == true {
                            format!("Error: {content}")
                        } else {
                            content
                        };
                        results.push((b["tool_use_id"].as_str().unwrap().to_string(), marked));
                    }
                    other => panic!("unexpected block {other}"),
                }
            }
            (
                m["role"].as_str().unwrap().to_string(),
                texts.join("\n\n"),
                calls,
                results,
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn a_conversation_survives_messages_to_chat_and_back(turns in conversation()) {
        let original = messages_request(&turns);
        let chat = messages_to_chat(&original, "up").unwrap();
        prop_assert_eq!(&chat["messages"][0], &json!({"role": "system", "content": "sys"}));
        let back = chat_to_messages(&chat, "claude", 100).unwrap();
        prop_assert_eq!(&back["system"], "sys");
        prop_assert_eq!(essence(&back), essence(&original));
    }
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "(?s).{0,6}".prop_map(Value::from),
        prop::sample::select(vec![
            "text",
            "tool_use",
            "tool_result",
            "image",
            "thinking",
            "user",
            "assistant",
            "tool",
            "function",
            "content_block_start",
            "content_block_delta",
            "message_delta",
            "message_stop",
            "error"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "type",
                        "role",
                        "content",
                        "messages",
                        "tools",
                        "tool_calls",
                        "index",
                        "id",
                        "name",
                        "input",
                        "delta",
                        "choices",
                        "function",
                        "arguments",
                        "text",
                        "usage",
                        "source",
                        "system",
                        "tool_choice",
                        "message",
                        "error",
                        "finish_reason",
                        "content_block",
                        "partial_json",
                        "stop"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn no_input_makes_a_translator_panic(
        raw in prop::collection::vec(any::<u8>(), 0..200),
        values in prop::collection::vec(any_json(), 0..6),
    ) {
        for (client, upstream) in [(Api::Anthropic, Api::OpenAi), (Api::OpenAi, Api::Anthropic)] {
            let ex = Exchange { client, upstream, client_model: "m".into(), upstream_model: "u".into(),
                stream: true, include_usage: true, created: 0, tool_names: Vec::new() };
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&raw);
            for v in &values {
                t.feed(format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or("x")).as_bytes());
                let _ = translate_request(client, upstream, v.to_string().as_bytes(), &RequestOptions::default());
                let _ = translate_answer(&ex, v.to_string().as_bytes());
                let _ = translate_answer_as_stream(&ex, v.to_string().as_bytes());
                let _ = translate_error(client, 500, v.to_string().as_bytes());
                let _ = estimate_input_tokens(v);
            }
            let _ = t.finish();
        }
    }
}

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
                    ("thinking", "signature_delta") => {}
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

/// Random JSON of `words` (and other leaves), whose objects have keys from `keys`: the shapes
/// each API's translators read, for the tests that no input makes them panic.
fn json_of(words: Vec<&'static str>, keys: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "(?s).{0,6}".prop_map(Value::from),
        prop::sample::select(words).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys.clone()), inner), 0..5).prop_map(
                |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    json_of(
        vec![
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
            "error",
        ],
        vec![
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
            "stop",
        ],
    )
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

/// One output item of a Responses stream, as its deltas arrive.
#[derive(Debug, Clone)]
enum Item {
    /// Summary parts, each in fragments.
    Reasoning(Vec<Vec<String>>),
    Text(Vec<String>),
    /// A function call: name, argument fragments.
    Call(String, Vec<String>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        prop::collection::vec(fragments(), 1..3).prop_map(Item::Reasoning),
        fragments().prop_map(Item::Text),
        ("[a-zA-Z_][a-zA-Z0-9_]{0,12}", fragments()).prop_map(|(n, f)| Item::Call(n, f)),
    ]
}

/// What a client must read back from a Responses stream.
struct ResponsesCase {
    bytes: Vec<u8>,
    reasoning: String,
    text: String,
    calls: Vec<(String, String, String)>,
}

/// A Responses stream as OpenAI sends it: every item added, its deltas and `.done` events, then
/// `response.completed` (or `response.incomplete` for a cut-off answer) with usage.
fn responses_transcript(items: &[Item], incomplete: bool, comments: bool) -> ResponsesCase {
    let mut events: Vec<Value> = Vec::new();
    let response = |status: &str, output: Vec<Value>, usage: Value| {
        json!({"id": "resp_p", "object": "response", "created_at": 1, "status": status,
            "model": "up", "output": output, "usage": usage})
    };
    events.push(json!({"type": "response.created", "response": response("in_progress", vec![], Value::Null)}));
    events.push(json!({"type": "response.in_progress", "response": response("in_progress", vec![], Value::Null)}));
    let (mut reasoning, mut text, mut calls, mut output) =
        (String::new(), String::new(), Vec::new(), Vec::new());
    for (i, item) in items.iter().enumerate() {
        let id = format!("item_{i}");
        let done = match item {
            Item::Reasoning(parts) => {
                events.push(
                    json!({"type": "response.output_item.added", "output_index": i,
                    "item": {"id": id, "type": "reasoning", "summary": []}}),
                );
                let mut summary = Vec::new();
                for (p, fragments) in parts.iter().enumerate() {
                    events.push(json!({"type": "response.reasoning_summary_part.added", "item_id": id,
                        "output_index": i, "summary_index": p, "part": {"type": "summary_text", "text": ""}}));
                    for f in fragments {
                        events.push(
                            json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                            "output_index": i, "summary_index": p, "delta": f}),
                        );
                    }
                    let whole = fragments.concat();
                    events.push(
                        json!({"type": "response.reasoning_summary_text.done", "item_id": id,
                        "output_index": i, "summary_index": p, "text": whole}),
                    );
                    summary.push(json!({"type": "summary_text", "text": whole}));
                }
                let texts: Vec<String> = parts.iter().map(|p| p.concat()).collect();
                reasoning.push_str(&texts.join("\n\n"));
                json!({"id": id, "type": "reasoning", "summary": summary, "encrypted_content": "gAAAA"})
            }
            Item::Text(fragments) => {
                events.push(json!({"type": "response.output_item.added", "output_index": i,
                    "item": {"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}));
                events.push(
                    json!({"type": "response.content_part.added", "item_id": id, "output_index": i,
                    "content_index": 0, "part": {"type": "output_text", "text": ""}}),
                );
                for f in fragments {
                    events.push(json!({"type": "response.output_text.delta", "item_id": id,
                        "output_index": i, "content_index": 0, "delta": f}));
                }
                let whole = fragments.concat();
                text.push_str(&whole);
                json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": whole, "annotations": []}]})
            }
            Item::Call(name, fragments) => {
                let call_id = format!("call_{i}");
                events.push(
                    json!({"type": "response.output_item.added", "output_index": i,
                    "item": {"id": id, "type": "function_call", "status": "in_progress",
                        "call_id": call_id, "name": name, "arguments": ""}}),
                );
                for f in fragments {
                    events.push(
                        json!({"type": "response.function_call_arguments.delta", "item_id": id,
                        "output_index": i, "delta": f}),
                    );
                }
                let whole = fragments.concat();
                calls.push((call_id.clone(), name.clone(), whole.clone()));
                json!({"id": id, "type": "function_call", "status": "completed", "call_id": call_id,
                    "name": name, "arguments": whole})
            }
        };
        events.push(json!({"type": "response.output_item.done", "output_index": i, "item": done}));
        output.push(done);
    }
    let usage = json!({"input_tokens": 11, "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 18});
    let mut last = response(
        if incomplete {
            "incomplete"
        } else {
            "completed"
        },
        output,
        usage,
    );
    if incomplete {
        last["incomplete_details"] = json!({"reason": "max_output_tokens"});
    }
    let kind = if incomplete {
        "response.incomplete"
    } else {
        "response.completed"
    };
    events.push(json!({"type": kind, "response": last}));
    let mut bytes = Vec::new();
    for (n, mut e) in events.into_iter().enumerate() {
        e["sequence_number"] = json!(n);
        if comments && n % 3 == 1 {
            bytes.extend_from_slice(b": keep-alive\n\n");
        }
        bytes.extend(format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()).into_bytes());
    }
    ResponsesCase {
        bytes,
        reasoning,
        text,
        calls,
    }
}

/// What a Chat client read from its chunks.
struct ChatRead {
    text: String,
    reasoning: String,
    calls: Vec<(String, String, String)>,
    finishes: Vec<String>,
    usage: Option<Value>,
}

/// Checks the Chat chunk grammar (one `[DONE]` last, the finish chunk once, only usage after it,
/// contiguous tool call indices) and returns what the client reads.
fn read_chat_stream(bytes: &[u8], model: &str) -> ChatRead {
    let events = parse_sse(bytes);
    assert_eq!(events.iter().filter(|e| e.data == "[DONE]").count(), 1);
    assert_eq!(&events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let mut read = ChatRead {
        text: String::new(),
        reasoning: String::new(),
        calls: Vec::new(),
        finishes: Vec::new(),
        usage: None,
    };
    for c in &chunks {
        assert_eq!(c["model"], model);
        assert_eq!(c["object"], "chat.completion.chunk");
        if c["choices"].as_array().unwrap().is_empty() {
            assert_eq!(read.finishes.len(), 1, "usage follows the finish chunk");
            assert!(read.usage.is_none(), "one usage chunk");
            read.usage = Some(c["usage"].clone());
            continue;
        }
        assert!(
            read.finishes.is_empty(),
            "nothing follows the finish chunk but usage"
        );
        let choice = &c["choices"][0];
        if let Some(f) = choice["finish_reason"].as_str() {
            read.finishes.push(f.to_string());
        }
        let d = &choice["delta"];
        read.text
            .push_str(d["content"].as_str().unwrap_or_default());
        read.reasoning
            .push_str(d["reasoning_content"].as_str().unwrap_or_default());
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap() as usize;
            if index == read.calls.len() {
                read.calls.push((
                    call["id"].as_str().unwrap().to_string(),
                    call["function"]["name"].as_str().unwrap().to_string(),
                    String::new(),
                ));
            }
            assert!(index < read.calls.len(), "tool call indices are contiguous");
            read.calls[index]
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(read.finishes.len(), 1, "exactly one finish chunk");
    read
}

/// What a Responses client read from its events.
#[derive(Debug, Default)]
struct ResponsesRead {
    reasoning: String,
    text: String,
    calls: Vec<(String, String, String)>,
    /// Each reasoning item's `encrypted_content`, if any.
    carried: Vec<Option<String>>,
    status: String,
    usage: Value,
}

/// Checks the Responses event grammar: `response.created` and `response.in_progress` first,
/// sequence numbers counting up from 0, one item open at a time, every item `added` then `done`
/// (with its whole content), every delta in the open item, and `response.completed` last, listing
/// the done items, with usage. Returns what a client such as Codex builds from `output_item.done`.
fn read_responses_stream(bytes: &[u8], model: &str) -> ResponsesRead {
    let events = parse_sse(bytes);
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
    assert_eq!(values[0]["type"], "response.created");
    assert_eq!(values[1]["type"], "response.in_progress");
    let mut read = ResponsesRead::default();
    let mut open: Option<(u64, String, String)> = None;
    let mut deltas = String::new();
    let mut done_items: Vec<Value> = Vec::new();
    for (n, v) in values.iter().enumerate() {
        assert_eq!(
            v["sequence_number"].as_u64(),
            Some(n as u64),
            "sequence numbers count up"
        );
        let kind = v["type"].as_str().unwrap();
        let in_open = |v: &Value, open: &Option<(u64, String, String)>, want: &str| {
            let (index, id, item_kind) = open.as_ref().expect("a delta belongs to an open item");
            assert_eq!(v["output_index"].as_u64(), Some(*index));
            assert_eq!(v["item_id"].as_str(), Some(id.as_str()));
            assert_eq!(item_kind, want, "{}", v["type"]);
        };
        match kind {
            "response.created" | "response.in_progress" => assert!(n < 2),
            "response.output_item.added" => {
                assert!(
                    open.is_none(),
                    "an item opens only after the previous one is done"
                );
                assert_eq!(v["output_index"].as_u64(), Some(done_items.len() as u64));
                let item = &v["item"];
                open = Some((
                    done_items.len() as u64,
                    item["id"].as_str().unwrap().to_string(),
                    item["type"].as_str().unwrap().to_string(),
                ));
                deltas.clear();
            }
            "response.content_part.added"
            | "response.content_part.done"
            | "response.output_text.done" => in_open(v, &open, "message"),
            "response.output_text.delta" => {
                in_open(v, &open, "message");
                deltas.push_str(v["delta"].as_str().unwrap());
            }
            "response.reasoning_summary_part.added"
            | "response.reasoning_summary_part.done"
            | "response.reasoning_summary_text.done" => in_open(v, &open, "reasoning"),
            "response.reasoning_summary_text.delta" => {
                in_open(v, &open, "reasoning");
                deltas.push_str(v["delta"].as_str().unwrap());
            }
            "response.function_call_arguments.done" => in_open(v, &open, "function_call"),
            "response.function_call_arguments.delta" => {
                in_open(v, &open, "function_call");
                deltas.push_str(v["delta"].as_str().unwrap());
            }
            "response.output_item.done" => {
                let (index, id, item_kind) = open.take().expect("done closes an open item");
                assert_eq!(v["output_index"].as_u64(), Some(index));
                let item = &v["item"];
                assert_eq!(item["id"].as_str(), Some(id.as_str()));
                assert_eq!(item["type"].as_str(), Some(item_kind.as_str()));
                match item_kind.as_str() {
                    "message" => {
                        assert_eq!(item["status"], "completed");
                        let whole = item["content"][0]["text"].as_str().unwrap();
                        assert_eq!(whole, deltas, "the done message holds its deltas");
                        read.text.push_str(whole);
                    }
                    "reasoning" => {
                        let summary = item["summary"].as_array().unwrap();
                        let whole: String = summary
                            .iter()
                            .map(|s| s["text"].as_str().unwrap())
                            .collect();
                        assert_eq!(whole, deltas, "the done reasoning holds its deltas");
                        read.reasoning.push_str(&whole);
                        read.carried
                            .push(item["encrypted_content"].as_str().map(str::to_string));
                    }
                    "function_call" => {
                        assert_eq!(item["status"], "completed");
                        let arguments = item["arguments"].as_str().unwrap();
                        assert_eq!(arguments, deltas, "the done call holds its arguments");
                        read.calls.push((
                            item["call_id"].as_str().unwrap().to_string(),
                            item["name"].as_str().unwrap().to_string(),
                            arguments.to_string(),
                        ));
                    }
                    other => panic!("unexpected item {other}"),
                }
                done_items.push(item.clone());
            }
            "response.completed" => {
                assert_eq!(n, values.len() - 1, "response.completed comes last");
                assert!(open.is_none(), "every item is done before the response");
                let response = &v["response"];
                assert_eq!(response["model"], model);
                assert_eq!(response["output"], Value::Array(done_items.clone()));
                let usage = &response["usage"];
                assert!(usage["input_tokens_details"]["cached_tokens"].is_u64());
                assert!(usage["output_tokens_details"]["reasoning_tokens"].is_u64());
                read.status = response["status"].as_str().unwrap().to_string();
                read.usage = usage.clone();
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(values.last().unwrap()["type"], "response.completed");
    read
}

proptest! {
    #[test]
    fn any_responses_stream_becomes_valid_messages_and_chat_streams(
        items in prop::collection::vec(item(), 0..6),
        incomplete in any::<bool>(),
        comments in any::<bool>(),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let case = responses_transcript(&items, incomplete, comments);
        let bytes = if crlf {
            String::from_utf8(case.bytes.clone()).unwrap().replace('\n', "\r\n").into_bytes()
        } else {
            case.bytes.clone()
        };
        let to_messages = Exchange { client: Api::Anthropic, upstream: Api::Responses, client_model: "claude-client".into(),
            upstream_model: "up".into(), stream: true, include_usage: false, created: 0, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&to_messages).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let (thinking, text, tools, stop) = read_messages_stream(&out);
        prop_assert_eq!(&thinking, &case.reasoning);
        prop_assert_eq!(&text, &case.text);
        prop_assert_eq!(&tools, &case.calls);
        let want = match (incomplete, case.calls.is_empty()) {
            (true, _) => "max_tokens",
            (false, false) => "tool_use",
            (false, true) => "end_turn",
        };
        prop_assert_eq!(stop, want);
        prop_assert_eq!(t.usage(), Tokens::new(8, 7, 3, 0).with_reasoning(2));

        let to_chat = Exchange { client: Api::OpenAi, client_model: "gpt-client".into(), include_usage: true, ..to_messages };
        let mut t = StreamTranslator::for_exchange(&to_chat).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_chat_stream(&out, "gpt-client");
        prop_assert_eq!(&read.reasoning, &case.reasoning);
        prop_assert_eq!(&read.text, &case.text);
        prop_assert_eq!(&read.calls, &case.calls);
        let want = match (incomplete, case.calls.is_empty()) {
            (true, _) => "length",
            (false, false) => "tool_calls",
            (false, true) => "stop",
        };
        prop_assert_eq!(read.finishes, vec![want.to_string()]);
        let usage = read.usage.unwrap();
        prop_assert_eq!(&usage["prompt_tokens"], 11);
        prop_assert_eq!(&usage["completion_tokens_details"]["reasoning_tokens"], 2);
    }

    #[test]
    fn any_chat_stream_becomes_a_valid_responses_stream(
        segments in prop::collection::vec(segment(), 0..6),
        finish in prop::sample::select(vec!["stop", "length", "tool_calls"]),
        usage in 0u8..3,
        done in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let case = chat_transcript(&segments, finish, usage, done);
        let ex = Exchange { client: Api::Responses, upstream: Api::OpenAi, client_model: "codex-client".into(),
            upstream_model: "up".into(), stream: true, include_usage: false, created: 0, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &case.bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_responses_stream(&out, "codex-client");
        prop_assert_eq!(read.reasoning, case.reasoning);
        prop_assert_eq!(read.text, case.text);
        prop_assert_eq!(read.calls, case.tools);
        prop_assert_eq!(read.status, if finish == "length" { "incomplete" } else { "completed" });
        if usage > 0 {
            prop_assert_eq!(&read.usage["input_tokens"], 11);
            prop_assert_eq!(&read.usage["output_tokens"], 7);
        }
    }

    #[test]
    fn any_messages_stream_becomes_a_valid_responses_stream_that_carries_its_thinking(
        blocks in prop::collection::vec(block(), 0..6),
        stop in prop::sample::select(vec!["end_turn", "max_tokens", "tool_use"]),
        ping in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = messages_transcript(&blocks, stop, ping);
        let ex = Exchange { client: Api::Responses, upstream: Api::Anthropic, client_model: "codex-client".into(),
            upstream_model: "claude-up".into(), stream: true, include_usage: false, created: 3, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_responses_stream(&out, "codex-client");
        let (mut want_text, mut want_reasoning, mut want_calls, mut thinking) = (String::new(), String::new(), Vec::new(), Vec::new());
        for (index, b) in blocks.iter().enumerate() {
            match b {
                Block::Thinking(p) => {
                    want_reasoning.push_str(&p.concat());
                    thinking.push(p.concat());
                }
                Block::Text(p) => want_text.push_str(&p.concat()),
                Block::Tool(name, p) => want_calls.push((format!("toolu_{index}"), name.clone(), p.concat())),
            }
        }
        prop_assert_eq!(read.text, want_text);
        prop_assert_eq!(read.reasoning, want_reasoning);
        prop_assert_eq!(read.calls, want_calls);
        prop_assert_eq!(read.status, if stop == "max_tokens" { "incomplete" } else { "completed" });
        // Each thinking block comes back whole from its reasoning item, signature and all.
        prop_assert_eq!(read.carried.len(), thinking.len());
        for (carried, text) in read.carried.iter().zip(&thinking) {
            let restored = responses::carry::restore(carried.as_deref().unwrap()).unwrap();
            let is_it = matches!(&restored[..], [ir::Part::Thinking { text: t, signature: Some(s) }] if t == text.as_str() && s == "sig");
            prop_assert!(is_it, "{:?}", restored);
        }
    }
}

/// Any JSON value, small, in the words of Responses events and requests.
fn responses_json() -> impl Strategy<Value = Value> {
    json_of(
        vec![
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.output_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_part.added",
            "response.function_call_arguments.delta",
            "response.completed",
            "response.incomplete",
            "response.failed",
            "error",
            "message",
            "reasoning",
            "function_call",
            "custom_tool_call",
            "function_call_output",
            "custom_tool_call_output",
            "input_text",
            "input_image",
            "input_file",
            "item_reference",
            "developer",
            "assistant",
            "user",
            "function",
            "custom",
            "json_schema",
            "switchyard.anthropic.v1:W10=",
        ],
        vec![
            "type",
            "role",
            "content",
            "input",
            "output",
            "item",
            "output_index",
            "summary_index",
            "delta",
            "response",
            "usage",
            "call_id",
            "name",
            "arguments",
            "summary",
            "text",
            "status",
            "error",
            "code",
            "message",
            "encrypted_content",
            "tools",
            "tool_choice",
            "reasoning",
            "effort",
            "format",
            "instructions",
            "image_url",
            "file_data",
            "parameters",
            "incomplete_details",
            "reason",
            "previous_response_id",
            "store",
            "max_output_tokens",
            "messages",
            "system",
            "stream",
        ],
    )
}

proptest! {
    #[test]
    fn no_input_makes_a_responses_translation_panic(
        raw in prop::collection::vec(any::<u8>(), 0..200),
        values in prop::collection::vec(responses_json(), 0..6),
    ) {
        for (client, upstream) in [
            (Api::Anthropic, Api::Responses),
            (Api::OpenAi, Api::Responses),
            (Api::Responses, Api::Anthropic),
            (Api::Responses, Api::OpenAi),
        ] {
            let ex = Exchange { client, upstream, client_model: "m".into(), upstream_model: "u".into(),
                stream: true, include_usage: true, created: 0, tool_names: Vec::new() };
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&raw);
            for v in &values {
                t.feed(format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or("x")).as_bytes());
                let _ = translate_request(client, upstream, v.to_string().as_bytes(), &RequestOptions::default());
                let _ = translate_answer(&ex, v.to_string().as_bytes());
                let _ = translate_answer_as_stream(&ex, v.to_string().as_bytes());
            }
            let _ = t.finish();
        }
    }
}

/// The tool a Messages request was given to carry a structured output; generated tool names are
/// shorter, so no other tool has its name.
const ANSWER_TOOL: &str = "structured_answer";

/// A block of a Messages stream, or a call of the forced answer tool.
fn block_or_answer() -> impl Strategy<Value = Block> {
    prop_oneof![
        block(),
        fragments().prop_map(|f| Block::Tool(ANSWER_TOOL.into(), f)),
    ]
}

proptest! {
    #[test]
    fn the_forced_tools_fragments_reach_chat_and_responses_clients_as_text(
        blocks in prop::collection::vec(block_or_answer(), 0..6),
        stop in prop::sample::select(vec!["end_turn", "max_tokens", "tool_use"]),
        ping in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = messages_transcript(&blocks, stop, ping);
        let (mut want_text, mut want_calls, mut answered) = (String::new(), Vec::new(), false);
        for (index, b) in blocks.iter().enumerate() {
            match b {
                Block::Text(p) => want_text.push_str(&p.concat()),
                Block::Tool(name, p) if name == ANSWER_TOOL => {
                    answered = true;
                    let input = p.concat();
                    // A call that streamed no input gives the empty input.
                    want_text.push_str(if input.is_empty() { "{}" } else { &input });
                }
                Block::Tool(name, p) => want_calls.push((format!("toolu_{index}"), name.clone(), p.concat())),
                Block::Thinking(_) => {}
            }
        }
        let finished_turn = stop == "end_turn" || (stop == "tool_use" && answered && want_calls.is_empty());
        let tool_names = vec![ToolName { upstream: ANSWER_TOOL.into(), client: ANSWER_TOOL.into(), custom: false, answer: true }];
        let to_chat = Exchange { client: Api::OpenAi, upstream: Api::Anthropic, client_model: "gpt-client".into(),
            upstream_model: "claude-up".into(), stream: true, include_usage: true, created: 3, tool_names };
        let mut t = StreamTranslator::for_exchange(&to_chat).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_chat_stream(&out, "gpt-client");
        prop_assert_eq!(&read.text, &want_text);
        prop_assert_eq!(&read.calls, &want_calls);
        let want_finish = match stop {
            "max_tokens" => "length",
            _ if finished_turn => "stop",
            _ => "tool_calls",
        };
        prop_assert_eq!(read.finishes, vec![want_finish.to_string()]);

        let to_responses = Exchange { client: Api::Responses, client_model: "codex-client".into(), include_usage: false, ..to_chat };
        let mut t = StreamTranslator::for_exchange(&to_responses).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_responses_stream(&out, "codex-client");
        prop_assert_eq!(read.text, want_text);
        prop_assert_eq!(read.calls, want_calls);
        prop_assert_eq!(read.status, if stop == "max_tokens" { "incomplete" } else { "completed" });
    }
}

proptest! {
    #[test]
    fn a_json_schema_for_messages_is_one_validly_named_tool_unlike_the_clients(
        format_name in "(?s).{0,80}",
        tool_names in prop::collection::vec("[a-zA-Z_][a-zA-Z0-9_]{0,12}|(?s).{0,70}", 0..4),
        responses in any::<bool>(),
    ) {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let request = if responses {
            let tools: Vec<Value> = tool_names.iter().map(|n| json!({"type": "function", "name": n})).collect();
            json!({"model": "m", "input": "hi", "tools": tools,
                "text": {"format": {"type": "json_schema", "name": format_name, "schema": schema}}})
        } else {
            let tools: Vec<Value> = tool_names.iter().map(|n| json!({"type": "function", "function": {"name": n}})).collect();
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tools,
                "response_format": {"type": "json_schema", "json_schema": {"name": format_name, "schema": schema}}})
        };
        let client = if responses { Api::Responses } else { Api::OpenAi };
        let t = translate_request(client, Api::Anthropic, request.to_string().as_bytes(), &RequestOptions::default()).unwrap();
        let sent: Value = serde_json::from_slice(&t.body).unwrap();
        let tools = sent["tools"].as_array().unwrap();
        prop_assert_eq!(tools.len(), tool_names.len() + 1);
        let answer = tools.last().unwrap();
        let name = answer["name"].as_str().unwrap();
        prop_assert!((1..=64).contains(&name.len()), "{}", name);
        prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{}", name);
        prop_assert!(tool_names.iter().all(|n| n != name), "{} is a client's tool", name);
        prop_assert_eq!(&answer["input_schema"], &schema);
        prop_assert_eq!(t.exchange.tool_names.iter().filter(|t| t.answer).count(), 1);
        let want_choice = if tool_names.is_empty() { json!({"type": "tool", "name": name}) } else { json!({"type": "any"}) };
        prop_assert_eq!(&sent["tool_choice"], &want_choice);
    }
}

// Gemini.

/// One part of a Gemini stream as it arrives.
#[derive(Debug, Clone)]
enum GeminiPart {
    /// Thought text in fragments (one part per chunk), maybe signed on its last part.
    Thought(Vec<String>, bool),
    Text(Vec<String>),
    /// A call: name, arguments, whether it has an id and a signature.
    Call(String, Value, bool, bool),
}

/// A small JSON object of tool arguments.
fn arguments() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        "[a-z]{1,6}",
        prop_oneof![
            "(?s).{0,8}".prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            prop::collection::vec("(?s).{0,4}", 0..3).prop_map(|v| json!(v)),
        ],
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn gemini_part() -> impl Strategy<Value = GeminiPart> {
    prop_oneof![
        (fragments(), any::<bool>()).prop_map(|(f, s)| GeminiPart::Thought(f, s)),
        fragments().prop_map(GeminiPart::Text),
        (
            "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
            arguments(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(n, a, id, s)| GeminiPart::Call(n, a, id, s)),
    ]
}

/// What a client must read back from a Gemini stream.
struct GeminiCase {
    bytes: Vec<u8>,
    thinking: String,
    text: String,
    /// (id, name, arguments as compact JSON).
    calls: Vec<(String, String, String)>,
    signatures: Vec<String>,
}

/// A Gemini stream as Gemini sends it: a chunk per part (usage in each, the last one whole), the
/// `finishReason` on the last part's chunk or in a chunk of its own.
fn gemini_transcript(parts: &[GeminiPart], finish: &str, finish_apart: bool) -> GeminiCase {
    let usage_now = json!({"promptTokenCount": 11, "totalTokenCount": 11});
    let usage_last = json!({"promptTokenCount": 11, "cachedContentTokenCount": 3,
        "candidatesTokenCount": 5, "thoughtsTokenCount": 2, "totalTokenCount": 18});
    let chunk = |part: Option<Value>| {
        let parts: Vec<Value> = part.into_iter().collect();
        json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "index": 0}],
            "usageMetadata": usage_now, "modelVersion": "gemini-up", "responseId": "resp-p"})
    };
    let mut chunks = Vec::new();
    let mut case = GeminiCase {
        bytes: Vec::new(),
        thinking: String::new(),
        text: String::new(),
        calls: Vec::new(),
        signatures: Vec::new(),
    };
    for (i, part) in parts.iter().enumerate() {
        match part {
            GeminiPart::Thought(fragments, signed) => {
                for (f, fragment) in fragments.iter().enumerate() {
                    let mut p = json!({"text": fragment, "thought": true});
                    if *signed && f == fragments.len() - 1 {
                        let signature = format!("SIG{i}");
                        p["thoughtSignature"] = json!(signature);
                        case.signatures.push(signature);
                    }
                    chunks.push(chunk(Some(p)));
                }
                case.thinking.push_str(&fragments.concat());
            }
            GeminiPart::Text(fragments) => {
                for fragment in fragments {
                    chunks.push(chunk(Some(json!({"text": fragment}))));
                }
                case.text.push_str(&fragments.concat());
            }
            GeminiPart::Call(name, args, with_id, signed) => {
                let index = case.calls.len();
                let mut call = json!({"name": name, "args": args});
                let id = if *with_id {
                    call["id"] = json!(format!("fc_{i}"));
                    format!("fc_{i}")
                } else {
                    format!("call_resp-p_{index}")
                };
                let mut p = json!({"functionCall": call});
                if *signed {
                    let signature = format!("SIG{i}");
                    p["thoughtSignature"] = json!(signature);
                    case.signatures.push(signature);
                }
                chunks.push(chunk(Some(p)));
                case.calls.push((id, name.clone(), args.to_string()));
            }
        }
    }
    if finish_apart || chunks.is_empty() {
        chunks.push(chunk(Some(json!({"text": ""}))));
    }
    let last = chunks.last_mut().unwrap();
    last["candidates"][0]["finishReason"] = json!(finish);
    last["usageMetadata"] = usage_last;
    case.bytes = chunks
        .iter()
        .flat_map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    case
}

/// What a Gemini client read from its chunks.
#[derive(Debug, Default)]
struct GeminiRead {
    thought: String,
    text: String,
    /// (id, name, args).
    calls: Vec<(String, String, Value)>,
    /// Each call's `thoughtSignature`, if it has one.
    signatures: Vec<Option<String>>,
    finish: String,
    usage: Value,
}

/// Checks the Gemini chunk grammar: `data:` lines without event names, each a candidate of role
/// `model` naming the client's model, every call whole with object `args`, `finishReason` and
/// `usageMetadata` only on the last chunk. Returns what Gemini CLI reads.
fn read_gemini_stream(bytes: &[u8], model: &str) -> GeminiRead {
    let events = parse_sse(bytes);
    assert!(!events.is_empty());
    let mut read = GeminiRead::default();
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e.name, "", "Gemini chunks have no event names");
        let chunk: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(chunk["modelVersion"], model);
        assert!(chunk["responseId"].is_string());
        let candidates = chunk["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 1);
        let candidate = &candidates[0];
        assert_eq!(candidate["content"]["role"], "model");
        let last = n == events.len() - 1;
        assert_eq!(
            candidate["finishReason"].is_string(),
            last,
            "finishReason on the last chunk only"
        );
        assert_eq!(
            chunk["usageMetadata"].is_object(),
            last,
            "usage on the last chunk only"
        );
        if last {
            read.finish = candidate["finishReason"].as_str().unwrap().to_string();
            read.usage = chunk["usageMetadata"].clone();
        }
        for part in candidate["content"]["parts"].as_array().unwrap() {
            if let Some(call) = part.get("functionCall") {
                assert!(call["args"].is_object(), "args are an object");
                read.calls.push((
                    call["id"].as_str().unwrap().to_string(),
                    call["name"].as_str().unwrap().to_string(),
                    call["args"].clone(),
                ));
                read.signatures
                    .push(part["thoughtSignature"].as_str().map(str::to_string));
            } else if part["thought"] == true {
                read.thought.push_str(part["text"].as_str().unwrap());
            } else {
                read.text.push_str(part["text"].as_str().unwrap());
            }
        }
    }
    read
}

/// JSON-object arguments cut into fragments anywhere (at character boundaries).
fn argument_fragments() -> impl Strategy<Value = (Value, Vec<String>)> {
    (arguments(), prop::collection::vec(any::<usize>(), 0..4)).prop_map(|(args, cuts)| {
        let text = args.to_string();
        let chars: Vec<char> = text.chars().collect();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (chars.len() + 1)).collect();
        points.sort_unstable();
        let mut fragments = Vec::new();
        let mut from = 0;
        for p in points.into_iter().chain([chars.len()]) {
            fragments.push(chars[from..p].iter().collect());
            from = p;
        }
        (args, fragments)
    })
}

/// A Messages block whose tool arguments are a JSON object in fragments.
fn block_with_arguments() -> impl Strategy<Value = Block> {
    prop_oneof![
        fragments().prop_map(Block::Thinking),
        fragments().prop_map(Block::Text),
        ("[a-zA-Z_][a-zA-Z0-9_]{0,12}", argument_fragments())
            .prop_map(|(n, (_, f))| Block::Tool(n, f)),
    ]
}

/// The arguments a Gemini client reads for fragments: the object they make.
fn args_of(fragments: &[String]) -> Value {
    serde_json::from_str(&fragments.concat()).unwrap()
}

proptest! {
    #[test]
    fn any_gemini_stream_becomes_valid_messages_chat_and_responses_streams(
        parts in prop::collection::vec(gemini_part(), 0..6),
        finish in prop::sample::select(vec!["STOP", "MAX_TOKENS", "SAFETY"]),
        finish_apart in any::<bool>(),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let case = gemini_transcript(&parts, finish, finish_apart);
        let bytes = if crlf {
            String::from_utf8(case.bytes.clone()).unwrap().replace('\n', "\r\n").into_bytes()
        } else {
            case.bytes.clone()
        };
        let to_messages = Exchange { client: Api::Anthropic, upstream: Api::Gemini, client_model: "claude-client".into(),
            upstream_model: "gemini-up".into(), stream: true, include_usage: false, created: 0, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&to_messages).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let (thinking, text, tools, stop) = read_messages_stream(&out);
        prop_assert_eq!(&thinking, &case.thinking);
        prop_assert_eq!(&text, &case.text);
        prop_assert_eq!(&tools, &case.calls);
        let want = match finish {
            "MAX_TOKENS" => "max_tokens",
            "SAFETY" => "refusal",
            _ if !case.calls.is_empty() => "tool_use",
            _ => "end_turn",
        };
        prop_assert_eq!(stop, want);
        prop_assert_eq!(t.usage(), Tokens::new(8, 7, 3, 0).with_reasoning(2));
        // Every signature reaches Claude Code in a thinking block's signature, to come back.
        let written = String::from_utf8(out).unwrap();
        for signature in &case.signatures {
            let carried = format!("\"signature\":\"switchyard.gemini.v1:{signature}\"");
            prop_assert!(written.contains(&carried), "{} missing", signature);
        }

        let to_chat = Exchange { client: Api::OpenAi, client_model: "gpt-client".into(), include_usage: true, ..to_messages.clone() };
        let mut t = StreamTranslator::for_exchange(&to_chat).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_chat_stream(&out, "gpt-client");
        prop_assert_eq!(&read.reasoning, &case.thinking);
        prop_assert_eq!(&read.text, &case.text);
        prop_assert_eq!(&read.calls, &case.calls);
        let usage = read.usage.unwrap();
        prop_assert_eq!(&usage["prompt_tokens"], 11);
        prop_assert_eq!(&usage["completion_tokens_details"]["reasoning_tokens"], 2);

        let to_responses = Exchange { client: Api::Responses, client_model: "codex-client".into(), include_usage: false, ..to_messages };
        let mut t = StreamTranslator::for_exchange(&to_responses).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_responses_stream(&out, "codex-client");
        prop_assert_eq!(&read.reasoning, &case.thinking);
        prop_assert_eq!(&read.text, &case.text);
        prop_assert_eq!(&read.calls, &case.calls);
        // Each signature rides in a reasoning item the gateway can read back.
        let mut carried = Vec::new();
        for item in read.carried.iter().flatten() {
            for part in responses::carry::restore(item).unwrap() {
                if let ir::Part::Thinking { signature: Some(s), .. } = part {
                    carried.push(s.to_string());
                }
            }
        }
        let want: Vec<String> = case.signatures.iter().map(|s| format!("switchyard.gemini.v1:{s}")).collect();
        prop_assert_eq!(carried, want);
    }

    #[test]
    fn any_messages_stream_becomes_a_valid_gemini_stream_that_carries_its_thinking(
        blocks in prop::collection::vec(block_with_arguments(), 0..6),
        stop in prop::sample::select(vec!["end_turn", "max_tokens", "tool_use", "refusal"]),
        ping in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = messages_transcript(&blocks, stop, ping);
        let ex = Exchange { client: Api::Gemini, upstream: Api::Anthropic, client_model: "gemini-client".into(),
            upstream_model: "claude-up".into(), stream: true, include_usage: false, created: 3, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_gemini_stream(&out, "gemini-client");
        let (mut thought, mut text, mut calls, mut signatures, mut pending) =
            (String::new(), String::new(), Vec::new(), Vec::new(), Vec::new());
        for (index, b) in blocks.iter().enumerate() {
            match b {
                Block::Thinking(p) => {
                    thought.push_str(&p.concat());
                    pending.push(p.concat());
                }
                Block::Text(p) => text.push_str(&p.concat()),
                Block::Tool(name, p) => {
                    calls.push((format!("toolu_{index}"), name.clone(), args_of(p)));
                    signatures.push(std::mem::take(&mut pending));
                }
            }
        }
        prop_assert_eq!(read.thought, thought);
        prop_assert_eq!(read.text, text);
        prop_assert_eq!(read.calls, calls);
        let want = match stop {
            "max_tokens" => "MAX_TOKENS",
            "refusal" => "SAFETY",
            _ => "STOP",
        };
        prop_assert_eq!(read.finish, want);
        prop_assert_eq!(&read.usage["candidatesTokenCount"], 9);
        // A call's signature carries the signed thinking since the call before it.
        for (signature, thinking) in read.signatures.iter().zip(&signatures) {
            let restored = signature.as_deref().map(|s| responses::carry::restore(s).unwrap()).unwrap_or_default();
            let texts: Vec<String> = restored.iter().map(|p| match p {
                ir::Part::Thinking { text, signature: Some(s) } if s == "sig" => text.to_string(),
                other => panic!("{other:?}"),
            }).collect();
            prop_assert_eq!(&texts, thinking);
        }
    }

    #[test]
    fn any_chat_or_responses_stream_becomes_a_valid_gemini_stream(
        segments in prop::collection::vec(prop_oneof![
            fragments().prop_map(Segment::Reasoning),
            fragments().prop_map(Segment::Text),
            prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,12}", argument_fragments()), 1..4)
                .prop_map(|calls| Segment::Tools(calls.into_iter().map(|(n, (_, f))| (n, f)).collect())),
        ], 0..6),
        items in prop::collection::vec(prop_oneof![
            prop::collection::vec(fragments(), 1..3).prop_map(Item::Reasoning),
            fragments().prop_map(Item::Text),
            ("[a-zA-Z_][a-zA-Z0-9_]{0,12}", argument_fragments()).prop_map(|(n, (_, f))| Item::Call(n, f)),
        ], 0..6),
        finish in prop::sample::select(vec!["stop", "length", "tool_calls"]),
        incomplete in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let chat = chat_transcript(&segments, finish, 1, true);
        let ex = Exchange { client: Api::Gemini, upstream: Api::OpenAi, client_model: "gemini-client".into(),
            upstream_model: "up".into(), stream: true, include_usage: false, created: 0, tool_names: Vec::new() };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &chat.bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_gemini_stream(&out, "gemini-client");
        prop_assert_eq!(&read.thought, &chat.reasoning);
        prop_assert_eq!(&read.text, &chat.text);
        let want: Vec<(String, String, Value)> = chat.tools.iter()
            .map(|(id, name, args)| (id.clone(), name.clone(), serde_json::from_str(args).unwrap())).collect();
        prop_assert_eq!(&read.calls, &want);
        prop_assert_eq!(read.finish, if finish == "length" { "MAX_TOKENS" } else { "STOP" });
        prop_assert_eq!(&read.usage["promptTokenCount"], 11);

        let responses = responses_transcript(&items, incomplete, false);
        let ex = Exchange { upstream: Api::Responses, ..ex };
        let mut t = StreamTranslator::for_exchange(&ex).unwrap();
        let (out, end) = feed_in_pieces(&mut t, &responses.bytes, &cuts);
        prop_assert!(end.is_ok());
        let read = read_gemini_stream(&out, "gemini-client");
        prop_assert_eq!(&read.thought, &responses.reasoning);
        prop_assert_eq!(&read.text, &responses.text);
        let want: Vec<(String, String, Value)> = responses.calls.iter()
            .map(|(id, name, args)| (id.clone(), name.clone(), serde_json::from_str(args).unwrap())).collect();
        prop_assert_eq!(&read.calls, &want);
        prop_assert_eq!(read.finish, if incomplete { "MAX_TOKENS" } else { "STOP" });
        prop_assert_eq!(&read.usage["thoughtsTokenCount"], 2);
    }

    #[test]
    fn a_conversation_survives_messages_to_gemini_and_back(turns in conversation()) {
        let original = messages_request(&turns);
        let to_gemini = translate_request(Api::Anthropic, Api::Gemini, original.to_string().as_bytes(),
            &RequestOptions { upstream_model: Some("gemini-2.5-pro".into()), ..RequestOptions::default() }).unwrap();
        let sent: Value = serde_json::from_slice(&to_gemini.body).unwrap();
        prop_assert_eq!(&sent["systemInstruction"]["parts"][0]["text"], "sys");
        let back = translate_gemini_request(Api::Anthropic, &to_gemini.body, "gemini-2.5-pro", false,
            &RequestOptions { upstream_model: Some("claude".into()), default_max_tokens: 100, ..RequestOptions::default() }).unwrap();
        let back: Value = serde_json::from_slice(&back.body).unwrap();
        prop_assert_eq!(&back["system"], "sys");
        prop_assert_eq!(essence(&back), essence(&original));
    }
}

/// Any JSON value, small, in the words of Gemini requests, answers and chunks.
fn gemini_json() -> impl Strategy<Value = Value> {
    json_of(
        vec![
            "user",
            "model",
            "function",
            "STOP",
            "MAX_TOKENS",
            "SAFETY",
            "AUTO",
            "ANY",
            "NONE",
            "OBJECT",
            "STRING",
            "HIGH",
            "application/json",
            "image/png",
            "application/pdf",
            "audio/wav",
            "https://example.com/a.png",
            "RESOURCE_EXHAUSTED",
            "skip_thought_signature_validator",
            "switchyard.anthropic.v1:W10=",
            "switchyard.anthropic.v1:bm90IGpzb24=",
            "switchyard.gemini.v1:x",
        ],
        vec![
            "candidates",
            "content",
            "parts",
            "text",
            "thought",
            "thoughtSignature",
            "functionCall",
            "functionResponse",
            "response",
            "output",
            "args",
            "name",
            "id",
            "finishReason",
            "usageMetadata",
            "promptTokenCount",
            "cachedContentTokenCount",
            "thoughtsTokenCount",
            "promptFeedback",
            "blockReason",
            "responseId",
            "contents",
            "role",
            "systemInstruction",
            "tools",
            "functionDeclarations",
            "parameters",
            "parametersJsonSchema",
            "googleSearch",
            "toolConfig",
            "functionCallingConfig",
            "mode",
            "allowedFunctionNames",
            "generationConfig",
            "thinkingConfig",
            "thinkingBudget",
            "thinkingLevel",
            "candidateCount",
            "responseMimeType",
            "responseJsonSchema",
            "responseSchema",
            "type",
            "properties",
            "nullable",
            "inlineData",
            "fileData",
            "mimeType",
            "data",
            "fileUri",
            "error",
            "code",
            "status",
            "message",
        ],
    )
}

proptest! {
    #[test]
    fn no_input_makes_a_gemini_translation_panic(
        raw in prop::collection::vec(any::<u8>(), 0..200),
        values in prop::collection::vec(gemini_json(), 0..6),
    ) {
        for (client, upstream) in [
            (Api::Gemini, Api::Anthropic),
            (Api::Gemini, Api::OpenAi),
            (Api::Gemini, Api::Responses),
            (Api::Anthropic, Api::Gemini),
            (Api::OpenAi, Api::Gemini),
            (Api::Responses, Api::Gemini),
        ] {
            let ex = Exchange { client, upstream, client_model: "m".into(), upstream_model: "u".into(),
                stream: true, include_usage: true, created: 0, tool_names: Vec::new() };
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&raw);
            for v in &values {
                t.feed(format!("data: {v}\n\n").as_bytes());
                let body = v.to_string();
                let _ = translate_gemini_request(upstream, body.as_bytes(), "m", true, &RequestOptions::default());
                let _ = translate_request(client, upstream, body.as_bytes(), &RequestOptions::default());
                let _ = translate_answer(&ex, body.as_bytes());
                let _ = translate_answer_as_stream(&ex, body.as_bytes());
                let _ = translate_error(client, 429, body.as_bytes());
            }
            let _ = t.finish();
        }
    }
}

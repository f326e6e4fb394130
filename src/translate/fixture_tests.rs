//! The fixtures under `tests/fixtures/translate/` (shapes from the APIs' public documentation, each
//! with its expected translation), and every stream fixture split at every byte boundary.

use super::*;
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/translate/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// An SSE transcript as (event name, data as JSON or as text) pairs.
fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut parser = SseParser::new();
    let mut all = parser.feed(bytes);
    all.extend(parser.finish());
    all.into_iter()
        .map(|e| {
            let data = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data));
            (e.name, data)
        })
        .collect()
}

fn exchange(
    client: Api,
    upstream: Api,
    model: &str,
    include_usage: bool,
    created: u64,
) -> Exchange {
    Exchange {
        client,
        upstream,
        client_model: model.into(),
        upstream_model: "upstream".into(),
        stream: true,
        include_usage,
        created,
        tool_names: Vec::new(),
    }
}

/// Feeds `input` whole, then split at every byte, then byte by byte: the client bytes must be the
/// same every time. Returns them with `finish()`'s result.
fn drive(ex: &Exchange, input: &[u8]) -> (Vec<u8>, Result<(), Cut>) {
    let run = |pieces: &[&[u8]]| {
        let mut t = StreamTranslator::for_exchange(ex).unwrap();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(t.feed(piece));
        }
        let end = t.finish().map(|tail| out.extend(tail));
        (out, end)
    };
    let whole = run(&[input]);
    for i in 0..=input.len() {
        let split = run(&[&input[..i], &input[i..]]);
        assert_eq!(split.0, whole.0, "split at byte {i}");
        assert_eq!(split.1, whole.1, "split at byte {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytes).0, whole.0, "byte by byte");
    whole
}

fn stream_case(input: &str, expected: &str, ex: Exchange) -> Result<(), Cut> {
    let (out, end) = drive(&ex, &fixture(input));
    assert_eq!(events(&out), events(&fixture(expected)), "{input}");
    end
}

#[test]
fn chat_stream_with_parallel_tool_calls_and_a_usage_chunk() {
    let ex = exchange(Api::Anthropic, Api::OpenAi, "claude-sonnet-4-5", false, 0);
    stream_case(
        "chat_stream_tool_calls.sse",
        "chat_stream_tool_calls.messages.sse",
        ex,
    )
    .unwrap();
}

#[test]
fn deepseek_reasoning_stream_with_crlf_lines_gives_thinking_before_text() {
    let ex = exchange(Api::Anthropic, Api::OpenAi, "claude-opus-4-1", false, 0);
    stream_case(
        "chat_stream_reasoning.sse",
        "chat_stream_reasoning.messages.sse",
        ex,
    )
    .unwrap();
}

#[test]
fn chat_stream_error_becomes_an_anthropic_error_event() {
    let ex = exchange(Api::Anthropic, Api::OpenAi, "claude-sonnet-4-5", false, 0);
    let end = stream_case(
        "chat_stream_error.sse",
        "chat_stream_error.messages.sse",
        ex,
    );
    assert!(end.unwrap_err().error_sent);
}

#[test]
fn messages_tool_use_stream_becomes_chat_chunks_with_a_usage_chunk() {
    let ex = exchange(Api::OpenAi, Api::Anthropic, "gpt-4o", true, 1_700_000_000);
    stream_case(
        "messages_stream_tool_use.sse",
        "messages_stream_tool_use.chat.sse",
        ex,
    )
    .unwrap();
}

#[test]
fn messages_thinking_stream_becomes_reasoning_content_then_content() {
    let ex = exchange(Api::OpenAi, Api::Anthropic, "deepseek-chat", false, 0);
    stream_case(
        "messages_stream_thinking.sse",
        "messages_stream_thinking.chat.sse",
        ex,
    )
    .unwrap();
}

#[test]
fn messages_overloaded_event_midway_becomes_an_openai_error_chunk() {
    let ex = exchange(Api::OpenAi, Api::Anthropic, "gpt-4o", false, 0);
    let end = stream_case(
        "messages_stream_error.sse",
        "messages_stream_error.chat.sse",
        ex,
    );
    assert!(end.unwrap_err().error_sent);
}

#[test]
fn every_stream_fixture_cut_anywhere_before_its_end_reports_a_cut() {
    for (input, client, upstream) in [
        ("chat_stream_tool_calls.sse", Api::Anthropic, Api::OpenAi),
        ("chat_stream_reasoning.sse", Api::Anthropic, Api::OpenAi),
        ("messages_stream_tool_use.sse", Api::OpenAi, Api::Anthropic),
        ("messages_stream_thinking.sse", Api::OpenAi, Api::Anthropic),
    ] {
        let bytes = fixture(input);
        let ex = exchange(client, upstream, "m", true, 0);
        // Cut inside the first half: no finish_reason / message_stop has arrived yet.
        for i in (0..bytes.len() / 2).step_by(7) {
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&bytes[..i]);
            let cut = t.finish().unwrap_err();
            assert!(!cut.error_sent, "{input} cut at {i}");
            assert!(!cut.error_event(client).is_empty());
        }
    }
}

#[test]
fn messages_request_with_tools_images_and_history_becomes_a_chat_request() {
    let t = translate_request(
        Api::Anthropic,
        Api::OpenAi,
        &fixture("messages_request_tools.json"),
        &RequestOptions {
            upstream_model: Some("deepseek-chat".into()),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(sent, json("messages_request_tools.chat.json"));
    assert_eq!(t.exchange.client_model, "claude-sonnet-4-5");
    assert!(t.exchange.stream);
}

#[test]
fn chat_request_with_tools_images_and_tool_results_becomes_a_messages_request() {
    let t = translate_request(
        Api::OpenAi,
        Api::Anthropic,
        &fixture("chat_request_tools.json"),
        &RequestOptions {
            upstream_model: Some("claude-sonnet-4-5".into()),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(sent, json("chat_request_tools.messages.json"));
    assert!(t.exchange.include_usage);
}

#[test]
fn chat_request_asking_for_several_choices_is_refused_with_an_openai_400_body() {
    let e = translate_request(
        Api::OpenAi,
        Api::Anthropic,
        &fixture("chat_request_refused.json"),
        &RequestOptions::default(),
    )
    .unwrap_err();
    let body: Value = serde_json::from_slice(&e.body(Api::OpenAi)).unwrap();
    assert_eq!(body, json("chat_request_refused.error.json"));
}

#[test]
fn json_answers_translate_to_the_expected_fixture() {
    for (input, expected, client, model, created) in [
        (
            "chat_answer_tool_calls.json",
            "chat_answer_tool_calls.messages.json",
            Api::Anthropic,
            "claude-sonnet-4-5",
            0,
        ),
        (
            "chat_answer_reasoning.json",
            "chat_answer_reasoning.messages.json",
            Api::Anthropic,
            "claude-opus-4-1",
            0,
        ),
        (
            "messages_answer_tool_use.json",
            "messages_answer_tool_use.chat.json",
            Api::OpenAi,
            "gpt-4o",
            1_700_000_000,
        ),
    ] {
        let upstream = if client == Api::Anthropic {
            Api::OpenAi
        } else {
            Api::Anthropic
        };
        let mut ex = exchange(client, upstream, model, false, created);
        ex.stream = false;
        let out = translate_answer(&ex, &fixture(input)).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, json(expected), "{input}");
    }
}

#[test]
fn documented_error_answers_translate_with_their_status_and_type() {
    let cases = json("errors.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let client: Api = serde_json::from_value(case["client"].clone()).unwrap();
        let status = case["status"].as_u64().unwrap() as u16;
        let upstream = case["upstream"].to_string();
        let out: Value =
            serde_json::from_slice(&translate_error(client, status, upstream.as_bytes())).unwrap();
        assert_eq!(out, case["expected"], "{case}");
    }
}

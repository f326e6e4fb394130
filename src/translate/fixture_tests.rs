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

/// A tool the client declared as a Responses custom tool.
fn custom_tool(name: &str) -> Vec<ToolName> {
    vec![ToolName {
        upstream: name.into(),
        client: name.into(),
        custom: true,
        answer: false,
    }]
}

fn request_case(client: Api, upstream: Api, input: &str, expected: &str, model: &str) -> Exchange {
    let t = translate_request(
        client,
        upstream,
        &fixture(input),
        &RequestOptions {
            upstream_model: Some(model.into()),
            now_unix: 1_700_000_000,
            ..RequestOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{input}: {e}"));
    let sent: Value = serde_json::from_slice(&t.body).unwrap();
    assert_eq!(sent, json(expected), "{input} → {expected}");
    t.exchange
}

#[test]
fn codex_history_becomes_a_messages_request_with_its_thinking_restored() {
    let ex = request_case(
        Api::Responses,
        Api::Anthropic,
        "responses_request_codex.json",
        "responses_request_codex.messages.json",
        "claude-sonnet-4-5",
    );
    assert_eq!(ex.client_model, "gpt-5-codex");
    assert!(ex.stream);
    assert_eq!(ex.tool_names, custom_tool("apply_patch"));
}

#[test]
fn codex_history_becomes_a_chat_request_with_its_custom_tool_as_a_function() {
    let ex = request_case(
        Api::Responses,
        Api::OpenAi,
        "responses_request_codex.json",
        "responses_request_codex.chat.json",
        "deepseek-chat",
    );
    assert_eq!(ex.tool_names, custom_tool("apply_patch"));
}

#[test]
fn messages_and_chat_requests_become_responses_requests_never_stored() {
    for (client, input, expected) in [
        (
            Api::Anthropic,
            "messages_request_tools.json",
            "messages_request_tools.responses.json",
        ),
        (
            Api::OpenAi,
            "chat_request_tools.json",
            "chat_request_tools.responses.json",
        ),
    ] {
        request_case(client, Api::Responses, input, expected, "gpt-5");
    }
}

#[test]
fn a_request_that_needs_a_stored_conversation_is_refused_with_a_responses_400_body() {
    let e = translate_request(
        Api::Responses,
        Api::Anthropic,
        &fixture("responses_request_refused.json"),
        &RequestOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("previous_response_id"));
    let body: Value = serde_json::from_slice(&e.body(Api::Responses)).unwrap();
    assert_eq!(body, json("responses_request_refused.error.json"));
}

#[test]
fn json_answers_translate_from_and_to_responses() {
    for (input, expected, client, upstream, model, created, custom) in [
        (
            "responses_answer_tool_call.json",
            "responses_answer_tool_call.messages.json",
            Api::Anthropic,
            Api::Responses,
            "claude-sonnet-4-5",
            0,
            None,
        ),
        (
            "responses_answer_tool_call.json",
            "responses_answer_tool_call.chat.json",
            Api::OpenAi,
            Api::Responses,
            "gpt-4o",
            1_700_000_000,
            None,
        ),
        (
            "messages_answer_tool_use.json",
            "messages_answer_tool_use.responses.json",
            Api::Responses,
            Api::Anthropic,
            "gpt-5",
            1_700_000_000,
            None,
        ),
        (
            "messages_answer_thinking_patch.json",
            "messages_answer_thinking_patch.responses.json",
            Api::Responses,
            Api::Anthropic,
            "gpt-5-codex",
            1_700_000_000,
            Some("apply_patch"),
        ),
        (
            "chat_answer_tool_calls.json",
            "chat_answer_tool_calls.responses.json",
            Api::Responses,
            Api::OpenAi,
            "gpt-5",
            1_700_000_000,
            None,
        ),
        (
            "chat_answer_reasoning.json",
            "chat_answer_reasoning.responses.json",
            Api::Responses,
            Api::OpenAi,
            "gpt-5",
            1_700_000_000,
            None,
        ),
    ] {
        let mut ex = exchange(client, upstream, model, false, created);
        ex.stream = false;
        ex.tool_names = custom.map(custom_tool).unwrap_or_default();
        let out = translate_answer(&ex, &fixture(input)).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, json(expected), "{input} → {expected}");
    }
}

#[test]
fn a_responses_stream_becomes_messages_and_chat_streams_at_every_split() {
    let ex = exchange(
        Api::Anthropic,
        Api::Responses,
        "claude-sonnet-4-5",
        false,
        0,
    );
    stream_case(
        "responses_stream_tool_call.sse",
        "responses_stream_tool_call.messages.sse",
        ex,
    )
    .unwrap();
    let ex = exchange(Api::OpenAi, Api::Responses, "gpt-4o", true, 1_700_000_000);
    stream_case(
        "responses_stream_tool_call.sse",
        "responses_stream_tool_call.chat.sse",
        ex,
    )
    .unwrap();
}

#[test]
fn a_failed_response_becomes_the_clients_error_event() {
    for (client, model, created, expected) in [
        (
            Api::Anthropic,
            "claude-sonnet-4-5",
            0,
            "responses_stream_failed.messages.sse",
        ),
        (
            Api::OpenAi,
            "gpt-4o",
            1_700_000_000,
            "responses_stream_failed.chat.sse",
        ),
    ] {
        let ex = exchange(
            client,
            Api::Responses,
            model,
            client == Api::OpenAi,
            created,
        );
        let end = stream_case("responses_stream_failed.sse", expected, ex);
        assert!(end.unwrap_err().error_sent, "{expected}");
    }
}

#[test]
fn messages_and_chat_streams_become_responses_events_at_every_split() {
    for (input, expected, upstream, custom, complete) in [
        (
            "messages_stream_thinking.sse",
            "messages_stream_thinking.responses.sse",
            Api::Anthropic,
            None,
            true,
        ),
        (
            "messages_stream_tool_use.sse",
            "messages_stream_tool_use.responses.sse",
            Api::Anthropic,
            None,
            true,
        ),
        (
            "messages_stream_patch.sse",
            "messages_stream_patch.responses.sse",
            Api::Anthropic,
            Some("apply_patch"),
            true,
        ),
        (
            "messages_stream_error.sse",
            "messages_stream_error.responses.sse",
            Api::Anthropic,
            None,
            false,
        ),
        (
            "chat_stream_tool_calls.sse",
            "chat_stream_tool_calls.responses.sse",
            Api::OpenAi,
            None,
            true,
        ),
        (
            "chat_stream_reasoning.sse",
            "chat_stream_reasoning.responses.sse",
            Api::OpenAi,
            None,
            true,
        ),
        (
            "chat_stream_error.sse",
            "chat_stream_error.responses.sse",
            Api::OpenAi,
            None,
            false,
        ),
    ] {
        let mut ex = exchange(
            Api::Responses,
            upstream,
            "gpt-5-codex",
            false,
            1_700_000_000,
        );
        ex.tool_names = custom.map(custom_tool).unwrap_or_default();
        let end = stream_case(input, expected, ex);
        assert_eq!(end.is_ok(), complete, "{input}");
        let done = events(&fixture(expected));
        let last = &done.last().unwrap().0;
        let want = if complete {
            "response.completed"
        } else {
            "response.failed"
        };
        assert_eq!(last, want, "{expected}");
    }
}

#[test]
fn every_responses_stream_cut_anywhere_before_its_end_reports_a_cut() {
    for client in [Api::Anthropic, Api::OpenAi] {
        let bytes = fixture("responses_stream_tool_call.sse");
        let ex = exchange(client, Api::Responses, "m", true, 0);
        // Cut before `response.completed`: the answer never said it was whole.
        let end = bytes.len() - 1000;
        for i in (0..end).step_by(13) {
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&bytes[..i]);
            let cut = t.finish().unwrap_err();
            assert!(!cut.error_sent, "cut at {i}");
            assert!(!cut.error_event(client).is_empty());
        }
    }
    let bytes = fixture("messages_stream_tool_use.sse");
    let ex = exchange(Api::Responses, Api::Anthropic, "m", false, 0);
    let mut t = StreamTranslator::for_exchange(&ex).unwrap();
    t.feed(&bytes[..bytes.len() / 2]);
    let cut = t.finish().unwrap_err();
    let failed = events(&cut.error_event(Api::Responses));
    assert_eq!(failed[0].0, "response.failed");
    assert_eq!(failed[0].1["response"]["status"], "failed");
}

/// The tool a Messages request was given to carry a structured output named `name`.
fn answer_tool(name: &str) -> Vec<ToolName> {
    vec![ToolName {
        upstream: name.into(),
        client: name.into(),
        custom: false,
        answer: true,
    }]
}

#[test]
fn a_json_schema_format_becomes_a_forced_tool_for_messages_and_the_other_apis_format() {
    let ex = request_case(
        Api::OpenAi,
        Api::Anthropic,
        "chat_request_json_schema.json",
        "chat_request_json_schema.messages.json",
        "claude-sonnet-4-5",
    );
    assert_eq!(ex.tool_names, answer_tool("math_reasoning"));
    let ex = request_case(
        Api::Responses,
        Api::Anthropic,
        "responses_request_json_schema.json",
        "responses_request_json_schema.messages.json",
        "claude-sonnet-4-5",
    );
    assert_eq!(ex.tool_names, answer_tool("calendar_event"));
    let ex = request_case(
        Api::OpenAi,
        Api::Responses,
        "chat_request_json_schema.json",
        "chat_request_json_schema.responses.json",
        "gpt-5",
    );
    assert!(ex.tool_names.is_empty());
    let ex = request_case(
        Api::Responses,
        Api::OpenAi,
        "responses_request_json_schema.json",
        "responses_request_json_schema.chat.json",
        "deepseek-chat",
    );
    assert!(ex.tool_names.is_empty());
}

#[test]
fn the_forced_tools_input_comes_back_as_the_answers_text() {
    for (client, model, expected) in [
        (
            Api::OpenAi,
            "gpt-4o",
            "messages_answer_json_schema.chat.json",
        ),
        (
            Api::Responses,
            "gpt-5-codex",
            "messages_answer_json_schema.responses.json",
        ),
    ] {
        let mut ex = exchange(client, Api::Anthropic, model, false, 1_700_000_000);
        ex.stream = false;
        ex.tool_names = answer_tool("calendar_event");
        let out = translate_answer(&ex, &fixture("messages_answer_json_schema.json")).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, json(expected), "{expected}");
    }
}

#[test]
fn the_forced_tools_input_fragments_stream_as_text_at_every_split() {
    for (client, model, include_usage, expected) in [
        (
            Api::OpenAi,
            "gpt-4o",
            true,
            "messages_stream_json_schema.chat.sse",
        ),
        (
            Api::Responses,
            "gpt-5-codex",
            false,
            "messages_stream_json_schema.responses.sse",
        ),
    ] {
        let mut ex = exchange(client, Api::Anthropic, model, include_usage, 1_700_000_000);
        ex.tool_names = answer_tool("calendar_event");
        stream_case("messages_stream_json_schema.sse", expected, ex.clone()).unwrap();
        // Cut before message_stop: the client hears of the cut, not of a finished answer.
        let bytes = fixture("messages_stream_json_schema.sse");
        for i in (0..bytes.len() - 40).step_by(11) {
            let mut t = StreamTranslator::for_exchange(&ex).unwrap();
            t.feed(&bytes[..i]);
            assert!(t.finish().is_err(), "{expected} cut at {i}");
        }
    }
}

#[test]
fn a_json_answer_replayed_as_a_stream_gives_the_forced_tools_input_as_text() {
    let mut ex = exchange(Api::OpenAi, Api::Anthropic, "gpt-4o", false, 1_700_000_000);
    ex.tool_names = answer_tool("calendar_event");
    let out =
        translate_answer_as_stream(&ex, &fixture("messages_answer_json_schema.json")).unwrap();
    let chunks = events(&out);
    let text: String = chunks
        .iter()
        .filter_map(|(_, c)| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        r#"{"name":"Science Fair","date":"Friday","participants":["Alice","Bob"]}"#
    );
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|(_, c)| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
}

// Gemini: inputs trimmed from real Gemini CLI 0.61 captures (`make_gemini_fixtures.py`), expected
// sides written by the hub once and checked by eye (SOURCES.md). `SWITCHYARD_BLESS=1` rewrites an
// expected side from the hub's output, to be checked by eye again.

fn blessing() -> bool {
    std::env::var_os("SWITCHYARD_BLESS").is_some()
}

fn bless(name: &str, bytes: &[u8]) {
    let path = format!(
        "{}/tests/fixtures/translate/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
}

fn expect_json(name: &str, got: &[u8]) {
    let got: Value = serde_json::from_slice(got).unwrap();
    if blessing() {
        let mut text = serde_json::to_string_pretty(&got).unwrap();
        text.push('\n');
        return bless(name, text.as_bytes());
    }
    assert_eq!(got, json(name), "{name}");
}

fn gemini_stream_case(input: &str, expected: &str, ex: Exchange) -> Result<(), Cut> {
    let (out, end) = drive(&ex, &fixture(input));
    if blessing() {
        bless(expected, &out);
    } else {
        assert_eq!(events(&out), events(&fixture(expected)), "{input}");
    }
    end
}

/// A Gemini client's request (model and stream from its path) translated for `upstream`.
fn gemini_request_case(
    upstream: Api,
    input: &str,
    expected: &str,
    path_model: &str,
    stream: bool,
) -> Exchange {
    let model = match upstream {
        Api::Anthropic => "claude-sonnet-4-5",
        Api::OpenAi => "deepseek-chat",
        _ => "gpt-5-codex",
    };
    let t = translate_gemini_request(
        upstream,
        &fixture(input),
        path_model,
        stream,
        &RequestOptions {
            upstream_model: Some(model.into()),
            now_unix: 1_700_000_000,
            ..RequestOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{input}: {e}"));
    expect_json(expected, &t.body);
    assert_eq!(t.exchange.client, Api::Gemini);
    assert_eq!(t.exchange.client_model, path_model);
    assert_eq!(t.exchange.stream, stream);
    t.exchange
}

#[test]
fn gemini_cli_tool_turn_becomes_messages_chat_and_responses_requests() {
    for (upstream, expected) in [
        (Api::Anthropic, "gemini_request_cli_tool.messages.json"),
        (Api::OpenAi, "gemini_request_cli_tool.chat.json"),
        (Api::Responses, "gemini_request_cli_tool.responses.json"),
    ] {
        gemini_request_case(
            upstream,
            "gemini_request_cli_tool.json",
            expected,
            "gemini-3.8-flash",
            true,
        );
    }
}

#[test]
fn gemini_cli_history_after_resume_gives_each_tool_result_once() {
    gemini_request_case(
        Api::Anthropic,
        "gemini_request_cli_resume.json",
        "gemini_request_cli_resume.messages.json",
        "gemini-3.1-pro-preview",
        true,
    );
}

#[test]
fn gemini_cli_router_call_becomes_a_structured_output_for_every_upstream() {
    let ex = gemini_request_case(
        Api::Anthropic,
        "gemini_request_router.json",
        "gemini_request_router.messages.json",
        "gemini-3.5-flash-lite",
        false,
    );
    assert_eq!(ex.tool_names, answer_tool("answer"));
    for (upstream, expected) in [
        (Api::OpenAi, "gemini_request_router.chat.json"),
        (Api::Responses, "gemini_request_router.responses.json"),
    ] {
        let ex = gemini_request_case(
            upstream,
            "gemini_request_router.json",
            expected,
            "gemini-3.5-flash-lite",
            false,
        );
        assert!(ex.tool_names.is_empty());
    }
}

#[test]
fn gemini_cli_web_search_call_leaves_out_the_built_in_tool() {
    gemini_request_case(
        Api::Anthropic,
        "gemini_request_web_search.json",
        "gemini_request_web_search.messages.json",
        "gemini-3-flash-preview",
        false,
    );
}

#[test]
fn anthropic_thinking_carried_through_gemini_cli_comes_back_signed() {
    gemini_request_case(
        Api::Anthropic,
        "gemini_request_carried_thinking.json",
        "gemini_request_carried_thinking.messages.json",
        "gemini-3.8-flash",
        true,
    );
}

#[test]
fn requests_of_every_api_become_gemini_requests() {
    for (client, input, model) in [
        (
            Api::Anthropic,
            "messages_request_tools.json",
            "gemini-2.5-pro",
        ),
        (
            Api::Anthropic,
            "messages_request_gemini_signature.json",
            "gemini-3-pro-preview",
        ),
        (Api::OpenAi, "chat_request_tools.json", "gemini-2.5-flash"),
        (
            Api::OpenAi,
            "chat_request_json_schema.json",
            "gemini-2.5-flash",
        ),
        (
            Api::Responses,
            "responses_request_codex.json",
            "gemini-3-pro-preview",
        ),
        (
            Api::Responses,
            "responses_request_gemini_signature.json",
            "gemini-3-pro-preview",
        ),
    ] {
        let t = translate_request(
            client,
            Api::Gemini,
            &fixture(input),
            &RequestOptions {
                upstream_model: Some(model.into()),
                ..RequestOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{input}: {e}"));
        expect_json(&input.replace(".json", ".gemini.json"), &t.body);
        assert_eq!(t.exchange.upstream_model, model);
    }
}

#[test]
fn gemini_answers_translate_for_every_client() {
    for (input, client, model, expected) in [
        (
            "gemini_answer_router.json",
            Api::Anthropic,
            "claude-haiku-4-5",
            "gemini_answer_router.messages.json",
        ),
        (
            "gemini_answer_router.json",
            Api::OpenAi,
            "gpt-4o",
            "gemini_answer_router.chat.json",
        ),
        (
            "gemini_answer_router.json",
            Api::Responses,
            "gpt-5",
            "gemini_answer_router.responses.json",
        ),
        (
            "gemini_answer_cli_tool.json",
            Api::Anthropic,
            "claude-sonnet-4-5",
            "gemini_answer_cli_tool.messages.json",
        ),
        (
            "gemini_answer_cli_tool.json",
            Api::OpenAi,
            "gpt-4o",
            "gemini_answer_cli_tool.chat.json",
        ),
        (
            "gemini_answer_cli_tool.json",
            Api::Responses,
            "gpt-5-codex",
            "gemini_answer_cli_tool.responses.json",
        ),
    ] {
        let mut ex = exchange(client, Api::Gemini, model, false, 1_700_000_000);
        ex.stream = false;
        let out = translate_answer(&ex, &fixture(input)).unwrap();
        expect_json(expected, &out);
    }
}

#[test]
fn answers_of_every_api_become_gemini_answers() {
    for (input, upstream, tools) in [
        ("messages_answer_tool_use.json", Api::Anthropic, Vec::new()),
        (
            "messages_answer_thinking_patch.json",
            Api::Anthropic,
            Vec::new(),
        ),
        (
            "messages_answer_json_schema.json",
            Api::Anthropic,
            answer_tool("calendar_event"),
        ),
        ("chat_answer_tool_calls.json", Api::OpenAi, Vec::new()),
        ("chat_answer_reasoning.json", Api::OpenAi, Vec::new()),
        (
            "responses_answer_tool_call.json",
            Api::Responses,
            Vec::new(),
        ),
    ] {
        let mut ex = exchange(Api::Gemini, upstream, "gemini-2.5-pro", false, 0);
        ex.stream = false;
        ex.tool_names = tools;
        let out = translate_answer(&ex, &fixture(input)).unwrap();
        expect_json(&input.replace(".json", ".gemini.json"), &out);
    }
}

#[test]
fn gemini_streams_become_messages_chat_and_responses_streams_at_every_split() {
    for (input, client, expected) in [
        (
            "gemini_stream_cli_tool.sse",
            Api::Anthropic,
            "gemini_stream_cli_tool.messages.sse",
        ),
        (
            "gemini_stream_cli_tool.sse",
            Api::OpenAi,
            "gemini_stream_cli_tool.chat.sse",
        ),
        (
            "gemini_stream_cli_tool.sse",
            Api::Responses,
            "gemini_stream_cli_tool.responses.sse",
        ),
        (
            "gemini_stream_cli_text.sse",
            Api::Anthropic,
            "gemini_stream_cli_text.messages.sse",
        ),
        (
            "gemini_stream_cli_text.sse",
            Api::OpenAi,
            "gemini_stream_cli_text.chat.sse",
        ),
        (
            "gemini_stream_cli_text.sse",
            Api::Responses,
            "gemini_stream_cli_text.responses.sse",
        ),
        (
            "gemini_stream_no_id.sse",
            Api::Anthropic,
            "gemini_stream_no_id.messages.sse",
        ),
    ] {
        let ex = exchange(client, Api::Gemini, "client-model", true, 1_700_000_000);
        gemini_stream_case(input, expected, ex).unwrap();
    }
}

#[test]
fn a_gemini_error_chunk_becomes_the_clients_error_event() {
    for (client, expected) in [
        (Api::Anthropic, "gemini_stream_error.messages.sse"),
        (Api::OpenAi, "gemini_stream_error.chat.sse"),
    ] {
        let ex = exchange(client, Api::Gemini, "client-model", true, 1_700_000_000);
        let end = gemini_stream_case("gemini_stream_error.sse", expected, ex);
        assert!(end.unwrap_err().error_sent, "{expected}");
    }
}

#[test]
fn streams_of_every_api_become_gemini_streams_at_every_split() {
    for (input, upstream, tools, complete) in [
        (
            "messages_stream_thinking.sse",
            Api::Anthropic,
            Vec::new(),
            true,
        ),
        (
            "messages_stream_tool_use.sse",
            Api::Anthropic,
            Vec::new(),
            true,
        ),
        (
            "messages_stream_patch.sse",
            Api::Anthropic,
            Vec::new(),
            true,
        ),
        (
            "messages_stream_json_schema.sse",
            Api::Anthropic,
            answer_tool("calendar_event"),
            true,
        ),
        (
            "messages_stream_error.sse",
            Api::Anthropic,
            Vec::new(),
            false,
        ),
        ("chat_stream_tool_calls.sse", Api::OpenAi, Vec::new(), true),
        ("chat_stream_reasoning.sse", Api::OpenAi, Vec::new(), true),
        ("chat_stream_error.sse", Api::OpenAi, Vec::new(), false),
        (
            "responses_stream_tool_call.sse",
            Api::Responses,
            Vec::new(),
            true,
        ),
        (
            "responses_stream_failed.sse",
            Api::Responses,
            Vec::new(),
            false,
        ),
    ] {
        let mut ex = exchange(Api::Gemini, upstream, "gemini-2.5-pro", false, 0);
        ex.tool_names = tools;
        let expected = input.replace(".sse", ".gemini.sse");
        let end = gemini_stream_case(input, &expected, ex);
        assert_eq!(end.is_ok(), complete, "{input}");
        let last = events(&fixture(&expected)).pop().unwrap().1;
        if complete {
            assert!(
                last["candidates"][0]["finishReason"].is_string(),
                "{expected}"
            );
            assert!(
                last["usageMetadata"]["totalTokenCount"].is_u64(),
                "{expected}"
            );
        } else {
            assert!(last["error"]["status"].is_string(), "{expected}");
        }
    }
}

#[test]
fn every_gemini_stream_cut_before_its_finish_reason_reports_a_cut() {
    for input in ["gemini_stream_cli_tool.sse", "gemini_stream_cli_text.sse"] {
        let bytes = fixture(input);
        // The last chunk carries the finishReason: any cut before its end is a cut.
        let last = bytes.len()
            - 2
            - bytes[..bytes.len() - 2]
                .iter()
                .rev()
                .position(|b| *b == b'\n')
                .unwrap();
        for client in [Api::Anthropic, Api::OpenAi, Api::Responses] {
            let ex = exchange(client, Api::Gemini, "m", true, 0);
            for i in (0..last).step_by(17) {
                let mut t = StreamTranslator::for_exchange(&ex).unwrap();
                t.feed(&bytes[..i]);
                let cut = t.finish().unwrap_err();
                assert!(!cut.error_sent, "{input} cut at {i}");
                assert!(!cut.error_event(client).is_empty());
            }
        }
    }
    let bytes = fixture("messages_stream_tool_use.sse");
    let ex = exchange(Api::Gemini, Api::Anthropic, "m", false, 0);
    let mut t = StreamTranslator::for_exchange(&ex).unwrap();
    t.feed(&bytes[..bytes.len() / 2]);
    let cut = t.finish().unwrap_err();
    let chunk = events(&cut.error_event(Api::Gemini));
    assert_eq!(chunk[0].0, "", "a Gemini error chunk has no event name");
    assert_eq!(chunk[0].1["error"]["code"], 500);
    assert_eq!(chunk[0].1["error"]["status"], "INTERNAL");
}

#[test]
fn documented_gemini_errors_translate_with_their_status_and_kind() {
    let cases = json("gemini_errors.json");
    for case in cases.as_array().unwrap() {
        let client: Api = serde_json::from_value(case["client"].clone()).unwrap();
        let status = case["status"].as_u64().unwrap() as u16;
        let upstream = case["upstream"].to_string();
        let out: Value =
            serde_json::from_slice(&translate_error(client, status, upstream.as_bytes())).unwrap();
        assert_eq!(out, case["expected"], "{case}");
    }
}

//! The translators against the mock upstream over real sockets on 127.0.0.1: a request translated
//! for the mock's API, its answer (JSON or SSE, fed chunk by chunk as it arrives) translated back.
//! The relay is not involved yet.

mod common;

use common::{client, Behaviour, MockUpstream};
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard::mock::OpenAiAnswer;
use switchyard::translate::{
    translate_answer, translate_error, translate_request, Api, Exchange, RequestOptions, SseParser,
    StreamTranslator,
};

fn openai_mock() -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "deepseek".into(),
        openai: Some(OpenAiAnswer {
            reasoning: Some("The user wants a listing.".into()),
            tool_calls: vec![(
                "Bash".into(),
                r#"{"command":"ls -la","description":"List files"}"#.into(),
            )],
            argument_pieces: 4,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

fn claude_code_request(stream: bool, messages: Value) -> Vec<u8> {
    json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1000, "stream": stream,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [{"name": "Bash", "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}],
        "messages": messages,
    })
    .to_string()
    .into_bytes()
}

fn options() -> RequestOptions {
    RequestOptions {
        upstream_model: Some("deepseek-chat".into()),
        ..RequestOptions::default()
    }
}

/// Sends the translated request, feeds the SSE answer to the translator chunk by chunk.
async fn stream_through(url: &str, path: &str, body: Vec<u8>, exchange: &Exchange) -> Vec<u8> {
    let mut response = client()
        .post(format!("{url}{path}"))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let mut translator = StreamTranslator::for_exchange(exchange).expect("a translator");
    let mut out = Vec::new();
    while let Some(chunk) = response.next().await {
        out.extend(translator.feed(&chunk.expect("chunk")));
    }
    out.extend(translator.finish().expect("a complete stream"));
    out
}

fn events(bytes: &[u8]) -> Vec<Value> {
    let mut parser = SseParser::new();
    parser
        .feed(bytes)
        .into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap_or(Value::String(e.data)))
        .collect()
}

#[actix_rt::test]
async fn claude_code_tool_call_through_an_openai_upstream_streams_as_messages_events() {
    let mock = openai_mock();
    let body = claude_code_request(true, json!([{"role": "user", "content": "list the files"}]));
    let t = translate_request(Api::Anthropic, Api::OpenAi, &body, &options()).unwrap();
    let out = stream_through(&mock.url(), "/v1/chat/completions", t.body, &t.exchange).await;

    let seen: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(seen["model"], "deepseek-chat");
    assert_eq!(seen["stream_options"]["include_usage"], true);
    assert_eq!(seen["tools"][0]["function"]["name"], "Bash");
    assert_eq!(
        seen["messages"][0],
        json!({"role": "system", "content": "You are Claude Code."})
    );

    let e = events(&out);
    let types: Vec<&str> = e.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"message_start"));
    assert_eq!(types.iter().filter(|t| **t == "message_stop").count(), 1);
    assert_eq!(e[0]["message"]["model"], "claude-sonnet-4-5");
    let starts: Vec<(u64, &str)> = e
        .iter()
        .filter(|v| v["type"] == "content_block_start")
        .map(|v| {
            (
                v["index"].as_u64().unwrap(),
                v["content_block"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(starts, [(0, "thinking"), (1, "text"), (2, "tool_use")]);
    let joined: String = e
        .iter()
        .filter(|v| v["delta"]["type"] == "input_json_delta")
        .map(|v| v["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(joined, r#"{"command":"ls -la","description":"List files"}"#);
    let delta = e.iter().find(|v| v["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["input_tokens"], 10);
}

#[actix_rt::test]
async fn the_tool_result_turn_gets_a_text_answer_that_ends_the_round_trip() {
    let mock = openai_mock();
    let body = claude_code_request(
        false,
        json!([
            {"role": "user", "content": "list the files"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_mock_0", "name": "Bash", "input": {"command": "ls -la"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_mock_0", "content": "a.txt\nb.txt"}]},
        ]),
    );
    let t = translate_request(Api::Anthropic, Api::OpenAi, &body, &options()).unwrap();
    let mut r = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .insert_header(("content-type", "application/json"))
        .send_body(t.body)
        .await
        .unwrap();
    let answer = r.body().await.unwrap();
    let message: Value =
        serde_json::from_slice(&translate_answer(&t.exchange, &answer).unwrap()).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["model"], "claude-sonnet-4-5");
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["content"][0]["type"], "thinking");
    assert_eq!(
        message["content"][1]["text"],
        "Hello from deepseek: word1 word2"
    );
    let seen: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(
        seen["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_mock_0", "content": "a.txt\nb.txt"})
    );
}

#[actix_rt::test]
async fn an_openai_sdk_stream_through_an_anthropic_upstream_ends_with_usage_and_done() {
    let mock = MockUpstream::start(Behaviour {
        name: "claude".into(),
        ..Behaviour::default()
    })
    .unwrap();
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#;
    let t = translate_request(
        Api::OpenAi,
        Api::Anthropic,
        body,
        &RequestOptions {
            upstream_model: Some("claude-haiku".into()),
            ..RequestOptions::default()
        },
    )
    .unwrap();
    let out = stream_through(&mock.url(), "/v1/messages", t.body, &t.exchange).await;
    let seen: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(
        seen["max_tokens"],
        switchyard::translate::DEFAULT_MAX_TOKENS
    );
    let e = events(&out);
    assert_eq!(e.last().unwrap(), "[DONE]");
    let chunks = &e[..e.len() - 1];
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    // The Anthropic mock streams its first `deltas` words.
    assert_eq!(text, "Hello from claude: ");
    assert!(chunks.iter().all(|c| c["model"] == "gpt-4o"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 10);
    assert_eq!(
        chunks
            .iter()
            .filter(|c| c["choices"][0]["finish_reason"] == "stop")
            .count(),
        1
    );
}

#[actix_rt::test]
async fn an_openai_upstreams_429_becomes_an_anthropic_rate_limit_error() {
    let mock = MockUpstream::start(Behaviour {
        status: Some(429),
        ..Behaviour::default()
    })
    .unwrap();
    let mut r = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .send_body("{}")
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.body().await.unwrap();
    let out: Value =
        serde_json::from_slice(&translate_error(Api::Anthropic, status, &body)).unwrap();
    assert_eq!(status, 429);
    assert_eq!(out["type"], "error");
    assert_eq!(out["error"]["type"], "rate_limit_error");
    assert_eq!(out["error"]["message"], "mock mock answers 429");
}

#[actix_rt::test]
async fn the_plain_openai_mock_is_unchanged_without_the_openai_mode() {
    let mock = MockUpstream::start(Behaviour::default()).unwrap();
    let mut r = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .send_body(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#,
        )
        .await
        .unwrap();
    let body = r.body().await.unwrap();
    let e = events(&body);
    // role chunk, 3 text chunks, finish chunk, [DONE]: no usage chunk, no tool calls.
    assert_eq!(e.len(), 6);
    assert!(e.iter().all(|c| c.get("usage").is_none()));
}

#[actix_rt::test]
async fn the_openai_mode_sends_a_usage_chunk_only_when_asked() {
    let mock = openai_mock();
    for (ask, want) in [(true, 1), (false, 0)] {
        let body = json!({"model": "m", "stream": true, "stream_options": {"include_usage": ask}, "messages": []}).to_string();
        let mut r = client()
            .post(format!("{}/v1/chat/completions", mock.url()))
            .send_body(body)
            .await
            .unwrap();
        let e = events(&r.body().await.unwrap());
        let usage_chunks = e.iter().filter(|c| c["choices"] == json!([])).count();
        assert_eq!(usage_chunks, want);
        assert_eq!(e.last().unwrap(), "[DONE]");
        let args: String = e
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(args, r#"{"command":"ls -la","description":"List files"}"#);
    }
}

#[actix_rt::test]
async fn the_anthropic_mock_signs_its_thinking_and_refuses_a_tool_turn_without_it() {
    let mock = openai_mock();
    let post = |body: Value| {
        let url = format!("{}/v1/messages", mock.url());
        async move {
            let mut answer = client().post(url).send_json(&body).await.unwrap();
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap())
        }
    };
    let thinking = json!({"type": "enabled", "budget_tokens": 2048});
    let ask = json!({"role": "user", "content": "list files"});
    let (status, answer) = post(
        json!({"model": "m", "max_tokens": 4096, "thinking": thinking,
        "messages": [ask]}),
    )
    .await;
    assert_eq!(status, 200);
    let first = answer["content"][0].clone();
    assert_eq!(first["type"], "thinking", "{answer}");
    let tool_use = answer["content"][2].clone();
    assert_eq!(tool_use["type"], "tool_use", "{answer}");
    let result = json!({"role": "user", "content": [{"type": "tool_result",
        "tool_use_id": tool_use["id"], "content": "a b"}]});
    // Replayed as it came: accepted.
    let turn = json!({"role": "assistant", "content": [first.clone(), tool_use.clone()]});
    let (status, _) = post(
        json!({"model": "m", "max_tokens": 4096, "thinking": thinking,
        "messages": [ask, turn, result]}),
    )
    .await;
    assert_eq!(status, 200);
    // Without the thinking block, or with another signature: refused as Anthropic does.
    let bare = json!({"role": "assistant", "content": [tool_use.clone()]});
    let (status, error) = post(
        json!({"model": "m", "max_tokens": 4096, "thinking": thinking,
        "messages": [ask, bare, result]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("must start with a thinking block"));
    let mut forged = first;
    forged["signature"] = json!("another-upstreams-signature");
    let turn = json!({"role": "assistant", "content": [forged, tool_use]});
    let (status, error) = post(
        json!({"model": "m", "max_tokens": 4096, "thinking": thinking,
        "messages": [ask, turn, result]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid `signature`"));
}

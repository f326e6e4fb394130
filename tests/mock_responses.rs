//! The mock upstream's Responses API over real sockets on 127.0.0.1: what a client of
//! `/v1/responses` gets (JSON, SSE, refusals) and how the mock's behaviour knobs apply to it.

mod common;

use common::{client, Behaviour, MockUpstream};
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard::mock::responses::{CACHED_TOKENS, ENCRYPTED_PREFIX, INPUT_TOKENS};
use switchyard::mock::OpenAiAnswer;
use switchyard::wire::sse::SseParser;

/// A mock that reasons and then runs `echo MARKER-1` through Codex's shell tool.
fn shell_mock() -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "codex-mock".into(),
        key: Some("sk-test".into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some("Need to run the command.".into()),
            tool_calls: vec![("exec_command".into(), r#"{"cmd":"echo MARKER-1"}"#.into())],
            argument_pieces: 3,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A request shaped like Codex's: streamed, not stored, asking for encrypted reasoning.
fn codex_request(input: Value) -> Value {
    json!({
        "model": "gpt-5.5", "stream": true, "store": false, "input": input,
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object",
            "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}],
        "tool_choice": "auto", "parallel_tool_calls": true,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "session-1",
    })
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

/// POSTs `body` to `path` with the key; answers the status, the headers and the body.
async fn post(
    mock: &MockUpstream,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut response = client()
        .post(format!("{}{path}", mock.url()))
        .insert_header(("authorization", format!("Bearer {key}")))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body().limit(16 << 20).await.expect("body");
    (status, headers, body.to_vec())
}

fn events(bytes: &[u8]) -> Vec<Value> {
    SseParser::new()
        .feed(bytes)
        .into_iter()
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).expect("JSON event data");
            assert_eq!(data["type"].as_str(), Some(e.name.as_str()));
            data
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn body_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("a JSON body")
}

#[actix_rt::test]
async fn a_shell_round_trip_gets_a_call_then_a_text_quoting_the_output() {
    let mock = shell_mock();
    let first = codex_request(json!([user("run echo MARKER-1")]));
    let (status, headers, body) = post(&mock, "/v1/responses", "sk-test", &first).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    let e = events(&body);
    let done: Vec<&Value> = e
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    assert_eq!(done.len(), 2);
    let (reasoning, call) = (done[0], done[1]);
    assert_eq!(reasoning["type"], "reasoning");
    assert!(reasoning["encrypted_content"]
        .as_str()
        .unwrap()
        .starts_with(ENCRYPTED_PREFIX));
    assert_eq!(reasoning["summary"][0]["text"], "Need to run the command.");
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "exec_command");
    assert_eq!(call["arguments"], r#"{"cmd":"echo MARKER-1"}"#);
    let arguments: String = e
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(arguments, r#"{"cmd":"echo MARKER-1"}"#);
    let completed = e.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    let first_id = completed["response"]["id"].as_str().unwrap().to_string();

    // Codex replays the whole history, then the shell's output.
    let output = json!({"type": "function_call_output", "call_id": call["call_id"],
        "output": "Process exited with code 0\nOutput:\nMARKER-1\n"});
    let second = codex_request(json!([user("run echo MARKER-1"), reasoning, call, output]));
    let (status, _, body) = post(&mock, "/responses", "sk-test", &second).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let e = events(&body);
    let text: String = e
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(
        text,
        "codex-mock read the tool output: Process exited with code 0\nOutput:\nMARKER-1"
    );
    let completed = &e.last().unwrap()["response"];
    assert_ne!(completed["id"], first_id);
    assert_eq!(completed["output"][1]["content"][0]["text"], text);

    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/responses");
    assert_eq!(
        body_json(&seen[1].body)["input"][3]["call_id"],
        call["call_id"]
    );
}

#[actix_rt::test]
async fn a_plain_request_gets_one_completed_response_with_usage() {
    let mock = MockUpstream::start(Behaviour {
        name: "plain".into(),
        ..Behaviour::default()
    })
    .unwrap();
    let (status, headers, body) = post(
        &mock,
        "/v1/responses",
        "any",
        &json!({"model": "gpt-4.1", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    let response = body_json(&body);
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["model"], "gpt-4.1");
    assert_eq!(
        response["output"][0]["content"][0],
        json!({"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello from plain: word1 word2"})
    );
    assert_eq!(response["usage"]["input_tokens"], INPUT_TOKENS);
    assert_eq!(
        response["usage"]["input_tokens_details"]["cached_tokens"],
        CACHED_TOKENS
    );
    assert_eq!(response["usage"]["output_tokens"], 3);
    assert_eq!(
        response["usage"]["output_tokens_details"]["reasoning_tokens"],
        0
    );
}

#[actix_rt::test]
async fn the_deltas_knob_sets_how_many_text_deltas_the_stream_has() {
    let mock = MockUpstream::start(Behaviour {
        deltas: 5,
        ..Behaviour::default()
    })
    .unwrap();
    let (_, _, body) = post(
        &mock,
        "/v1/responses",
        "k",
        &json!({"model": "m", "input": "hi", "stream": true}),
    )
    .await;
    let e = events(&body);
    assert_eq!(
        types(&e),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(mock.event_times().len(), e.len());
}

#[actix_rt::test]
async fn a_refused_request_gets_the_openai_400_and_is_recorded() {
    let mock = shell_mock();
    let chat_body = json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, body) = post(&mock, "/v1/responses", "sk-test", &chat_body).await;
    assert_eq!(status, 400);
    assert_eq!(
        body_json(&body),
        json!({"error": {"message": "Unknown parameter: 'messages'.", "type": "invalid_request_error",
            "param": "messages", "code": "unknown_parameter"}})
    );
    let orphan = codex_request(json!([
        user("hi"),
        {"type": "function_call_output", "call_id": "call_9", "output": "x"},
    ]));
    let (status, _, body) = post(&mock, "/v1/responses", "sk-test", &orphan).await;
    assert_eq!(status, 400);
    assert_eq!(
        body_json(&body)["error"]["message"],
        "No tool call found for function call output with call_id call_9."
    );
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(body_json(&seen[0].body), chat_body);
}

#[actix_rt::test]
async fn the_key_is_read_from_bearer_only() {
    let mock = shell_mock();
    let (status, _, body) = post(&mock, "/v1/responses", "sk-wrong", &json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        body_json(&body),
        json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
            "param": null, "code": "invalid_api_key"}})
    );
    let mut r = client()
        .post(format!("{}/v1/responses", mock.url()))
        .insert_header(("x-api-key", "sk-test"))
        .send_body(json!({"model": "m", "input": "hi"}).to_string())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let _ = r.body().await;
}

#[actix_rt::test]
async fn a_status_is_answered_in_the_openai_shape_with_its_retry_after() {
    let mock = MockUpstream::start(Behaviour {
        status: Some(429),
        retry_after: Some("1".into()),
        error_message: Some("Rate limit reached.".into()),
        ..Behaviour::default()
    })
    .unwrap();
    let request = json!({"model": "m", "input": "hi"});
    let (status, headers, body) = post(&mock, "/v1/responses", "k", &request).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(
        body_json(&body),
        json!({"error": {"message": "Rate limit reached.", "type": "requests", "param": null,
            "code": "rate_limit_exceeded"}})
    );
    mock.update(|b| {
        b.status = Some(500);
        b.error_as_ok = true;
        b.retry_after = None;
    });
    let (status, _, body) = post(&mock, "/v1/responses", "k", &request).await;
    assert_eq!(status, 200);
    assert_eq!(body_json(&body)["error"]["type"], "server_error");
}

#[actix_rt::test]
async fn a_stream_cut_after_some_events_never_completes() {
    let mock = MockUpstream::start(Behaviour {
        drop_after_events: Some(4),
        ..Behaviour::default()
    })
    .unwrap();
    let mut response = client()
        .post(format!("{}/v1/responses", mock.url()))
        .send_body(json!({"model": "m", "input": "hi", "stream": true}).to_string())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut received = Vec::new();
    while let Some(chunk) = response.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => break,
        }
    }
    let e = events(&received);
    assert_eq!(e.len(), 4);
    assert!(!types(&e).contains(&"response.completed"));
}

#[actix_rt::test]
async fn events_come_at_the_configured_interval() {
    let interval = std::time::Duration::from_millis(30);
    let mock = MockUpstream::start(Behaviour {
        event_interval: interval,
        ..Behaviour::default()
    })
    .unwrap();
    let (_, _, body) = post(
        &mock,
        "/responses",
        "k",
        &json!({"model": "m", "input": "hi", "stream": true}),
    )
    .await;
    assert_eq!(events(&body).last().unwrap()["type"], "response.completed");
    let times = mock.event_times();
    assert!(times.windows(2).all(|w| w[1] - w[0] >= interval));
}

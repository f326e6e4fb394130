//! Translation through the gateway over real sockets: Anthropic clients in front of OpenAI-format
//! endpoints and the other way round, plain and streaming, with tools, failover across kinds,
//! upstream errors in the client's shape, the side calls, and paths only one API has.

mod common;

use common::{client, config, header, Behaviour, Gateway, MockUpstream};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchyard::mock::OpenAiAnswer;

/// An OpenAI-format mock that reasons, then calls Bash with its arguments in 4 pieces.
fn openai_mock(name: &str) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: name.into(),
        key: Some("ok".into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some("Listing files.".into()),
            tool_calls: vec![("Bash".into(), r#"{"command":"ls -la"}"#.into())],
            argument_pieces: 4,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

fn anthropic_mock(name: &str) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: name.into(),
        key: Some("ak".into()),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// An `api: openai` endpoint at the mock's `/v1`, mapping Claude models to `deepseek-chat`.
fn openai_endpoint(id: &str, mock: &MockUpstream, priority: u32) -> String {
    format!(
        "  - id: {id}\n    api: openai\n    base_url: {}/v1\n    api_key: ok\n    priority: {priority}\n    \
         model_map: {{\"claude-*\": deepseek-chat}}\n",
        mock.url()
    )
}

fn anthropic_endpoint(id: &str, mock: &MockUpstream, priority: u32) -> String {
    format!(
        "  - id: {id}\n    base_url: {}\n    api_key: ak\n    priority: {priority}\n    \
         model_map: {{\"gpt-*\": claude-sonnet-4-5}}\n",
        mock.url()
    )
}

/// A gateway in front of an OpenAI-format mock (`ds`) and an Anthropic one (`claude`);
/// `openai_first` gives `ds` priority 1, else `claude` has it.
fn both_kinds(openai_first: bool) -> (Gateway, MockUpstream, MockUpstream) {
    let openai = openai_mock("deepseek");
    let claude = anthropic_mock("claude");
    let (ds, cl) = if openai_first { (1, 2) } else { (2, 1) };
    let gw = Gateway::start(&config(
        "",
        &[
            openai_endpoint("ds", &openai, ds),
            anthropic_endpoint("claude", &claude, cl),
        ],
    ));
    (gw, openai, claude)
}

fn messages_request(stream: bool) -> String {
    json!({
        "model": "claude-sonnet-4-5", "max_tokens": 500, "stream": stream,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [{"name": "Bash", "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "list the files"}],
    })
    .to_string()
}

fn chat_request(stream: bool) -> String {
    json!({
        "model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": true},
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    })
    .to_string()
}

async fn send(
    gw: &Gateway,
    path: &str,
    body: String,
    headers: &[(&str, &str)],
) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut request = client()
        .post(format!("{}{path}", gw.url))
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request.send_body(body).await.expect("request");
    let bytes = response.body().limit(16 << 20).await.expect("body");
    (
        response.status().as_u16(),
        response.headers().clone(),
        bytes.to_vec(),
    )
}

const CLAUDE_CODE_HEADERS: &[(&str, &str)] = &[
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "claude-code-20250219"),
    ("x-api-key", "client-key"),
];

/// `POST /v1/messages` with Claude Code's headers.
async fn claude_code(gw: &Gateway, body: String) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    send(gw, "/v1/messages", body, CLAUDE_CODE_HEADERS).await
}

/// The `data:` payloads of an SSE body, as JSON where they are JSON.
fn sse_data(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.to_string())))
        .collect()
}

#[actix_rt::test]
async fn an_anthropic_client_gets_messages_from_an_openai_endpoint_plain_and_streaming() {
    let upstream = openai_mock("deepseek");
    let endpoint = format!(
        "{}    max_tokens: 300\n",
        openai_endpoint("ds", &upstream, 1)
    );
    let gw = Gateway::start(&config("", &[endpoint]));

    let (status, headers, body) = send(
        &gw,
        "/v1/messages?beta=true",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    let answer: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["model"], "claude-sonnet-4-5", "the client's model");
    assert_eq!(answer["stop_reason"], "tool_use");
    let kinds: Vec<&str> = answer["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["thinking", "text", "tool_use"]);
    assert_eq!(answer["content"][2]["name"], "Bash");
    assert_eq!(answer["content"][2]["input"], json!({"command": "ls -la"}));
    assert_eq!(answer["usage"]["input_tokens"], 10);

    // What the upstream saw: Chat Completions at base_url + /chat/completions, a bearer key only.
    let seen = upstream.requests();
    let sent = &seen[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.query, "", "Claude Code's ?beta=true stays behind");
    assert_eq!(sent.header("authorization"), Some("Bearer ok"));
    assert_eq!(sent.header("x-api-key"), None);
    assert!(
        sent.headers
            .iter()
            .all(|(n, _)| !n.starts_with("anthropic-")),
        "{:?}",
        sent.headers
    );
    let sent_body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent_body["model"], "deepseek-chat", "model_map applied");
    assert_eq!(
        sent_body["max_tokens"], 300,
        "lowered to the endpoint's max_tokens"
    );
    assert_eq!(sent_body["messages"][0]["role"], "system");
    assert_eq!(sent_body["tools"][0]["function"]["name"], "Bash");

    let (status, headers, body) = send(
        &gw,
        "/v1/messages?beta=true",
        messages_request(true),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    let events = sse_data(&body);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"message_start"));
    assert_eq!(types.last(), Some(&"message_stop"));
    assert_eq!(types.iter().filter(|t| **t == "message_stop").count(), 1);
    // Blocks 0, 1, 2 in order, each opened once and closed once.
    let starts: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["content_block"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(starts, [(0, "thinking"), (1, "text"), (2, "tool_use")]);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "content_block_stop")
            .count(),
        3
    );
    let arguments: String = events
        .iter()
        .filter(|e| e["delta"]["type"] == "input_json_delta")
        .map(|e| e["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(arguments, r#"{"command":"ls -la"}"#, "joined byte for byte");
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    let sent: Value = serde_json::from_slice(&upstream.requests()[1].body).unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[actix_rt::test]
async fn an_openai_client_gets_chat_completions_from_an_anthropic_endpoint_plain_and_streaming() {
    let upstream = anthropic_mock("claude");
    let gw = Gateway::start(&config(
        "translate:\n  default_max_tokens: 777\n",
        &[anthropic_endpoint("claude", &upstream, 1)],
    ));
    let bearer = [("authorization", "Bearer client-key")];

    let (status, _, body) = send(&gw, "/v1/chat/completions", chat_request(false), &bearer).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "gpt-4o");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("claude"));
    assert_eq!(answer["usage"]["prompt_tokens"], 10);

    let sent = &upstream.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("ak"));
    let sent_body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(sent_body["model"], "claude-sonnet-4-5");
    assert_eq!(sent_body["max_tokens"], 777, "the configured default");
    assert_eq!(sent_body["system"], "Be brief.");
    assert_eq!(sent_body["tools"][0]["name"], "get_weather");
    assert!(sent_body["tools"][0]["input_schema"].is_object());

    let (status, headers, body) =
        send(&gw, "/v1/chat/completions", chat_request(true), &bearer).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    let chunks = sse_data(&body);
    assert_eq!(chunks.last(), Some(&Value::String("[DONE]".into())));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("claude"), "{text}");
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
    let usage = &chunks[chunks.len() - 2];
    assert_eq!(
        usage["choices"],
        json!([]),
        "the usage chunk the client asked for"
    );
    assert_eq!(usage["usage"]["prompt_tokens"], 10);
}

#[actix_rt::test]
async fn an_openai_client_gets_tool_calls_from_an_anthropic_endpoint_plain_and_streaming() {
    let upstream = MockUpstream::start(Behaviour {
        name: "claude".into(),
        key: Some("ak".into()),
        openai: Some(OpenAiAnswer {
            tool_calls: vec![
                ("get_weather".into(), r#"{"city":"Paris"}"#.into()),
                ("get_weather".into(), r#"{"city":"Oslo"}"#.into()),
            ],
            argument_pieces: 3,
            ..OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[anthropic_endpoint("claude", &upstream, 1)]));

    let (status, _, body) = send(&gw, "/v1/chat/completions", chat_request(false), &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], "toolu_mock_0");
    assert_eq!(calls[1]["function"]["name"], "get_weather");
    assert_eq!(calls[1]["function"]["arguments"], r#"{"city":"Oslo"}"#);

    let (status, _, body) = send(&gw, "/v1/chat/completions", chat_request(true), &[]).await;
    assert_eq!(status, 200);
    let chunks = sse_data(&body);
    let mut arguments = [String::new(), String::new()];
    let mut ids = Vec::new();
    for chunk in &chunks {
        for call in chunk["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                ids.push((index, id.to_string()));
            }
            arguments[index] += call["function"]["arguments"].as_str().unwrap_or_default();
        }
    }
    assert_eq!(
        ids,
        [
            (0, "toolu_mock_0".to_string()),
            (1, "toolu_mock_1".to_string())
        ]
    );
    assert_eq!(arguments, [r#"{"city":"Paris"}"#, r#"{"city":"Oslo"}"#]);
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["tool_calls"]);
    assert_eq!(chunks.last(), Some(&Value::String("[DONE]".into())));
}

#[actix_rt::test]
async fn an_openai_clients_json_schema_comes_back_from_an_anthropic_endpoint_as_the_message_text() {
    const COLOURS: &str = r#"{"colours":["red","green","blue"]}"#;
    let upstream = MockUpstream::start(Behaviour {
        name: "claude".into(),
        key: Some("ak".into()),
        openai: Some(OpenAiAnswer {
            tool_calls: vec![("colours".into(), COLOURS.into())],
            argument_pieces: 4,
            ..OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[anthropic_endpoint("claude", &upstream, 1)]));
    let schema = json!({"type": "object", "properties": {"colours": {"type": "array",
        "items": {"type": "string"}}}, "required": ["colours"], "additionalProperties": false});
    let request = |stream: bool| {
        json!({"model": "gpt-4o", "stream": stream, "reasoning_effort": "high",
            "messages": [{"role": "user", "content": "Three colours, please."}],
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "colours", "strict": true, "schema": schema}}})
        .to_string()
    };

    let (status, _, body) = send(&gw, "/v1/chat/completions", request(false), &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let choice = &answer["choices"][0];
    assert_eq!(choice["message"]["content"], COLOURS);
    assert!(choice["message"].get("tool_calls").is_none(), "{answer}");
    assert_eq!(choice["finish_reason"], "stop");

    let sent: Value = serde_json::from_slice(&upstream.requests()[0].body).unwrap();
    let tools = sent["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1, "{sent}");
    assert_eq!(tools[0]["name"], "colours");
    assert_eq!(
        tools[0]["input_schema"], schema,
        "the client's schema as it came"
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "colours"})
    );
    assert!(
        sent.get("thinking").is_none(),
        "Anthropic refuses thinking beside a forced tool: {sent}"
    );

    let (status, _, body) = send(&gw, "/v1/chat/completions", request(true), &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let chunks = sse_data(&body);
    assert_eq!(chunks.last(), Some(&Value::String("[DONE]".into())));
    let deltas: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(
        deltas.len(),
        4,
        "each input_json_delta is a text delta: {deltas:?}"
    );
    assert_eq!(deltas.concat(), COLOURS);
    assert!(chunks
        .iter()
        .all(|c| c["choices"][0]["delta"].get("tool_calls").is_none()));
    let finish: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
        .collect();
    assert_eq!(finish, ["stop"]);
}

#[actix_rt::test]
async fn a_request_fails_over_between_endpoints_of_either_kind() {
    // An Anthropic endpoint answers 503: the OpenAI-format one serves the Anthropic client.
    let down = MockUpstream::start(Behaviour {
        key: Some("ak".into()),
        status: Some(503),
        ..Behaviour::default()
    })
    .expect("mock");
    let openai = openai_mock("deepseek");
    let gw = Gateway::start(&config(
        "",
        &[
            anthropic_endpoint("down", &down, 1),
            openai_endpoint("ds", &openai, 2),
        ],
    ));
    for stream in [false, true] {
        let (status, headers, body) = claude_code(&gw, messages_request(stream)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("ds")
        );
        assert_eq!(
            header(&headers, "x-switchyard-attempts").as_deref(),
            Some("2")
        );
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("tool_use") && text.contains("Bash"), "{text}");
    }
    drop(gw);

    // And the other way: an OpenAI endpoint answers 503, an Anthropic one serves the OpenAI client.
    let down = MockUpstream::start(Behaviour {
        key: Some("ok".into()),
        status: Some(503),
        ..Behaviour::default()
    })
    .expect("mock");
    let claude = anthropic_mock("claude");
    let gw = Gateway::start(&config(
        "",
        &[
            openai_endpoint("down", &down, 1),
            anthropic_endpoint("claude", &claude, 2),
        ],
    ));
    let (status, headers, body) = send(&gw, "/v1/chat/completions", chat_request(false), &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("claude")
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(down.hits(), 1);
    assert_eq!(
        down.requests()[0].path,
        "/v1/chat/completions",
        "passthrough"
    );
}

#[actix_rt::test]
async fn a_request_translation_cannot_carry_goes_to_an_endpoint_of_the_clients_api() {
    // `mcp_servers` has no Chat Completions counterpart: the OpenAI-format endpoint (first by
    // priority) is passed over without a byte sent, and the Anthropic one takes the request as is.
    let (gw, openai, claude) = both_kinds(true);
    let mut request: Value = serde_json::from_str(&messages_request(false)).unwrap();
    request["mcp_servers"] =
        json!([{"type": "url", "url": "https://mcp.example/sse", "name": "x"}]);
    for _ in 0..2 {
        let (status, headers, body) = claude_code(&gw, request.to_string()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("claude")
        );
        assert_eq!(
            header(&headers, "x-switchyard-attempts").as_deref(),
            Some("1"),
            "passing an endpoint over is no attempt"
        );
    }
    assert_eq!(
        openai.hits(),
        0,
        "nothing was sent to the endpoint that cannot carry it"
    );
    assert_eq!(claude.hits(), 2);
    assert!(
        gw.logs()
            .contains("attempts=[ds:untranslatable claude:200]"),
        "{}",
        gw.logs()
    );
    let sent: Value = serde_json::from_slice(&claude.requests()[0].body).unwrap();
    assert_eq!(
        sent["mcp_servers"][0]["name"], "x",
        "passed through as it came"
    );
    // Not the endpoint's failure (no failover counted, state untouched), and it still serves
    // what it can carry.
    assert_eq!(gw.state_of("ds").await, "unknown");
    let mut answer = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&answer.body().await.expect("metrics")).to_string();
    assert!(metrics.contains("switchyard_requests_total"), "{metrics}");
    assert!(
        !metrics.contains("switchyard_failovers_total{endpoint=\"ds\"}"),
        "{metrics}"
    );
    let (status, headers, _) = claude_code(&gw, messages_request(false)).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    drop(gw);

    // With no endpoint of the client's API, the refusal stands: a 400 naming the field, nothing sent.
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &openai, 1)]));
    let before = openai.hits();
    let (status, _, body) = claude_code(&gw, request.to_string()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let error: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mcp_servers"));
    assert_eq!(openai.hits(), before);
    drop(gw);

    // The endpoint that could take it is rate-limited for now: the client hears when to come
    // back (the gateway's 429 with Retry-After), not that its request cannot be carried.
    let limited = MockUpstream::start(Behaviour {
        key: Some("ak".into()),
        status: Some(429),
        retry_after: Some("30".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[
            anthropic_endpoint("claude", &limited, 1),
            openai_endpoint("ds", &openai, 2),
        ],
    ));
    // A plain request meets the 429 and fails over to the OpenAI-format endpoint.
    let (status, headers, _) = claude_code(&gw, messages_request(false)).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    let (status, headers, body) = claude_code(&gw, request.to_string()).await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("rate_limited")
    );
    assert!(header(&headers, "retry-after").is_some());
    assert_eq!(
        limited.hits(),
        1,
        "nothing more went to the rate-limited endpoint"
    );
}

/// A Messages request whose tool schema makes the body nest `depth` levels in all (at least 5):
/// the body, `tools`, the tool, then the schema's objects.
fn messages_request_nested(depth: usize) -> String {
    let wrappers = (depth - 4) / 2;
    // Each wrapper is two levels (the schema and its `properties`); an `enum` makes up an odd one.
    let mut schema = if (depth - 4) % 2 == 0 {
        json!({"type": "string"})
    } else {
        json!({"type": "string", "enum": ["a"]})
    };
    for _ in 0..wrappers {
        schema = json!({"type": "object", "properties": {"x": schema}});
    }
    let mut request: Value = serde_json::from_str(&messages_request(false)).unwrap();
    request["tools"][0]["input_schema"] = schema;
    request.to_string()
}

#[actix_rt::test]
async fn a_body_the_translation_cannot_read_gets_400_with_what_and_where_and_is_never_sent() {
    let openai = openai_mock("deepseek");
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &openai, 1)]));
    // 127 levels pass...
    let (status, _, body) = claude_code(&gw, messages_request_nested(127)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let hits = openai.hits();
    // ...and a 128th is refused, as serde_json refuses it, though routing's scan of the top level
    // took the body.
    let deep = messages_request_nested(128);
    let malformed = messages_request(false).replace("\"max_tokens\":500", "\"max_tokens\":0500");
    let zero = malformed.find("0500").expect("the number") + 1;
    for (body, expected) in [
        (
            deep,
            "recursion limit exceeded at line 1 column".to_string(),
        ),
        (
            malformed,
            format!("invalid number at line 1 column {}", zero + 1),
        ),
    ] {
        let (status, _, answer) = claude_code(&gw, body).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&answer));
        let error: Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&expected), "{message}");
    }
    assert_eq!(openai.hits(), hits, "nothing unreadable went upstream");
}

#[actix_rt::test]
async fn upstream_errors_reach_the_client_in_its_own_shape_with_the_same_status() {
    let limited = MockUpstream::start(Behaviour {
        key: Some("ok".into()),
        status: Some(429),
        retry_after: Some("7".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &limited, 1)]));
    let (status, headers, body) = claude_code(&gw, messages_request(false)).await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    assert!(header(&headers, "content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    let error: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "rate_limit_error");
    drop(gw);

    // A 400 is no failure of the endpoint: relayed at once, still in the client's shape.
    let refusing = MockUpstream::start(Behaviour {
        key: Some("ak".into()),
        status: Some(400),
        error_message: Some("max_tokens: too large".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[anthropic_endpoint("claude", &refusing, 1)]));
    let (status, _, body) = send(&gw, "/v1/chat/completions", chat_request(true), &[]).await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens: too large"));

    // What Messages cannot express is refused by the gateway, in the OpenAI shape, never sent.
    let (status, _, body) = send(
        &gw,
        "/v1/chat/completions",
        json!({"model": "gpt-4o", "n": 2, "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(error["error"]["param"], "n");
    assert_eq!(refusing.hits(), 1, "the refused request never left");
}

#[actix_rt::test]
async fn a_translated_stream_cut_midway_ends_with_the_clients_error_event() {
    let upstream = MockUpstream::start(Behaviour {
        key: Some("ok".into()),
        deltas: 6,
        drop_after_events: Some(3),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &upstream, 1)]));
    let (status, _, body) = claude_code(&gw, messages_request(true)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("event: message_start"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");
    assert!(
        text.trim_end().ends_with('}') && text.contains("event: error"),
        "{text}"
    );
    let last = sse_data(&body).pop().unwrap();
    assert_eq!(last["type"], "error");
}

#[actix_rt::test]
async fn count_tokens_and_models_are_answered_for_openai_endpoints() {
    let upstream = openai_mock("deepseek");
    let endpoint = format!(
        "{}    models: [claude-sonnet-4-5, claude-haiku-4-5]\n",
        openai_endpoint("ds", &upstream, 1)
    );
    let gw = Gateway::start(&config("", &[endpoint]));
    let (status, headers, body) = send(
        &gw,
        "/v1/messages/count_tokens?beta=true",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    let count: Value = serde_json::from_slice(&body).unwrap();
    assert!(count["input_tokens"].as_u64().unwrap() > 10, "{count}");
    assert_eq!(upstream.hits(), 0, "estimated by the gateway");

    let anthropic: Value = client()
        .get(format!("{}/v1/models", gw.url))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["data"][0]["type"], "model");
    assert_eq!(anthropic["data"][0]["id"], "claude-haiku-4-5");
    assert_eq!(anthropic["has_more"], false);
    assert!(anthropic.get("object").is_none());
    let openai: Value = client()
        .get(format!("{}/v1/models", gw.url))
        .insert_header(("authorization", "Bearer x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][1]["id"], "claude-sonnet-4-5");
    assert_eq!(openai["data"][1]["object"], "model");
    assert_eq!(upstream.hits(), 0);
}

#[actix_rt::test]
async fn a_forwarded_model_list_comes_in_the_callers_shape() {
    // No endpoint lists its models, so `GET /v1/models` goes upstream.
    let openai = openai_mock("deepseek");
    let claude = anthropic_mock("claude");
    let list = |gw: &Gateway, headers: &'static [(&'static str, &'static str)]| {
        let mut request = client().get(format!("{}/v1/models", gw.url));
        for header in headers {
            request = request.insert_header(*header);
        }
        async move {
            let mut answer = request.send().await.expect("request");
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.expect("json");
            (status, body)
        }
    };
    let anthropic_caller: &[(&str, &str)] = &[
        ("x-api-key", "client-key"),
        ("anthropic-version", "2023-06-01"),
    ];
    let openai_caller: &[(&str, &str)] = &[("authorization", "Bearer client-key")];

    // An Anthropic SDK in front of an OpenAI-format endpoint reads Anthropic's list.
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &openai, 1)]));
    let (status, body) = list(&gw, anthropic_caller).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], "mock-model");
    assert_eq!(body["data"][0]["type"], "model");
    assert_eq!(body["first_id"], "mock-model");
    assert_eq!(body["has_more"], false);
    assert!(body.get("object").is_none(), "{body}");
    // An OpenAI client there gets the upstream's list as it came.
    let (_, body) = list(&gw, openai_caller).await;
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["owned_by"], "mock", "untouched");
    assert_eq!(openai.hits(), 2);
    drop(gw);

    // An OpenAI SDK in front of an Anthropic endpoint reads OpenAI's list.
    let gw = Gateway::start(&config("", &[anthropic_endpoint("claude", &claude, 1)]));
    let (_, body) = list(&gw, openai_caller).await;
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][0]["id"], "mock-model");
    assert_eq!(body["data"][0]["object"], "model");
    assert!(body.get("has_more").is_none(), "{body}");
    // And an Anthropic client there gets the upstream's list as it came.
    let (_, body) = list(&gw, anthropic_caller).await;
    assert_eq!(body["data"][0]["display_name"], "Mock model", "untouched");
    assert_eq!(claude.hits(), 2);
}

#[actix_rt::test]
async fn a_path_only_openai_has_goes_only_to_openai_endpoints() {
    let (gw, openai, claude) = both_kinds(false);
    let body = json!({"model": "text-embedding-3-small", "input": "hi"}).to_string();
    let (_, headers, _) = send(&gw, "/v1/embeddings", body.clone(), &[]).await;
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    assert_eq!(claude.hits(), 0);
    assert_eq!(
        openai.requests()[0].path,
        "/v1/embeddings",
        "base_url + /embeddings"
    );
    drop(gw);

    let gw = Gateway::start(&config("", &[anthropic_endpoint("claude", &claude, 1)]));
    let (status, _, answer) = send(&gw, "/v1/embeddings", body, &[]).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&answer).contains("openai API"));
    assert_eq!(claude.hits(), 0);
}

/// Per-event lateness (client receipt − upstream send), translated vs passthrough: a measurement
/// to read, not a test. Run: `cargo test --release --test relay_translate lateness -- --ignored --nocapture`.
#[actix_rt::test]
#[ignore]
async fn lateness_translated_vs_passthrough() {
    use futures_util::StreamExt;
    let events = 200;
    let upstream = MockUpstream::start(Behaviour {
        key: Some("ok".into()),
        deltas: events,
        event_interval: Duration::from_millis(5),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[openai_endpoint("ds", &upstream, 1)]));
    for (label, path, body) in [
        (
            "passthrough (OpenAI client)",
            "/v1/chat/completions",
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "translated (Anthropic client)",
            "/v1/messages",
            json!({"model": "m", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ] {
        let mut all = Vec::new();
        for _ in 0..3 {
            upstream.clear();
            let mut response = client()
                .post(format!("{}{path}", gw.url))
                .insert_header(("content-type", "application/json"))
                .send_body(body.to_string())
                .await
                .unwrap();
            let mut received = Vec::new();
            while let Some(chunk) = response.next().await {
                chunk.unwrap();
                received.push(Instant::now());
            }
            let sent = upstream.event_times();
            for at in received {
                if let Some(from) = sent.iter().rev().find(|t| **t <= at) {
                    all.push(at.duration_since(*from).as_secs_f64() * 1e6);
                }
            }
        }
        all.sort_by(|a, b| a.total_cmp(b));
        let pick = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
        println!(
            "{label}: {} chunks, lateness µs p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}",
            all.len(),
            pick(0.5),
            pick(0.9),
            pick(0.99),
            pick(1.0)
        );
    }
}

#[actix_rt::test]
async fn an_openai_endpoint_is_probed_in_its_own_api() {
    let upstream = openai_mock("deepseek");
    let endpoint = format!(
        "{}    probe: messages\n",
        openai_endpoint("ds", &upstream, 1)
    );
    let _gw = Gateway::start(&config("health:\n  probe_interval: 200ms\n", &[endpoint]));
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.hits() < 1 {
        assert!(Instant::now() < deadline, "no periodic probe");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let probe = &upstream.requests()[0];
    assert_eq!(
        (probe.method.as_str(), probe.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(probe.header("authorization"), Some("Bearer ok"));
    assert_eq!(probe.header("anthropic-version"), None);
    let body: Value = serde_json::from_slice(&probe.body).unwrap();
    assert_eq!(
        body["model"], "deepseek-chat",
        "model_map applies to the probe"
    );
    assert_eq!(body["max_tokens"], 1);
}

#[actix_rt::test]
async fn count_tokens_goes_to_an_anthropic_endpoint_before_a_higher_priority_openai_one() {
    let chat = openai_mock("deepseek");
    let messages = anthropic_mock("claude");
    let gw = Gateway::start(&config(
        "sessions:\n  enabled: true\n",
        &[
            openai_endpoint("ds", &chat, 1),
            anthropic_endpoint("an", &messages, 2),
        ],
    ));
    // A session bound to the OpenAI endpoint by a generation request first.
    let (status, headers, _) = send(
        &gw,
        "/v1/messages",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    // (The mock has no count_tokens of its own: what matters is where the request went.)
    let (_, headers, _) = send(
        &gw,
        "/v1/messages/count_tokens",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("an"),
        "the endpoint that counts exactly"
    );
    assert_eq!(messages.hits(), 1);
    let seen = messages.requests();
    assert_eq!(seen[0].path, "/v1/messages/count_tokens");
    // With the Anthropic endpoint out, the gateway's estimate stands in.
    messages.update(|b| b.status = Some(401));
    let _ = send(
        &gw,
        "/v1/messages/count_tokens",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    let (status, headers, _) = send(
        &gw,
        "/v1/messages/count_tokens",
        messages_request(false),
        CLAUDE_CODE_HEADERS,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("ds")
    );
    assert_eq!(chat.hits(), 1, "estimated, not sent to the OpenAI endpoint");
}

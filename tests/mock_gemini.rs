//! The mock upstream's Gemini API over real sockets on 127.0.0.1: what a client of
//! `/v1beta/models/…` gets (JSON, SSE, refusals), how it reads the key, and how the mock's
//! behaviour knobs apply to it.

mod common;

use common::{client, Behaviour, MockUpstream};
use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard::mock::gemini::{
    call_signature, GeminiKey, CACHED_TOKENS, PROMPT_TOKENS, SKIP_SIGNATURE,
};
use switchyard::mock::OpenAiAnswer;
use switchyard::wire::sse::SseParser;

const KEY: &str = "gm-test-key";

/// A mock that thinks and then runs `echo MARKER-1` through Gemini CLI's shell tool.
fn shell_mock() -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "gemini-mock".into(),
        key: Some(KEY.into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some("Need to run the command.".into()),
            tool_calls: vec![(
                "run_shell_command".into(),
                r#"{"command":"echo MARKER-1"}"#.into(),
            )],
            argument_pieces: 3,
        }),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// A request shaped like Gemini CLI's: thinking on, the shell tool declared.
fn cli_request(contents: Value) -> Value {
    json!({
        "contents": contents,
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a CLI agent."}]},
        "tools": [{"functionDeclarations": [{"name": "run_shell_command", "description": "Run",
            "parametersJsonSchema": {"type": "object", "properties": {"command": {"type": "string"}},
                "required": ["command"]}}]}],
        "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64,
            "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}},
    })
}

fn user(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

/// POSTs `body` to `path` (with its query) with the key in `x-goog-api-key`; answers the status,
/// the headers and the body.
async fn post(
    mock: &MockUpstream,
    path: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut request = client()
        .post(format!("{}{path}", mock.url()))
        .insert_header(("content-type", "application/json"));
    if let Some(key) = key {
        request = request.insert_header(("x-goog-api-key", key));
    }
    let mut response = request.send_body(body.to_string()).await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body().limit(16 << 20).await.expect("body");
    (status, headers, body.to_vec())
}

/// The `data:` chunks of an SSE body, parsed.
fn chunks(bytes: &[u8]) -> Vec<Value> {
    SseParser::new()
        .feed(bytes)
        .into_iter()
        .map(|e| {
            assert_eq!(e.name, "", "Gemini sends no event names");
            serde_json::from_str(&e.data).expect("JSON chunk")
        })
        .collect()
}

/// Every part of every chunk, in order.
fn parts(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn body_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("a JSON body")
}

const STREAM: &str = "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse";

#[actix_rt::test]
async fn a_shell_round_trip_gets_a_thought_a_signed_call_then_a_text_quoting_the_output() {
    let mock = shell_mock();
    let first = cli_request(json!([user("run echo MARKER-1")]));
    let (status, headers, body) = post(&mock, STREAM, Some(KEY), &first).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers.get("content-type").unwrap(), "text/event-stream");
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("data: {"), "{text}");
    assert!(text.ends_with("}\r\n\r\n"), "CRLF between chunks: {text:?}");
    assert!(!text.contains("[DONE]"));
    let c = chunks(&body);
    let p = parts(&c);
    assert_eq!(
        p[0],
        json!({"text": "Need to run the command.", "thought": true})
    );
    let call = &p[1];
    assert_eq!(call["functionCall"]["name"], "run_shell_command");
    assert_eq!(
        call["functionCall"]["args"],
        json!({"command": "echo MARKER-1"})
    );
    assert_eq!(
        call["thoughtSignature"],
        call_signature("run_shell_command")
    );
    let last = c.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], PROMPT_TOKENS);
    assert_eq!(
        last["usageMetadata"]["cachedContentTokenCount"],
        CACHED_TOKENS
    );
    assert_eq!(last["usageMetadata"]["thoughtsTokenCount"], 5);

    // Gemini CLI replays the call as received (the thought dropped), then the shell's output.
    let output = json!({"role": "user", "parts": [{"functionResponse": {
        "id": call["functionCall"]["id"], "name": "run_shell_command",
        "response": {"output": "Output: MARKER-1\nProcess Group PGID: 42"}}}]});
    let second = cli_request(json!([
        user("run echo MARKER-1"),
        {"role": "model", "parts": [call]},
        output
    ]));
    let (status, _, body) = post(&mock, STREAM, Some(KEY), &second).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let c = chunks(&body);
    let answer: String = parts(&c)
        .iter()
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str())
        .collect();
    assert_eq!(
        answer,
        "gemini-mock read the tool output: Output: MARKER-1\nProcess Group PGID: 42"
    );
    assert_eq!(c.last().unwrap()["candidates"][0]["finishReason"], "STOP");

    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].gemini_key(), Some(GeminiKey::Header(KEY.into())));
    assert_eq!(
        seen[1].json()["contents"][1]["parts"][0]["thoughtSignature"],
        call_signature("run_shell_command")
    );
}

#[actix_rt::test]
async fn a_call_replayed_without_its_signature_is_refused_as_gemini_3_refuses_it() {
    let mock = shell_mock();
    let unsigned = json!({"role": "model", "parts": [{"functionCall": {"name": "run_shell_command",
        "args": {"command": "ls"}}}]});
    let output = json!({"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command",
        "response": {"output": "a.txt"}}}]});
    let request = cli_request(json!([user("ls"), unsigned, output]));
    let (status, _, body) = post(&mock, STREAM, Some(KEY), &request).await;
    assert_eq!(status, 400);
    let error = &body_json(&body)["error"];
    assert_eq!(error["code"], 400);
    assert_eq!(error["status"], "INVALID_ARGUMENT");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .starts_with("Function call is missing a thought_signature in functionCall parts."));

    let mut skipped = request.clone();
    skipped["contents"][1]["parts"][0]["thoughtSignature"] = json!(SKIP_SIGNATURE);
    let (status, _, _) = post(&mock, STREAM, Some(KEY), &skipped).await;
    assert_eq!(status, 200);
    assert_eq!(
        mock.requests().len(),
        2,
        "refused requests are recorded too"
    );
}

#[actix_rt::test]
async fn a_request_in_another_apis_shape_gets_the_gemini_400() {
    let mock = shell_mock();
    let chat = json!({"model": "gemini-2.5-pro", "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, body) = post(&mock, STREAM, Some(KEY), &chat).await;
    assert_eq!(status, 400);
    let message = "Invalid JSON payload received. Unknown name \"messages\": Cannot find field.";
    assert_eq!(
        body_json(&body),
        json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"description": message}]}]}})
    );
    let assistant =
        json!({"contents": [user("hi"), {"role": "assistant", "parts": [{"text": "Hi."}]}]});
    let (status, _, body) = post(&mock, STREAM, Some(KEY), &assistant).await;
    assert_eq!(status, 400);
    assert_eq!(
        body_json(&body)["error"]["message"],
        "Please use a valid role: user, model."
    );
}

#[actix_rt::test]
async fn the_key_is_taken_from_the_query_and_refused_as_google_refuses_it() {
    let mock = shell_mock();
    let request = json!({"contents": [user("hi")]});
    let path = format!("/v1beta/models/gemini-2.5-flash:generateContent?key={KEY}");
    let (status, _, _) = post(&mock, &path, None, &request).await;
    assert_eq!(status, 200);
    assert_eq!(
        mock.requests()[0].gemini_key(),
        Some(GeminiKey::Query(KEY.into()))
    );

    let (status, _, body) = post(
        &mock,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        Some("wrong"),
        &request,
    )
    .await;
    assert_eq!(status, 400);
    let error = &body_json(&body)["error"];
    assert_eq!(
        error["message"],
        "API key not valid. Please pass a valid API key."
    );
    assert_eq!(error["details"][0]["reason"], "API_KEY_INVALID");

    let (status, _, body) = post(
        &mock,
        "/v1beta/models/gemini-2.5-flash:generateContent",
        None,
        &request,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body_json(&body)["error"]["status"], "PERMISSION_DENIED");
}

#[actix_rt::test]
async fn the_router_call_gets_one_json_answer_valid_for_its_schema() {
    let mock = shell_mock();
    let router = json!({
        "contents": [user("<session_context>…"), user("run echo MARKER-1")],
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a Task Routing AI."}]},
        "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64,
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "OBJECT", "properties": {
                "complexity_reasoning": {"type": "STRING"}, "complexity_score": {"type": "INTEGER"}},
                "required": ["complexity_reasoning", "complexity_score"]},
            "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"}},
    });
    let (status, headers, body) = post(
        &mock,
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
        Some(KEY),
        &router,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    let answer = body_json(&body);
    let candidate = &answer["candidates"][0];
    assert_eq!(candidate["finishReason"], "STOP");
    let text = candidate["content"]["parts"][0]["text"].as_str().unwrap();
    let verdict: Value = serde_json::from_str(text).unwrap();
    assert!(verdict["complexity_score"].as_i64().unwrap() >= 1);
    assert!(verdict["complexity_reasoning"].is_string());
    assert_eq!(answer["modelVersion"], "gemini-3.5-flash-lite");
}

#[actix_rt::test]
async fn models_are_listed_and_tokens_counted() {
    let mock = MockUpstream::start(Behaviour::default()).unwrap();
    let mut r = client()
        .get(format!("{}/v1beta/models", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let list: Value = r.json().await.unwrap();
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"models/gemini-2.5-pro"), "{names:?}");
    let (status, _, body) = post(
        &mock,
        "/v1beta/models/gemini-2.5-pro:countTokens",
        Some("k"),
        &json!({"contents": [user("twelve chars")]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body_json(&body)["totalTokens"], 3);
}

#[actix_rt::test]
async fn the_deltas_knob_sets_how_many_text_chunks_the_stream_has() {
    let mock = MockUpstream::start(Behaviour {
        deltas: 5,
        ..Behaviour::default()
    })
    .unwrap();
    let (_, _, body) = post(
        &mock,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        Some("k"),
        &json!({"contents": [user("hi")]}),
    )
    .await;
    let c = chunks(&body);
    assert_eq!(c.len(), 5);
    let text: String = parts(&c)
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello from mock: word1 word2 word3 word4");
    assert_eq!(c[4]["usageMetadata"]["candidatesTokenCount"], 5);
    assert_eq!(mock.event_times().len(), 5);
}

#[actix_rt::test]
async fn a_stream_without_alt_sse_is_one_json_array() {
    let mock = MockUpstream::start(Behaviour::default()).unwrap();
    let (status, headers, body) = post(
        &mock,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        Some("k"),
        &json!({"contents": [user("hi")]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    let array = body_json(&body);
    assert_eq!(array.as_array().unwrap().len(), 3);
    assert_eq!(array[2]["candidates"][0]["finishReason"], "STOP");
}

#[actix_rt::test]
async fn a_status_is_answered_in_the_gemini_shape_with_its_retry_info() {
    let mock = MockUpstream::start(Behaviour {
        status: Some(429),
        retry_after: Some("7".into()),
        error_message: Some("Resource has been exhausted (e.g. check quota).".into()),
        ..Behaviour::default()
    })
    .unwrap();
    let request = json!({"contents": [user("hi")]});
    let (status, headers, body) = post(&mock, STREAM, Some("k"), &request).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "7");
    assert_eq!(
        body_json(&body),
        json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED", "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]}})
    );
    mock.update(|b| {
        b.status = Some(503);
        b.error_as_ok = true;
        b.retry_after = None;
        b.error_message = None;
    });
    let (status, _, body) = post(&mock, STREAM, Some("k"), &request).await;
    assert_eq!(status, 200);
    assert_eq!(
        body_json(&body),
        json!({"error": {"code": 503, "message": "mock mock answers 503", "status": "UNAVAILABLE"}})
    );
}

#[actix_rt::test]
async fn a_stream_cut_after_some_chunks_never_finishes() {
    let mock = MockUpstream::start(Behaviour {
        drop_after_events: Some(2),
        ..Behaviour::default()
    })
    .unwrap();
    let mut response = client()
        .post(format!("{}{STREAM}", mock.url()))
        .send_body(json!({"contents": [user("hi")]}).to_string())
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
    let c = chunks(&received);
    assert_eq!(c.len(), 2);
    assert!(c
        .iter()
        .all(|c| c["candidates"][0].get("finishReason").is_none()));
}

#[actix_rt::test]
async fn chunks_come_at_the_configured_interval() {
    let interval = std::time::Duration::from_millis(30);
    let mock = MockUpstream::start(Behaviour {
        event_interval: interval,
        ..Behaviour::default()
    })
    .unwrap();
    let (_, _, body) = post(&mock, STREAM, Some("k"), &json!({"contents": [user("hi")]})).await;
    assert_eq!(chunks(&body).len(), 3);
    let times = mock.event_times();
    assert!(times.windows(2).all(|w| w[1] - w[0] >= interval));
}

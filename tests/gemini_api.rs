//! The Gemini API as a client API over raw HTTP: the model comes from the path, the client's key
//! may come as `?key=` and never goes upstream, and errors come in Gemini's shape.

mod common;

use common::{client, config, Behaviour, Gateway, MockUpstream};
use serde_json::{json, Value};
use switchyard::mock::gemini::GeminiKey;
use switchyard::mock::OpenAiAnswer;

const UPSTREAM_KEY: &str = "upstream-gemini-key";
const CLIENT_KEY: &str = "client-key-of-the-gateway";

fn gemini_gateway() -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start(Behaviour {
        name: "gemini-mock".into(),
        key: Some(UPSTREAM_KEY.into()),
        openai: Some(OpenAiAnswer::default()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        &format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n"),
        &[format!(
            "  - id: gm\n    api: gemini\n    base_url: {}\n    api_key: {UPSTREAM_KEY}\n    model_map: {{\"gemini-pro-latest\": gemini-2.5-pro}}\n",
            mock.url()
        )],
    ));
    (gw, mock)
}

fn ask() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]})
}

#[actix_rt::test]
async fn a_key_in_the_query_is_the_clients_and_never_reaches_the_upstream() {
    let (gw, mock) = gemini_gateway();
    let url = format!(
        "{}/v1beta/models/gemini-pro-latest:generateContent?key={CLIENT_KEY}",
        gw.url
    );
    let mut answer = client().post(url).send_json(&ask()).await.unwrap();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(answer.status(), 200, "{body}");
    assert!(
        body["candidates"][0]["content"]["parts"][0]["text"].is_string(),
        "{body}"
    );
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    // The model renamed in the path; the key the endpoint's, in the header only.
    assert_eq!(
        seen[0].path,
        "/v1beta/models/gemini-2.5-pro:generateContent"
    );
    assert!(!seen[0].query.contains(CLIENT_KEY), "{}", seen[0].query);
    assert_eq!(
        seen[0].gemini_key(),
        Some(GeminiKey::Header(UPSTREAM_KEY.into()))
    );
    let everything = format!("{:?}", seen[0].headers);
    assert!(!everything.contains(CLIENT_KEY), "{everything}");

    // A streamed call keeps `alt=sse` and loses only the key.
    let url = format!(
        "{}/v1beta/models/gemini-pro-latest:streamGenerateContent?alt=sse&key={CLIENT_KEY}",
        gw.url
    );
    let mut answer = client().post(url).send_json(&ask()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let text = String::from_utf8(answer.body().await.unwrap().to_vec()).unwrap();
    assert!(text.starts_with("data: "), "{text}");
    let seen = mock.requests();
    assert_eq!(seen[1].query, "alt=sse");
}

#[actix_rt::test]
async fn a_wrong_key_is_refused_in_geminis_error_shape() {
    let (gw, mock) = gemini_gateway();
    let url = format!(
        "{}/v1beta/models/gemini-2.5-pro:generateContent?key=wrong",
        gw.url
    );
    let mut answer = client().post(url).send_json(&ask()).await.unwrap();
    assert_eq!(answer.status(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401, "{body}");
    assert!(body["error"]["status"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(mock.hits(), 0);
}

/// A Messages client (Claude Code's shape) on a Gemini 3 model, whose mock refuses a function call
/// replayed without the `thoughtSignature` it gave, as Gemini 3 does: the signature survives the
/// client's round trip, and the tool result reaches the upstream.
#[actix_rt::test]
async fn a_messages_clients_tool_round_trip_on_gemini_3_gives_back_the_thought_signature() {
    let mock = MockUpstream::start(Behaviour {
        name: "gemini-mock".into(),
        key: Some(UPSTREAM_KEY.into()),
        openai: Some(OpenAiAnswer {
            reasoning: Some("Checking the files.".into()),
            tool_calls: vec![("Bash".into(), r#"{"command":"echo MARKER-9191"}"#.into())],
            argument_pieces: 1,
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: gm\n    api: gemini\n    base_url: {}\n    api_key: {UPSTREAM_KEY}\n    model_map: {{\"claude-*\": gemini-3-pro-preview}}\n",
            mock.url()
        )],
    ));
    let tools = json!([{"name": "Bash", "description": "Run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]);
    let ask = json!({"role": "user", "content": "Run it."});
    let first = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "tools": tools,
        "messages": [ask]});
    let url = format!("{}/v1/messages", gw.url);
    let mut answer = client()
        .post(&url)
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&first)
        .await
        .unwrap();
    let turn: Value = answer.json().await.unwrap();
    assert_eq!(answer.status(), 200, "{turn}");
    let content = turn["content"].as_array().expect("content").clone();
    let call = content
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use in {turn}"))
        .clone();
    // Claude Code sends the assistant turn back as it came, then the tool's result.
    let result = json!({"role": "user", "content": [{"type": "tool_result",
        "tool_use_id": call["id"], "content": "MARKER-9191"}]});
    let second = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "tools": tools,
        "messages": [ask, {"role": "assistant", "content": content}, result]});
    let mut answer = client()
        .post(&url)
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&second)
        .await
        .unwrap();
    let last: Value = answer.json().await.unwrap();
    assert_eq!(answer.status(), 200, "{last}");
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    let sent = seen[1].json();
    let text = sent.to_string();
    assert!(text.contains("MARKER-9191"), "{sent:#}");
    assert!(
        text.contains(&switchyard::mock::gemini::call_signature("Bash")),
        "the signature the mock gave is back: {sent:#}"
    );
}

#[actix_rt::test]
async fn a_rate_limited_gemini_endpoint_cools_down_and_the_gateways_429_carries_retry_info() {
    let (gw, mock) = gemini_gateway();
    mock.update(|b| {
        b.status = Some(429);
        b.retry_after = Some("30".into());
    });
    let url = format!(
        "{}/v1beta/models/gemini-2.5-pro:generateContent?key={CLIENT_KEY}",
        gw.url
    );
    let answer = client().post(&url).send_json(&ask()).await.unwrap();
    assert_eq!(answer.status(), 429);
    // The endpoint rests: the gateway answers itself, in Gemini's shape, saying when.
    let mut answer = client().post(&url).send_json(&ask()).await.unwrap();
    assert_eq!(answer.status(), 429);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(mock.hits(), 1, "{body}");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED", "{body}");
    let detail = &body["error"]["details"][0];
    assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.RetryInfo");
    let delay = detail["retryDelay"].as_str().unwrap_or_default();
    let secs: u64 = delay.trim_end_matches('s').parse().unwrap_or(0);
    assert!((1..=30).contains(&secs), "{body}");
}

#[actix_rt::test]
async fn a_token_count_goes_to_a_gemini_endpoint_first_and_is_estimated_without_one() {
    let (gemini_mock, anthropic_mock) = (
        MockUpstream::start(Behaviour {
            key: Some(UPSTREAM_KEY.into()),
            openai: Some(OpenAiAnswer::default()),
            ..Behaviour::default()
        })
        .expect("mock"),
        common::mock("claude", "anthropic-key"),
    );
    let gw = Gateway::start(&config(
        &format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n"),
        &[
            format!(
                "  - id: an\n    base_url: {}\n    api_key: anthropic-key\n    priority: 1\n",
                anthropic_mock.url()
            ),
            format!(
                "  - id: gm\n    api: gemini\n    base_url: {}\n    api_key: {UPSTREAM_KEY}\n    priority: 2\n",
                gemini_mock.url()
            ),
        ],
    ));
    let count = || async {
        let url = format!("{}/v1beta/models/gemini-2.5-pro:countTokens", gw.url);
        let mut answer = client()
            .post(url)
            .insert_header(("x-goog-api-key", CLIENT_KEY))
            .send_json(&json!({"contents": [{"role": "user", "parts": [{"text": "你好世界"}]}]}))
            .await
            .unwrap();
        let endpoint = answer
            .headers()
            .get("x-switchyard-endpoint")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = answer.json().await.unwrap();
        (answer.status().as_u16(), endpoint, body)
    };
    // The Gemini endpoint counts exactly, though the Anthropic one is preferred for generation.
    let (status, endpoint, body) = count().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(endpoint.as_deref(), Some("gm"));
    assert!(body["totalTokens"].is_u64(), "{body}");
    let seen = gemini_mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1beta/models/gemini-2.5-pro:countTokens");

    // With the Gemini endpoint out of service, the gateway's estimate answers in Gemini's shape
    // and nothing is sent to the Anthropic endpoint.
    let admin = format!("{}/admin/endpoints/gm/disable", gw.url);
    let disabled = client()
        .post(admin)
        .insert_header(("x-api-key", CLIENT_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let (status, endpoint, body) = count().await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(endpoint.as_deref(), Some("an"));
    assert_eq!(body, json!({"totalTokens": 4 + 4}));
    assert_eq!(anthropic_mock.hits(), 0);
    assert_eq!(gemini_mock.hits(), 1);
}

//! The Responses API as a client API: answers from an endpoint of another API come back as
//! Responses answers and events, and errors in the Responses shape (a 429 always says when).

mod common;

use common::{client, config, header, Behaviour, Gateway, MockUpstream};
use serde_json::{json, Value};

fn anthropic_gateway(behaviour: Behaviour) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start(Behaviour {
        key: Some("ak".into()),
        ..behaviour
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: an\n    base_url: {}\n    api_key: ak\n    model_map: {{\"gpt-*\": claude-sonnet-4-5}}\n",
            mock.url()
        )],
    ));
    (gw, mock)
}

async fn ask(gw: &Gateway, stream: bool) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut answer = client()
        .post(format!("{}/v1/responses", gw.url))
        .insert_header(("authorization", "Bearer client-key"))
        .send_json(
            &json!({"model": "gpt-5.5", "input": "Say hello.", "stream": stream, "store": false}),
        )
        .await
        .expect("answer");
    let body = answer.body().limit(1 << 20).await.expect("body").to_vec();
    (answer.status().as_u16(), answer.headers().clone(), body)
}

#[actix_rt::test]
async fn a_responses_client_gets_a_response_and_its_events_from_an_anthropic_endpoint() {
    let (gw, mock) = anthropic_gateway(Behaviour::default());
    let (status, _, body) = ask(&gw, false).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["model"], "gpt-5.5");
    let text = answer["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("Hello from"), "{answer:#}");
    assert!(
        answer["usage"]["input_tokens"].as_u64().is_some(),
        "{answer:#}"
    );
    let sent: Value = serde_json::from_slice(&mock.requests()[0].body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert_eq!(sent["messages"][0]["role"], "user");
    assert_eq!(mock.requests()[0].path, "/v1/messages");

    let (status, headers, body) = ask(&gw, true).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let text = String::from_utf8_lossy(&body);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"response.created"), "{text}");
    assert!(names.contains(&"response.output_item.done"), "{text}");
    assert_eq!(names.last(), Some(&"response.completed"), "{text}");
}

#[actix_rt::test]
async fn a_rate_limit_without_retry_after_reaches_a_responses_client_with_one() {
    let (gw, _mock) = anthropic_gateway(Behaviour {
        status: Some(429),
        ..Behaviour::default()
    });
    let (status, headers, body) = ask(&gw, false).await;
    assert_eq!(status, 429);
    let wait: u64 = header(&headers, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After");
    assert!(wait >= 1);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_error", "{error}");
    assert!(error["error"]["message"].is_string());
}

#[actix_rt::test]
async fn a_responses_stream_cut_before_its_end_ends_with_response_failed_and_a_whole_one_does_not()
{
    let mock = MockUpstream::start(Behaviour {
        key: Some("rk".into()),
        openai: Some(switchyard::mock::OpenAiAnswer::default()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: resp\n    api: responses\n    base_url: {}/v1\n    api_key: rk\n",
            mock.url()
        )],
    ));
    let events = |body: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(body)
            .lines()
            .filter_map(|l| l.strip_prefix("event: ").map(str::to_string))
            .collect()
    };
    let (status, _, body) = ask(&gw, true).await;
    assert_eq!(status, 200);
    let whole = events(&body);
    assert_eq!(whole.last().map(String::as_str), Some("response.completed"));
    assert!(!whole.iter().any(|e| e == "response.failed"));

    // Cut after the first text delta: created, in_progress, the item and its part, the delta.
    mock.update(|b| b.drop_after_events = Some(5));
    let (status, _, body) = ask(&gw, true).await;
    assert_eq!(status, 200);
    let cut = events(&body);
    assert_eq!(cut.len(), 6, "{cut:?}");
    assert_eq!(cut[4], "response.output_text.delta", "{cut:?}");
    assert_eq!(
        cut.last().map(String::as_str),
        Some("response.failed"),
        "{cut:?}"
    );
}

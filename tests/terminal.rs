//! Values from outside never reach the operator's terminal raw: a model name with control
//! characters is refused before it goes anywhere or into the log. (The tables of `switchyard
//! status` and `switchyard usage` escape what they show: unit tests in `cli/status.rs` and
//! `cli/usage.rs`.)

mod common;

use common::*;

const HOSTILE: &str = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nINJECTED";

/// Whether `text` holds a control character other than a line's own end.
fn has_raw_controls(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

async fn post_json(url: &str, path: &str, body: String) -> (u16, serde_json::Value) {
    let (status, _, answer) = post_owned(url, path, body).await;
    (status, serde_json::from_slice(&answer).unwrap_or_default())
}

#[actix_rt::test]
async fn a_model_name_with_control_characters_is_refused_in_the_callers_shape() {
    // No endpoint limits its models: the name would otherwise be forwarded as it is.
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let messages = serde_json::json!({"model": HOSTILE, "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = post_json(&gw.url, "/v1/messages", messages.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("control characters")));

    let chat =
        serde_json::json!({"model": "gpt\ttab", "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = post_json(&gw.url, "/v1/chat/completions", chat.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unreadable_model");
    assert_eq!(upstream.hits(), 0, "a hostile model name went upstream");
    assert!(!has_raw_controls(&gw.logs()), "{}", gw.logs());
}

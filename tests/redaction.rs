//! An upstream's key never reaches the client through a 2xx answer either: an error event inside
//! a 200 stream and a 200 JSON error body are redacted like an error status, passed through or
//! translated in either direction, also when the key is split between two writes.

mod common;

use common::*;
use std::io::{Read, Write};
use std::time::Duration;

const UPSTREAM_KEY: &str = "sk-upstream-key-abcdef123456";

/// An upstream that answers every request with `status`, `content_type` and `body`, written in
/// two parts split inside the key (its first occurrence).
fn echoing_upstream(status: u16, content_type: &'static str, body: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 65536];
                // The head, then the body its content-length announces.
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status} OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let split = body.find(UPSTREAM_KEY).map_or(0, |at| at + 6);
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body.as_bytes()[..split]);
                let _ = stream.flush();
                std::thread::sleep(Duration::from_millis(20));
                let _ = stream.write_all(&body.as_bytes()[split..]);
            });
        }
    });
    url
}

/// Sends `body` to `path` through a gateway whose one endpoint (`api`) is `upstream`; asserts
/// the answer and the log hold no key and the answer says `[redacted]` where the key was.
async fn assert_redacted(api: &str, upstream: &str, path: &str, body: &'static str) {
    let base = if api == "openai" {
        format!("{upstream}/v1")
    } else {
        upstream.to_string()
    };
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &base, UPSTREAM_KEY, 1) + &format!("    api: {api}\n")],
    ));
    let (status, headers, answer) = post(&gw.url, path, body).await;
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("a"),
        "{status} {text}"
    );
    assert!(
        !text.contains(UPSTREAM_KEY),
        "the key reached the client: {text}"
    );
    assert!(
        !text.contains("sk-ups"),
        "part of the key reached the client: {text}"
    );
    assert!(text.contains("[redacted]"), "{api} {path}: {text}");
    assert!(!gw.logs().contains(UPSTREAM_KEY), "the key reached the log");
}

#[actix_rt::test]
async fn an_error_event_inside_a_200_stream_is_redacted_passed_through() {
    let sse = format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-haiku-20241022\",\"content\":[],\"stop_reason\":null,\"usage\":{{\"input_tokens\":1,\"output_tokens\":0}}}}}}\n\n\
         event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key {UPSTREAM_KEY}\"}}}}\n\n"
    );
    let upstream = echoing_upstream(200, "text/event-stream", sse);
    assert_redacted("anthropic", &upstream, "/v1/messages", STREAM_BODY).await;
}

#[actix_rt::test]
async fn a_200_json_error_body_is_redacted() {
    let json = format!("{{\"error\":{{\"message\":\"key {UPSTREAM_KEY} has no credit\"}}}}");
    let upstream = echoing_upstream(200, "application/json", json.clone());
    assert_redacted("anthropic", &upstream, "/v1/messages", MESSAGES_BODY).await;
    let upstream = echoing_upstream(200, "application/json", json);
    assert_redacted("openai", &upstream, "/v1/chat/completions", CHAT_BODY).await;
}

#[actix_rt::test]
async fn an_error_in_a_200_chat_stream_is_redacted_when_translated_for_an_anthropic_client() {
    let sse = format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}}}}]}}\n\n\
         data: {{\"error\":{{\"message\":\"invalid key {UPSTREAM_KEY}\",\"type\":\"invalid_request_error\"}}}}\n\n"
    );
    let upstream = echoing_upstream(200, "text/event-stream", sse);
    assert_redacted("openai", &upstream, "/v1/messages", STREAM_BODY).await;
}

#[actix_rt::test]
async fn an_error_event_in_a_200_messages_stream_is_redacted_when_translated_for_a_chat_client() {
    let sse = format!(
        "event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key {UPSTREAM_KEY}\"}}}}\n\n"
    );
    let upstream = echoing_upstream(200, "text/event-stream", sse);
    assert_redacted(
        "anthropic",
        &upstream,
        "/v1/chat/completions",
        r#"{"model":"claude-3-5-haiku-20241022","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .await;
}

//! Memory and CPU bounds: what an upstream sends to the translator (an SSE event, a JSON answer)
//! and what clients' request bodies hold at once. Loopback only; every loop is bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

/// What a raw upstream tells the test.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A request arrived, with this many body bytes.
    Request(usize),
    /// The gateway closed the connection (or reset it) after the answer was written.
    Closed,
}

/// A raw HTTP upstream on 127.0.0.1: each connection's request is read whole, then `answer`
/// writes the reply; the test hears of every request and of every connection the gateway closed.
fn raw_upstream<F>(answer: F) -> (String, Receiver<Seen>)
where
    F: Fn(&mut TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = channel();
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let (tx, answer): (Sender<Seen>, _) = (tx.clone(), answer.clone());
            std::thread::spawn(move || {
                let Some(length) = read_request(&mut socket) else {
                    return;
                };
                let _ = tx.send(Seen::Request(length));
                answer(&mut socket);
                // Wait for the gateway to close its side (a written reply may also fail first).
                let mut buf = [0u8; 1024];
                while matches!(socket.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(Seen::Closed);
            });
        }
    });
    (url, rx)
}

/// Reads one request (head and `content-length` body); `None` if the connection ended first.
fn read_request(socket: &mut TcpStream) -> Option<usize> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = socket.read(&mut buf).ok().filter(|&n| n > 0)?;
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while seen.len() < end + 4 + length {
                let n = socket.read(&mut buf).ok().filter(|&n| n > 0)?;
                seen.extend_from_slice(&buf[..n]);
            }
            return Some(length);
        }
    }
}

/// Writes a chunked answer head with this content type.
fn chunked_head(socket: &mut TcpStream, content_type: &str) -> std::io::Result<()> {
    socket.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// Writes `bytes` as one chunk of a chunked body.
fn chunk(socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    socket.write_all(format!("{:x}\r\n", bytes.len()).as_bytes())?;
    socket.write_all(bytes)?;
    socket.write_all(b"\r\n")
}

/// 17 MiB of text, more than one SSE event may hold.
fn too_much_text() -> String {
    "x".repeat(17 << 20)
}

/// The events of one upstream stream: a first text delta, a delta too large to translate, and a
/// late delta and the end that must never reach the client.
fn upstream_events(api: &str) -> Vec<String> {
    let chat = |delta: &str| {
        format!(r#"data: {{"id":"c1","choices":[{{"index":0,"delta":{{"content":"{delta}"}}}}]}}"#)
            + "\n\n"
    };
    let messages = |delta: &str| {
        format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{delta}\"}}}}\n\n"
        )
    };
    match api {
        "openai" => vec![
            chat("EARLY-DELTA"),
            chat(&too_much_text()),
            chat("LATE-DELTA"),
            "data: [DONE]\n\n".to_string(),
        ],
        _ => vec![
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":1}}}\n\n".to_string(),
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n".to_string(),
            messages("EARLY-DELTA"),
            messages(&too_much_text()),
            messages("LATE-DELTA"),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_string(),
        ],
    }
}

#[actix_rt::test]
async fn an_sse_event_too_large_to_translate_ends_the_clients_stream_with_its_error_event() {
    // An Anthropic client before a Chat upstream, and a Chat client before a Messages upstream.
    for (api, path, body) in [
        ("openai", "/v1/messages", STREAM_BODY),
        (
            "anthropic",
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    ] {
        let events = upstream_events(api);
        // The upstream never closes the stream: only the gateway can end it.
        let (url, seen) = raw_upstream(move |socket| {
            let _ = chunked_head(socket, "text/event-stream");
            for event in &events {
                if chunk(socket, event.as_bytes()).is_err() {
                    return;
                }
            }
        });
        let base_url = if api == "openai" {
            format!("{url}/v1")
        } else {
            url
        };
        let gw = Gateway::start(&config(
            "",
            &[format!(
                "{}    api: {api}\n",
                endpoint("up", &base_url, "k", 1)
            )],
        ));
        let (status, _, text) = post(&gw.url, path, body).await;
        assert_eq!(status, 200);
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains("EARLY-DELTA"),
            "{api}: {}\n{}",
            &text[..text.len().min(500)],
            gw.logs()
        );
        assert!(
            !text.contains("LATE-DELTA") && !text.contains("xxxx"),
            "{api}"
        );
        let last = text.trim_end().rsplit("\n\n").next().unwrap_or_default();
        let data = last.rsplit("data: ").next().unwrap_or_default();
        let error: serde_json::Value = serde_json::from_str(data).expect(last);
        if api == "openai" {
            // The Anthropic client's own error event.
            assert!(last.starts_with("event: error\n"), "{last}");
        }
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("larger than 16 MiB"),
            "{last}"
        );
        assert!(matches!(
            seen.recv_timeout(Duration::from_secs(10)),
            Ok(Seen::Request(_))
        ));
        assert_eq!(
            seen.recv_timeout(Duration::from_secs(20)),
            Ok(Seen::Closed),
            "the gateway stops reading the upstream"
        );
        let endpoint = &gw.status().await["endpoints"][0];
        assert_eq!(endpoint["failures"], 1, "{endpoint}");
        assert!(
            endpoint["last_error"]
                .as_str()
                .unwrap_or_default()
                .contains("SSE event larger"),
            "{endpoint}"
        );
    }
}

#[actix_rt::test]
async fn a_json_answer_too_large_to_translate_gets_502_in_the_clients_shape() {
    // 17 MiB of answer that never ends: the gateway must stop reading on its own.
    let (url, seen) = raw_upstream(|socket| {
        let _ = chunked_head(socket, "application/json");
        let start = r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":""#;
        let _ = chunk(socket, start.as_bytes());
        let mib = "x".repeat(1 << 20);
        for _ in 0..17 {
            if chunk(socket, mib.as_bytes()).is_err() {
                return;
            }
        }
    });
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    api: openai\n",
            endpoint("up", &format!("{url}/v1"), "k", 1)
        )],
    ));
    let (status, headers, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 502);
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("bad_answer")
    );
    let error: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(
        error["type"], "error",
        "the Anthropic client's shape: {error}"
    );
    assert_eq!(error["error"]["type"], "api_error");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("larger than 16MiB"), "{message}");
    assert!(matches!(
        seen.recv_timeout(Duration::from_secs(10)),
        Ok(Seen::Request(_))
    ));
    assert_eq!(
        seen.recv_timeout(Duration::from_secs(20)),
        Ok(Seen::Closed),
        "the gateway stops reading the upstream"
    );
    let endpoint = &gw.status().await["endpoints"][0];
    assert_eq!(endpoint["failures"], 1, "{endpoint}");
}

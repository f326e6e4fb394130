//! Memory and CPU bounds: what an upstream sends to the translator (an SSE event, a JSON answer),
//! what clients' request bodies hold at once, and the fresh pages large requests cost. Loopback
//! only; every loop is bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

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
fn raw_upstream<F>(answer: F) -> (String, UnboundedReceiver<Seen>)
where
    F: Fn(&mut TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = unbounded_channel();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let (tx, answer): (UnboundedSender<Seen>, _) = (tx.clone(), answer.clone());
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

/// The upstream's next report, waited for at most `wait`.
async fn next(seen: &mut UnboundedReceiver<Seen>, wait: Duration) -> Option<Seen> {
    tokio::time::timeout(wait, seen.recv()).await.ok().flatten()
}

/// The `content-length` a message head declares (0 when it declares none).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads one request (head and `content-length` body); `None` if the connection ended first.
fn read_request(socket: &mut TcpStream) -> Option<usize> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = socket.read(&mut buf).ok().filter(|&n| n > 0)?;
        seen.extend_from_slice(&buf[..n]);
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let length = content_length(&seen[..end]);
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
        let (url, mut seen) = raw_upstream(move |socket| {
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
        let wait = Duration::from_secs(20);
        assert!(matches!(
            next(&mut seen, wait).await,
            Some(Seen::Request(_))
        ));
        assert_eq!(
            next(&mut seen, wait).await,
            Some(Seen::Closed),
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
    let (url, mut seen) = raw_upstream(|socket| {
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
    let wait = Duration::from_secs(20);
    assert!(matches!(
        next(&mut seen, wait).await,
        Some(Seen::Request(_))
    ));
    assert_eq!(
        next(&mut seen, wait).await,
        Some(Seen::Closed),
        "the gateway stops reading the upstream"
    );
    let endpoint = &gw.status().await["endpoints"][0];
    assert_eq!(endpoint["failures"], 1, "{endpoint}");
}

/// A Messages request of about `size` bytes.
fn body_of(size: usize) -> String {
    format!(
        r#"{{"model":"m","max_tokens":1,"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(size)
    )
}

async fn post_body(url: String, body: String) -> (u16, awc::http::header::HeaderMap, bytes::Bytes) {
    let mut r = client()
        .post(format!("{url}/v1/messages"))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .expect("request");
    let bytes = r.body().await.expect("body");
    (r.status().as_u16(), r.headers().clone(), bytes)
}

#[actix_rt::test]
async fn request_bodies_past_the_total_held_get_503_until_held_ones_are_let_go() {
    // The upstream answers the first request only when the test says so, the others at once.
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let connections = AtomicUsize::new(0);
    let (url, mut seen) = raw_upstream(move |socket| {
        if connections.fetch_add(1, Ordering::SeqCst) == 0 {
            let Ok(()) = gate.lock().expect("gate").recv() else {
                return;
            };
        }
        let answer = r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
        let _ = socket.write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .as_bytes(),
        );
    });
    let gw = Gateway::start(&config(
        "  max_request_body: 1MiB\n  max_request_bodies_total: 1MiB\n",
        &[endpoint("up", &url, "k", 1)],
    ));
    let wait = Duration::from_secs(20);
    let size = 600 << 10;

    // The first request's body is held while the upstream thinks.
    let first = actix_rt::spawn(post_body(gw.url.clone(), body_of(size)));
    assert!(matches!(next(&mut seen, wait).await, Some(Seen::Request(n)) if n > size));

    // A second one would make 1.2 MiB: refused, and nothing goes upstream.
    let (status, headers, body) = post_body(gw.url.clone(), body_of(size)).await;
    assert_eq!(status, 503);
    assert_eq!(header(&headers, "retry-after").as_deref(), Some("1"));
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("request_bodies_full")
    );
    let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(error["error"]["type"], "overloaded_error", "{error}");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("max_request_bodies_total"));
    // A small one still fits beside the first; it is the next request the upstream sees.
    let (status, _, _) = post_body(gw.url.clone(), body_of(1000)).await;
    assert_eq!(status, 200);
    let mut later = Vec::new();
    while let Ok(report) = seen.try_recv() {
        later.push(report);
    }
    assert!(
        matches!(later.first(), Some(Seen::Request(n)) if *n < 2000),
        "{later:?}"
    );

    // Once the first request is answered, its bytes are let go: the same body now passes.
    go.send(()).expect("gate");
    let (status, _, _) = first.await.expect("first request");
    assert_eq!(status, 200);
    let (status, _, _) = post_body(gw.url.clone(), body_of(size)).await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn a_client_that_goes_away_lets_go_of_the_body_it_sent() {
    // The upstream never answers the first request; later ones at once.
    let connections = AtomicUsize::new(0);
    let (url, mut seen) = raw_upstream(move |socket| {
        if connections.fetch_add(1, Ordering::SeqCst) > 0 {
            let answer = r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
            let _ = socket.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .as_bytes(),
            );
        }
    });
    let gw = Gateway::start(&config(
        "  max_request_body: 1MiB\n  max_request_bodies_total: 1MiB\n",
        &[endpoint("up", &url, "k", 1)],
    ));
    let wait = Duration::from_secs(20);
    let body = body_of(600 << 10);
    let mut socket = TcpStream::connect(gw.url.trim_start_matches("http://")).expect("connect");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).expect("head");
    socket.write_all(body.as_bytes()).expect("body");
    assert!(matches!(
        next(&mut seen, wait).await,
        Some(Seen::Request(_))
    ));
    // The client gives up: the gateway drops the request, and with it the upstream call.
    drop(socket);
    assert_eq!(next(&mut seen, wait).await, Some(Seen::Closed));
    let (status, _, _) = post_body(gw.url.clone(), body).await;
    assert_eq!(
        status, 200,
        "the body the client left behind is no longer held"
    );
}

/// The gateway's peak resident memory so far, in bytes (`VmHWM`).
fn peak_memory(gw: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gw.child.id()))
        .expect("the gateway's /proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib << 10
}

/// The gateway's minor page faults so far (`minflt`, the tenth field of `/proc/PID/stat`).
fn minor_faults(gw: &Gateway) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", gw.child.id()))
        .expect("the gateway's /proc stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|field| field.parse().ok())
        .expect("minflt")
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[actix_rt::test]
async fn large_requests_one_after_another_reuse_the_heap_instead_of_new_pages() {
    let upstream = mock("up", "k");
    // No usage history: its thread's first writes would be counted with the requests' faults.
    let gw = Gateway::start(&config(
        "usage:\n  database: off\n",
        &[endpoint("up", &upstream.url(), "k", 1)],
    ));
    // One keep-alive connection, each request's head and body in one write, as a client with
    // the whole request in hand sends it: the gateway's read buffer grows to the body's size.
    let body = body_of(128 << 10);
    let request = format!("{}{body}", messages_head(&body, ""));
    let gateway = gw.url.trim_start_matches("http://").to_string();
    // Long enough for the heap to settle: the first fifty requests after start-up still fault
    // in pages the heap has not held yet.
    const WARM_UP: usize = 100;
    const REQUESTS: usize = 50;
    let (to_count, counting) = std::sync::mpsc::channel::<()>();
    let (counted, wait_count) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        let mut socket = TcpStream::connect(gateway).expect("connect");
        let mut statuses = Vec::new();
        for round in [WARM_UP, REQUESTS] {
            for _ in 0..round {
                socket.write_all(request.as_bytes()).expect("write");
                let answers = read_answers(&mut socket, 1, Duration::from_secs(10));
                statuses.extend(answers.into_iter().map(|(status, _)| status));
            }
            let _ = to_count.send(());
            let _ = wait_count.recv_timeout(Duration::from_secs(10));
        }
        statuses
    });
    let wait = Duration::from_secs(60);
    counting
        .recv_timeout(wait)
        .expect("the warm-up is answered");
    let before = minor_faults(&gw);
    counted.send(()).expect("the client waits");
    counting
        .recv_timeout(wait)
        .expect("the requests are answered");
    let faults = minor_faults(&gw) - before;
    counted.send(()).expect("the client waits");
    let statuses = client.join().expect("client");
    assert_eq!(statuses, vec![200; WARM_UP + REQUESTS]);
    // With glibc's default thresholds each request's buffers come from new pages: seven to nine
    // faults per request here, and about one in fifty requests once they stay in the heap.
    assert!(
        faults < REQUESTS as u64,
        "{faults} page faults for {REQUESTS} requests of 128 KiB sent one after another"
    );
}

#[cfg(target_os = "linux")]
#[actix_rt::test]
async fn a_translated_request_holds_a_small_multiple_of_its_body() {
    let upstream = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    api: openai\n",
            endpoint("up", &format!("{}/v1", upstream.url()), "k", 1)
        )],
    ));
    // 8 MiB of short turns: the shape that costs a tree of values the most per byte.
    let turn = r#"{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":"ok"},"#;
    let turns = turn.repeat((8 << 20) / turn.len());
    let body = format!(
        r#"{{"model":"m","max_tokens":5,"messages":[{turns}{{"role":"user","content":"go"}}]}}"#
    );
    let (status, _, _) = post_body(gw.url.clone(), body_of(10)).await;
    assert_eq!(status, 200, "warm-up");
    let before = peak_memory(&gw);
    let (status, _, answer) = post_body(gw.url.clone(), body.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let grown = peak_memory(&gw).saturating_sub(before);
    // The body, its translation and some slack; a tree of it took 40 times its size.
    assert!(
        grown < 5 * body.len() as u64,
        "peak memory grew by {} MiB for a {} MiB body",
        grown >> 20,
        body.len() >> 20
    );
    let sent = &upstream.requests()[1].body;
    let sent: serde_json::Value = serde_json::from_slice(sent).expect("a Chat request");
    assert_eq!(
        sent["messages"][0],
        serde_json::json!({"role": "user", "content": "hi"})
    );
}

#[cfg(target_os = "linux")]
#[actix_rt::test]
async fn a_translated_json_answer_holds_a_small_multiple_of_it() {
    // 12 MiB of answer, most of it small objects the translation has no use for.
    let junk = r#"{"a":1},"#.repeat((12 << 20) / 8);
    let answer = format!(
        r#"{{"id":"c1","object":"chat.completion","junk":[{junk}{{}}],"choices":[{{"index":0,"message":{{"role":"assistant","content":"the answer"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":3,"completion_tokens":2}}}}"#
    );
    let size = answer.len() as u64;
    let (url, _seen) = raw_upstream(move |socket| {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            answer.len()
        );
        let _ = socket.write_all(head.as_bytes());
        let _ = socket.write_all(answer.as_bytes());
        let _ = socket.shutdown(std::net::Shutdown::Write);
    });
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    api: openai\n",
            endpoint("up", &format!("{url}/v1"), "k", 1)
        )],
    ));
    let before = peak_memory(&gw);
    let (status, _, body) = post_body(gw.url.clone(), body_of(10)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let grown = peak_memory(&gw).saturating_sub(before);
    let message: serde_json::Value = serde_json::from_slice(&body).expect("a Message");
    assert_eq!(message["content"][0]["text"], "the answer");
    assert_eq!(message["usage"]["input_tokens"], 3);
    // The answer, its translation and some slack; a tree of it took 85 times its size.
    assert!(
        grown < 4 * size,
        "peak memory grew by {} MiB for a {} MiB answer",
        grown >> 20,
        size >> 20
    );
}

/// Reads whole answers (each with a `content-length`) from `socket` until `count` came; returns
/// their status codes and bodies. Interim `1xx` answers are skipped. Stops early if the
/// connection ends or stays silent for `wait`.
fn read_answers(socket: &mut TcpStream, count: usize, wait: Duration) -> Vec<(u16, String)> {
    socket.set_read_timeout(Some(wait)).expect("timeout");
    let mut seen = Vec::new();
    let mut answers = Vec::new();
    let mut buf = [0u8; 8192];
    while answers.len() < count {
        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
            match socket.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
            continue;
        };
        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length = content_length(&seen[..end]);
        if seen.len() < end + 4 + length {
            match socket.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
            continue;
        }
        let body = String::from_utf8_lossy(&seen[end + 4..end + 4 + length]).into_owned();
        seen.drain(..end + 4 + length);
        if status >= 200 {
            answers.push((status, body));
        }
    }
    answers
}

/// A request head for `body` on `/v1/messages`, with `extra` header lines.
fn messages_head(body: &str, extra: &str) -> String {
    format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    )
}

#[actix_rt::test]
async fn a_body_sent_only_after_100_continue_is_read_and_forwarded() {
    // The gateway's handler first looks at the body when the head is parsed; here nothing of it
    // has come yet, and only the body's arrival can wake the request again.
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let mut socket = TcpStream::connect(gw.url.trim_start_matches("http://")).expect("connect");
    socket
        .write_all(messages_head(MESSAGES_BODY, "expect: 100-continue\r\n").as_bytes())
        .expect("head");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut interim = Vec::new();
    let mut buf = [0u8; 256];
    while !interim.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).expect("the interim answer");
        assert!(
            n > 0,
            "the gateway closed the connection before 100 Continue"
        );
        interim.extend_from_slice(&buf[..n]);
    }
    assert!(
        String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    assert_eq!(upstream.hits(), 0, "nothing goes upstream before the body");
    socket.write_all(MESSAGES_BODY.as_bytes()).expect("body");
    let answers = read_answers(&mut socket, 1, Duration::from_secs(10));
    assert_eq!(answers.len(), 1, "one answer to the request");
    assert_eq!(answers[0].0, 200, "{}", answers[0].1);
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].body[..], MESSAGES_BODY.as_bytes());
}

#[actix_rt::test]
async fn requests_pipelined_in_one_write_are_each_answered_in_order() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let bodies: Vec<String> = (0..3)
        .map(|i| MESSAGES_BODY.replace("\"hi\"", &format!("\"turn {i}\"")))
        .collect();
    let mut all = String::new();
    for body in &bodies {
        all.push_str(&messages_head(body, ""));
        all.push_str(body);
    }
    let mut socket = TcpStream::connect(gw.url.trim_start_matches("http://")).expect("connect");
    socket.write_all(all.as_bytes()).expect("send");
    let answers = read_answers(&mut socket, bodies.len(), Duration::from_secs(10));
    assert_eq!(answers.len(), bodies.len(), "every request is answered");
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let seen: Vec<bytes::Bytes> = upstream.requests().into_iter().map(|r| r.body).collect();
    let sent: Vec<bytes::Bytes> = bodies.into_iter().map(bytes::Bytes::from).collect();
    assert_eq!(seen, sent, "each body went upstream whole, in order");
}

#[actix_rt::test]
async fn a_pipelined_request_whose_body_stops_gets_408_after_the_one_before_is_answered() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        "timeouts:\n  idle: 300ms\n",
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    // The second request's handler starts only when the first is answered, with its body short
    // (part of it came, or none of it).
    for partial in ["{\"model\"", ""] {
        let mut sent = messages_head(MESSAGES_BODY, "");
        sent.push_str(MESSAGES_BODY);
        sent.push_str(&messages_head(MESSAGES_BODY, ""));
        sent.push_str(partial);
        let mut socket = TcpStream::connect(gw.url.trim_start_matches("http://")).expect("connect");
        socket.write_all(sent.as_bytes()).expect("send");
        let answers = read_answers(&mut socket, 2, Duration::from_secs(10));
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(
            statuses,
            [200, 408],
            "partial body {partial:?}: {answers:?}"
        );
    }
    assert_eq!(upstream.hits(), 2, "only the whole requests went upstream");
}

//! A stream is not the client's until its content begins: an upstream that answers `200
//! text/event-stream` and then reports an error, closes, or only keeps the stream alive before
//! its first content is failed over as if its head had been an error, and the client sees one
//! clean stream; an error after content ends the client's stream with it and is charged to the
//! endpoint. Each rule runs for every client API against endpoints of its own API, and through
//! translation from an Anthropic endpoint.

mod common;

use common::*;
use std::time::{Duration, Instant};
use switchyard::mock::StreamFault;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One client API: where it asks for a stream, with what body, and what its endpoints speak.
#[derive(Clone, Copy)]
struct Shape {
    path: &'static str,
    body: &'static str,
    api: &'static str,
}

const MESSAGES: Shape = Shape {
    path: "/v1/messages",
    body: STREAM_BODY,
    api: "anthropic",
};

const CHAT: Shape = Shape {
    path: "/v1/chat/completions",
    body: r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    api: "openai",
};

const RESPONSES: Shape = Shape {
    path: "/v1/responses",
    body: r#"{"model":"gpt-5","input":"hi","stream":true,"store":false}"#,
    api: "responses",
};

const GEMINI: Shape = Shape {
    path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    body: r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    api: "gemini",
};

impl Shape {
    /// An endpoint entry at `upstream` speaking `api`.
    fn endpoint_of(api: &str, id: &str, upstream: &MockUpstream, priority: u32) -> String {
        let base = match api {
            "openai" | "responses" => format!("{}/v1", upstream.url()),
            _ => upstream.url(),
        };
        endpoint(id, &base, "k", priority) + &format!("    api: {api}\n")
    }

    /// A gateway whose first endpoint is a mock named `first` failing with `fault`, and whose
    /// backup is a healthy mock named `backup`, both speaking `api`.
    fn gateway_of(
        api: &str,
        fault: StreamFault,
        extra: &str,
    ) -> (Gateway, MockUpstream, MockUpstream) {
        let first = faulty(fault);
        let backup = mock("backup", "k");
        let gw = Gateway::start(&config(
            extra,
            &[
                Self::endpoint_of(api, "first", &first, 1),
                Self::endpoint_of(api, "backup", &backup, 2),
            ],
        ));
        (gw, first, backup)
    }

    fn gateway(self, fault: StreamFault) -> (Gateway, MockUpstream, MockUpstream) {
        Self::gateway_of(self.api, fault, "")
    }

    /// Streams this shape's request through `gw`.
    async fn ask(self, gw: &Gateway) -> (u16, awc::http::header::HeaderMap, String) {
        let (status, headers, body) = post(&gw.url, self.path, self.body).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    /// How many error reports the client's stream holds, in this API's shape.
    fn error_events(self, body: &str) -> usize {
        match self.api {
            "anthropic" => body.matches("event: error\n").count(),
            "responses" => body.matches("event: response.failed\n").count(),
            _ => body.matches("data: {\"error\"").count(),
        }
    }

    /// Whether the stream opens more than once, or with an opening the backup never sends: the
    /// start of an attempt that failed reached the client.
    fn opening_leaked(self, body: &str) -> bool {
        match self.api {
            "anthropic" => body.matches("event: message_start\n").count() != 1,
            "openai" => body.matches("\"role\":\"assistant\"").count() != 1,
            "responses" => body.matches("event: response.created\n").count() != 1,
            // The faulty mock opens with a chunk without parts; the backup never sends one.
            _ => body
                .lines()
                .filter(|line| line.starts_with("data:"))
                .any(|line| !line.contains("\"parts\"")),
        }
    }
}

/// A mock named `first` whose streams fail with `fault`.
fn faulty(fault: StreamFault) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "first".into(),
        key: Some("k".into()),
        stream_fault: Some(fault),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// The `/admin/status` entry of endpoint `id`.
async fn endpoint_status(gw: &Gateway, id: &str) -> serde_json::Value {
    let status = gw.status().await;
    status["endpoints"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {id} in {status}"))
}

/// The access-log line of the request that ended last, once it is written.
async fn access_line(gw: &Gateway) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = gw.logs();
        if let Some(line) = logs.lines().rev().find(|l| l.contains("outcome=")) {
            return line.to_string();
        }
        assert!(Instant::now() < deadline, "no access-log line in:\n{logs}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs each named `async fn(Shape)` once per client API, as a test of its own.
macro_rules! each_api {
    ($($test:ident),* $(,)?) => {
        mod messages {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::MESSAGES).await
            })*
        }
        mod chat_completions {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::CHAT).await
            })*
        }
        mod responses {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::RESPONSES).await
            })*
        }
        mod gemini {
            $(#[actix_rt::test]
            async fn $test() {
                super::$test(super::GEMINI).await
            })*
        }
    };
}

each_api!(
    an_overloaded_error_before_content_fails_over_unseen_and_is_charged_a_529,
    a_stream_closed_right_after_its_head_fails_over,
    an_error_after_content_ends_the_clients_stream_with_it_and_is_charged,
    an_anthropic_error_before_content_fails_over_through_translation_unseen,
);

async fn an_overloaded_error_before_content_fails_over_unseen_and_is_charged_a_529(shape: Shape) {
    let (gw, first, backup) = shape.gateway(StreamFault::ErrorBeforeContent(529));
    let (status, headers, body) = shape.ask(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("2")
    );
    assert!(body.contains("backup:"), "{body}");
    assert!(!body.contains("first"), "{body}");
    assert_eq!(shape.error_events(&body), 0, "{body}");
    assert!(!shape.opening_leaked(&body), "{body}");
    assert_eq!((first.hits(), backup.hits()), (1, 1));
    let charged = endpoint_status(&gw, "first").await;
    assert_eq!(charged["last_status"], 529, "{charged}");
    assert_eq!(charged["state"], "cooling_down", "{charged}");
    let line = access_line(&gw).await;
    assert!(line.contains("attempts=[first:529 backup:200]"), "{line}");
    assert!(line.contains("outcome=ok"), "{line}");
}

async fn a_stream_closed_right_after_its_head_fails_over(shape: Shape) {
    let (gw, first, backup) = shape.gateway(StreamFault::CloseAfterHead);
    let (status, headers, body) = shape.ask(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    assert!(body.contains("backup:"), "{body}");
    assert_eq!(shape.error_events(&body), 0, "{body}");
    assert_eq!((first.hits(), backup.hits()), (1, 1));
    let charged = endpoint_status(&gw, "first").await;
    assert_eq!(charged["failures"], 1, "{charged}");
    let line = access_line(&gw).await;
    assert!(line.contains("attempts=[first:cut backup:200]"), "{line}");
}

async fn an_error_after_content_ends_the_clients_stream_with_it_and_is_charged(shape: Shape) {
    let (gw, first, backup) = shape.gateway(StreamFault::ErrorAfterContent(529));
    let (status, headers, body) = shape.ask(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("first")
    );
    assert!(body.contains("Hello"), "{body}");
    assert_eq!(
        shape.error_events(&body),
        1,
        "the upstream's error event alone ends the stream: {body}"
    );
    assert_eq!(
        (first.hits(), backup.hits()),
        (1, 0),
        "nothing is retried once content reached the client"
    );
    let charged = endpoint_status(&gw, "first").await;
    assert_eq!(
        (
            charged["failures"].as_u64(),
            charged["last_status"].as_u64()
        ),
        (Some(1), Some(529)),
        "{charged}"
    );
    let line = access_line(&gw).await;
    assert!(line.contains("outcome=broken"), "{line}");
    assert!(
        line.contains("event in the stream (counted as HTTP 529)"),
        "{line}"
    );
}

async fn an_anthropic_error_before_content_fails_over_through_translation_unseen(shape: Shape) {
    let (gw, first, backup) =
        Shape::gateway_of("anthropic", StreamFault::ErrorBeforeContent(529), "");
    let (status, headers, body) = shape.ask(&gw).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    assert!(body.contains("backup:"), "{body}");
    assert_eq!(shape.error_events(&body), 0, "{body}");
    if shape.api != "gemini" {
        // A translated Gemini stream has no opening of its own to count.
        assert!(!shape.opening_leaked(&body), "{body}");
    }
    assert_eq!((first.hits(), backup.hits()), (1, 1));
    assert_eq!(endpoint_status(&gw, "first").await["last_status"], 529);
}

#[actix_rt::test]
async fn when_the_last_endpoint_fails_before_content_the_client_gets_the_status_it_stands_for() {
    let only = faulty(StreamFault::ErrorBeforeContent(529));
    let gw = Gateway::start(&config("", &[endpoint("only", &only.url(), "k", 1)]));
    let (status, headers, body) = MESSAGES.ask(&gw).await;
    assert_eq!(status, 529, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("only")
    );
    assert_eq!(
        header(&headers, "content-type").as_deref(),
        Some("application/json")
    );
    let error: serde_json::Value = serde_json::from_str(&body).expect("an error body");
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "overloaded_error");

    // A rate limit inside a Chat stream is a 429 that says when to come back, and cools only
    // that model.
    let limited = faulty(StreamFault::ErrorBeforeContent(429));
    let gw = Gateway::start(&config(
        "",
        &[Shape::endpoint_of("openai", "limited", &limited, 1)],
    ));
    let (status, headers, body) = CHAT.ask(&gw).await;
    assert_eq!(status, 429, "{body}");
    assert!(header(&headers, "retry-after").is_some());
    let error: serde_json::Value = serde_json::from_str(&body).expect("an error body");
    assert_eq!(error["error"]["code"], "rate_limit_exceeded", "{error}");
    let cooled = endpoint_status(&gw, "limited").await;
    assert_eq!(
        cooled["model_cooldowns"][0]["model"], "gpt-4o-mini",
        "{cooled}"
    );
}

#[actix_rt::test]
async fn keep_alives_without_content_are_cut_off_by_the_stream_start_timeout() {
    let first = MockUpstream::start(Behaviour {
        name: "first".into(),
        key: Some("k".into()),
        stream_fault: Some(StreamFault::KeepAlivesOnly),
        event_interval: Duration::from_millis(50),
        ..Behaviour::default()
    })
    .expect("mock");
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        "timeouts:\n  stream_start: 400ms\n",
        &[
            endpoint("first", &first.url(), "k", 1),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    let started = Instant::now();
    let (status, headers, body) = MESSAGES.ask(&gw).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("backup")
    );
    assert!(!body.contains("event: ping"), "{body}");
    let line = access_line(&gw).await;
    assert!(line.contains("first:start-timeout"), "{line}");
    let charged = endpoint_status(&gw, "first").await;
    assert!(
        charged["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("timeouts.stream_start")),
        "{charged}"
    );
}

#[actix_rt::test]
async fn an_opening_longer_than_the_bound_is_passed_on_as_it_came_and_logged() {
    let first = faulty(StreamFault::ErrorAfterKeepAlives {
        bytes: 80 << 10,
        status: 529,
    });
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("first", &first.url(), "k", 1),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    let (status, headers, body) = MESSAGES.ask(&gw).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("first")
    );
    assert!(
        body.starts_with("event: message_start\n"),
        "{}",
        &body[..200]
    );
    assert_eq!(MESSAGES.error_events(&body), 1);
    assert_eq!(backup.hits(), 0, "no failover for a start past the bound");
    assert!(
        gw.logs().contains("of opening events before any content"),
        "{}",
        gw.logs()
    );
}

#[actix_rt::test]
async fn a_client_leaving_while_the_start_is_held_cancels_the_upstream() {
    let first = MockUpstream::start(Behaviour {
        name: "first".into(),
        key: Some("k".into()),
        stream_fault: Some(StreamFault::KeepAlivesOnly),
        event_interval: Duration::from_millis(50),
        ..Behaviour::default()
    })
    .expect("mock");
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("first", &first.url(), "k", 1),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    let addr = gw.url.trim_start_matches("http://").to_string();
    {
        let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
        socket
            .write_all(raw_request(&addr).as_bytes())
            .await
            .unwrap();
        // The start is held: nothing comes back while the upstream only keeps the stream alive.
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_millis(300), socket.read(&mut buf)).await;
        assert!(read.is_err(), "nothing reached the client before content");
        // The socket is closed here.
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while first.streams_cancelled() == 0 {
        assert!(
            Instant::now() < deadline,
            "the upstream stream was not cancelled"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(backup.hits(), 0);
    let line = access_line(&gw).await;
    assert!(line.contains("outcome=client_closed"), "{line}");
    assert_eq!(endpoint_status(&gw, "first").await["failures"], 0);
}

/// A streamed Messages request, written by hand.
fn raw_request(host: &str) -> String {
    format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{STREAM_BODY}",
        STREAM_BODY.len()
    )
}

#[actix_rt::test]
async fn the_held_start_goes_out_with_the_head_and_the_first_content_in_one_write() {
    // message_start, content_block_start, then the first delta, 150 ms apart.
    let up = streaming_mock(3, Duration::from_millis(150));
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let addr = gw.url.trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    socket
        .write_all(raw_request(&addr).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let first_read = String::from_utf8_lossy(&buf[..n]);
    assert!(first_read.starts_with("HTTP/1.1 200"), "{first_read}");
    assert!(
        first_read.contains("event: message_start")
            && first_read.contains("event: content_block_start")
            && first_read.contains("event: content_block_delta"),
        "the head, the opening and the first content came in one read: {first_read}"
    );
}

#[actix_rt::test]
async fn the_mocks_faults_are_what_the_gateway_tests_assume() {
    // Straight from the mock: the error comes after the opening events and before any content.
    let first = MockUpstream::start(Behaviour {
        stream_fault: Some(StreamFault::ErrorBeforeContent(529)),
        ..Behaviour::default()
    })
    .expect("mock");
    let (status, _, body) = post(&first.url(), "/v1/messages", STREAM_BODY).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        ["message_start", "content_block_start", "error"],
        "{body}"
    );
    assert!(body.contains("overloaded_error"));
    first.update(|b| b.stream_fault = Some(StreamFault::ErrorAfterContent(500)));
    let (_, _, body) = post(&first.url(), "/v1/messages", STREAM_BODY).await;
    let body = String::from_utf8_lossy(&body);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ],
        "{body}"
    );
    assert!(body.contains("api_error"));
}

//! The core gateway over real sockets: routing, auth failures, failover, streaming, error shapes.

mod common;

use common::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use switchyard::mock::StreamFault;

#[actix_rt::test]
async fn endpoints_that_answer_401_get_no_more_requests_once_they_have() {
    let good = mock("good", "k-good");
    let bad1 = mock("bad1", "something-else");
    let bad2 = mock("bad2", "something-else");
    let gw = Gateway::start(&config(
        "balancer:\n  strategy: weighted\n",
        &[
            endpoint("good", &good.url(), "k-good", 1),
            endpoint("bad1", &bad1.url(), "k-bad1", 1),
            endpoint("bad2", &bad2.url(), "k-bad2", 1),
        ],
    ));
    let concurrency = 50;
    let statuses: Vec<u16> = futures_util::stream::iter(0..200)
        .map(|_| {
            let url = gw.url.clone();
            async move { post(&url, "/v1/messages", MESSAGES_BODY).await.0 }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every request is served: {statuses:?}"
    );
    // Only requests admitted before an endpoint's first 401 was reported can have reached it.
    for bad in [&bad1, &bad2] {
        assert!(
            bad.hits() >= 1,
            "weighted routing tries every endpoint: {} {} {}",
            bad1.hits(),
            bad2.hits(),
            good.hits()
        );
        assert!(
            bad.hits() <= concurrency,
            "{} hits on a rejected endpoint",
            bad.hits()
        );
    }
    let before = (bad1.hits(), bad2.hits(), good.hits());
    for _ in 0..100 {
        let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        (bad1.hits(), bad2.hits()),
        (before.0, before.1),
        "no request after the 401"
    );
    assert_eq!(good.hits(), before.2 + 100);
    assert_eq!(gw.state_of("bad1").await, "auth_failed");
    assert_eq!(gw.state_of("bad2").await, "auth_failed");
    assert_eq!(gw.state_of("good").await, "healthy");
}

#[actix_rt::test]
async fn upstream_sees_its_own_credentials_and_never_the_clients() {
    let up = mock("up", "sk-upstream-key");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("up", &up.url(), "sk-upstream-key", 1)],
    ));
    let mut r = client()
        .post(format!("{}/v1/messages?beta=true", gw.url))
        .insert_header(("content-type", "application/json"))
        .insert_header(("authorization", "Bearer client-secret"))
        .insert_header(("x-api-key", "client-secret"))
        .insert_header(("x-goog-api-key", "client-secret"))
        .append_header(("anthropic-beta", "one"))
        .append_header(("anthropic-beta", "two"))
        .send_body(MESSAGES_BODY)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.body().await;
    let seen = &up.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.query, "beta=true");
    assert_eq!(seen.header_values("x-api-key"), ["sk-upstream-key"]);
    assert_eq!(
        seen.header_values("authorization"),
        ["Bearer sk-upstream-key"]
    );
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert!(seen.header("x-goog-api-key").is_none());
    assert_eq!(seen.header_values("anthropic-beta"), ["one", "two"]);
    assert!(seen
        .headers
        .iter()
        .all(|(_, v)| !v.contains("client-secret")));
    assert_eq!(
        &seen.body[..],
        MESSAGES_BODY.as_bytes(),
        "body passes unchanged"
    );
}

#[actix_rt::test]
async fn per_endpoint_auth_option_sends_only_the_chosen_header() {
    let up = mock("up", "k");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    auth: x-api-key\n",
            endpoint("up", &up.url(), "k", 1)
        )],
    ));
    assert_eq!(post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0, 200);
    let seen = &up.requests()[0];
    assert_eq!(seen.header("x-api-key"), Some("k"));
    assert!(seen.header("authorization").is_none());
}

#[actix_rt::test]
async fn a_base_url_path_prefix_joins_without_double_slashes() {
    let up = mock("up", "k");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("up", &format!("{}/relay/", up.url()), "k", 1)],
    ));
    assert_eq!(post(&gw.url, "/v1/messages", MESSAGES_BODY).await.0, 200);
    assert_eq!(up.requests()[0].path, "/relay/v1/messages");
}

#[actix_rt::test]
async fn sse_events_reach_the_client_one_by_one_from_their_content_on_and_byte_for_byte() {
    // 3 text deltas plus 5 framing events: 8 events, 100 ms apart.
    let up = streaming_mock(3, Duration::from_millis(100));
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));

    let mut r = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("content-type", "application/json"))
        .send_body(STREAM_BODY)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(common::header(r.headers(), "content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let mut received = Vec::new();
    let mut arrivals = Vec::new();
    while let Some(chunk) = r.next().await {
        let chunk = chunk.unwrap();
        let now = Instant::now();
        received.extend_from_slice(&chunk);
        let complete = received.windows(2).filter(|w| w == b"\n\n").count();
        while arrivals.len() < complete {
            arrivals.push(now);
        }
    }
    let sent = up.event_times();
    assert_eq!(sent.len(), 8);
    assert_eq!(arrivals.len(), 8);
    // message_start and content_block_start wait for the first text delta (event 2): the stream
    // is the client's only once its content begins.
    for (i, arrived) in arrivals.iter().enumerate().take(2) {
        assert!(
            *arrived >= sent[2],
            "opening event {i} went out before the content"
        );
    }
    for i in 0..7 {
        assert!(
            arrivals[i] < sent[i.max(2) + 1],
            "event {i} arrived after event {} was sent: it was held back",
            i.max(2) + 1
        );
    }
    // The same stream fetched directly from the mock is byte-identical.
    up.clear();
    let mut direct = client()
        .post(format!("{}/v1/messages", up.url()))
        .insert_header(("x-api-key", "k"))
        .send_body(STREAM_BODY)
        .await
        .unwrap();
    let direct = direct.body().await.unwrap();
    assert_eq!(&received[..], &direct[..]);
}

#[actix_rt::test]
async fn a_refused_connection_fails_over_to_the_next_endpoint() {
    let up = mock("up", "k");
    let dead = refused_port();
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("dead", &format!("http://127.0.0.1:{dead}"), "k", 1),
            endpoint("up", &up.url(), "k", 2),
        ],
    ));
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("up")
    );
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("2")
    );
    assert!(header(&headers, "x-request-id").is_some());
    assert_eq!(up.hits(), 1);
    let status = gw.status().await;
    let dead_status = &status["endpoints"][0];
    assert_eq!(dead_status["failures"], 1);
    assert!(dead_status["last_error"]
        .as_str()
        .unwrap()
        .contains("refused"));
    let mut metrics = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(metrics.body().await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"switchyard_upstream_failures_total{endpoint="dead",kind="refused"} 1"#),
        "{text}"
    );
}

#[actix_rt::test]
async fn the_gateways_own_answer_headers_replace_those_an_upstream_sends() {
    let up = MockUpstream::start(Behaviour {
        name: "up".into(),
        key: Some("k".into()),
        headers: vec![
            ("x-switchyard-endpoint".into(), "spoofed".into()),
            ("x-switchyard-attempts".into(), "9".into()),
            ("x-switchyard-other".into(), "kept".into()),
        ],
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200);
    let all = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(all("x-switchyard-endpoint"), ["up"]);
    assert_eq!(all("x-switchyard-attempts"), ["1"]);
    assert_eq!(all("x-switchyard-other"), ["kept"]);
}

#[actix_rt::test]
async fn a_response_head_that_never_comes_fails_over_after_the_first_byte_timeout() {
    let hung = MockUpstream::start(Behaviour {
        hang: true,
        ..Behaviour::default()
    })
    .unwrap();
    let up = mock("up", "k");
    let gw = Gateway::start(&config(
        "timeouts:\n  first_byte: 500ms\n",
        &[
            endpoint("hung", &hung.url(), "k", 1),
            endpoint("up", &up.url(), "k", 2),
        ],
    ));
    let started = Instant::now();
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("up")
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(hung.hits(), 1);
}

#[actix_rt::test]
async fn no_failover_once_the_first_byte_reached_the_client() {
    let breaking = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        deltas: 5,
        drop_after_events: Some(3),
        ..Behaviour::default()
    })
    .unwrap();
    let (gw, backup) = with_backup("", "breaking", &breaking.url());
    let (status, headers, body) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("breaking")
    );
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        text.matches("event: ").count(),
        4,
        "3 events, then the error event: {text}"
    );
    assert!(text.contains("event: message_start"));
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\ndata: "), "{last}");
    let error: serde_json::Value =
        serde_json::from_str(last.trim_start_matches("event: error\ndata: ")).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(
        backup.hits(),
        0,
        "nothing is retried after the stream started"
    );
    let status = gw.status().await;
    assert_eq!(
        status["endpoints"][0]["failures"], 1,
        "the broken stream counts against the endpoint"
    );
}

#[actix_rt::test]
async fn a_stalled_stream_ends_with_an_error_event_after_the_idle_timeout() {
    let slow = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        stream_fault: Some(StreamFault::StallAfterContent),
        ..Behaviour::default()
    })
    .unwrap();
    let gw = Gateway::start(&config(
        "timeouts:\n  idle: 300ms\n",
        &[endpoint("slow", &slow.url(), "k", 1)],
    ));
    let started = Instant::now();
    let (status, _, body) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the idle timeout cut the stream"
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("event: message_start"));
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("timeouts.idle"), "{text}");
}

#[actix_rt::test]
async fn a_stream_that_stalls_before_its_content_is_no_answer_and_gets_the_503() {
    let slow = streaming_mock(3, Duration::from_secs(3));
    let gw = Gateway::start(&config(
        "timeouts:\n  idle: 300ms\n",
        &[endpoint("slow", &slow.url(), "k", 1)],
    ));
    let started = Instant::now();
    let (status, headers, body) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the idle timeout cut the stream's start"
    );
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("upstream_unreachable")
    );
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("timeouts.idle"), "{message}");
}

#[actix_rt::test]
async fn a_clients_own_400_is_returned_as_is_and_leaves_the_endpoint_healthy() {
    let picky = MockUpstream::start(Behaviour {
        status: Some(400),
        error_message: Some("messages: field required".into()),
        ..Behaviour::default()
    })
    .unwrap();
    let other = mock("other", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("picky", &picky.url(), "k", 1),
            endpoint("other", &other.url(), "k", 2),
        ],
    ));
    for _ in 0..5 {
        let (status, headers, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(status, 400);
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("picky")
        );
        assert!(
            header(&headers, "x-switchyard-error").is_none(),
            "an upstream answer, not the gateway's"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["message"], "messages: field required");
    }
    assert_eq!(picky.hits(), 5);
    assert_eq!(other.hits(), 0, "a client error is not retried");
    assert_eq!(gw.state_of("picky").await, "healthy");
}

#[actix_rt::test]
async fn when_every_endpoint_is_out_the_client_gets_503_in_its_apis_shape() {
    let a = mock("a", "other");
    let b = mock("b", "other");
    let c = mock("c", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("a", &a.url(), "k", 1),
            endpoint("b", &b.url(), "k", 1),
            format!("{}    enabled: false\n", endpoint("c", &c.url(), "k", 1)),
        ],
    ));
    // The first request tries both; the last upstream answer (a 401) is passed on as it came.
    let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 401);
    assert!(header(&headers, "x-switchyard-endpoint").is_some());
    assert!(header(&headers, "x-switchyard-error").is_none());
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("2")
    );

    let (status, headers, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 503);
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("no_endpoint")
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 endpoints: 2 auth_failed, 1 disabled"),
        "{message}"
    );

    let (status, _, body) = post(&gw.url, "/v1/chat/completions", CHAT_BODY).await;
    assert_eq!(status, 503);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "no_endpoint");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 auth_failed"));
    assert_eq!(a.hits() + b.hits() + c.hits(), 2);
}

#[actix_rt::test]
async fn when_every_endpoint_refuses_connections_the_503_lists_what_happened() {
    let (p1, p2) = (refused_port(), refused_port());
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("one", &format!("http://127.0.0.1:{p1}"), "k", 1),
            endpoint("two", &format!("http://127.0.0.1:{p2}"), "k", 2),
        ],
    ));
    let (status, headers, body) = post(&gw.url, "/v1/chat/completions", CHAT_BODY).await;
    assert_eq!(status, 503);
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("upstream_unreachable")
    );
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("2")
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("one: connection refused") && message.contains("two: connection refused"),
        "{message}"
    );
}

#[actix_rt::test]
async fn a_body_over_the_limit_gets_413_in_the_apis_shape() {
    let up = mock("up", "k");
    // Extra lines follow `port: 0` inside the proxy section.
    let gw = Gateway::start(&config(
        "  max_request_body: 1KiB\n",
        &[endpoint("up", &up.url(), "k", 1)],
    ));
    let big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(4096)
    );
    let mut r = client()
        .post(format!("{}/v1/messages", gw.url))
        .send_body(big)
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        common::header(r.headers(), "x-switchyard-error").as_deref(),
        Some("body_too_large")
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "request_too_large");
    assert_eq!(up.hits(), 0);
}

#[actix_rt::test]
async fn redirects_are_passed_on_not_followed() {
    let up = MockUpstream::start(Behaviour {
        status: Some(307),
        ..Behaviour::default()
    })
    .unwrap();
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 307);
    assert_eq!(up.hits(), 1);
}

#[actix_rt::test]
async fn an_absolute_form_or_double_slash_target_still_goes_to_the_chosen_endpoint() {
    // An absolute-form target naming another host is refused as DNS rebinding would be
    // (tests/edge.rs); one naming loopback, or a `//` path, goes to the chosen endpoint.
    use std::io::{Read, Write};
    let up = mock("up", "k");
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let addr = gw.url.trim_start_matches("http://").to_string();
    for target in ["http://127.0.0.1/v1/messages", "//evil.example/v1/messages"] {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            MESSAGES_BODY.len(),
            MESSAGES_BODY
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let paths: Vec<String> = up.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/messages", "/evil.example/v1/messages"]);
    for r in up.requests() {
        assert_ne!(r.header("host"), Some("127.0.0.1"));
    }
}

#[actix_rt::test]
async fn the_admin_status_never_shows_a_key() {
    let up = mock("up", "sk-live-abcdefghijklmnopqrstuvwxyz");
    let gw = Gateway::start(&config(
        "",
        &[endpoint(
            "up",
            &up.url(),
            "sk-live-abcdefghijklmnopqrstuvwxyz",
            1,
        )],
    ));
    post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    let status = gw.status().await.to_string();
    assert!(!status.contains("abcdefghijklmnop"), "{status}");
    assert!(
        !status.contains("wxyz"),
        "not even its last characters: {status}"
    );
    let fingerprint =
        switchyard::Secret::new("sk-live-abcdefghijklmnopqrstuvwxyz".into()).fingerprint();
    assert!(
        status.contains(&format!(r#""key_fingerprint":"{fingerprint}""#)),
        "{status}"
    );
    let health: serde_json::Value = get_json(&format!("{}/healthz", gw.url)).await;
    assert_eq!(health["status"], "ok");
    assert!(!gw.logs().contains("abcdefghijklmnop"));
}

/// Sends a raw HTTP/1.1 request and returns the whole answer.
fn raw_request(addr: &str, head: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[actix_rt::test]
async fn hop_by_hop_headers_and_those_named_in_connection_stay_on_their_side() {
    let up = mock("up", "k");
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let addr = gw.url.trim_start_matches("http://").to_string();
    let answer = raw_request(
        &addr,
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: x-hop\r\nx-hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic abc\r\n",
        MESSAGES_BODY,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let seen = &up.requests()[0];
    for gone in ["x-hop", "keep-alive", "te", "proxy-authorization"] {
        assert!(seen.header(gone).is_none(), "{gone} was forwarded");
    }
    let upstream_host = up.url().trim_start_matches("http://").to_string();
    assert_eq!(
        seen.header("host"),
        Some(upstream_host.as_str()),
        "the upstream gets its own Host"
    );
    assert_eq!(seen.header_values("host").len(), 1, "one Host header");
}

#[actix_rt::test]
async fn openai_streams_pass_whole_and_a_cut_one_ends_with_an_error_chunk() {
    let whole = mock("whole", "k");
    let gw = Gateway::start(&config("", &[endpoint("whole", &whole.url(), "k", 1)]));
    let body =
        r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, _, text) = post(&gw.url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&text);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains("\"error\""));
    assert_eq!(gw.status().await["endpoints"][0]["failures"], 0);

    // message_start, content_block_start and the first delta: the cut comes after content.
    let cut = MockUpstream::start(Behaviour {
        drop_after_events: Some(3),
        ..Behaviour::default()
    })
    .unwrap();
    let gw = Gateway::start(&config("", &[endpoint("cut", &cut.url(), "k", 1)]));
    let (status, _, text) = post(&gw.url, "/v1/chat/completions", body).await;
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&text);
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let error: serde_json::Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["error"]["code"], "upstream_stream_error", "{text}");
    assert_eq!(gw.status().await["endpoints"][0]["failures"], 1);
}

//! Edge rules (INTERFACE.md, "Edge rules (security)"), tried over raw sockets so that the target
//! reaches the gateway byte for byte: no client library normalises the path on the way.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CLIENT_KEY: &str = "client-key-0123456789";
const ADMIN_KEY: &str = "admin-key-0123456789";
const UPSTREAM_KEY: &str = "sk-upstream-key-abcdef123456";

/// One exchange over a fresh connection: `head` is everything up to the blank line (without it),
/// `body` follows. Returns the gateway's answer: read until its `content-length` is complete, or
/// until the connection closes, or until `wait` passed.
fn raw(url: &str, head: &str, body: &[u8], wait: Duration) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(wait)).expect("timeout");
    let mut request = head.replace('\n', "\r\n").into_bytes();
    request.extend_from_slice(b"\r\n\r\n");
    request.extend_from_slice(body);
    s.write_all(&request).expect("send");
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        if answer_is_complete(&out) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `out` holds a whole answer with a `content-length` (or to a HEAD: any whole head).
fn answer_is_complete(out: &[u8]) -> bool {
    let text = String::from_utf8_lossy(out);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

fn post_raw(url: &str, target: &str, key: Option<&str>) -> String {
    let auth = key.map_or(String::new(), |k| format!("\nx-api-key: {k}"));
    raw(
        url,
        &format!(
            "POST {target} HTTP/1.1\nhost: 127.0.0.1\nconnection: close\ncontent-length: 0{auth}"
        ),
        b"",
        Duration::from_secs(10),
    )
}

fn admin_gateway(proxy: &str) -> (Gateway, MockUpstream) {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        &format!("{proxy}  admin_key: {ADMIN_KEY}\n"),
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    (gw, upstream)
}

async fn enabled(gw: &Gateway) -> bool {
    let mut r = client()
        .get(format!("{}/admin/status", gw.url))
        .insert_header(("x-api-key", ADMIN_KEY))
        .send()
        .await
        .expect("status");
    let status: serde_json::Value = r.json().await.expect("json");
    status["endpoints"][0]["enabled"]
        .as_bool()
        .expect("enabled")
}

/// Spellings the router folds onto the disable route: they must be gated like the plain one.
const ROUTED_SPELLINGS: [&str; 4] = [
    "/%61dmin/endpoints/a/disable",
    "/admin/%65ndpoints/a/disable",
    "/%61%64%6d%69%6e/endpoints/a/disable",
    "/admin/endpoints/%61/%64isable",
];

/// Spellings that decode to an admin path but that the router would not send to admin routes.
const LOOKALIKES: [&str; 6] = [
    "//admin/endpoints/a/disable",
    "/ADMIN/endpoints/a/disable",
    "/Admin/status",
    "/admin%2Fendpoints%2Fa%2Fdisable",
    "/%2Fadmin/status",
    "///admin/status",
];

#[actix_rt::test]
async fn no_spelling_of_an_admin_route_passes_the_admin_gate_with_the_client_key() {
    let (gw, upstream) = admin_gateway(&format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n"));
    for target in ROUTED_SPELLINGS
        .iter()
        .chain(["/admin/endpoints/a/disable/"].iter())
    {
        let answer = post_raw(&gw.url, target, Some(CLIENT_KEY));
        assert_eq!(raw_status(&answer), 401, "{target}: {answer}");
        assert!(
            answer.contains("x-switchyard-error: admin_auth"),
            "{target}"
        );
        assert!(enabled(&gw).await, "{target} disabled the endpoint");
    }
    for target in LOOKALIKES {
        let answer = post_raw(&gw.url, target, Some(CLIENT_KEY));
        assert_eq!(raw_status(&answer), 404, "{target}: {answer}");
        assert!(enabled(&gw).await, "{target} disabled the endpoint");
    }
    assert_eq!(upstream.hits(), 0, "a lookalike admin path was forwarded");
    // The admin key opens every spelling that reaches the route, exactly like the plain one.
    let answer = post_raw(&gw.url, ROUTED_SPELLINGS[0], Some(ADMIN_KEY));
    assert_eq!(raw_status(&answer), 200, "{answer}");
    assert!(!enabled(&gw).await);
}

#[actix_rt::test]
async fn with_client_auth_off_an_encoded_admin_route_still_needs_the_admin_key() {
    let (gw, upstream) = admin_gateway("  auth_mode: off\n");
    for target in ROUTED_SPELLINGS {
        let answer = post_raw(&gw.url, target, None);
        assert_eq!(raw_status(&answer), 401, "{target}: {answer}");
    }
    for target in LOOKALIKES {
        assert_eq!(
            raw_status(&post_raw(&gw.url, target, None)),
            404,
            "{target}"
        );
    }
    assert!(enabled(&gw).await);
    assert_eq!(upstream.hits(), 0);
}

#[actix_rt::test]
async fn admin_actions_are_logged_with_the_peer_and_the_outcome() {
    let (gw, _upstream) = admin_gateway("");
    assert_eq!(
        raw_status(&post_raw(
            &gw.url,
            "/admin/endpoints/a/disable",
            Some(ADMIN_KEY)
        )),
        200
    );
    assert_eq!(
        raw_status(&post_raw(
            &gw.url,
            "/admin/endpoints/zz/reset",
            Some(ADMIN_KEY)
        )),
        404
    );
    let logs = gw.logs();
    assert!(
        logs.contains("admin disable a from 127.0.0.1:") && logs.contains(": done"),
        "{logs}"
    );
    assert!(logs.contains("admin reset zz from 127.0.0.1:"), "{logs}");
    assert!(logs.contains("refused (404)"), "{logs}");
}

#[actix_rt::test]
async fn head_of_the_status_route_answers_like_get_without_a_body() {
    let (gw, _upstream) = admin_gateway("");
    let answer = raw(
        &gw.url,
        "HEAD /admin/status HTTP/1.1\nhost: 127.0.0.1\nconnection: close",
        b"",
        Duration::from_secs(10),
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
    let (_, body) = answer.split_once("\r\n\r\n").expect("head");
    assert_eq!(body, "", "HEAD answered with a body");
    assert!(answer.contains("application/json"), "{answer}");
}

fn limited_gateway() -> (Gateway, MockUpstream) {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    models: [\"haiku-*\"]\n",
            endpoint("a", &upstream.url(), "k", 1)
        )],
    ));
    (gw, upstream)
}

#[actix_rt::test]
async fn a_model_the_gateway_cannot_read_with_certainty_goes_nowhere() {
    let (gw, upstream) = limited_gateway();
    let bodies: [&'static str; 7] = [
        r#"{"model":"haiku-1","model":"opus-big","max_tokens":5,"messages":[]}"#,
        // Not JSON (a backslash outside a string), though a reader that let it escape the quote
        // after it would find one model.
        r#"{"model":"haiku-1","tools":[\"]}"#,
        r#"{"model":"haiku-1","mod\u0065l":"opus-big","messages":[]}"#,
        r#"{"model":["opus-big"],"messages":[]}"#,
        r#"{"model":7}"#,
        "model=opus-big",
        r#"{"model":"haiku-1"}{"model":"opus-big"}"#,
    ];
    for body in bodies {
        let (status, headers, answer) = post(&gw.url, "/v1/messages", body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            header(&headers, "x-switchyard-error").as_deref(),
            Some("unreadable_model")
        );
        let v: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(v["type"], "error", "Anthropic shape: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let (status, _, answer) = post(&gw.url, "/v1/chat/completions", body).await;
        assert_eq!(status, 400, "{body}");
        let v: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        assert_eq!(v["error"]["code"], "unreadable_model", "OpenAI shape: {v}");
    }
    let long = format!(r#"{{"model":"haiku-{}"}}"#, "x".repeat(300));
    let long: &'static str = Box::leak(long.into_boxed_str());
    assert_eq!(post(&gw.url, "/v1/messages", long).await.0, 400);
    assert_eq!(upstream.hits(), 0, "a doubtful model reached the upstream");
    // A model read with certainty is served as before.
    let ok = r#"{"model":"haiku-1","max_tokens":5,"messages":[]}"#;
    assert_eq!(post(&gw.url, "/v1/messages", ok).await.0, 200);
    assert_eq!(upstream.hits(), 1);
}

#[actix_rt::test]
async fn without_model_rules_a_doubtful_model_is_forwarded_untouched() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let body = r#"{"model":"haiku-1","model":"opus-big","max_tokens":5,"messages":[]}"#;
    assert_eq!(post(&gw.url, "/v1/messages", body).await.0, 200);
    assert_eq!(upstream.requests()[0].body, body.as_bytes());
}

#[actix_rt::test]
async fn a_target_with_dot_segments_never_leaves_the_prefix() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &format!("{}/cheap", upstream.url()), "k", 1)],
    ));
    for target in [
        "/../../secret/x",
        "/v1/../../secret/x",
        "/v1/%2e%2e/%2E%2E/secret/x",
        "/v1/..%2Fsecret",
        "/v1/./messages",
        "/./v1/messages",
    ] {
        let answer = raw(
            &gw.url,
            &format!("POST {target} HTTP/1.1\nhost: 127.0.0.1\nconnection: close\ncontent-type: application/json\ncontent-length: 2"),
            b"{}",
            Duration::from_secs(10),
        );
        assert_eq!(raw_status(&answer), 400, "{target}: {answer}");
        assert!(answer.contains("x-switchyard-error: bad_path"), "{target}");
    }
    assert_eq!(upstream.hits(), 0, "a dot-segment target was forwarded");
}

#[actix_rt::test]
async fn a_body_that_stops_arriving_gets_408_and_nothing_goes_upstream() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        "timeouts:\n  idle: 300ms\n",
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    let cases: [(&str, &[u8]); 3] = [
        (
            "POST /v1/messages HTTP/1.1\nhost: 127.0.0.1\ncontent-type: application/json\ncontent-length: 100",
            b"{",
        ),
        (
            "POST /v1/messages HTTP/1.1\nhost: 127.0.0.1\ncontent-type: application/json\ncontent-length: 100",
            b"",
        ),
        (
            "POST /v1/messages HTTP/1.1\nhost: 127.0.0.1\ncontent-type: application/json\ntransfer-encoding: chunked",
            b"5\r\n{\"mod",
        ),
    ];
    for (head, body) in cases {
        let started = Instant::now();
        let answer = raw(&gw.url, head, body, Duration::from_secs(10));
        assert_eq!(raw_status(&answer), 408, "{head}: {answer}");
        assert!(answer.contains("x-switchyard-error: request_timeout"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the 408 took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(upstream.hits(), 0);
}

#[actix_rt::test]
async fn websocket_upgrades_and_connect_are_refused_at_once() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    for head in [
        "GET /v1/realtime HTTP/1.1\nhost: 127.0.0.1\nconnection: Upgrade\nupgrade: websocket\nsec-websocket-version: 13\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
        "CONNECT 127.0.0.1:443 HTTP/1.1\nhost: 127.0.0.1:443",
    ] {
        let started = Instant::now();
        let answer = raw(&gw.url, head, b"", Duration::from_secs(10));
        assert_eq!(raw_status(&answer), 501, "{head}: {answer}");
        assert!(answer.contains("not supported"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(upstream.hits(), 0);
}

#[actix_rt::test]
async fn a_websocket_upgrade_of_the_responses_api_gets_426_so_codex_falls_back_to_http() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let head = "GET /v1/responses HTTP/1.1\nhost: 127.0.0.1\nconnection: Upgrade\nupgrade: websocket\nsec-websocket-version: 13\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==";
    let answer = raw(&gw.url, head, b"", Duration::from_secs(10));
    assert_eq!(raw_status(&answer), 426, "{answer}");
    assert!(answer.contains("upgrade_required"), "{answer}");
    assert_eq!(upstream.hits(), 0);
}

#[actix_rt::test]
async fn an_upstream_that_echoes_its_key_has_it_redacted_for_client_and_log() {
    let echo = |status: u16, filler: usize| {
        MockUpstream::start(Behaviour {
            status: Some(status),
            error_message: Some(format!(
                "{}invalid x-api-key {UPSTREAM_KEY} (key {UPSTREAM_KEY})",
                "x".repeat(filler)
            )),
            ..Behaviour::default()
        })
        .expect("mock")
    };
    // 400 passes through as it streams; 401 is read as a failure; 70 KiB is longer than the part
    // of an error body the gateway reads before it relays the rest.
    for (status, filler) in [(400, 0), (401, 0), (401, 70 << 10), (400, 70 << 10)] {
        let upstream = echo(status, filler);
        let gw = Gateway::start(&config(
            "",
            &[endpoint("a", &upstream.url(), UPSTREAM_KEY, 1)],
        ));
        let (got, headers, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(got, status);
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("a")
        );
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(UPSTREAM_KEY), "the key reached the client");
        assert_eq!(text.matches("[redacted]").count(), 2, "{status}/{filler}");
        assert!(
            text.len() > filler,
            "the answer was cut: {} bytes",
            text.len()
        );
        assert!(!gw.logs().contains(UPSTREAM_KEY), "the key reached the log");
    }
}

#[actix_rt::test]
async fn the_loopback_gateway_answers_on_ipv6_too_where_the_machine_has_it() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine: nothing to check");
        return;
    }
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let port = gw.url.rsplit(':').next().expect("port");
    let answer = raw(
        &format!("http://[::1]:{port}"),
        "GET /healthz HTTP/1.1\nhost: 127.0.0.1\nconnection: close",
        b"",
        Duration::from_secs(10),
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
}

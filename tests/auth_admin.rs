//! Client auth modes, the admin API, `switchyard status`, metrics, and keeping every key secret.

mod common;

use common::*;
use std::process::Command;

const CLIENT_KEY: &str = "client-key-9f8e7d6c5b4a";
const UPSTREAM_KEY: &str = "sk-upstream-0a1b2c3d4e5f6a7b8c9d";

#[derive(Debug, Clone, Copy)]
enum Key {
    Missing,
    Right,
    Wrong,
}

async fn get(
    url: &str,
    headers: &[(&str, String)],
) -> (u16, awc::http::header::HeaderMap, bytes::Bytes) {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.insert_header((*name, value.as_str()));
    }
    let mut r = request.send().await.expect("request");
    let body = r.body().await.unwrap_or_default();
    (r.status().as_u16(), r.headers().clone(), body)
}

async fn post_with(
    url: &str,
    headers: &[(&str, String)],
) -> (u16, awc::http::header::HeaderMap, bytes::Bytes) {
    let mut request = client()
        .post(url)
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.append_header((*name, value.as_str()));
    }
    let mut r = request.send_body(MESSAGES_BODY).await.expect("request");
    let body = r.body().await.unwrap_or_default();
    (r.status().as_u16(), r.headers().clone(), body)
}

fn credential(form: &str, key: Key) -> Vec<(&'static str, String)> {
    let value = match key {
        Key::Missing => return Vec::new(),
        Key::Right => CLIENT_KEY.to_string(),
        Key::Wrong => "not-the-key".to_string(),
    };
    match form {
        "bearer" => vec![("authorization", format!("Bearer {value}"))],
        "plain-authorization" => vec![("authorization", value)],
        "x-api-key" => vec![("x-api-key", value)],
        "x-goog-api-key" => vec![("x-goog-api-key", value)],
        other => panic!("{other}"),
    }
}

fn gateway_with_mode(mode: &str, up: &MockUpstream) -> Gateway {
    Gateway::start(&config(
        &format!("  auth_mode: {mode}\n  api_key: {CLIENT_KEY}\n"),
        &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)],
    ))
}

#[actix_rt::test]
async fn every_auth_mode_by_header_form_and_key() {
    let up = mock("up", UPSTREAM_KEY);
    for mode in ["off", "strict", "all_except_health", "auto"] {
        let gw = gateway_with_mode(mode, &up);
        let key_needed = matches!(mode, "strict" | "all_except_health");
        for form in [
            "bearer",
            "plain-authorization",
            "x-api-key",
            "x-goog-api-key",
        ] {
            for key in [Key::Missing, Key::Right, Key::Wrong] {
                let headers = credential(form, key);
                let admitted = !key_needed || matches!(key, Key::Right);
                let (status, h, body) =
                    post_with(&format!("{}/v1/messages", gw.url), &headers).await;
                if admitted {
                    assert_eq!(status, 200, "{mode} {form} {key:?}");
                } else {
                    assert_eq!(status, 401, "{mode} {form} {key:?}");
                    assert_eq!(header(&h, "x-switchyard-error").as_deref(), Some("auth"));
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(v["type"], "error", "Anthropic shape for /v1/messages");
                    let message = v["error"]["message"].as_str().unwrap();
                    assert!(message.contains("gateway's own check"), "{message}");
                    assert!(!message.contains("not-the-key"), "{message}");
                }
                // /healthz: exempt except in strict.
                let (status, _, _) = get(&format!("{}/healthz", gw.url), &headers).await;
                let health_admitted = mode != "strict" || matches!(key, Key::Right);
                assert_eq!(
                    status,
                    if health_admitted { 200 } else { 401 },
                    "healthz {mode} {form} {key:?}"
                );
                // Admin routes obey the mode too.
                let (status, _, _) = get(&format!("{}/admin/status", gw.url), &headers).await;
                assert_eq!(
                    status,
                    if admitted { 200 } else { 401 },
                    "status {mode} {form} {key:?}"
                );
            }
        }
        // A stale Authorization does not shadow a right x-api-key, nor the other way round.
        let both = vec![
            ("authorization", "Bearer stale".to_string()),
            ("x-api-key", CLIENT_KEY.to_string()),
        ];
        assert_eq!(
            post_with(&format!("{}/v1/messages", gw.url), &both).await.0,
            200,
            "{mode}"
        );
        let both = vec![
            ("authorization", format!("Bearer {CLIENT_KEY}")),
            ("x-api-key", "stale".to_string()),
        ];
        assert_eq!(
            post_with(&format!("{}/v1/messages", gw.url), &both).await.0,
            200,
            "{mode}"
        );
        // The OpenAI routes get the OpenAI error shape.
        if key_needed {
            let mut r = client()
                .post(format!("{}/v1/chat/completions", gw.url))
                .send_body(CHAT_BODY)
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "auth");
            assert_eq!(v["error"]["type"], "authentication_error");
        }
    }
    // No client key ever reached the upstream.
    for r in up.requests() {
        assert!(r.headers.iter().all(|(_, v)| !v.contains(CLIENT_KEY)));
    }
}

#[actix_rt::test]
async fn cors_preflight_passes_without_a_key_for_allowed_origins_only() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config(
        &format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n  cors_origins: [\"http://localhost:3000\"]\n"),
        &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)],
    ));
    for (origin, allowed) in [
        ("http://localhost:3000", true),
        ("http://evil.example", false),
    ] {
        let r = client()
            .request(
                awc::http::Method::OPTIONS,
                format!("{}/v1/messages", gw.url),
            )
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "x-api-key, content-type"))
            .send()
            .await
            .unwrap();
        // Another origin is refused outright (tests/browsers.rs), never answered as allowed.
        assert_eq!(r.status(), if allowed { 204 } else { 403 });
        let acao = header(r.headers(), "access-control-allow-origin");
        assert_eq!(acao.as_deref(), allowed.then_some(origin), "{origin}");
        assert_ne!(acao.as_deref(), Some("*"));
    }
    let r = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("origin", "http://localhost:3000"))
        .insert_header(("x-api-key", CLIENT_KEY))
        .send_body(MESSAGES_BODY)
        .await
        .unwrap();
    assert_eq!(
        header(r.headers(), "access-control-allow-origin").as_deref(),
        Some("http://localhost:3000")
    );
    assert_eq!(up.hits(), 1, "preflights are answered by the gateway");
}

/// The local addresses of listening TCP sockets on `port`, read from /proc (independent of the gateway).
fn listening_addresses(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 3 && cols[3] == "0A" {
                if let Some((addr, p)) = cols[1].split_once(':') {
                    if u16::from_str_radix(p, 16) == Ok(port) {
                        out.push(addr.to_string());
                    }
                }
            }
        }
    }
    out
}

#[actix_rt::test]
async fn without_lan_access_the_gateway_listens_on_loopback_only() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)]));
    let port: u16 = gw.url.rsplit(':').next().unwrap().parse().unwrap();
    let addrs = listening_addresses(port);
    assert!(
        !addrs.is_empty(),
        "the gateway's socket is in /proc/net/tcp"
    );
    for addr in addrs {
        // 127.0.0.1 as /proc writes it, or ::1.
        assert!(
            addr == "0100007F" || addr == "00000000000000000000000001000000",
            "listening on a non-loopback address: {addr}"
        );
    }
    let status = gw.status().await;
    assert_eq!(status["auth_mode"], "off");
    let addr = gw.url.trim_start_matches("http://");
    assert!(
        status["listen"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == addr),
        "{}",
        status["listen"]
    );
}

#[test]
fn lan_access_without_auth_and_auth_without_a_key_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "proxy:\n  allow_lan_access: true\n  auth_mode: off\n",
            "proxy.allow_lan_access",
        ),
        ("proxy:\n  allow_lan_access: true\n", "proxy.api_key"),
        ("proxy:\n  auth_mode: strict\n", "proxy.api_key"),
    ];
    for (proxy, field) in cases {
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            format!("{proxy}endpoints:\n  - base_url: http://127.0.0.1:9\n    api_key: k\n"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(field), "{stderr}");
    }
}

#[actix_rt::test]
async fn admin_enable_disable_and_reset_change_routing() {
    let a = mock("a", UPSTREAM_KEY);
    let b = mock("b", UPSTREAM_KEY);
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("a", &a.url(), UPSTREAM_KEY, 1),
            endpoint("b", &b.url(), UPSTREAM_KEY, 2),
        ],
    ));
    let admin = |id: &str, action: &str| format!("{}/admin/endpoints/{id}/{action}", gw.url);
    post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!((a.hits(), b.hits()), (1, 0));

    let mut r = client().post(admin("a", "disable")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "disabled");
    for _ in 0..3 {
        post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    }
    assert_eq!(
        (a.hits(), b.hits()),
        (1, 3),
        "a disabled endpoint gets nothing"
    );
    // reset keeps `disabled`.
    let mut r = client().post(admin("a", "reset")).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "disabled");
    assert_eq!(v["requests"], 0);

    let mut r = client().post(admin("a", "enable")).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "unknown");
    post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!((a.hits(), b.hits()), (2, 3));

    // An auth-failed endpoint comes back with reset (and with enable).
    a.update(|b| b.key = Some("rotated".into()));
    post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(gw.state_of("a").await, "auth_failed");
    post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(a.hits(), 3, "no request after the 401");
    a.update(|b| b.key = Some(UPSTREAM_KEY.into()));
    let mut r = client().post(admin("a", "reset")).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "unknown");
    let (_, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("a")
    );
    assert_eq!(gw.state_of("a").await, "healthy");

    let r = client().post(admin("nope", "enable")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = client().post(admin("a", "explode")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = client().get(admin("a", "enable")).send().await.unwrap();
    assert_ne!(r.status(), 200, "state changes need POST");
}

#[actix_rt::test]
async fn state_changing_admin_routes_require_the_admin_key_when_set() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config(
        "  admin_key: admin-secret-123456\n",
        &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)],
    ));
    let url = format!("{}/admin/endpoints/up/disable", gw.url);
    let r = client().post(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(r.headers(), "x-switchyard-error").as_deref(),
        Some("admin_auth")
    );
    let r = client()
        .post(&url)
        .insert_header(("x-api-key", "wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .post(&url)
        .insert_header(("authorization", "Bearer admin-secret-123456"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        gw.state_of("up").await,
        "disabled",
        "reading status needs no admin key on loopback"
    );
}

#[actix_rt::test]
async fn no_key_appears_in_status_metrics_logs_or_error_bodies() {
    let good = mock("good", UPSTREAM_KEY);
    let rejecting = mock("rejecting", "other");
    let gw = Gateway::start(&config(
        &format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n"),
        &[
            endpoint(
                "rejecting",
                &rejecting.url(),
                "sk-rejected-zz9y8x7w6v5u4t",
                1,
            ),
            endpoint("good", &good.url(), UPSTREAM_KEY, 2),
        ],
    ));
    let with_key = vec![("x-api-key", CLIENT_KEY.to_string())];
    let mut bodies = Vec::new();
    bodies.push(
        post_with(&format!("{}/v1/messages", gw.url), &with_key)
            .await
            .2,
    );
    bodies.push(
        post_with(
            &format!("{}/v1/messages", gw.url),
            &[("x-api-key", "guess".into())],
        )
        .await
        .2,
    );
    bodies.push(
        post_with(&format!("{}/v1/nothing", gw.url), &with_key)
            .await
            .2,
    );
    let (_, _, status) = get(&format!("{}/admin/status", gw.url), &with_key).await;
    let (code, headers, metrics) = get(&format!("{}/metrics", gw.url), &with_key).await;
    assert_eq!(code, 200);
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/plain"));
    let mut everything = String::new();
    for b in bodies.iter().chain([&status, &metrics]) {
        everything.push_str(&String::from_utf8_lossy(b));
    }
    everything.push_str(&gw.logs());
    for secret in [
        CLIENT_KEY,
        UPSTREAM_KEY,
        "sk-rejected-zz9y8x7w6v5u4t",
        "zz9y8x7w6v5u",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    assert!(
        gw.logs().contains("switchyard::access"),
        "the access log is written"
    );
}

/// Checks Prometheus text exposition line by line; returns samples as (name{labels}, value).
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            assert!(
                rest.starts_with("HELP ") || rest.starts_with("TYPE "),
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels: {line}");
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.push((series.to_string(), value));
    }
    samples
}

#[actix_rt::test]
async fn metrics_are_valid_prometheus_text_with_per_endpoint_series() {
    let up = mock("up", UPSTREAM_KEY);
    let dead = refused_port();
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("dead", &format!("http://127.0.0.1:{dead}"), UPSTREAM_KEY, 1),
            endpoint("up", &up.url(), UPSTREAM_KEY, 2),
        ],
    ));
    for _ in 0..3 {
        assert_eq!(post(&gw.url, "/v1/messages", STREAM_BODY).await.0, 200);
    }
    let (_, _, text) = get(&format!("{}/metrics", gw.url), &[]).await;
    let samples = parse_prometheus(&String::from_utf8_lossy(&text));
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {series}"))
    };
    assert_eq!(
        value(r#"switchyard_requests_total{endpoint="up",outcome="ok",status_class="2xx"}"#),
        3.0
    );
    assert_eq!(value(r#"switchyard_failovers_total{endpoint="dead"}"#), 3.0);
    assert_eq!(
        value(r#"switchyard_endpoint_state{endpoint="up",state="healthy"}"#),
        1.0
    );
    assert_eq!(
        value(r#"switchyard_endpoint_in_flight{endpoint="up"}"#),
        0.0
    );
    assert_eq!(value("switchyard_attempts_per_request_count"), 3.0);
    assert_eq!(value("switchyard_attempts_per_request_sum"), 6.0);
    assert!(value(r#"switchyard_response_bytes_total{endpoint="up"}"#) > 0.0);
    assert!(samples.iter().any(
        |(s, _)| s.starts_with("switchyard_upstream_first_byte_seconds_bucket{endpoint=\"up\"")
    ));
}

#[actix_rt::test]
async fn the_status_command_prints_a_table_or_json() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config(
        &format!("  auth_mode: strict\n  api_key: {CLIENT_KEY}\n"),
        &[endpoint("up-endpoint", &up.url(), UPSTREAM_KEY, 1)],
    ));
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("status")
            .args(["--url", &gw.url])
            .args(args)
            .env_remove("SWITCHYARD_ADMIN_KEY")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, Some(1), "without the key the gateway refuses");
    assert!(stderr.contains("401"), "{stderr}");
    let (code, stdout, _) = run(&["--key", CLIENT_KEY]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("ID") && stdout.contains("STATE") && stdout.contains("up-endpoint"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no colour when piped");
    let (code, stdout, _) = run(&["--key", CLIENT_KEY, "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["endpoints"][0]["id"], "up-endpoint");
}

#[actix_rt::test]
async fn the_clients_request_id_is_echoed_and_one_is_made_otherwise() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)]));
    let r = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("x-request-id", "my-trace-42"))
        .send_body(MESSAGES_BODY)
        .await
        .unwrap();
    assert_eq!(
        header(r.headers(), "x-request-id").as_deref(),
        Some("my-trace-42")
    );
    let made = |headers: &awc::http::header::HeaderMap| {
        let id = header(headers, "x-request-id").unwrap();
        let digits = id.strip_prefix("sy-").unwrap_or_default();
        assert!(
            digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        id
    };
    let (_, first, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    let (_, second, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_ne!(made(&first), made(&second), "each request gets its own id");
    assert!(
        gw.logs().contains("my-trace-42"),
        "the access log carries the id"
    );
}

#[actix_rt::test]
async fn the_admin_key_alone_opens_admin_routes_when_client_auth_is_on() {
    let up = mock("up", UPSTREAM_KEY);
    let gw = Gateway::start(&config(
        &format!(
            "  auth_mode: strict\n  api_key: {CLIENT_KEY}\n  admin_key: admin-secret-123456\n"
        ),
        &[endpoint("up", &up.url(), UPSTREAM_KEY, 1)],
    ));
    let admin = vec![("x-api-key", "admin-secret-123456".to_string())];
    let client_key = vec![("x-api-key", CLIENT_KEY.to_string())];
    assert_eq!(
        get(&format!("{}/admin/status", gw.url), &admin).await.0,
        200
    );
    assert_eq!(
        get(&format!("{}/admin/status", gw.url), &client_key)
            .await
            .0,
        200
    );
    let disable = format!("{}/admin/endpoints/up/disable", gw.url);
    let r = client()
        .post(&disable)
        .insert_header(("x-api-key", CLIENT_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the client key does not change state");
    let r = client()
        .post(&disable)
        .insert_header(("x-api-key", "admin-secret-123456"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The admin key is no client key for the API itself.
    assert_eq!(
        post_with(&format!("{}/v1/messages", gw.url), &admin)
            .await
            .0,
        401
    );
}

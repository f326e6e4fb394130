//! Browser rules (INTERFACE.md, "Edge rules"): a web page the user visits cannot use the gateway,
//! neither by a cross-site request nor through DNS rebinding. Tried over raw sockets, sending the
//! headers a browser sends byte for byte; tests/browser.rs runs the same attack in Chromium.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One request over a fresh connection (`head` without its blank line); the whole answer.
fn raw(url: &str, head: &str, body: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "{}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        head.replace('\n', "\r\n"),
        body.len()
    );
    s.write_all(request.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn body_of(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

/// `host:port` of the gateway, as a browser puts it in `Host`.
fn authority(gw: &Gateway) -> String {
    gw.url.trim_start_matches("http://").to_string()
}

fn one_endpoint(extra_proxy: &str) -> (Gateway, MockUpstream) {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        extra_proxy,
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    (gw, upstream)
}

#[actix_rt::test]
async fn a_page_on_another_origin_cannot_disable_an_endpoint_or_spend_a_key() {
    let (gw, upstream) = one_endpoint("");
    let host = authority(&gw);
    // What Chromium sends for `fetch(url, {method: "POST", mode: "no-cors"})` from a page on
    // another local port: a simple request, no preflight.
    let attack = |target: &str, body: &str| {
        raw(
            &gw.url,
            &format!(
                "POST {target} HTTP/1.1\nhost: {host}\norigin: http://127.0.0.1:9\n\
                 sec-fetch-site: same-site\nsec-fetch-mode: no-cors\ncontent-type: text/plain;charset=UTF-8"
            ),
            body,
        )
    };
    let answer = attack("/admin/endpoints/a/disable", "");
    assert_eq!(raw_status(&answer), 403, "{answer}");
    assert_eq!(
        header_of(&answer, "x-switchyard-error"),
        Some("forbidden_origin")
    );
    let answer = attack("/v1/messages", MESSAGES_BODY);
    assert_eq!(raw_status(&answer), 403, "{answer}");
    // In the caller's API shape.
    assert_eq!(body_of(&answer)["type"], "error", "{answer}");
    assert_eq!(body_of(&answer)["error"]["type"], "permission_error");
    assert_eq!(
        upstream.hits(),
        0,
        "the page's request reached the upstream"
    );
    let state = gw.state_of("a").await;
    assert_ne!(state, "disabled");
    let status = gw.status().await;
    assert_eq!(status["endpoints"][0]["enabled"], true);
}

#[actix_rt::test]
async fn the_status_pages_own_buttons_still_work() {
    let (gw, _upstream) = one_endpoint("");
    let host = authority(&gw);
    let answer = raw(
        &gw.url,
        &format!(
            "POST /admin/endpoints/a/disable HTTP/1.1\nhost: {host}\norigin: http://{host}\n\
             sec-fetch-site: same-origin\nsec-fetch-mode: cors\nreferer: http://{host}/admin"
        ),
        "",
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
    assert_eq!(gw.state_of("a").await, "disabled");
}

#[actix_rt::test]
async fn a_rebound_host_name_is_refused_on_every_route() {
    let (gw, upstream) = one_endpoint("");
    let port = authority(&gw).rsplit(':').next().unwrap_or("").to_string();
    for (method, target, body) in [
        ("GET", "/admin/status", ""),
        ("GET", "/admin", ""),
        ("GET", "/admin/usage", ""),
        ("GET", "/healthz", ""),
        ("GET", "/metrics", ""),
        ("GET", "/v1/models", ""),
        ("POST", "/v1/messages", MESSAGES_BODY),
        ("POST", "/v1/chat/completions", "{}"),
        ("POST", "/admin/endpoints/a/disable", ""),
    ] {
        for host in [
            format!("attacker.example:{port}"),
            "attacker.example".to_string(),
            format!("localhost.attacker.example:{port}"),
            format!("127.0.0.1.nip.io:{port}"),
        ] {
            let answer = raw(
                &gw.url,
                &format!("{method} {target} HTTP/1.1\nhost: {host}"),
                body,
            );
            assert_eq!(
                raw_status(&answer),
                403,
                "{method} {target} as {host}: {answer}"
            );
            assert_eq!(
                header_of(&answer, "x-switchyard-error"),
                Some("forbidden_host"),
                "{answer}"
            );
        }
    }
    // The same name in an absolute target, with a loopback Host, is refused too.
    let answer = raw(
        &gw.url,
        "GET http://attacker.example/admin/status HTTP/1.1\nhost: 127.0.0.1",
        "",
    );
    assert_eq!(raw_status(&answer), 403, "{answer}");
    assert_eq!(upstream.hits(), 0);
    // Loopback names on any port pass.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "127.0.0.1".to_string(),
    ] {
        let answer = raw(&gw.url, &format!("GET /healthz HTTP/1.1\nhost: {host}"), "");
        assert_eq!(raw_status(&answer), 200, "{host}: {answer}");
    }
    assert_eq!(gw.state_of("a").await, "unknown");
}

#[actix_rt::test]
async fn a_name_in_allowed_hosts_is_answered_on_any_port() {
    let (gw, _upstream) = one_endpoint("  allowed_hosts: [GW.lan]\n");
    for host in ["gw.lan:8045", "gw.lan", "GW.LAN:1"] {
        let answer = raw(&gw.url, &format!("GET /healthz HTTP/1.1\nhost: {host}"), "");
        assert_eq!(raw_status(&answer), 200, "{host}: {answer}");
    }
    let answer = raw(&gw.url, "GET /healthz HTTP/1.1\nhost: other.lan", "");
    assert_eq!(raw_status(&answer), 403, "{answer}");
}

#[actix_rt::test]
async fn a_cross_site_request_without_origin_is_refused_and_a_plain_client_is_not() {
    let (gw, upstream) = one_endpoint("");
    let host = authority(&gw);
    // A navigation or `<img>` from another site: no Origin on a GET, but Sec-Fetch-Site says it.
    let answer = raw(
        &gw.url,
        &format!("GET /admin/status HTTP/1.1\nhost: {host}\nsec-fetch-site: cross-site\nsec-fetch-mode: no-cors"),
        "",
    );
    assert_eq!(raw_status(&answer), 403, "{answer}");
    assert_eq!(
        header_of(&answer, "x-switchyard-error"),
        Some("forbidden_origin")
    );
    // An SDK, Claude Code or curl sends neither header.
    let answer = raw(
        &gw.url,
        &format!("POST /v1/messages HTTP/1.1\nhost: {host}\ncontent-type: application/json"),
        MESSAGES_BODY,
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
    assert_eq!(upstream.hits(), 1);
}

#[actix_rt::test]
async fn a_listed_origin_may_call_and_others_get_no_preflight() {
    let (gw, upstream) = one_endpoint("  cors_origins: [\"http://localhost:3000\"]\n");
    let host = authority(&gw);
    let preflight = |origin: &str| {
        raw(
            &gw.url,
            &format!(
                "OPTIONS /v1/messages HTTP/1.1\nhost: {host}\norigin: {origin}\n\
                 access-control-request-method: POST\naccess-control-request-headers: content-type"
            ),
            "",
        )
    };
    let answer = preflight("http://localhost:3000");
    assert_eq!(raw_status(&answer), 204, "{answer}");
    assert_eq!(
        header_of(&answer, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let answer = preflight("http://localhost:3001");
    assert_eq!(raw_status(&answer), 403, "{answer}");
    assert_eq!(header_of(&answer, "access-control-allow-origin"), None);

    let answer = raw(
        &gw.url,
        &format!(
            "POST /v1/messages HTTP/1.1\nhost: {host}\norigin: http://localhost:3000\n\
             sec-fetch-site: same-site\ncontent-type: application/json"
        ),
        MESSAGES_BODY,
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
    assert_eq!(
        header_of(&answer, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(upstream.hits(), 1);
}

#[actix_rt::test]
async fn origin_referer_and_sec_fetch_headers_never_go_upstream() {
    let (gw, upstream) = one_endpoint("");
    let host = authority(&gw);
    let answer = raw(
        &gw.url,
        &format!(
            "POST /v1/messages HTTP/1.1\nhost: {host}\norigin: http://{host}\nreferer: http://{host}/admin\n\
             sec-fetch-site: same-origin\nsec-fetch-mode: cors\nsec-fetch-dest: empty\n\
             cookie: session=another-local-app\ncontent-type: application/json"
        ),
        MESSAGES_BODY,
    );
    assert_eq!(raw_status(&answer), 200, "{answer}");
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    for name in [
        "origin",
        "referer",
        "sec-fetch-site",
        "sec-fetch-mode",
        "sec-fetch-dest",
        "cookie",
    ] {
        assert_eq!(seen[0].header(name), None, "{name} went upstream");
    }
}

#[test]
fn check_names_the_field_of_a_malformed_origin_or_host() {
    for (proxy, field) in [
        (
            "  cors_origins: [\"http://localhost:3000/\"]\n",
            "proxy.cors_origins[0]",
        ),
        (
            "  allowed_hosts: [\"http://gw.lan\"]\n",
            "proxy.allowed_hosts[0]",
        ),
        (
            "  allowed_hosts: [\"gw.lan:8045\"]\n",
            "proxy.allowed_hosts[0]",
        ),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            config(proxy, &[endpoint("a", "http://127.0.0.1:9", "k", 1)]),
        )
        .expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .expect("run check");
        assert_eq!(out.status.code(), Some(2), "{proxy}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(field), "{stderr}");
        assert!(stderr.contains("line"), "{stderr}");
    }
}

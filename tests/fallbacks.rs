//! Model fallbacks over real sockets: when every endpoint that serves a model is rate-limited for
//! it, a request for it is served by the first fallback model its rule names, says so in
//! `x-switchyard-model`, the access log and the usage record, and is counted per rule; without a
//! rule nothing changes, and a fallback never loops.

mod common;

use common::*;
use std::time::{Duration, Instant};

const OPUS_BODY: &str =
    r#"{"model":"claude-opus-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;

/// A mock named `name` that answers every request with 429 and a long `Retry-After`.
fn limited(name: &str) -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: name.into(),
        key: Some("k".into()),
        status: Some(429),
        retry_after: Some("2400".into()),
        ..Behaviour::default()
    })
    .expect("mock")
}

/// Two endpoints serving Opus, both rate-limited, and one serving Sonnet; `extra` goes at the
/// top of the config.
fn opus_gateway(extra: &str) -> (Gateway, [MockUpstream; 3]) {
    let (a, b, sonnet) = (limited("a"), limited("b"), mock("sonnet", "k"));
    let opus = "    models: [claude-opus-4*]\n";
    let gw = Gateway::start(&config(
        extra,
        &[
            endpoint("a", &a.url(), "k", 1) + opus,
            endpoint("b", &b.url(), "k", 1) + opus,
            endpoint("s", &sonnet.url(), "k", 2) + "    models: [claude-sonnet-4-5]\n",
        ],
    ));
    (gw, [a, b, sonnet])
}

/// The access-log line of the last request that ended, once it is written.
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

#[actix_rt::test]
async fn a_fallback_model_serves_when_every_endpoint_is_rate_limited_for_the_asked_one() {
    let (gw, [a, b, sonnet]) = opus_gateway("fallbacks:\n  claude-opus-4*: [claude-sonnet-4-5]\n");
    let (status, headers, body) = post(&gw.url, "/v1/messages", OPUS_BODY).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("s")
    );
    assert_eq!(
        header(&headers, "x-switchyard-model").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("3")
    );
    assert_eq!(sonnet.requests()[0].json()["model"], "claude-sonnet-4-5");
    let line = access_line(&gw).await;
    assert!(
        line.contains("model=claude-opus-4-5 served=claude-sonnet-4-5"),
        "{line}"
    );
    assert!(line.contains("fallback:claude-sonnet-4-5 s:200"), "{line}");

    // Both stay rate-limited for Opus: the next request goes straight to the fallback.
    let (status, headers, _) = post(&gw.url, "/v1/messages", OPUS_BODY).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-attempts").as_deref(),
        Some("1")
    );
    assert_eq!((a.hits(), b.hits(), sonnet.hits()), (1, 1, 2));

    let status = gw.status().await;
    assert_eq!(
        status["fallbacks"],
        serde_json::json!([{"rule": "claude-opus-4*", "models": ["claude-sonnet-4-5"], "count": 2}]),
        "{status}"
    );
    // The usage record keeps the model asked for and is priced as the model that served it
    // (the mock reports 10 input and 3 output tokens; Sonnet 4 costs $3 and $15 a million).
    let deadline = Instant::now() + Duration::from_secs(5);
    let row = loop {
        let usage = get_json(&format!("{}/admin/usage?since=1h&by=model", gw.url)).await;
        if usage["rows"][0]["requests"] == 2 {
            break usage["rows"][0].clone();
        }
        assert!(Instant::now() < deadline, "{usage}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row["key"], "claude-opus-4-5");
    let cost = row["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 2.0 * (10.0 * 3.0 + 3.0 * 15.0) / 1e6).abs() < 1e-9,
        "{row}"
    );
}

#[actix_rt::test]
async fn without_a_fallback_rule_the_rate_limit_is_the_answer() {
    let (gw, [a, b, sonnet]) = opus_gateway("");
    let (status, headers, _) = post(&gw.url, "/v1/messages", OPUS_BODY).await;
    assert_eq!(status, 429);
    assert!(header(&headers, "x-switchyard-model").is_none());
    let (status, headers, _) = post(&gw.url, "/v1/messages", OPUS_BODY).await;
    assert_eq!(status, 429);
    assert!(header(&headers, "retry-after").is_some());
    assert_eq!((a.hits(), b.hits(), sonnet.hits()), (1, 1, 0));
    assert_eq!(gw.status().await["fallbacks"], serde_json::json!([]));
}

#[actix_rt::test]
async fn a_gemini_client_falls_back_to_the_model_its_path_did_not_name() {
    let pro = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        status: Some(429),
        retry_after: Some("600".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let flash = mock("flash", "k");
    let gemini = |id: &str, up: &MockUpstream, model: &str| {
        endpoint(id, &up.url(), "k", 1) + &format!("    api: gemini\n    models: [{model}]\n")
    };
    let gw = Gateway::start(&config(
        "fallbacks:\n  gemini-2.5-pro: gemini-2.5-flash\n",
        &[
            gemini("pro", &pro, "gemini-2.5-pro"),
            gemini("flash", &flash, "gemini-2.5-flash"),
        ],
    ));
    let (status, headers, body) = post(
        &gw.url,
        "/v1beta/models/gemini-2.5-pro:generateContent",
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "x-switchyard-model").as_deref(),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        flash.requests()[0].path,
        "/v1beta/models/gemini-2.5-flash:generateContent"
    );
}

#[actix_rt::test]
async fn fallbacks_never_loop_and_an_endpoint_that_failed_stays_out() {
    let failing = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        status: Some(500),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "fallbacks:\n  model-a: [model-b]\n  model-b: [model-a]\n",
        &[endpoint("x", &failing.url(), "k", 1) + "    models: [model-a, model-b]\n"],
    ));
    let body = r#"{"model":"model-a","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, headers, _) = post(&gw.url, "/v1/messages", body).await;
    assert_eq!(status, 500, "the last answer is passed on");
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("x")
    );
    assert!(
        header(&headers, "x-switchyard-model").is_none(),
        "the answer served the model asked for"
    );
    assert_eq!(failing.hits(), 1, "the failed endpoint is not asked again");
    let line = access_line(&gw).await;
    assert!(line.contains("attempts=[x:500 fallback:model-b]"), "{line}");
}

#[actix_rt::test]
async fn check_refuses_a_fallback_no_endpoint_serves_naming_its_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        "fallbacks:\n  claude-opus-4*: [claude-sonnet-4-5]\n  gpt-5*: [deepseek-chat]\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n    models: [claude-*]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .env_remove("SWITCHYARD_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: fallbacks.gpt-5*: no endpoint serves `deepseek-chat`"),
        "{err}"
    );
}

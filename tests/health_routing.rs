//! Health lifecycle and routing over real sockets: cooldowns, ejection, probes, persistence,
//! models, sticky sessions, retry budget, panic routing and the strategies.

mod common;

use common::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Polls `/admin/status` until endpoint `id` is in `state` (bounded: 10 s).
async fn wait_for_state(gw: &Gateway, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if gw.state_of(id).await == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {state}: {}",
            gw.status().await
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn endpoint_status(gw: &Gateway, id: &str) -> serde_json::Value {
    let status = gw.status().await;
    status["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap()
}

async fn served_by(
    gw: &Gateway,
    body: &'static str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>) {
    let mut request = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("content-type", "application/json"));
    for h in headers {
        request = request.insert_header(*h);
    }
    let mut r = request.send_body(body).await.unwrap();
    let _ = r.body().await;
    (
        r.status().as_u16(),
        header(r.headers(), "x-switchyard-endpoint"),
    )
}

#[actix_rt::test]
async fn a_rate_limited_endpoint_cools_down_for_its_retry_after_then_a_trial_request_brings_it_back(
) {
    let limited = MockUpstream::start(Behaviour {
        status: Some(429),
        retry_after: Some("1".into()),
        ..Behaviour::default()
    })
    .unwrap();
    // The whole endpoint cools (per-model cooldowns are tested in ratelimit.rs).
    let (gw, _backup) = with_backup(
        "health:\n  rate_limit_scope: endpoint\n",
        "limited",
        &limited.url(),
    );
    let (status, by) = served_by(&gw, MESSAGES_BODY, &[]).await;
    assert_eq!((status, by.as_deref()), (200, Some("backup")));
    let s = endpoint_status(&gw, "limited").await;
    assert_eq!(s["state"], "cooling_down");
    assert!(s["retry_in_s"].as_f64().unwrap() <= 1.0);
    for _ in 0..5 {
        assert_eq!(
            served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
            Some("backup")
        );
    }
    assert_eq!(limited.hits(), 1, "no request while cooling down");
    limited.update(|b| b.status = None);
    // Time is the subject here: the cooldown the upstream asked for is 1 s.
    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("limited")
    );
    assert_eq!(gw.state_of("limited").await, "healthy");
}

/// Endpoint `id` (with `probe: models`) in front of a healthy `backup`; one request gets a 429
/// from `id` (retry after 1 s) and leaves it cooling down. `health` adds to the health section.
async fn cooling_down_with_a_probe(
    id: &str,
    health: &str,
) -> (Gateway, MockUpstream, MockUpstream) {
    let limited = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        status: Some(429),
        retry_after: Some("1".into()),
        ..Behaviour::default()
    })
    .unwrap();
    let backup = mock("backup", "k");
    let gw = Gateway::start(&config(
        &format!("health:\n  rate_limit_scope: endpoint\n{health}"),
        &[
            format!(
                "{}    probe: models\n",
                endpoint(id, &limited.url(), "k", 1)
            ),
            endpoint("backup", &backup.url(), "k", 2),
        ],
    ));
    served_by(&gw, MESSAGES_BODY, &[]).await;
    assert_eq!(gw.state_of(id).await, "cooling_down");
    (gw, limited, backup)
}

#[actix_rt::test]
async fn with_an_active_probe_the_endpoint_is_tried_by_the_gateway_not_by_a_client() {
    let (gw, limited, _backup) = cooling_down_with_a_probe("limited", "").await;
    limited.update(|b| b.status = None);
    wait_for_state(&gw, "limited", "healthy").await;
    let seen = limited.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(
        seen[1].header("x-api-key"),
        Some("k"),
        "the probe uses the endpoint's key"
    );
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("limited")
    );
}

#[actix_rt::test]
async fn a_probe_answered_200_with_an_error_body_keeps_the_endpoint_out() {
    // Some relays answer 200 with an error body; such a probe answer is no sign of health.
    let (gw, relay, _backup) = cooling_down_with_a_probe("relay", "  ejection_base: 300ms\n").await;
    relay.update(|b| {
        b.status = Some(503);
        b.error_as_ok = true;
        b.error_message = Some("upstream saturated".into());
    });
    // The cooldown ends, the probe goes out and gets a 200 with an error body: still out.
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.hits() < 2 {
        assert!(Instant::now() < deadline, "no probe");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let relay_status = loop {
        let s = endpoint_status(&gw, "relay").await;
        if s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("answered 200 with an error body: upstream saturated"))
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the probe's verdict never showed: {s}"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_ne!(relay_status["state"], "healthy", "{relay_status}");
    assert_eq!(relay.requests()[1].path, "/v1/models");
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("backup"),
        "the relay stays out"
    );
    // A real model list brings it back.
    relay.update(|b| {
        b.status = None;
        b.error_as_ok = false;
    });
    wait_for_state(&gw, "relay", "healthy").await;
}

#[actix_rt::test]
async fn persistent_503s_eject_the_endpoint_and_a_failed_probe_ejects_it_for_longer() {
    let broken = MockUpstream::start(Behaviour {
        status: Some(503),
        ..Behaviour::default()
    })
    .unwrap();
    let (gw, _backup) = with_backup(
        "health:\n  failure_threshold: 2\n  ejection_base: 1s\n",
        "broken",
        &broken.url(),
    );
    for _ in 0..2 {
        assert_eq!(served_by(&gw, MESSAGES_BODY, &[]).await.0, 200);
    }
    let s = endpoint_status(&gw, "broken").await;
    assert_eq!(s["state"], "ejected");
    let first_ejection = s["retry_in_s"].as_f64().unwrap();
    assert!(first_ejection <= 1.2, "{first_ejection}");
    for _ in 0..10 {
        assert_eq!(
            served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
            Some("backup")
        );
    }
    assert_eq!(broken.hits(), 2, "no hits while ejected");
    actix_rt::time::sleep(Duration::from_millis(1200)).await;
    // The trial request fails (and fails over): ejected again, for about twice as long.
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("backup")
    );
    assert_eq!(broken.hits(), 3);
    let s = endpoint_status(&gw, "broken").await;
    assert_eq!(s["state"], "ejected");
    let second = s["retry_in_s"].as_f64().unwrap();
    assert!(second > 1.5 && second <= 2.3, "{second}");
}

#[actix_rt::test]
async fn auth_failed_survives_a_restart_until_the_key_changes() {
    let rejecting = mock("rejecting", "right-key");
    let backup = mock("backup", "k");
    let yaml = |key: &str| {
        config(
            "",
            &[
                endpoint("rejecting", &rejecting.url(), key, 1),
                endpoint("backup", &backup.url(), "k", 2),
            ],
        )
    };
    let gw = Gateway::start(&yaml("wrong-key"));
    served_by(&gw, MESSAGES_BODY, &[]).await;
    assert_eq!(gw.state_of("rejecting").await, "auth_failed");
    gw.state_saved("backup").await;
    let state_file = gw.dir.path().join("config.state.json");
    let saved = std::fs::read_to_string(&state_file).expect("state file written");
    assert!(
        saved.contains("rejecting") && !saved.contains("wrong-key"),
        "{saved}"
    );

    // Restart on the same config: still out, and not asked again.
    let config_path = gw.config_path.clone();
    let gw = gw.restart();
    assert_eq!(gw.state_of("rejecting").await, "auth_failed");
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("backup")
    );
    assert_eq!(rejecting.hits(), 1);

    // A new key is a fresh endpoint.
    std::fs::write(&config_path, yaml("right-key")).unwrap();
    let gw = gw.restart();
    assert_eq!(gw.state_of("rejecting").await, "unknown");
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("rejecting")
    );

    // A corrupt state file does not stop the gateway.
    std::fs::write(gw.dir.path().join("config.state.json"), b"{{{").unwrap();
    let gw = gw.restart();
    assert_eq!(gw.state_of("rejecting").await, "unknown");
}

#[actix_rt::test]
async fn models_route_to_the_endpoints_that_serve_them_and_model_map_renames_upstream() {
    let relay = mock("relay", "k");
    let openai = mock("openai", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            format!(
                "{}    models: [\"claude-3-5-haiku*\"]\n    model_map: {{\"claude-3-5-haiku*\": relay-haiku}}\n",
                endpoint("relay", &relay.url(), "k", 1)
            ),
            format!("{}    models: [gpt-4o, \"gpt-4.1*\"]\n", endpoint("openai", &openai.url(), "k", 1)),
        ],
    ));
    let (status, by) = served_by(&gw, MESSAGES_BODY, &[]).await;
    assert_eq!((status, by.as_deref()), (200, Some("relay")));
    let body: serde_json::Value = serde_json::from_slice(&relay.requests()[0].body).unwrap();
    assert_eq!(
        body["model"], "relay-haiku",
        "model_map rewrote the body for this upstream"
    );
    assert_eq!(body["max_tokens"], 16, "the rest of the body is kept");

    let (status, _, _) = post(
        &gw.url,
        "/v1/chat/completions",
        r#"{"model":"gpt-4o","messages":[]}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(openai.hits(), 1);
    let seen: serde_json::Value = serde_json::from_slice(&openai.requests()[0].body).unwrap();
    assert_eq!(seen["model"], "gpt-4o", "no map: the body is unchanged");

    let (status, headers, body) = post(
        &gw.url,
        "/v1/chat/completions",
        r#"{"model":"llama-3","messages":[]}"#,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        header(&headers, "x-switchyard-error").as_deref(),
        Some("unknown_model")
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("llama-3")
            && message.contains("claude-3-5-haiku*")
            && message.contains("gpt-4o"),
        "{message}"
    );
    assert_eq!(relay.hits() + openai.hits(), 2);
}

#[actix_rt::test]
async fn a_session_sticks_to_its_endpoint_and_moves_when_that_endpoint_fails() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let gw = Gateway::start(&config(
        "balancer:\n  strategy: round_robin\nhealth:\n  failure_threshold: 1\n",
        &[
            endpoint("a", &a.url(), "k", 1),
            endpoint("b", &b.url(), "k", 1),
        ],
    ));
    // Without a session, round robin alternates.
    let mut plain = Vec::new();
    for _ in 0..4 {
        plain.push(served_by(&gw, MESSAGES_BODY, &[]).await.1.unwrap());
    }
    assert_eq!(plain.iter().filter(|e| *e == "a").count(), 2, "{plain:?}");
    // With one, every request goes where the first went.
    let first = served_by(
        &gw,
        MESSAGES_BODY,
        &[("x-claude-code-session-id", "conv-1")],
    )
    .await
    .1
    .unwrap();
    for _ in 0..6 {
        let by = served_by(
            &gw,
            MESSAGES_BODY,
            &[("x-claude-code-session-id", "conv-1")],
        )
        .await
        .1
        .unwrap();
        assert_eq!(by, first);
    }
    // metadata.user_id works as the key too.
    let body = r#"{"model":"m","max_tokens":1,"metadata":{"user_id":"user-7"},"messages":[]}"#;
    let first_user = served_by(&gw, body, &[]).await.1.unwrap();
    for _ in 0..4 {
        assert_eq!(served_by(&gw, body, &[]).await.1.unwrap(), first_user);
    }
    // The bound endpoint fails: the session moves, and stays moved.
    let (bound, other) = if first == "a" { (&a, "b") } else { (&b, "a") };
    bound.update(|x| x.status = Some(503));
    for _ in 0..4 {
        let (status, by) = served_by(
            &gw,
            MESSAGES_BODY,
            &[("x-claude-code-session-id", "conv-1")],
        )
        .await;
        assert_eq!((status, by.as_deref()), (200, Some(other)));
    }
}

/// Runs `n` requests one after another; returns (upstream calls, client errors).
async fn outage_cost(ratio: &str, n: usize) -> (usize, usize) {
    let up = mock("up", "k");
    let (d1, d2) = (refused_port(), refused_port());
    let gw = Gateway::start(&config(
        &format!(
            "balancer:\n  strategy: round_robin\n  max_attempts: 3\n  retry_budget:\n    ratio: {ratio}\n    min_per_second: 0\nhealth:\n  failure_threshold: 1000\n"
        ),
        &[
            endpoint("dead1", &format!("http://127.0.0.1:{d1}"), "k", 1),
            endpoint("dead2", &format!("http://127.0.0.1:{d2}"), "k", 1),
            endpoint("up", &up.url(), "k", 1),
        ],
    ));
    let mut calls = 0;
    let mut errors = 0;
    for _ in 0..n {
        let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        calls += header(&headers, "x-switchyard-attempts")
            .unwrap()
            .parse::<usize>()
            .unwrap();
        if status != 200 {
            errors += 1;
        }
    }
    (calls, errors)
}

#[actix_rt::test]
async fn the_retry_budget_caps_retries_during_an_outage() {
    let n = 60;
    let (with_budget, errors_with) = outage_cost("0.2", n).await;
    let (without, errors_without) = outage_cost("10", n).await;
    println!("outage of 2 of 3 endpoints, {n} requests: {with_budget} upstream calls with the 20 % budget ({errors_with} failed), {without} without ({errors_without} failed)");
    assert!(
        with_budget - n <= n / 5,
        "retries {} exceed 20 % of {n}",
        with_budget - n
    );
    assert!(without > with_budget);
    assert_eq!(
        errors_without, 0,
        "without a budget every request is served"
    );
}

#[actix_rt::test]
async fn when_everything_is_ejected_panic_routing_tries_the_soonest_and_others_get_retry_after() {
    let slow_failing = MockUpstream::start(Behaviour {
        status: Some(503),
        head_delay: Duration::from_millis(500),
        ..Behaviour::default()
    })
    .unwrap();
    let gw = Gateway::start(&config(
        "health:\n  failure_threshold: 1\n  ejection_base: 30s\n",
        &[endpoint("only", &slow_failing.url(), "k", 1)],
    ));
    // First request: the 503 is the last upstream answer, passed on; the endpoint is ejected.
    let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 503);
    assert_eq!(gw.state_of("only").await, "ejected");
    // Ejection is the gateway's own judgement: one request may still try it (panic routing);
    // while that one is in flight, the next gets 503 with Retry-After.
    let url = gw.url.clone();
    let panic_try =
        actix_rt::spawn(async move { post(&url, "/v1/messages", MESSAGES_BODY).await.0 });
    let deadline = Instant::now() + Duration::from_secs(5);
    while slow_failing.hits() < 2 {
        assert!(
            Instant::now() < deadline,
            "the panic request never reached the endpoint"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, headers, body) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 503);
    let retry_after: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((25..=34).contains(&retry_after), "{retry_after}");
    assert!(String::from_utf8_lossy(&body).contains("ejected"));
    assert_eq!(panic_try.await.unwrap(), 503);
    assert_eq!(slow_failing.hits(), 2);
}

#[actix_rt::test]
async fn a_rate_limited_only_endpoint_is_never_panic_routed() {
    let limited = MockUpstream::start(Behaviour {
        status: Some(429),
        retry_after: Some("30".into()),
        ..Behaviour::default()
    })
    .unwrap();
    let gw = Gateway::start(&config("", &[endpoint("only", &limited.url(), "k", 1)]));
    let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 429);
    for _ in 0..5 {
        let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(status, 429);
        assert_eq!(
            header(&headers, "x-switchyard-error").as_deref(),
            Some("rate_limited")
        );
        let retry_after: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
        assert!((25..=30).contains(&retry_after), "{retry_after}");
    }
    assert_eq!(
        limited.hits(),
        1,
        "a request went to an endpoint told to wait"
    );
}

#[actix_rt::test]
async fn an_exhausted_quota_keeps_the_endpoint_out_for_the_quota_cooldown() {
    let broke = MockUpstream::start(Behaviour {
        status: Some(429),
        error_message: Some(
            "You exceeded your current quota, please check your plan and billing details.".into(),
        ),
        ..Behaviour::default()
    })
    .unwrap();
    let (gw, _backup) = with_backup("", "broke", &broke.url());
    served_by(&gw, MESSAGES_BODY, &[]).await;
    let s = endpoint_status(&gw, "broke").await;
    assert_eq!(s["state"], "cooling_down");
    assert!(s["retry_in_s"].as_f64().unwrap() > 3000.0, "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("quota"));
}

#[actix_rt::test]
async fn weighted_round_robin_splits_traffic_by_weight_exactly() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let gw = Gateway::start(&config(
        "balancer:\n  strategy: round_robin\nsessions:\n  enabled: false\n",
        &[
            format!("{}    weight: 2\n", endpoint("a", &a.url(), "k", 1)),
            endpoint("b", &b.url(), "k", 1),
        ],
    ));
    for _ in 0..30 {
        served_by(&gw, MESSAGES_BODY, &[]).await;
    }
    assert_eq!((a.hits(), b.hits()), (20, 10));
}

#[actix_rt::test]
async fn least_inflight_and_latency_send_work_away_from_a_slow_endpoint() {
    for strategy in ["least_inflight", "latency"] {
        let slow = MockUpstream::start(Behaviour {
            key: Some("k".into()),
            head_delay: Duration::from_millis(200),
            ..Behaviour::default()
        })
        .unwrap();
        let fast = mock("fast", "k");
        let gw = Gateway::start(&config(
            &format!("balancer:\n  strategy: {strategy}\n"),
            &[
                endpoint("slow", &slow.url(), "k", 1),
                endpoint("fast", &fast.url(), "k", 1),
            ],
        ));
        // Warm up: both measured.
        for _ in 0..4 {
            served_by(&gw, MESSAGES_BODY, &[]).await;
        }
        slow.clear();
        fast.clear();
        let url = gw.url.clone();
        let statuses: Vec<u16> = futures_util::stream::iter(0..60)
            .map(|_| {
                let url = url.clone();
                async move { post(&url, "/v1/messages", MESSAGES_BODY).await.0 }
            })
            .buffer_unordered(10)
            .collect()
            .await;
        assert!(statuses.iter().all(|s| *s == 200));
        assert!(
            fast.hits() >= 4 * slow.hits(),
            "{strategy}: fast {} slow {}",
            fast.hits(),
            slow.hits()
        );
    }
}

#[actix_rt::test]
async fn an_operator_disabled_endpoint_stays_disabled_after_a_restart() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("a", &a.url(), "k", 1),
            endpoint("b", &b.url(), "k", 2),
        ],
    ));
    let r = client()
        .post(format!("{}/admin/endpoints/a/disable", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gw = gw.restart();
    assert_eq!(gw.state_of("a").await, "disabled");
    assert_eq!(
        served_by(&gw, MESSAGES_BODY, &[]).await.1.as_deref(),
        Some("b")
    );
    let r = client()
        .post(format!("{}/admin/endpoints/a/enable", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gw = gw.restart();
    assert_eq!(gw.state_of("a").await, "unknown");
    assert_eq!(a.hits(), 0);
}

#[actix_rt::test]
async fn idle_endpoints_are_probed_periodically_only_when_asked_to() {
    let probed = mock("probed", "k");
    let quiet = mock("quiet", "k");
    let gw = Gateway::start(&config(
        "health:\n  probe_interval: 200ms\n",
        &[
            format!(
                "{}    probe: models\n",
                endpoint("probed", &probed.url(), "k", 1)
            ),
            endpoint("quiet", &quiet.url(), "k", 2),
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    while probed.hits() < 2 {
        assert!(Instant::now() < deadline, "no periodic probe");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(probed
        .requests()
        .iter()
        .all(|r| r.method == "GET" && r.path == "/v1/models"));
    assert_eq!(gw.state_of("probed").await, "healthy");
    assert_eq!(
        quiet.hits(),
        0,
        "an endpoint without a probe kind is never probed"
    );
}

#[actix_rt::test]
async fn the_model_list_is_answered_from_the_config_when_it_names_every_model() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    let gw = Gateway::start(&config(
        "",
        &[
            format!(
                "{}    models: [claude-sonnet-4-5, \"claude-3-5-haiku*\"]\n",
                endpoint("a", &a.url(), "k", 1)
            ),
            format!(
                "{}    models: [gpt-4o, claude-sonnet-4-5]\n",
                endpoint("b", &b.url(), "k", 1)
            ),
        ],
    ));
    let list = get_json(&format!("{}/v1/models", gw.url)).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["claude-sonnet-4-5", "gpt-4o"],
        "exact names, once each; globs left out"
    );
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["type"], "model");
    assert_eq!(list["has_more"], false);
    assert_eq!(a.hits() + b.hits(), 0, "no upstream asked");

    // An endpoint that serves every model can list them itself: the request is forwarded.
    let open = mock("open", "k");
    let gw = Gateway::start(&config("", &[endpoint("open", &open.url(), "k", 1)]));
    let list = get_json(&format!("{}/v1/models", gw.url)).await;
    assert_eq!(list["data"][0]["id"], "mock-model");
    assert_eq!(open.hits(), 1);
}

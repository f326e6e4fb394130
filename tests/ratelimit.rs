//! Rate limits the way providers mean them (INTERFACE.md, "Rate limits"): nothing goes upstream
//! while every endpoint cools down with a known end, a 429 cools one model only, used-up budgets
//! are seen before the 429, quota is told from structure, and foreign thinking signatures are
//! retried once without them. Hit counts on scripted upstreams are the proof.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What a scripted upstream answers.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn ok(model: &str) -> Reply {
        Reply {
            status: 200,
            headers: vec![],
            body: serde_json::json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}
            })
            .to_string(),
        }
    }

    fn status(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: body.to_string(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Script = dyn Fn(&serde_json::Value) -> Reply + Send + Sync;

/// An upstream on 127.0.0.1 whose every answer a closure decides from the request body.
struct Scripted {
    url: String,
    hits: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    _server: actix_web::dev::ServerHandle,
}

impl Scripted {
    fn start(script: impl Fn(&serde_json::Value) -> Reply + Send + Sync + 'static) -> Scripted {
        let script: Arc<Script> = Arc::new(script);
        let hits = Arc::new(AtomicUsize::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        let (h, b) = (hits.clone(), bodies.clone());
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let (script, h, b) = (script.clone(), h.clone(), b.clone());
                    actix_web::App::new().default_service(actix_web::web::to(
                        move |body: actix_web::web::Bytes| {
                            let (script, h, b) = (script.clone(), h.clone(), b.clone());
                            async move {
                                h.fetch_add(1, Ordering::SeqCst);
                                let json: serde_json::Value =
                                    serde_json::from_slice(&body).unwrap_or_default();
                                let reply = script(&json);
                                b.lock().unwrap().push(json);
                                let mut r = actix_web::HttpResponse::build(
                                    actix_web::http::StatusCode::from_u16(reply.status).unwrap(),
                                );
                                r.content_type("application/json");
                                for (k, v) in reply.headers {
                                    r.insert_header((k, v));
                                }
                                r.body(reply.body)
                            }
                        },
                    ))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            });
        });
        let server = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("scripted upstream");
        Scripted {
            url,
            hits,
            bodies,
            _server: server,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

fn model_of(body: &serde_json::Value) -> String {
    body["model"].as_str().unwrap_or_default().to_string()
}

fn body_for(model: &str) -> &'static str {
    Box::leak(
        serde_json::json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
            .to_string()
            .into_boxed_str(),
    )
}

fn two(extra: &str, a: &Scripted, b: &Scripted) -> Gateway {
    Gateway::start(&config(
        extra,
        &[endpoint("a", &a.url, "k", 1), endpoint("b", &b.url, "k", 2)],
    ))
}

const RATE_LIMITED: &str = r#"{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization. Check your plan and billing settings, or try again later."}}"#;

#[actix_rt::test]
async fn nothing_goes_upstream_while_every_endpoint_cools_down_with_a_known_end() {
    let a = Scripted::start(|_| Reply::status(429, RATE_LIMITED).header("retry-after", "2"));
    let b = Scripted::start(|_| Reply::status(429, RATE_LIMITED).header("retry-after", "2"));
    let gw = two("", &a, &b);
    let body = body_for("claude-opus-4");
    let (status, _, _) = post(&gw.url, "/v1/messages", body).await;
    assert_eq!(status, 429);
    assert_eq!((a.hits(), b.hits()), (1, 1));
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_millis(900) && answered < 40 {
        let (status, headers, answer) = post(&gw.url, "/v1/messages", body).await;
        assert_eq!(status, 429);
        assert_eq!(
            header(&headers, "x-switchyard-error").as_deref(),
            Some("rate_limited")
        );
        let wait: u64 = header(&headers, "retry-after")
            .expect("retry-after")
            .parse()
            .unwrap();
        assert!((1..=2).contains(&wait), "Retry-After {wait}");
        let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            v["error"]["type"], "rate_limit_error",
            "Anthropic shape: {v}"
        );
        answered += 1;
    }
    assert!(answered >= 5);
    assert_eq!(
        (a.hits(), b.hits()),
        (1, 1),
        "requests went upstream during the cooldown"
    );
    // The OpenAI route gets the same refusal in its own shape.
    let (status, _, answer) = post(&gw.url, "/v1/chat/completions", body).await;
    assert_eq!(status, 429);
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["error"]["code"], "rate_limited", "OpenAI shape: {v}");
}

#[actix_rt::test]
async fn a_429_for_one_model_leaves_the_endpoint_to_the_others() {
    let a = Scripted::start(|req| {
        if model_of(req) == "opus" {
            Reply::status(429, RATE_LIMITED).header("retry-after", "30")
        } else {
            Reply::ok(&model_of(req))
        }
    });
    let b = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = two("", &a, &b);
    assert_eq!(post(&gw.url, "/v1/messages", body_for("opus")).await.0, 200);
    assert_eq!((a.hits(), b.hits()), (1, 1));
    // Opus goes straight to B now; Haiku still reaches A, the preferred endpoint.
    let (status, headers, _) = post(&gw.url, "/v1/messages", body_for("opus")).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("b")
    );
    let (status, headers, _) = post(&gw.url, "/v1/messages", body_for("haiku")).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("a")
    );
    assert_eq!((a.hits(), b.hits()), (2, 2));
    let status = gw.status().await;
    let ep = &status["endpoints"][0];
    assert_ne!(ep["state"], "cooling_down", "{ep}");
    let cooldowns = ep["model_cooldowns"].as_array().expect("model_cooldowns");
    assert_eq!(cooldowns.len(), 1, "{ep}");
    assert_eq!(cooldowns[0]["model"], "opus");
    let retry_in = cooldowns[0]["retry_in_s"].as_f64().unwrap();
    assert!(retry_in > 20.0 && retry_in <= 30.0, "{retry_in}");
}

#[actix_rt::test]
async fn with_endpoint_scope_a_429_takes_the_whole_endpoint_out() {
    let a = Scripted::start(|req| {
        if model_of(req) == "opus" {
            Reply::status(429, RATE_LIMITED).header("retry-after", "30")
        } else {
            Reply::ok(&model_of(req))
        }
    });
    let b = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = two("health:\n  rate_limit_scope: endpoint\n", &a, &b);
    assert_eq!(post(&gw.url, "/v1/messages", body_for("opus")).await.0, 200);
    let (_, headers, _) = post(&gw.url, "/v1/messages", body_for("haiku")).await;
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("b")
    );
    assert_eq!(a.hits(), 1);
    assert_eq!(gw.state_of("a").await, "cooling_down");
}

fn rfc3339_in(secs: u64) -> String {
    switchyard::endpoint::model_cooldowns::format_rfc3339(
        SystemTime::now() + Duration::from_secs(secs),
    )
}

#[actix_rt::test]
async fn a_used_up_budget_is_seen_before_the_429() {
    let a = Scripted::start(|req| {
        Reply::ok(&model_of(req))
            .header("anthropic-ratelimit-input-tokens-remaining", "0")
            .header("anthropic-ratelimit-input-tokens-reset", &rfc3339_in(30))
    });
    let b = Scripted::start(|req| {
        Reply::ok(&model_of(req))
            .header("x-ratelimit-remaining-requests", "0")
            .header("x-ratelimit-reset-requests", "45s")
    });
    let gw = two("", &a, &b);
    assert_eq!(post(&gw.url, "/v1/messages", body_for("opus")).await.0, 200);
    assert_eq!(post(&gw.url, "/v1/messages", body_for("opus")).await.0, 200);
    assert_eq!(
        (a.hits(), b.hits()),
        (1, 1),
        "A was used again after its budget ran out"
    );
    // Both budgets for opus are used up: the gateway says so and sends nothing.
    let (status, headers, _) = post(&gw.url, "/v1/messages", body_for("opus")).await;
    assert_eq!(status, 429);
    let wait: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
    assert!((25..=31).contains(&wait), "soonest end is A's: {wait}");
    // Another model is untouched.
    assert_eq!(
        post(&gw.url, "/v1/messages", body_for("haiku")).await.0,
        200
    );
    assert_eq!((a.hits(), b.hits()), (2, 1));
}

#[actix_rt::test]
async fn quota_is_told_from_the_error_structure_not_from_words() {
    // A rate limit whose message mentions billing is a cooldown, not an hour out.
    let a = Scripted::start(|_| Reply::status(429, RATE_LIMITED));
    let b = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = two("", &a, &b);
    assert_eq!(post(&gw.url, "/v1/messages", body_for("opus")).await.0, 200);
    let status = gw.status().await;
    let ep = &status["endpoints"][0];
    assert!(
        !ep["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("quota"),
        "{ep}"
    );
    // Anthropic's empty prepaid balance comes as a 400: the endpoint is out and the next one serves.
    let broke = Scripted::start(|_| {
        Reply::status(
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#,
        )
    });
    let b2 = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = two("", &broke, &b2);
    let (status, headers, _) = post(&gw.url, "/v1/messages", body_for("opus")).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "x-switchyard-endpoint").as_deref(),
        Some("b")
    );
    assert_eq!(
        post(&gw.url, "/v1/messages", body_for("haiku")).await.0,
        200
    );
    assert_eq!(
        broke.hits(),
        1,
        "an endpoint without credit was tried again"
    );
    let status = gw.status().await;
    assert!(status["endpoints"][0]["last_error"]
        .as_str()
        .unwrap_or_default()
        .contains("quota"));
}

const SIGNATURE_ERROR: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid `signature` in `thinking` block"}}"#;

fn has_thinking(req: &serde_json::Value) -> bool {
    req["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .any(|b| b["type"] == "thinking" || b["type"] == "redacted_thinking")
}

const THINKING_CONVERSATION: &str = r#"{"model":"opus","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"list files"},{"role":"assistant","content":[{"type":"thinking","thinking":"plan","signature":"from-another-upstream"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"a b"}]}]}"#;

#[actix_rt::test]
async fn foreign_thinking_signatures_are_removed_for_one_retry_on_the_same_endpoint() {
    let a = Scripted::start(|req| {
        if has_thinking(req) {
            Reply::status(400, SIGNATURE_ERROR)
        } else {
            Reply::ok(&model_of(req))
        }
    });
    let gw = Gateway::start(&config("", &[endpoint("a", &a.url, "k", 1)]));
    let (status, _, _) = post(&gw.url, "/v1/messages", THINKING_CONVERSATION).await;
    assert_eq!(status, 200);
    let bodies = a.bodies();
    assert_eq!(bodies.len(), 2, "A got 2 requests");
    assert!(has_thinking(&bodies[0]));
    assert!(
        !has_thinking(&bodies[1]),
        "the retry still had thinking blocks"
    );
    assert!(
        bodies[1].get("thinking").is_none(),
        "thinking stays on for a tool turn"
    );
    assert_eq!(bodies[1]["messages"][1]["content"][0]["type"], "tool_use");
    assert!(
        gw.logs().contains("rectified"),
        "the access log does not say so"
    );
    let metrics = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("switchyard_rectified_total 1"),
        "{metrics}"
    );
}

#[actix_rt::test]
async fn a_passthrough_loses_the_thinking_signed_for_gemini_and_keeps_any_other() {
    let a = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = Gateway::start(&config("", &[endpoint("a", &a.url, "k", 1)]));
    // The signature at several offsets, so that it crosses a 64-byte block's edge at some.
    let paddings = [0, 7, 30, 61];
    for pad in paddings {
        let signed = THINKING_CONVERSATION.replace(
            r#""thinking":"plan","signature":"from-another-upstream""#,
            &format!(
                r#""thinking":"plan{}","signature":"switchyard.gemini.v1:c2ln""#,
                " ".repeat(pad)
            ),
        );
        let (status, _, _) = post_owned(&gw.url, "/v1/messages", signed).await;
        assert_eq!(status, 200);
    }
    // The mark inside a text, and another upstream's signature: nothing is taken out.
    let mentioned = THINKING_CONVERSATION.replace("list files", "grep switchyard.gemini.v1: src");
    let (status, _, _) = post_owned(&gw.url, "/v1/messages", mentioned).await;
    assert_eq!(status, 200);
    let bodies = a.bodies();
    assert_eq!(bodies.len(), paddings.len() + 1);
    for body in &bodies[..paddings.len()] {
        assert!(
            !has_thinking(body),
            "a Gemini signature went to Anthropic: {body}"
        );
        assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
    }
    let last = &bodies[paddings.len()];
    assert_eq!(
        last["messages"][1]["content"][0]["signature"],
        "from-another-upstream"
    );
    assert_eq!(
        last["messages"][0]["content"],
        "grep switchyard.gemini.v1: src"
    );
}

#[actix_rt::test]
async fn a_rectified_request_is_retried_once_at_most() {
    let a = Scripted::start(|_| Reply::status(400, SIGNATURE_ERROR));
    let gw = Gateway::start(&config("", &[endpoint("a", &a.url, "k", 1)]));
    let (status, _, _) = post(&gw.url, "/v1/messages", THINKING_CONVERSATION).await;
    assert_eq!(status, 400);
    assert_eq!(a.hits(), 2);
    // A client's own 400 says nothing about the endpoint.
    assert_ne!(gw.state_of("a").await, "ejected");
}

#[actix_rt::test]
async fn model_map_keeps_the_files_order_and_the_first_match_wins() {
    let a = Scripted::start(|req| Reply::ok(&model_of(req)));
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "{}    model_map: {{\"claude-3-5-haiku*\": relay-haiku, \"claude-*\": relay-any}}\n",
            endpoint("a", &a.url, "k", 1)
        )],
    ));
    assert_eq!(
        post(&gw.url, "/v1/messages", body_for("claude-3-5-haiku-1"))
            .await
            .0,
        200
    );
    assert_eq!(
        post(&gw.url, "/v1/messages", body_for("claude-opus-4"))
            .await
            .0,
        200
    );
    let seen: Vec<String> = a.bodies().iter().map(model_of).collect();
    assert_eq!(seen, ["relay-haiku", "relay-any"]);
}

#[actix_rt::test]
async fn a_session_moves_off_its_endpoint_only_for_the_model_that_cools() {
    // Which endpoint rate-limits opus is decided once the session is bound.
    let limiter: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let scripted = |name: &'static str| {
        let limiter = limiter.clone();
        Scripted::start(move |req| {
            if model_of(req) == "opus" && *limiter.lock().unwrap() == name {
                Reply::status(429, RATE_LIMITED).header("retry-after", "30")
            } else {
                Reply::ok(&model_of(req))
            }
        })
    };
    let (a, b) = (scripted("a"), scripted("b"));
    let gw = two("balancer:\n  strategy: round_robin\n", &a, &b);
    let send = |model: &'static str| {
        let url = gw.url.clone();
        async move {
            let mut r = client()
                .post(format!("{url}/v1/messages"))
                .insert_header(("content-type", "application/json"))
                .insert_header(("x-session-id", "s1"))
                .send_body(body_for(model))
                .await
                .unwrap();
            let _ = r.body().await;
            (
                r.status().as_u16(),
                header(r.headers(), "x-switchyard-endpoint").unwrap_or_default(),
            )
        }
    };
    let (status, bound) = send("haiku").await;
    assert_eq!(status, 200);
    *limiter.lock().unwrap() = bound.clone();
    let (status, other) = send("opus").await;
    assert_eq!(status, 200);
    assert_ne!(other, bound, "opus moved to the other endpoint");
    for _ in 0..3 {
        assert_eq!(
            send("haiku").await.1,
            bound,
            "the session left its endpoint for haiku too"
        );
        assert_eq!(send("opus").await.1, other);
    }
}

#[actix_rt::test]
async fn the_limits_successful_answers_announce_are_shown_per_model_in_status() {
    let a = Scripted::start(|req| match model_of(req).as_str() {
        "haiku" => Reply::ok("haiku")
            .header("x-ratelimit-limit-requests", "1000")
            .header("x-ratelimit-remaining-requests", "812")
            .header("x-ratelimit-reset-requests", "34s")
            .header("x-ratelimit-limit-tokens", "100000")
            .header("x-ratelimit-remaining-tokens", "41000")
            .header("x-ratelimit-reset-tokens", "20s"),
        _ => Reply::ok("opus")
            .header("anthropic-ratelimit-requests-limit", "50")
            .header("anthropic-ratelimit-requests-remaining", "49")
            .header("anthropic-ratelimit-requests-reset", "2099-01-01T00:00:00Z"),
    });
    let gw = Gateway::start(&config("", &[endpoint("a", &a.url, "k", 1)]));
    for model in ["haiku", "opus"] {
        assert_eq!(post(&gw.url, "/v1/messages", body_for(model)).await.0, 200);
    }
    let status = gw.status().await;
    let limits = &status["endpoints"][0]["rate_limits"];
    assert_eq!(limits[0]["model"], "opus", "newest first: {limits}");
    assert_eq!(limits[0]["requests"]["remaining"], 49);
    assert_eq!(limits[0]["requests"]["resets_at"], "2099-01-01T00:00:00Z");
    assert_eq!(limits[1]["model"], "haiku");
    assert_eq!(limits[1]["requests"]["limit"], 1000);
    assert_eq!(limits[1]["requests"]["remaining"], 812);
    assert_eq!(limits[1]["tokens"]["remaining"], 41000);
    let reset = limits[1]["tokens"]["reset_in_s"].as_f64().expect("a reset");
    assert!((15.0..=20.0).contains(&reset), "{limits}");
    assert!(limits[1]["input_tokens"].is_null());

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--url", &gw.url])
        .env("NO_COLOR", "1")
        .output()
        .expect("switchyard status");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    assert!(
        table.contains("a (haiku)  requests 812 of 1000, tokens 41% left, resets in "),
        "{table}"
    );
    assert!(
        table.contains("a (opus)   requests 49 of 50, resets in "),
        "{table}"
    );
}

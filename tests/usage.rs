//! Usage, cost and budgets over real sockets: exact totals in `/admin/usage` and `/metrics`, the
//! history across a restart, budgets that move traffic, and a history file that cannot be written.

mod common;

use common::*;
use std::time::{Duration, Instant};
use switchyard::mock::responses::{CACHED_TOKENS, INPUT_TOKENS};

const CHAT_STREAM_BODY: &str = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;

async fn metrics(gw: &Gateway) -> String {
    let mut r = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics");
    String::from_utf8(r.body().await.expect("body").to_vec()).expect("utf-8")
}

/// The sum of the samples of `name` whose labels include every `labels` pair.
fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn row<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == key))
        .unwrap_or_else(|| panic!("no row {key} in {report}"))
}

fn endpoint_of(status: &serde_json::Value, id: &str) -> serde_json::Value {
    status["endpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {id} in {status}"))
}

/// Stops the gateway with SIGTERM (a graceful stop) and starts it again on the same files.
fn restart_gracefully(mut gw: Gateway) -> Gateway {
    gw.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.child.try_wait().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the gateway did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().expect("temp dir"));
    let config_path = gw.config_path.clone();
    drop(gw);
    Gateway::start_in(dir, config_path, &[])
}

#[actix_rt::test]
async fn exact_token_and_cost_totals_of_json_and_sse_answers_of_both_apis() {
    // The mock's OpenAI mode sends a usage chunk when a stream asks for one, as OpenAI does.
    let upstream = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        openai: Some(switchyard::mock::OpenAiAnswer::default()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &upstream.url(), "k", 1) + "    price: {input: 1.0, output: 2.0}\n"],
    ));
    // Each answer of the mock: 10 input tokens, 3 output tokens.
    for (path, body) in [
        ("/v1/messages", MESSAGES_BODY),
        ("/v1/messages", STREAM_BODY),
        ("/v1/chat/completions", CHAT_BODY),
        ("/v1/chat/completions", CHAT_STREAM_BODY),
    ] {
        let (status, _, answer) = post(&gw.url, path, body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
    let by_endpoint = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "four requests",
        |r| r["totals"]["requests"] == 4,
    )
    .await;
    let totals = &by_endpoint["totals"];
    assert_eq!(
        (
            &totals["input_tokens"],
            &totals["output_tokens"],
            &totals["cache_read_tokens"],
            &totals["cache_write_tokens"]
        ),
        (
            &serde_json::json!(40),
            &serde_json::json!(12),
            &serde_json::json!(0),
            &serde_json::json!(0)
        )
    );
    // 40 × $1/M + 12 × $2/M = $0.000064
    assert_eq!(totals["cost_usd"], serde_json::json!(0.000064));
    assert_eq!(row(&by_endpoint, "a")["requests"], 4);

    let by_model = get_json(&format!("{}/admin/usage?since=1h&by=model", gw.url)).await;
    for model in ["claude-3-5-haiku-20241022", "gpt-4o-mini"] {
        let r = row(&by_model, model);
        assert_eq!(
            (&r["requests"], &r["output_tokens"]),
            (&2.into(), &6.into())
        );
    }

    let text = metrics(&gw).await;
    let tokens = |model: &str, kind: &str| {
        metric_sum(
            &text,
            "switchyard_tokens_total",
            &[("endpoint", "a"), ("model", model), ("kind", kind)],
        )
    };
    assert_eq!(tokens("claude-3-5-haiku-20241022", "input"), 20.0);
    assert_eq!(tokens("claude-3-5-haiku-20241022", "output"), 6.0);
    assert_eq!(tokens("gpt-4o-mini", "input"), 20.0);
    assert_eq!(tokens("gpt-4o-mini", "output"), 6.0);
    let cost = metric_sum(&text, "switchyard_cost_usd_total", &[("endpoint", "a")]);
    assert!((cost - 0.000064).abs() < 1e-12, "{cost}");
    assert!(
        gw.logs().contains("tokens=10/3/0/0 cost_usd=0.000016"),
        "the access log shows tokens and cost: {}",
        gw.logs()
    );
    let status = gw.status().await;
    assert_eq!(status["usage_store"]["ok"], true);
}

#[actix_rt::test]
async fn a_spent_budget_moves_traffic_survives_reset_and_restart_and_a_raised_budget_lifts_it() {
    let a = mock("a", "k");
    let b = mock("b", "k");
    // 13 tokens at $1000 per million: $0.013 per answer; the second reaches the $0.02 budget.
    let priced = |budget: &str| {
        config(
            "",
            &[
                endpoint("a", &a.url(), "k", 1)
                    + &format!("    price: {{input: 1000, output: 1000}}\n    budget: {{daily_usd: {budget}}}\n"),
                endpoint("b", &b.url(), "k", 2),
            ],
        )
    };
    let gw = Gateway::start(&priced("0.02"));
    for _ in 0..2 {
        let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(
            (status, header(&headers, "x-switchyard-endpoint")),
            (200, Some("a".into()))
        );
    }
    let status = wait_json(&format!("{}/admin/status", gw.url), "over_budget", |s| {
        endpoint_of(s, "a")["state"] == "over_budget"
    })
    .await;
    let budget = &endpoint_of(&status, "a")["budget"];
    assert_eq!(
        (&budget["daily_usd"], &budget["spent_today_usd"]),
        (&serde_json::json!(0.02), &serde_json::json!(0.026))
    );
    assert!(endpoint_of(&status, "a")["until"].is_number());
    for _ in 0..3 {
        let (status, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
        assert_eq!(
            (status, header(&headers, "x-switchyard-endpoint")),
            (200, Some("b".into()))
        );
    }
    assert_eq!((a.hits(), b.hits()), (2, 3), "the others take over");

    // `reset` does not clear it.
    let mut r = client()
        .post(format!("{}/admin/endpoints/a/reset", gw.url))
        .send()
        .await
        .expect("reset");
    assert_eq!(r.status().as_u16(), 200);
    let after: serde_json::Value = r.json().await.expect("json");
    assert_eq!(after["state"], "over_budget");

    // A restart reads the spend back from the history.
    let gw = restart_gracefully(gw);
    assert_eq!(gw.state_of("a").await, "over_budget");
    let (_, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(header(&headers, "x-switchyard-endpoint"), Some("b".into()));
    let usage = get_json(&format!("{}/admin/usage?since=1h", gw.url)).await;
    assert_eq!(
        (&usage["totals"]["requests"], &row(&usage, "a")["requests"]),
        (&6.into(), &2.into())
    );
    assert_eq!(row(&usage, "a")["cost_usd"], serde_json::json!(0.026));

    // Raising the budget in the config brings it back.
    std::fs::write(&gw.config_path, priced("1.0")).expect("rewrite config");
    gw.signal("HUP");
    wait_json(&format!("{}/admin/status", gw.url), "budget raised", |s| {
        endpoint_of(s, "a")["state"] != "over_budget"
    })
    .await;
    let (_, headers, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(header(&headers, "x-switchyard-endpoint"), Some("a".into()));
}

#[actix_rt::test]
async fn a_history_file_that_cannot_be_written_loses_no_request() {
    let upstream = mock("a", "k");
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("history");
    let yaml = config(
        &format!(
            "usage:\n  database: {}\n",
            folder.join("usage.sqlite").display()
        ),
        &[endpoint("a", &upstream.url(), "k", 1)],
    );
    let gw = Gateway::start(&yaml);
    let (status, _, _) = post(&gw.url, "/v1/messages", MESSAGES_BODY).await;
    assert_eq!(status, 200);
    wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "the first record",
        |r| r["totals"]["requests"] == 1,
    )
    .await;

    // Mid-run the file goes away and its folder becomes a plain file: nothing can be written.
    let moved = dir.path().join("moved");
    std::fs::rename(&folder, &moved).expect("move the folder");
    std::fs::write(&folder, b"not a folder").expect("block the path");
    for _ in 0..5 {
        let (status, _, _) = post(&gw.url, "/v1/messages", STREAM_BODY).await;
        assert_eq!(status, 200, "a broken history never fails a request");
    }
    let status = wait_json(
        &format!("{}/admin/status", gw.url),
        "the store's error",
        |s| s["usage_store"]["ok"] == false && s["usage_store"]["pending"] == 5,
    )
    .await;
    assert!(status["usage_store"]["write_errors"].as_u64().unwrap_or(0) >= 1);
    let text = metrics(&gw).await;
    let errors = text
        .lines()
        .find_map(|l| l.strip_prefix("switchyard_usage_store_errors_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(errors.is_some_and(|n| n >= 1.0), "{text}");
    // `/metrics` counts in memory: every request is there while the file is out.
    assert_eq!(
        metric_sum(&text, "switchyard_tokens_total", &[("kind", "input")]),
        60.0
    );

    // The disk comes back: what was held is written, nothing lost.
    std::fs::remove_file(&folder).expect("unblock");
    std::fs::rename(&moved, &folder).expect("move back");
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "all six",
        |r| r["totals"]["requests"] == 6,
    )
    .await;
    assert_eq!(usage["totals"]["input_tokens"], 60);
    assert_eq!(gw.status().await["usage_store"]["ok"], true);
}

#[actix_rt::test]
async fn the_page_and_the_usage_route_ask_for_the_same_keys_as_admin_status() {
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config(
        "  auth_mode: strict\n  api_key: client-key\n  admin_key: admin-key\n",
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    let answer = |path: &'static str, key: Option<&'static str>, head: bool| {
        let url = format!("{}{path}", gw.url);
        async move {
            let mut request = if head {
                client().head(url)
            } else {
                client().get(url)
            };
            if let Some(key) = key {
                request = request.insert_header(("authorization", format!("Bearer {key}")));
            }
            request.send().await.expect("request").status().as_u16()
        }
    };
    for key in [None, Some("wrong"), Some("client-key"), Some("admin-key")] {
        let status = answer("/admin/status", key, false).await;
        for path in ["/admin", "/admin/usage"] {
            assert_eq!(
                answer(path, key, false).await,
                status,
                "GET {path} with {key:?}"
            );
            assert_eq!(
                answer(path, key, true).await,
                status,
                "HEAD {path} with {key:?}"
            );
        }
    }
    assert_eq!(answer("/admin", None, false).await, 401);
    assert_eq!(answer("/admin", Some("admin-key"), false).await, 200);
    let mut page = client()
        .get(format!("{}/admin", gw.url))
        .insert_header(("authorization", "Bearer admin-key"))
        .send()
        .await
        .expect("page");
    let html = String::from_utf8(page.body().limit(1 << 20).await.expect("body").to_vec()).unwrap();
    assert!(
        html.contains("<html") && !html.contains("src=\"http"),
        "self-contained"
    );
}

/// Starts `binary serve` on `yaml`; its child process and base URL.
fn start_binary(binary: &str, dir: &std::path::Path, yaml: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let path = dir.join(format!("bench-{}.yaml", fastrand::u32(..)));
    std::fs::write(&path, yaml).expect("config");
    let mut child = std::process::Command::new(binary)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let url = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("switchyard listening on ")
                .map(str::to_string)
        })
        .expect("listening line");
    (child, url)
}

/// Lateness of SSE events (arrival at the client − the mock's send time), p50 and p99 in ms.
async fn sse_lateness(url: &str, upstream: &MockUpstream, streams: usize) -> (f64, f64) {
    use futures_util::StreamExt;
    let mut lateness = Vec::new();
    for _ in 0..streams {
        upstream.clear();
        let mut r = client()
            .post(format!("{url}/v1/messages"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("x-api-key", "k"))
            .send_body(STREAM_BODY)
            .await
            .expect("stream");
        let (mut arrivals, mut buffer) = (Vec::new(), Vec::new());
        while let Some(Ok(chunk)) = r.next().await {
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            let complete = buffer.windows(2).filter(|w| w == b"\n\n").count();
            arrivals.resize(complete, now);
        }
        for (arrived, sent) in arrivals.iter().zip(upstream.event_times().iter()) {
            lateness.push(arrived.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
        }
    }
    lateness.sort_by(f64::total_cmp);
    let at = |q: f64| lateness[((lateness.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Run by hand (figures, nothing asserted): `SWITCHYARD_WITHOUT_METER=<a build without the meter,
/// e.g. main's target/debug/switchyard> cargo test --locked --test usage streaming_lateness --
/// --ignored --nocapture`. Streams of 50 events 10 ms apart, direct and through each gateway.
#[actix_rt::test]
#[ignore]
async fn streaming_lateness_with_and_without_the_meter() {
    let upstream = streaming_mock(50, Duration::from_millis(10));
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = config("", &[endpoint("a", &upstream.url(), "k", 1)]);
    let (p50, p99) = sse_lateness(&upstream.url(), &upstream, 20).await;
    println!("direct to the mock:        lateness p50 {p50:.3} ms  p99 {p99:.3} ms");
    let mut binaries = vec![(
        "with the meter",
        env!("CARGO_BIN_EXE_switchyard").to_string(),
    )];
    if let Ok(other) = std::env::var("SWITCHYARD_WITHOUT_METER") {
        binaries.push(("without the meter", other));
    }
    for (name, binary) in binaries {
        let (mut child, url) = start_binary(&binary, dir.path(), &yaml);
        let _ = sse_lateness(&url, &upstream, 2).await; // warm-up
        let (p50, p99) = sse_lateness(&url, &upstream, 20).await;
        println!("gateway {name:<18} lateness p50 {p50:.3} ms  p99 {p99:.3} ms");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Instructions as long as a coding agent's: with its tools, Codex's and Claude Code's come near
/// 64 KiB, and `response.completed` repeats them (and the whole answer) before its usage.
fn agent_sized_instructions() -> String {
    "Follow the repository's conventions. ".repeat(3000)
}

/// A mock in Responses mode that reasons first (three words: three reasoning tokens, inside
/// `output_tokens`), and a gateway with one priced `api: responses` endpoint in front of it.
fn responses_gateway() -> (Gateway, MockUpstream) {
    let upstream = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        openai: Some(switchyard::mock::OpenAiAnswer {
            reasoning: Some("Think it over.".into()),
            ..switchyard::mock::OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: r\n    api: responses\n    base_url: {}/v1\n    api_key: k\n    \
             price: {{input: 1.25, output: 10.0, cache_read: 0.125}}\n",
            upstream.url()
        )],
    ));
    (gw, upstream)
}

/// What each answer of [`responses_gateway`]'s mock used: its input less the cached part, the
/// output (3 text pieces and 3 reasoning words), the cached part.
const RESPONSES_ANSWER: (u64, u64, u64) = (
    (INPUT_TOKENS - CACHED_TOKENS) as u64,
    6,
    CACHED_TOKENS as u64,
);

/// The usage totals of `requests` answers of [`responses_gateway`]'s mock, and their cost at its
/// price: per answer 480 × $1.25/M + 6 × $10/M + 1920 × $0.125/M = $0.0009.
async fn assert_responses_totals(gw: &Gateway, requests: u64) {
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "every answer recorded",
        |r| r["totals"]["requests"] == requests,
    )
    .await;
    let totals = &usage["totals"];
    let (input, output, cache_read) = RESPONSES_ANSWER;
    assert_eq!(
        [
            &totals["input_tokens"],
            &totals["output_tokens"],
            &totals["cache_read_tokens"],
            &totals["cache_write_tokens"],
        ],
        [
            &serde_json::json!(requests * input),
            &serde_json::json!(requests * output),
            &serde_json::json!(requests * cache_read),
            &serde_json::json!(0),
        ],
        "{usage}"
    );
    let cost = totals["cost_usd"].as_f64().expect("a known cost");
    assert!(
        (cost - requests as f64 * 0.0009).abs() < 1e-12,
        "{cost} for {requests} answers"
    );
    assert_eq!(totals["unpriced_requests"], 0, "{usage}");
}

#[actix_rt::test]
async fn responses_answers_plain_and_streamed_count_cached_input_apart_and_reasoning_once() {
    let (gw, upstream) = responses_gateway();
    let ask = |stream: bool, instructions: &str| {
        serde_json::json!({"model": "gpt-5.5", "input": "Say hello.", "stream": stream,
            "store": false, "instructions": instructions})
        .to_string()
    };
    let long = agent_sized_instructions();
    for body in [
        ask(false, "Be brief."),
        ask(true, "Be brief."),
        ask(true, &long),
    ] {
        let (status, headers, answer) = post_owned(&gw.url, "/v1/responses", body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("r")
        );
        assert!(
            String::from_utf8_lossy(&answer).contains(&format!("\"input_tokens\":{INPUT_TOKENS}")),
            "the client gets the upstream's usage as it was"
        );
    }
    assert!(upstream
        .requests()
        .iter()
        .all(|r| r.path == "/v1/responses"));
    assert_responses_totals(&gw, 3).await;
    let (input, output, cache_read) = RESPONSES_ANSWER;
    let line = format!("tokens={input}/{output}/{cache_read}/0 cost_usd=0.000900");
    assert_eq!(gw.logs().matches(&line).count(), 3, "{}", gw.logs());
}

#[actix_rt::test]
async fn a_messages_client_of_a_responses_endpoint_is_metered_from_the_upstreams_answer() {
    // Claude Code's shape: a long system prompt, translated into the Responses request's
    // instructions, which the upstream's `response.completed` repeats before its usage.
    let (gw, upstream) = responses_gateway();
    let ask = |stream: bool| {
        serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": stream,
            "system": [{"type": "text", "text": agent_sized_instructions()}],
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    };
    for stream in [true, false] {
        let (status, _, answer) = post_owned(&gw.url, "/v1/messages", ask(stream)).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, 200, "{text}");
        // The client got an Anthropic answer; the upstream was asked in the Responses API.
        assert!(text.contains("\"input_tokens\""), "{text}");
        if stream {
            assert!(text.contains("event: message_delta"), "{text}");
        }
    }
    let seen = upstream.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.path == "/v1/responses"));
    assert_responses_totals(&gw, 2).await;
}

/// A mock in Gemini mode (it answers `/v1beta/models/…`) that thinks three words when asked to,
/// and a gateway with one priced `api: gemini` endpoint in front of it, which Claude's models
/// are mapped to.
fn gemini_gateway() -> (Gateway, MockUpstream) {
    let upstream = MockUpstream::start(Behaviour {
        key: Some("gk".into()),
        openai: Some(switchyard::mock::OpenAiAnswer {
            reasoning: Some("Think it over.".into()),
            ..switchyard::mock::OpenAiAnswer::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: g\n    api: gemini\n    base_url: {}\n    api_key: gk\n    \
             model_map: {{\"claude-*\": gemini-2.5-pro}}\n    \
             price: {{input: 1.25, output: 10.0, cache_read: 0.125}}\n",
            upstream.url()
        )],
    ));
    (gw, upstream)
}

/// What each answer of [`gemini_gateway`]'s mock used: its prompt less the cached part, the
/// output (3 text pieces and 3 words of thinking, billed as output), the cached part.
const GEMINI_ANSWER: (u64, u64, u64) = (
    (switchyard::mock::gemini::PROMPT_TOKENS - switchyard::mock::gemini::CACHED_TOKENS) as u64,
    6,
    switchyard::mock::gemini::CACHED_TOKENS as u64,
);

/// The usage totals of `requests` answers of [`gemini_gateway`]'s mock, and their cost at its
/// price: per answer 480 × $1.25/M + 6 × $10/M + 1920 × $0.125/M = $0.0009.
async fn assert_gemini_totals(gw: &Gateway, requests: u64) {
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "every answer recorded",
        |r| r["totals"]["requests"] == requests,
    )
    .await;
    let totals = &usage["totals"];
    let (input, output, cache_read) = GEMINI_ANSWER;
    assert_eq!(
        [
            &totals["input_tokens"],
            &totals["output_tokens"],
            &totals["cache_read_tokens"],
            &totals["cache_write_tokens"],
        ],
        [
            &serde_json::json!(requests * input),
            &serde_json::json!(requests * output),
            &serde_json::json!(requests * cache_read),
            &serde_json::json!(0),
        ],
        "{usage}"
    );
    let cost = totals["cost_usd"].as_f64().expect("a known cost");
    assert!(
        (cost - requests as f64 * 0.0009).abs() < 1e-12,
        "{cost} for {requests} answers"
    );
    assert_eq!(totals["unpriced_requests"], 0, "{usage}");
    assert_eq!(row(&usage, "g")["requests"], requests, "{usage}");
}

#[actix_rt::test]
async fn gemini_answers_plain_and_streamed_count_cached_prompt_apart_and_thoughts_as_output() {
    let (gw, upstream) = gemini_gateway();
    let body = serde_json::json!({
        "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": true}},
    })
    .to_string();
    for path in [
        "/v1beta/models/gemini-2.5-pro:generateContent",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
    ] {
        let (status, headers, answer) = post_owned(&gw.url, path, body.clone()).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            header(&headers, "x-switchyard-endpoint").as_deref(),
            Some("g")
        );
        assert!(
            text.contains("\"cachedContentTokenCount\":1920"),
            "the client gets the upstream's usageMetadata as it was: {text}"
        );
    }
    let seen = upstream.requests();
    assert_eq!(
        seen.iter()
            .map(|r| (r.path.as_str(), r.query.contains("alt=sse")))
            .collect::<Vec<_>>(),
        [
            ("/v1beta/models/gemini-2.5-pro:generateContent", false),
            ("/v1beta/models/gemini-2.5-pro:streamGenerateContent", true),
        ]
    );
    assert_gemini_totals(&gw, 2).await;
    let (input, output, cache_read) = GEMINI_ANSWER;
    let line = format!("tokens={input}/{output}/{cache_read}/0 cost_usd=0.000900");
    assert_eq!(gw.logs().matches(&line).count(), 2, "{}", gw.logs());
}

#[actix_rt::test]
async fn a_messages_client_of_a_gemini_endpoint_is_metered_from_the_upstreams_answer() {
    let (gw, upstream) = gemini_gateway();
    let ask = |stream: bool| {
        serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 4096, "stream": stream,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    };
    for stream in [true, false] {
        let (status, _, answer) = post_owned(&gw.url, "/v1/messages", ask(stream)).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, 200, "{text}");
        // The client got an Anthropic answer; the upstream was asked in the Gemini API.
        assert!(text.contains("\"input_tokens\""), "{text}");
        if stream {
            assert!(text.contains("event: message_delta"), "{text}");
        }
    }
    // The streamed answer was metered from the upstream's Gemini stream, the other from its JSON.
    let seen = upstream.requests();
    assert_eq!(
        seen.iter()
            .map(|r| (r.path.as_str(), r.query.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
                "alt=sse"
            ),
            ("/v1beta/models/gemini-2.5-pro:generateContent", ""),
        ]
    );
    assert_gemini_totals(&gw, 2).await;
}

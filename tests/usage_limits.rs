//! What an upstream or a client cannot do to the usage accounting (INTERFACE.md, "Edge rules"):
//! an absurd token count is unknown and breaks no query, a budget whose spend cannot be read says
//! so, streamed Chat answers are charged whether or not the client asked for usage, and distinct
//! model names cannot grow the series or the history without bound. Loopback only; every loop is
//! bounded in count and time.

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An upstream on 127.0.0.1 whose every answer (status, JSON body) a closure decides from the
/// request's model. Stopped when dropped.
struct Scripted {
    url: String,
    handle: actix_web::dev::ServerHandle,
}

impl Scripted {
    fn start(script: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Scripted {
        let script = Arc::new(script);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let script = script.clone();
                    actix_web::App::new().default_service(actix_web::web::to(
                        move |body: actix_web::web::Bytes| {
                            let script = script.clone();
                            async move {
                                let request: serde_json::Value =
                                    serde_json::from_slice(&body).unwrap_or_default();
                                let (status, answer) =
                                    script(request["model"].as_str().unwrap_or_default());
                                actix_web::HttpResponse::build(
                                    actix_web::http::StatusCode::from_u16(status)
                                        .expect("a valid status"),
                                )
                                .content_type("application/json")
                                .body(answer)
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
        let handle = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("scripted upstream");
        Scripted { url, handle }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        std::thread::spawn(move || actix_rt::System::new().block_on(handle.stop(false)));
    }
}

/// POSTs `body` to `path`: status and the whole answer.
async fn post_body(url: &str, path: &str, body: String) -> (u16, bytes::Bytes) {
    let (status, _, answer) = post_owned(url, path, body).await;
    (status, answer)
}

/// GETs `url`: status and the answer as JSON.
async fn get_status_json(url: &str) -> (u16, serde_json::Value) {
    let mut r = client().get(url).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().limit(4 << 20).await.unwrap_or_default())
}

/// Polls `url` (JSON, 200) until `check` holds (bounded: 10 s).
async fn wait_json(
    url: &str,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, value) = get_status_json(url).await;
        if status == 200 && check(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status} {value}"
        );
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    }
}

fn messages_body(model: &str) -> String {
    serde_json::json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
}

fn endpoint_status(status: &serde_json::Value, id: &str) -> serde_json::Value {
    status["endpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {id} in {status}"))
}

#[actix_rt::test]
async fn an_absurd_token_count_is_unknown_and_every_usage_query_keeps_answering() {
    // Two models, so the history holds two rows: an older gateway stored each count as 2^63 - 1
    // and every sum over them overflowed.
    let upstream = Scripted::start(|model| {
        let body = serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "tool_use", "id": "t", "name": "f",
                "input": {"usage": {"output_tokens": 4_000_000_000_000_000_000u64}}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 18446744073709551615u64, "output_tokens": 7}
        });
        (200, body.to_string())
    });
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &upstream.url, "k", 1) + "    price: {input: 1.0, output: 2.0}\n"],
    ));
    for model in ["model-one", "model-two"] {
        let (status, answer) = post_body(&gw.url, "/v1/messages", messages_body(model)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "both answers",
        |u| u["totals"]["requests"] == 2,
    )
    .await;
    let totals = &usage["totals"];
    assert_eq!(
        (&totals["input_tokens"], &totals["output_tokens"]),
        (&serde_json::json!(0), &serde_json::json!(14)),
        "input is unknown; output counts, and never from the tool's input: {usage}"
    );
    // 14 output tokens at $2 per million.
    assert_eq!(totals["cost_usd"], serde_json::json!(0.000028));
    for by in ["model", "day", "hour", "endpoint,hour"] {
        let (status, answer) =
            get_status_json(&format!("{}/admin/usage?since=1h&by={by}", gw.url)).await;
        assert_eq!(status, 200, "by={by}: {answer}");
    }
    let logs = gw.logs();
    assert!(
        logs.contains("input_tokens = 18446744073709551615") && logs.contains("tokens=-/7/0/0"),
        "the warning names the field and the access log shows it unknown: {logs}"
    );
    // The figures are the same read back from the file by a new process.
    let gw = gw.restart();
    let (status, usage) = get_status_json(&format!("{}/admin/usage?since=1h", gw.url)).await;
    assert_eq!(status, 200, "{usage}");
    assert_eq!(usage["totals"]["output_tokens"], 14);
}

#[actix_rt::test]
async fn an_absurd_part_of_a_cache_write_split_is_unknown_alone_and_never_poisons_the_budget() {
    // The 5-minute part is negative: unknown; the total and the hour's part still tell the
    // writes, which are priced at their own rates.
    let upstream = Scripted::start(|model| {
        let body = serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 1500,
                "cache_creation": {"ephemeral_5m_input_tokens": -1, "ephemeral_1h_input_tokens": 1000}}
        });
        (200, body.to_string())
    });
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &upstream.url, "k", 1)
            + "    price: {input: 1.0, output: 2.0, cache_read: 0.1, cache_write: 1.25, cache_write_1h: 2.0}\n    budget: {daily_usd: 1}\n"],
    ));
    let (status, answer) = post_body(&gw.url, "/v1/messages", messages_body("m")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "the answer",
        |u| u["totals"]["requests"] == 1,
    )
    .await;
    let t = &usage["totals"];
    assert_eq!(
        [
            &t["cache_read_tokens"],
            &t["cache_write_5m_tokens"],
            &t["cache_write_1h_tokens"]
        ],
        [100, 500, 1000].map(serde_json::Value::from).each_ref(),
        "{usage}"
    );
    // 10 × $1 + 5 × $2 + 100 × $0.10 + 500 × $1.25 + 1000 × $2 per million.
    assert_eq!(t["cost_usd"], 0.002655, "{usage}");
    let a = endpoint_status(&gw.status().await, "a");
    assert_eq!(a["state"], "healthy", "{a}");
    assert_eq!(a["budget"]["spent_today_usd"], 0.002655, "{a}");
    let logs = gw.logs();
    assert!(
        logs.contains("cache_creation.ephemeral_5m_input_tokens = -1"),
        "the warning names the field: {logs}"
    );
}

#[actix_rt::test]
async fn a_budget_whose_spend_cannot_be_read_at_start_says_so() {
    let upstream = mock("a", "k");
    let dir = tempfile::tempdir().expect("temp dir");
    // The history's folder is a plain file: the history cannot be opened, let alone read.
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"x").expect("block");
    let budgeted = endpoint("a", &upstream.url(), "k", 1)
        + "    price: {input: 1.0, output: 1.0}\n    budget: {daily_usd: 5}\n";
    let gw = Gateway::start(&config(
        &format!(
            "usage:\n  database: {}\n",
            blocked.join("usage.sqlite").display()
        ),
        std::slice::from_ref(&budgeted),
    ));
    let a = endpoint_status(&gw.status().await, "a");
    assert_eq!(a["budget"]["spend_unknown"], true, "{a}");
    assert!(
        gw.logs().contains("spend_unknown"),
        "the log says so too: {}",
        gw.logs()
    );
    // A history that can be read seeds the budget, even with nothing spent yet.
    let readable = Gateway::start(&config("", &[budgeted]));
    let a = endpoint_status(&readable.status().await, "a");
    assert_eq!(a["budget"]["spend_unknown"], false, "{a}");
}

#[actix_rt::test]
async fn a_streamed_chat_answer_is_charged_though_its_client_did_not_ask_for_usage() {
    // The mock streams a usage chunk only when the request asks for one, as OpenAI does.
    let upstream = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        openai: Some(switchyard::mock::OpenAiAnswer::default()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("a", &format!("{}/v1", upstream.url()), "k", 1)
            + "    api: openai\n    price: {input: 1.0, output: 2.0}\n"],
    ));
    let body =
        r#"{"model":"gpt-4o-mini", "stream" : true,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, answer) = post_body(&gw.url, "/v1/chat/completions", body.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let sent = upstream.requests().pop().expect("the upstream was asked");
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        r#"{"stream_options":{"include_usage":true},"model":"gpt-4o-mini", "stream" : true,"messages":[{"role":"user","content":"hi"}]}"#,
        "the ask is spliced in and every other byte kept"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("\"usage\"") && text.contains("Hello from mock"),
        "the client did not ask for the usage chunk: {text}"
    );
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h", gw.url),
        "the streamed answer's usage",
        |u| u["totals"]["requests"] == 1,
    )
    .await;
    assert_eq!(
        (
            &usage["totals"]["input_tokens"],
            &usage["totals"]["output_tokens"]
        ),
        (&serde_json::json!(10), &serde_json::json!(3))
    );
    assert_eq!(usage["totals"]["cost_usd"], serde_json::json!(0.000016));

    // A client that asked gets the chunk, and the upstream the body exactly as it was sent.
    let asking = r#"{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
    let (status, answer) = post_body(&gw.url, "/v1/chat/completions", asking.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        upstream.requests().pop().map(|r| r.body),
        Some(bytes::Bytes::from_static(asking.as_bytes()))
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("\"choices\":[],")
            && text.contains("\"usage\":{\"completion_tokens\":3")
            && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
}

/// The distinct `model` label values of `name`'s series for endpoint `a`, with each one's sum.
fn model_series(metrics: &str, name: &str) -> std::collections::BTreeMap<String, f64> {
    let mut models = std::collections::BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix(name).and_then(|l| l.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        if !labels.contains("endpoint=\"a\"") || !labels.contains("kind=\"input\"") {
            continue;
        }
        let model = labels
            .split("model=\"")
            .nth(1)
            .and_then(|m| m.split('"').next())
            .unwrap_or_default();
        *models.entry(model.to_string()).or_default() += value.parse::<f64>().unwrap_or(0.0);
    }
    models
}

#[actix_rt::test]
async fn distinct_model_names_past_the_bound_are_counted_as_other_and_answers_without_usage_add_nothing(
) {
    use switchyard::history::{MODELS_PER_ENDPOINT, OTHER_MODEL};
    let upstream = mock("a", "k");
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    let extra = 12;
    let name = |i: usize| format!("model-{i:04}-{}", "x".repeat(240));
    let deadline = Instant::now() + Duration::from_secs(120);
    for i in 0..MODELS_PER_ENDPOINT + extra {
        let (status, answer) = post_body(&gw.url, "/v1/messages", messages_body(&name(i))).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        assert!(
            Instant::now() < deadline,
            "only {i} requests in two minutes"
        );
    }
    let mut r = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics");
    let metrics =
        String::from_utf8(r.body().limit(64 << 20).await.expect("body").to_vec()).expect("utf-8");
    let series = model_series(&metrics, "switchyard_tokens_total");
    assert_eq!(series.len(), MODELS_PER_ENDPOINT + 1, "{:?}", series.keys());
    // Each mock answer reports 10 input tokens.
    assert_eq!(series.get(OTHER_MODEL), Some(&(extra as f64 * 10.0)));
    assert_eq!(series.get(&name(0)), Some(&10.0));

    let total = (MODELS_PER_ENDPOINT + extra) as u64;
    let usage = wait_json(
        &format!("{}/admin/usage?since=1h&by=model", gw.url),
        "every answer",
        |u| u["totals"]["requests"] == total,
    )
    .await;
    let rows = usage["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), MODELS_PER_ENDPOINT + 1);
    let other = rows
        .iter()
        .find(|r| r["key"] == OTHER_MODEL)
        .expect("an `other` row");
    assert_eq!(
        (&other["requests"], &other["input_tokens"]),
        (&serde_json::json!(extra), &serde_json::json!(extra * 10))
    );

    // The upstream does not know these models: its 404s carry no usage and cost nothing.
    upstream.update(|b| b.status = Some(404));
    for i in 0..5 {
        let (status, _) = post_body(
            &gw.url,
            "/v1/messages",
            messages_body(&format!("unknown-{i}")),
        )
        .await;
        assert_eq!(status, 404);
    }
    let (_, usage) = get_status_json(&format!("{}/admin/usage?since=1h&by=model", gw.url)).await;
    assert_eq!(
        usage["totals"]["requests"], total,
        "no row for an answer without usage"
    );
    assert_eq!(
        usage["rows"].as_array().map(Vec::len),
        Some(MODELS_PER_ENDPOINT + 1)
    );
}

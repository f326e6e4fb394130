//! What a conversation costs, over real sockets: prompt-cache writes by lifetime priced at their
//! own rates, cache hits in every view (`/admin/usage`, `switchyard usage`, `/metrics`), the same
//! numbers in every client API's own fields, usage by agent, a price file and its reload, and an
//! old history file that keeps its rows.

mod common;

use common::*;
use std::time::{Duration, Instant};
use switchyard::mock::{OpenAiAnswer, PromptCache};

/// `/admin/usage` once it counts `requests` requests.
async fn usage(gw: &Gateway, query: &str, requests: u64) -> serde_json::Value {
    wait_json(
        &format!("{}/admin/usage?since=1h&{query}", gw.url),
        &format!("{requests} requests recorded"),
        |r| r["totals"]["requests"] == requests,
    )
    .await
}

fn row<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == key))
        .unwrap_or_else(|| panic!("no row {key} in {report}"))
}

/// POSTs `body` to `path` with a `User-Agent`, and gives the status and the body.
async fn post_as(url: &str, path: &str, user_agent: &str, body: String) -> (u16, String) {
    let mut r = client()
        .post(format!("{url}{path}"))
        .insert_header(("content-type", "application/json"))
        .insert_header(("user-agent", user_agent))
        .send_body(body)
        .await
        .expect("request");
    let bytes = r.body().limit(16 << 20).await.expect("body");
    (
        r.status().as_u16(),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn metrics(gw: &Gateway) -> String {
    let mut r = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics");
    String::from_utf8(r.body().await.expect("body").to_vec()).expect("utf-8")
}

/// The value of the sample of `name` whose labels include every `labels` pair.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Each answer of the caching mock: 10 uncached input tokens, 3 output tokens, 3000 read from the
/// cache, 500 written for 5 minutes and 1000 for an hour.
const CACHE: PromptCache = PromptCache {
    read: 3000,
    write_5m: 500,
    write_1h: 1000,
};

fn caching_mock() -> MockUpstream {
    MockUpstream::start(Behaviour {
        key: Some("k".into()),
        cache: Some(CACHE),
        ..Behaviour::default()
    })
    .expect("mock")
}

fn messages(stream: bool) -> String {
    serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]})
    .to_string()
}

#[actix_rt::test]
async fn an_hours_cache_write_is_recorded_apart_and_priced_at_twice_the_input_price() {
    let upstream = caching_mock();
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    for stream in [false, true] {
        let (status, body) = post_as(
            &gw.url,
            "/v1/messages",
            "claude-cli/2.1.3 (external, cli)",
            messages(stream),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let report = usage(&gw, "by=endpoint", 2).await;
    let t = &report["totals"];
    assert_eq!(
        [
            &t["input_tokens"],
            &t["cache_read_tokens"],
            &t["cache_write_tokens"],
            &t["cache_write_5m_tokens"],
            &t["cache_write_1h_tokens"],
            &t["output_tokens"],
        ],
        [20, 6000, 3000, 1000, 2000, 6]
            .map(serde_json::Value::from)
            .each_ref(),
        "{report}"
    );
    // Built-in claude-sonnet-4 rates: per answer 10 × $3 + 3 × $15 + 3000 × $0.30 + 500 × $3.75
    // + 1000 × $6 (the hour at 2 × input) per million = $0.00885. At the 5-minute rate the hour's
    // writes would cost $0.00225 less.
    assert_eq!(t["cost_usd"], 0.0177, "{report}");
    // 6000 / (6000 + 3000 + 20); each read would have cost $3/M as input and cost $0.30/M.
    assert_eq!(t["cache_hit_rate"], 0.6652, "{report}");
    assert_eq!(t["cache_saved_usd"], 0.0162, "{report}");
    assert_eq!(row(&report, "a")["cache_hit_rate"], 0.6652);
    let line = "client=claude-code tokens=10/3/3000/1500 cache_write_1h=1000 cost_usd=0.008850";
    assert_eq!(gw.logs().matches(line).count(), 2, "{}", gw.logs());

    let text = metrics(&gw).await;
    let kind = |kind: &str| {
        metric(
            &text,
            "switchyard_tokens_total",
            &[("endpoint", "a"), ("kind", kind)],
        )
    };
    assert_eq!(
        [
            "cache_read",
            "cache_write",
            "cache_write_5m",
            "cache_write_1h",
            "reasoning"
        ]
        .map(kind),
        [
            Some(6000.0),
            Some(3000.0),
            Some(1000.0),
            Some(2000.0),
            Some(0.0)
        ],
        "{text}"
    );
}

#[actix_rt::test]
async fn every_client_api_gets_the_cache_numbers_in_its_own_fields_and_they_are_the_ones_recorded()
{
    let anthropic = caching_mock();
    let chat = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        openai: Some(OpenAiAnswer::default()),
        cache: Some(PromptCache {
            read: 1024,
            ..PromptCache::default()
        }),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("claude", &anthropic.url(), "k", 1) + "    models: [\"claude-*\"]\n",
            format!(
                "  - id: chat\n    api: openai\n    base_url: {}/v1\n    api_key: k\n    models: [\"deepseek-*\"]\n",
                chat.url()
            ),
        ],
    ));
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
    // A Chat client of the Anthropic upstream: every input token is a prompt token, the cached
    // ones said apart.
    let (_, body) = post_as(
        &gw.url,
        "/v1/chat/completions",
        "OpenAI/Python 2.8.1",
        serde_json::json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
    )
    .await;
    let usage_of = json(&body)["usage"].clone();
    assert_eq!(usage_of["prompt_tokens"], 10 + 3000 + 1500, "{body}");
    assert_eq!(usage_of["prompt_tokens_details"]["cached_tokens"], 3000);
    // Streamed, in the usage chunk the client asked for.
    let (_, body) = post_as(
        &gw.url,
        "/v1/chat/completions",
        "OpenAI/JS 6.9.0",
        serde_json::json!({"model": "claude-sonnet-4-5", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string(),
    )
    .await;
    assert!(
        body.contains(r#""prompt_tokens_details":{"cached_tokens":3000}"#),
        "{body}"
    );
    // A Responses client and a Gemini client of the same upstream.
    let (_, body) = post_as(
        &gw.url,
        "/v1/responses",
        "codex_exec/0.171.0 (Mac OS 26.1.0; arm64) unknown",
        serde_json::json!({"model": "claude-sonnet-4-5", "input": "hi", "store": false})
            .to_string(),
    )
    .await;
    let usage_of = json(&body)["usage"].clone();
    assert_eq!(usage_of["input_tokens"], 4510, "{body}");
    assert_eq!(usage_of["input_tokens_details"]["cached_tokens"], 3000);
    let (_, body) = post_as(
        &gw.url,
        "/v1beta/models/claude-sonnet-4-5:generateContent",
        "GeminiCLI-tui/0.61.0/claude-sonnet-4-5 (linux; x64)",
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string(),
    )
    .await;
    let usage_of = json(&body)["usageMetadata"].clone();
    assert_eq!(usage_of["promptTokenCount"], 4510, "{body}");
    assert_eq!(usage_of["cachedContentTokenCount"], 3000);
    // An Anthropic client of the Chat upstream: the cached part of the prompt is a cache read.
    let (_, body) = post_as(
        &gw.url,
        "/v1/messages",
        "Anthropic/Python 0.75.0",
        serde_json::json!({"model": "deepseek-chat", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]})
        .to_string(),
    )
    .await;
    let usage_of = json(&body)["usage"].clone();
    assert_eq!(
        (
            &usage_of["input_tokens"],
            &usage_of["cache_read_input_tokens"]
        ),
        (&10.into(), &1024.into()),
        "{body}"
    );
    // What the clients were told is what was recorded, per model, with its hit rate.
    let report = usage(&gw, "by=model", 5).await;
    let claude = row(&report, "claude-sonnet-4-5");
    assert_eq!(
        [
            &claude["requests"],
            &claude["input_tokens"],
            &claude["cache_read_tokens"],
            &claude["cache_write_tokens"]
        ],
        [4, 40, 12000, 6000].map(serde_json::Value::from).each_ref(),
        "{report}"
    );
    assert_eq!(claude["cache_hit_rate"], 0.6652);
    let deepseek = row(&report, "deepseek-chat");
    assert_eq!(
        (&deepseek["input_tokens"], &deepseek["cache_read_tokens"]),
        (&10.into(), &1024.into())
    );
    assert_eq!(deepseek["cache_hit_rate"], 0.9903);
}

#[actix_rt::test]
async fn usage_by_agent_is_read_from_the_user_agent_in_the_route_and_the_command() {
    let upstream = caching_mock();
    let gw = Gateway::start(&config("", &[endpoint("a", &upstream.url(), "k", 1)]));
    for user_agent in [
        "claude-cli/2.1.3 (external, cli)",
        "claude-cli/2.1.3 (external, cli)",
        "codex_exec/0.171.0 (Mac OS 26.1.0; arm64) unknown",
        "GeminiCLI-tui/0.61.0/gemini-3-pro (darwin; arm64) google-genai-sdk/1.30.0",
        "AsyncOpenAI/Python 2.8.1",
        "curl/8.5.0",
    ] {
        let (status, body) = post_as(&gw.url, "/v1/messages", user_agent, messages(false)).await;
        assert_eq!(status, 200, "{body}");
    }
    let report = usage(&gw, "by=client", 6).await;
    let keys: Vec<(&str, u64)> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or("?"),
                r["requests"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("claude-code", 2),
            ("codex", 1),
            ("gemini-cli", 1),
            ("openai-python", 1),
            ("other", 1)
        ]
    );
    assert_eq!(row(&report, "claude-code")["cost_usd"], 0.0177);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["usage", "--url", &gw.url, "--by", "client"])
        .env_remove("SWITCHYARD_ADMIN_KEY")
        .output()
        .expect("switchyard usage");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[1],
        [
            "CLIENT",
            "REQS",
            "INPUT",
            "OUTPUT",
            "CACHE_READ",
            "CACHE_WRITE",
            "CACHE_HIT",
            "SAVED_USD",
            "COST_USD"
        ],
        "{table}"
    );
    assert_eq!(
        lines[2],
        [
            "claude-code",
            "2",
            "20",
            "6",
            "6000",
            "3000",
            "66.5%",
            "0.0162",
            "0.0177"
        ],
        "{table}"
    );
    assert_eq!(lines.last().map(|l| l[0]), Some("TOTAL"), "{table}");
}

#[actix_rt::test]
async fn a_gemini_stream_without_alt_sse_is_metered_from_its_json_array() {
    let upstream = MockUpstream::start(Behaviour {
        key: Some("gk".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config(
        "",
        &[format!(
            "  - id: g\n    api: gemini\n    base_url: {}\n    api_key: gk\n",
            upstream.url()
        )],
    ));
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (status, answer) = post_as(
        &gw.url,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "GeminiCLI/0.61.0 (linux; x64)",
        body.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.trim_start().starts_with('['),
        "one JSON array: {answer}"
    );
    let report = usage(&gw, "by=client", 1).await;
    let t = &report["totals"];
    let prompt = switchyard::mock::gemini::PROMPT_TOKENS as u64;
    let cached = switchyard::mock::gemini::CACHED_TOKENS as u64;
    assert_eq!(
        (&t["input_tokens"], &t["cache_read_tokens"]),
        (&(prompt - cached).into(), &cached.into()),
        "{report}"
    );
    // Built-in gemini-2.5-pro: the reads at $0.125/M instead of $1.25/M.
    assert!(t["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{report}");
    assert_eq!(t["unpriced_requests"], 0);
    assert_eq!(report["rows"][0]["key"], "gemini-cli");
}

#[actix_rt::test]
async fn a_price_file_prices_answers_and_a_broken_one_is_refused_on_reload_keeping_the_old_prices()
{
    let upstream = caching_mock();
    let dir = tempfile::tempdir().expect("temp dir");
    let prices = dir.path().join("prices.yaml");
    std::fs::write(
        &prices,
        "# the relay's own prices\n- model: claude-sonnet-4-5\n  input: 1\n  output: 2\n  cache_read: 0.1\n  cache_write: 1.25\n  cache_write_1h: 4\n",
    )
    .expect("prices");
    let config_path = dir.path().join("config.yaml");
    std::fs::write(
        &config_path,
        config(
            "usage:\n  prices: prices.yaml\n",
            &[endpoint("a", &upstream.url(), "k", 1)],
        ),
    )
    .expect("config");
    let gw = Gateway::start_in(dir, config_path, &[]);
    // 10 × $1 + 3 × $2 + 3000 × $0.10 + 500 × $1.25 + 1000 × $4 per million = $0.004941.
    let (status, body) = post_as(&gw.url, "/v1/messages", "curl/8", messages(false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(usage(&gw, "", 1).await["totals"]["cost_usd"], 0.004941);

    std::fs::write(
        &prices,
        "- {model: claude-sonnet-4-5, input: 1, output: 2}\n- {model: other, input: 1, output: -2}\n",
    )
    .expect("broken prices");
    gw.signal("HUP");
    let status = wait_json(
        &format!("{}/admin/status", gw.url),
        "the reload's error",
        |s| !s["config_error"].is_null(),
    )
    .await;
    let error = status["config_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("usage.prices:")
            && error.contains("prices.yaml: row 2 (other): output: must be a number"),
        "{error}"
    );
    post_as(&gw.url, "/v1/messages", "curl/8", messages(false)).await;
    assert_eq!(
        usage(&gw, "", 2).await["totals"]["cost_usd"],
        0.009882,
        "the old prices stay"
    );

    std::fs::write(
        &prices,
        "- {model: claude-sonnet-4, input: 10, output: 20, cache_read: 1, cache_write: 12.5, cache_write_1h: 20}\n",
    )
    .expect("new prices");
    gw.signal("HUP");
    wait_json(&format!("{}/admin/status", gw.url), "the reload", |s| {
        s["config_error"].is_null()
    })
    .await;
    post_as(&gw.url, "/v1/messages", "curl/8", messages(false)).await;
    // The new row: ten times the first one.
    // 10 × $10 + 3 × $20 + 3000 × $1 + 500 × $12.50 + 1000 × $20 per million = $0.02941.
    assert_eq!(usage(&gw, "", 3).await["totals"]["cost_usd"], 0.039292);
}

#[actix_rt::test]
async fn a_history_file_of_the_previous_schema_keeps_its_rows() {
    let upstream = caching_mock();
    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("old.sqlite");
    // The file as the previous switchyard left it: schema version 4, one row of three answers
    // (an hour ago), their cache writes not split by lifetime.
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as i64
        - 3_600_000;
    {
        let db = rusqlite::Connection::open(&old).expect("sqlite");
        db.execute_batch(
            "CREATE TABLE requests (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
                endpoint TEXT NOT NULL, model TEXT NOT NULL, upstream_model TEXT NOT NULL,
                status INTEGER NOT NULL, latency_ms_sum INTEGER NOT NULL, input_tokens INTEGER,
                output_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER,
                cost_nanousd INTEGER, requests INTEGER NOT NULL DEFAULT 1);
             CREATE INDEX requests_at ON requests (at_ms);
             CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version (version) VALUES (4);",
        )
        .expect("schema 4");
        db.execute(
            "INSERT INTO requests (at_ms, endpoint, model, upstream_model, status, latency_ms_sum,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nanousd,
                requests)
             VALUES (?1, 'a', 'claude-sonnet-4-5', 'claude-sonnet-4-5', 200, 300, 30, 9, 9000,
                1200, 7000000, 3)",
            [an_hour_ago],
        )
        .expect("an old row");
    }
    let config_path = dir.path().join("config.yaml");
    std::fs::write(
        &config_path,
        config(
            "usage:\n  database: old.sqlite\n",
            &[endpoint("a", &upstream.url(), "k", 1)],
        ),
    )
    .expect("config");
    let gw = Gateway::start_in(dir, config_path, &[]);
    post_as(&gw.url, "/v1/messages", "claude-cli/2", messages(false)).await;
    let report = wait_json(
        &format!("{}/admin/usage?since=2h&by=client", gw.url),
        "the old rows and the new one",
        |r| r["totals"]["requests"] == 4,
    )
    .await;
    let old_rows = row(&report, "unknown");
    assert_eq!(
        [
            &old_rows["requests"],
            &old_rows["input_tokens"],
            &old_rows["cache_read_tokens"],
            &old_rows["cache_write_tokens"],
            &old_rows["cache_write_5m_tokens"],
            &old_rows["cache_write_1h_tokens"],
        ],
        [3, 30, 9000, 1200, 1200, 0]
            .map(serde_json::Value::from)
            .each_ref(),
        "{report}"
    );
    assert_eq!(old_rows["cost_usd"], 0.007);
    assert_eq!(row(&report, "claude-code")["cache_write_1h_tokens"], 1000);
    assert_eq!(report["store"]["schema_version"], 5, "{report}");
}

#[actix_rt::test]
async fn with_client_keys_a_requests_client_is_its_keys_name_and_the_key_goes_nowhere() {
    let upstream = caching_mock();
    let gw = Gateway::start(&config(
        "  auth_mode: strict\n  api_key: shared-key\n  client_keys:\n    laptop: laptop-key-0001\n    ci: ci-key-0002\n",
        &[endpoint("a", &upstream.url(), "k", 1)],
    ));
    let send = |key: &'static str| {
        let url = gw.url.clone();
        async move {
            let mut r = client()
                .post(format!("{url}/v1/messages"))
                .insert_header(("content-type", "application/json"))
                .insert_header(("user-agent", "claude-cli/2.1.3 (external, cli)"))
                .insert_header(("x-api-key", key))
                .send_body(messages(false))
                .await
                .expect("request");
            let body = r.body().await.expect("body");
            (
                r.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
    };
    for key in [
        "laptop-key-0001",
        "laptop-key-0001",
        "ci-key-0002",
        "shared-key",
    ] {
        let (status, body) = send(key).await;
        assert_eq!(status, 200, "{key}: {body}");
    }
    let (status, body) = send("nobodys-key").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body.contains("proxy.api_key or proxy.client_keys"),
        "{body}"
    );
    // The admin routes take the client key here (no admin key is set).
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let mut r = client()
            .get(format!("{}/admin/usage?since=1h&by=client", gw.url))
            .insert_header(("authorization", "Bearer shared-key"))
            .send()
            .await
            .expect("usage");
        let report: serde_json::Value = r.json().await.expect("json");
        if report["totals"]["requests"] == 4 {
            break report;
        }
        assert!(Instant::now() < deadline, "four requests: {report}");
        actix_rt::time::sleep(Duration::from_millis(25)).await;
    };
    let keys: Vec<(&str, u64)> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap_or("?"),
                r["requests"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("ci", 1), ("claude-code", 1), ("laptop", 2)],
        "{report}"
    );
    for seen in upstream.requests() {
        for (name, value) in &seen.headers {
            assert!(
                !value.contains("laptop-key") && !value.contains("ci-key"),
                "a client key went upstream in {name}"
            );
        }
    }
    assert!(!gw.logs().contains("laptop-key-0001"), "{}", gw.logs());
}

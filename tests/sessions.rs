//! Sticky sessions for every agent: a conversation stays on the endpoint that holds its prompt
//! cache, whatever the client calls it (Claude Code's header or user id, Codex CLI's session
//! header, OpenAI's `prompt_cache_key`, Gemini CLI's first content), and moves only when that
//! endpoint is out, which the access log, `/admin/status` and `/metrics` say.

mod common;

use common::*;
use serde_json::{json, Value};

/// A gateway in front of two endpoints of `api` (`a` and `b`, the same priority), taking turns.
fn two_of(api: &str, a: &MockUpstream, b: &MockUpstream) -> Gateway {
    let base = |m: &MockUpstream| match api {
        "openai" | "responses" => format!("{}/v1", m.url()),
        _ => m.url(),
    };
    let endpoint = |id: &str, m: &MockUpstream| {
        format!(
            "  - id: {id}\n    api: {api}\n    base_url: {}\n    api_key: k\n",
            base(m)
        )
    };
    Gateway::start(&config(
        "balancer:\n  strategy: round_robin\nhealth:\n  failure_threshold: 1\n",
        &[endpoint("a", a), endpoint("b", b)],
    ))
}

/// POSTs `body` to `path` with `headers`; answers the status and the endpoint that answered.
async fn send(gw: &Gateway, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut request = client()
        .post(format!("{}{path}", gw.url))
        .insert_header(("content-type", "application/json"));
    for h in headers {
        request = request.insert_header(*h);
    }
    let mut r = request.send_body(body.to_string()).await.expect("request");
    let _ = r.body().limit(1 << 20).await;
    let by = header(r.headers(), "x-switchyard-endpoint").unwrap_or_default();
    (r.status().as_u16(), by)
}

/// One agent's requests: the path, the headers and the bodies of one conversation (sent in turn).
struct Agent {
    api: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    bodies: Vec<String>,
}

/// Gemini CLI's first request of a conversation, as captured (its first content holds the
/// `<session_context>` and the prompt), and the same conversation one model turn and one user turn
/// later.
fn gemini_cli_turns() -> Vec<String> {
    let first: Value =
        serde_json::from_str(include_str!("fixtures/gemini-cli/auto-turn1.request.json"))
            .expect("the fixture");
    assert!(first["contents"][0]["parts"][0]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("<session_context>")));
    let mut later = first.clone();
    let contents = later["contents"].as_array_mut().expect("contents");
    contents.push(json!({"role": "model", "parts": [{"text": "Here they are."}]}));
    contents.push(json!({"role": "user", "parts": [{"text": "Now count them."}]}));
    vec![first.to_string(), later.to_string()]
}

fn agents() -> Vec<Agent> {
    let chat = |key: &str| {
        json!({"model": "gpt-4o-mini", "prompt_cache_key": key,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    };
    let responses =
        |key: &str| json!({"model": "gpt-5.5", "prompt_cache_key": key, "input": "hi"}).to_string();
    vec![
        Agent {
            api: "anthropic",
            path: "/v1/messages",
            headers: vec![("x-claude-code-session-id", "conv-1")],
            bodies: vec![MESSAGES_BODY.to_string()],
        },
        Agent {
            api: "anthropic",
            path: "/v1/messages",
            headers: vec![],
            bodies: vec![json!({"model": "m", "max_tokens": 8,
                "metadata": {"user_id": "user_1_account__session_9"},
                "messages": [{"role": "user", "content": "hi"}]})
            .to_string()],
        },
        // Codex CLI 0.171: `session-id`, `thread-id` and `x-client-request-id` carry its session
        // id, and so does `prompt_cache_key` in its body. The header decides, even where a body's
        // key changes.
        Agent {
            api: "responses",
            path: "/v1/responses",
            headers: vec![
                ("session-id", "019a-codex"),
                ("thread-id", "019a-codex"),
                ("x-client-request-id", "019a-codex"),
            ],
            bodies: vec![responses("019a-codex"), responses("another")],
        },
        Agent {
            api: "responses",
            path: "/v1/responses",
            headers: vec![],
            bodies: vec![responses("cache-7")],
        },
        Agent {
            api: "openai",
            path: "/v1/chat/completions",
            headers: vec![],
            bodies: vec![chat("cache-8")],
        },
        Agent {
            api: "gemini",
            path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            headers: vec![],
            bodies: gemini_cli_turns(),
        },
    ]
}

/// A body of the same API with nothing that names a session.
fn anonymous(agent: &Agent) -> String {
    match agent.api {
        "anthropic" => MESSAGES_BODY.to_string(),
        "openai" => CHAT_BODY.to_string(),
        "responses" => json!({"model": "gpt-5.5", "input": "hi"}).to_string(),
        _ => json!({"contents": [{"role": "user", "parts": [{"text": fastrand::u32(..).to_string()}]}]})
            .to_string(),
    }
}

#[actix_rt::test]
async fn each_agents_conversation_stays_on_one_endpoint_while_others_take_turns() {
    for agent in agents() {
        let (a, b) = (mock("a", "k"), mock("b", "k"));
        let gw = two_of(agent.api, &a, &b);
        let mut plain = Vec::new();
        for _ in 0..4 {
            let (status, by) = send(&gw, agent.path, &[], &anonymous(&agent)).await;
            assert_eq!(status, 200, "{}", agent.path);
            plain.push(by);
        }
        assert!(
            plain.contains(&"a".to_string()) && plain.contains(&"b".to_string()),
            "{}: without a session both endpoints serve: {plain:?}",
            agent.path
        );
        let mut seen = Vec::new();
        for i in 0..6 {
            let body = &agent.bodies[i % agent.bodies.len()];
            let (status, by) = send(&gw, agent.path, &agent.headers, body).await;
            assert_eq!(status, 200, "{} {:?}", agent.path, agent.headers);
            seen.push(by);
        }
        assert!(
            seen.iter().all(|by| *by == seen[0]),
            "{} {:?}: the conversation moved: {seen:?}",
            agent.path,
            agent.headers
        );
        let status = gw.status().await;
        assert_eq!(status["sessions"]["moves"], 0, "{status}");
        // A Gemini request is always of some conversation: the four above were four more.
        let bound = if agent.api == "gemini" { 5 } else { 1 };
        assert_eq!(status["sessions"]["bound"], bound, "{status}");
    }
}

/// The value of the Prometheus sample named `name` (exactly, labels included), if any.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[actix_rt::test]
async fn a_session_moves_when_its_endpoint_fails_and_the_move_is_logged_and_counted() {
    let (a, b) = (mock("a", "k"), mock("b", "k"));
    let gw = two_of("anthropic", &a, &b);
    let session = [("x-claude-code-session-id", "conv-2")];
    let (status, bound) = send(&gw, "/v1/messages", &session, MESSAGES_BODY).await;
    assert_eq!(status, 200);
    let (failing, other) = if bound == "a" { (&a, "b") } else { (&b, "a") };
    failing.update(|x| x.status = Some(503));
    for _ in 0..3 {
        assert_eq!(
            send(&gw, "/v1/messages", &session, MESSAGES_BODY).await,
            (200, other.to_string())
        );
    }
    let moved = format!("session moved from {bound}");
    let log = gw.logs();
    assert_eq!(
        log.lines().filter(|l| l.contains(&moved)).count(),
        1,
        "one move, logged once:\n{log}"
    );
    let status = gw.status().await;
    assert_eq!(status["sessions"]["moves"], 1, "{status}");
    assert_eq!(status["sessions"]["moved_from"][&bound], 1, "{status}");
    let mut r = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&r.body().await.expect("body")).into_owned();
    assert_eq!(
        sample(&metrics, "switchyard_session_moves_total"),
        Some(1.0),
        "{metrics}"
    );
}

#[actix_rt::test]
async fn a_session_keeps_its_endpoint_across_requests_for_a_model_only_another_serves() {
    // `a` and `c` serve the big model, only `b` the small one (Claude Code asks a small model
    // for titles and summaries in the same session): the session keeps an endpoint for each.
    let (a, b, c) = (mock("a", "k"), mock("b", "k"), mock("c", "k"));
    let endpoint = |id: &str, m: &MockUpstream, models: &str| {
        format!(
            "  - id: {id}\n    base_url: {}\n    api_key: k\n    models: [{models}]\n",
            m.url()
        )
    };
    let gw = Gateway::start(&config(
        "balancer:\n  strategy: round_robin\n",
        &[
            endpoint("a", &a, "m-big"),
            endpoint("b", &b, "m-small"),
            endpoint("c", &c, "m-big"),
        ],
    ));
    let body = |model: &str| {
        json!({"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
            .to_string()
    };
    let session = [("x-claude-code-session-id", "conv-3")];
    // The session's first request is for the small model, as Claude Code's often is.
    assert_eq!(
        send(&gw, "/v1/messages", &session, &body("m-small")).await,
        (200, "b".to_string())
    );
    let (_, first) = send(&gw, "/v1/messages", &session, &body("m-big")).await;
    for _ in 0..4 {
        assert_eq!(
            send(&gw, "/v1/messages", &session, &body("m-small")).await,
            (200, "b".to_string())
        );
        assert_eq!(
            send(&gw, "/v1/messages", &session, &body("m-big")).await,
            (200, first.clone()),
            "the big model's requests left the session's endpoint"
        );
    }
    let status = gw.status().await;
    assert_eq!(status["sessions"]["moves"], 0, "{status}");
}

#[actix_rt::test]
async fn a_session_whose_only_endpoint_is_rate_limited_gets_the_rate_limit_and_its_time() {
    let up = MockUpstream::start(Behaviour {
        key: Some("k".into()),
        status: Some(429),
        retry_after: Some("30".into()),
        ..Behaviour::default()
    })
    .expect("mock");
    let gw = Gateway::start(&config("", &[endpoint("up", &up.url(), "k", 1)]));
    let session = [("x-claude-code-session-id", "conv-4")];
    assert_eq!(
        send(&gw, "/v1/messages", &session, MESSAGES_BODY).await.0,
        429
    );
    // The session's endpoint is the one that says when: nothing goes upstream, and the client
    // hears the rate limit with its time rather than that no endpoint is left.
    let mut r = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("content-type", "application/json"))
        .insert_header(session[0])
        .send_body(MESSAGES_BODY)
        .await
        .expect("request");
    let _ = r.body().await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        header(r.headers(), "x-switchyard-error").as_deref(),
        Some("rate_limited")
    );
    let wait: u64 = header(r.headers(), "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(up.hits(), 1);
}

//! The gateway never breaks an upstream's prompt cache by accident: what an upstream receives
//! (recorded by a mock on loopback) is the same bytes for the same client request, a conversation
//! one turn longer begins with the bytes the shorter one sent, and the client's cache breakpoints
//! (`cache_control`) reach the upstreams that read them.

mod common;

use common::*;
use serde_json::{json, Value};

/// A gateway whose one endpoint `up` speaks `api` at the mock, with `extra` lines for it.
fn gateway_to(api: &str, mock: &MockUpstream, extra: &str) -> Gateway {
    let base_url = match api {
        "openai" | "responses" => format!("{}/v1", mock.url()),
        _ => mock.url(),
    };
    Gateway::start(&config(
        "",
        &[format!(
            "  - id: up\n    api: {api}\n    base_url: {base_url}\n    api_key: k\n{extra}"
        )],
    ))
}

fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// A Claude Code-like request after `turns` tool round trips: breakpoints on the system and on
/// the first tool result, which stay where they are as the conversation grows (so each request's
/// body extends the one before).
fn claude_code_request(turns: usize) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "list the files"})];
    for t in 0..turns {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": format!("Step {t}.")},
            {"type": "tool_use", "id": format!("toolu_{t}"), "name": "Bash", "input": {"command": "ls", "timeout": 1.50}}]}));
        let mut result = json!({"type": "tool_result", "tool_use_id": format!("toolu_{t}"), "content": format!("file{t}.rs")});
        if t == 0 {
            result["cache_control"] = ephemeral();
        }
        messages.push(json!({"role": "user", "content": [result]}));
    }
    json!({"model": "claude-sonnet-4-5", "max_tokens": 512,
        "system": [{"type": "text", "text": "You are Claude Code."},
                   {"type": "text", "text": "Project notes: café ☕", "cache_control": ephemeral()}],
        "tools": [{"name": "Bash", "description": "Runs a command",
                   "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}],
        "messages": messages})
}

/// The byte range of `key`'s value in a JSON object.
fn span(body: &[u8], key: &str) -> std::ops::Range<usize> {
    let v: Value = serde_json::from_slice(body).expect("JSON");
    assert!(v.get(key).is_some(), "no {key}");
    switchyard::scan::top_level_members(body)
        .expect("an object")
        .into_iter()
        .find(|m| m.key == key)
        .expect("the member")
        .value
}

/// `longer` begins with every byte of `shorter` up to its conversation's last turn.
fn assert_extends(shorter: &[u8], longer: &[u8], key: &str) {
    let end = span(shorter, key).end - 1;
    assert!(
        longer.starts_with(&shorter[..end]),
        "the conversation's bytes changed:\n{}\n{}",
        String::from_utf8_lossy(shorter),
        String::from_utf8_lossy(longer)
    );
}

#[actix_rt::test]
async fn claude_codes_breakpoints_reach_a_chat_relay_of_a_claude_model_in_the_same_bytes_each_time()
{
    let relay = mock("relay", "k");
    // An OpenRouter-style name: the relay passes the breakpoints on to Anthropic.
    let gw = gateway_to(
        "openai",
        &relay,
        "    model_map: {\"claude-sonnet-4-5\": anthropic/claude-sonnet-4.5}\n",
    );
    for turns in [1, 1, 2] {
        let (status, _, body) = post_owned(
            &gw.url,
            "/v1/messages",
            claude_code_request(turns).to_string(),
        )
        .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let seen = relay.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].body, seen[1].body, "the same request, other bytes");
    assert_extends(&seen[1].body, &seen[2].body, "messages");
    let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent["model"], "anthropic/claude-sonnet-4.5");
    assert_eq!(
        sent["messages"][0]["content"][1],
        json!({"type": "text", "text": "Project notes: café ☕", "cache_control": ephemeral()})
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "tool_call_id": "toolu_0",
               "content": [{"type": "text", "text": "file0.rs", "cache_control": ephemeral()}]})
    );
}

#[actix_rt::test]
async fn no_breakpoint_reaches_a_chat_upstream_of_another_model() {
    let deepseek = mock("deepseek", "k");
    let gw = gateway_to(
        "openai",
        &deepseek,
        "    model_map: {\"claude-*\": deepseek-chat}\n",
    );
    let (status, _, _) =
        post_owned(&gw.url, "/v1/messages", claude_code_request(1).to_string()).await;
    assert_eq!(status, 200);
    let sent = String::from_utf8_lossy(&deepseek.requests()[0].body).into_owned();
    assert!(!sent.contains("cache_control"), "{sent}");
}

#[actix_rt::test]
async fn a_chat_clients_breakpoints_reach_an_anthropic_upstream() {
    let anthropic = mock("anthropic", "k");
    let gw = gateway_to("anthropic", &anthropic, "");
    let request = json!({"model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": ephemeral()}]},
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": ephemeral()}]}]});
    let (status, _, body) = post_owned(&gw.url, "/v1/chat/completions", request.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let sent: Value = serde_json::from_slice(&anthropic.requests()[0].body).unwrap();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "Be brief.", "cache_control": ephemeral()}])
    );
    assert_eq!(
        sent["messages"][0]["content"],
        json!([{"type": "text", "text": "hi", "cache_control": ephemeral()}])
    );
}

#[actix_rt::test]
async fn a_renamed_model_is_the_only_byte_a_passed_through_request_changes() {
    let relay = mock("relay", "k");
    let gw = gateway_to(
        "anthropic",
        &relay,
        "    model_map: {\"claude-sonnet-4-5\": relay-sonnet}\n",
    );
    // Spacing, key order and number forms as a client wrote them.
    let body = claude_code_request(2)
        .to_string()
        .replacen("{", "{ ", 1)
        .replace("1.5", "1.50");
    let (status, _, _) = post_owned(&gw.url, "/v1/messages", body.clone()).await;
    assert_eq!(status, 200);
    let sent = String::from_utf8(relay.requests()[0].body.to_vec()).unwrap();
    assert_eq!(
        sent,
        body.replace("\"claude-sonnet-4-5\"", "\"relay-sonnet\"")
    );
}

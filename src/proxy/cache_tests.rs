//! No rewrite of a request body may break the upstream's prompt cache: translation, the
//! `model_map` splice and the thinking rectifier give the same upstream body for the same client
//! body, byte for byte; a conversation one turn longer gives an upstream body that starts with the
//! shorter one's conversation, byte for byte; and the client's cache breakpoints (`cache_control`)
//! reach the upstreams that read them.

use crate::translate::{translate_gemini_request, translate_request, Api, RequestOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

const EPHEMERAL: &str = r#"{"type":"ephemeral"}"#;

fn to_chat(request: &Value, model: &str) -> Value {
    translated(Api::Anthropic, Api::OpenAi, request, model)
}

fn translated(client: Api, upstream: Api, request: &Value, model: &str) -> Value {
    let options = RequestOptions {
        upstream_model: Some(model.into()),
        ..RequestOptions::default()
    };
    let body = translate_request(client, upstream, request.to_string().as_bytes(), &options)
        .expect("translated");
    serde_json::from_slice(&body.body).expect("JSON")
}

fn ephemeral() -> Value {
    serde_json::from_str(EPHEMERAL).unwrap()
}

/// Claude Code's breakpoints: on the system, on a tool, on the last block of the last user turn
/// (a tool result), and on an assistant text.
fn marked_messages_request() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "system": [{"type": "text", "text": "You are Claude Code."},
                   {"type": "text", "text": "Project notes.", "cache_control": ephemeral()}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}, "cache_control": ephemeral()}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "list files", "cache_control": ephemeral()}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Listing.", "cache_control": ephemeral()},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "a b", "cache_control": ephemeral()}]}]})
}

#[test]
fn anthropic_breakpoints_reach_a_chat_upstream_of_a_claude_model_on_content_parts() {
    let out = to_chat(&marked_messages_request(), "anthropic/claude-sonnet-4.5");
    let m = &out["messages"];
    assert_eq!(
        m[0],
        json!({"role": "system", "content": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Project notes.", "cache_control": ephemeral()}]})
    );
    assert_eq!(
        m[1]["content"],
        json!([{"type": "text", "text": "list files", "cache_control": ephemeral()}])
    );
    assert_eq!(
        m[2]["content"],
        json!([{"type": "text", "text": "Listing.", "cache_control": ephemeral()}])
    );
    assert_eq!(m[2]["tool_calls"][0]["id"], "t1");
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "t1",
               "content": [{"type": "text", "text": "a b", "cache_control": ephemeral()}]})
    );
    // A Chat tool has no place for one the relays agree on; the system's covers the tools anyway.
    assert!(out["tools"][0].get("cache_control").is_none(), "{out}");
}

#[test]
fn no_breakpoint_reaches_an_upstream_that_has_no_such_field() {
    let request = marked_messages_request();
    let chat = to_chat(&request, "deepseek-chat");
    assert!(!chat.to_string().contains("cache_control"), "{chat}");
    // Unmarked, the output is what it always was: the system joined into one string.
    assert_eq!(
        chat["messages"][0],
        json!({"role": "system", "content": "You are Claude Code.\n\nProject notes."})
    );
    assert_eq!(chat["messages"][3]["content"], "a b");
    for upstream in [Api::Responses, Api::Gemini] {
        let out = translated(Api::Anthropic, upstream, &request, "gpt-5.5");
        assert!(!out.to_string().contains("cache_control"), "{out}");
    }
}

#[test]
fn chat_breakpoints_reach_an_anthropic_upstream() {
    let chat = json!({"model": "claude-sonnet-4-5",
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}},
                   "cache_control": ephemeral()}],
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."},
                                           {"type": "text", "text": "Notes.", "cache_control": ephemeral()}]},
            {"role": "user", "content": [{"type": "text", "text": "list files"},
                                         {"type": "text", "text": "now", "cache_control": ephemeral()}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function",
                "function": {"name": "Bash", "arguments": "{\"command\":\"ls\"}"}}]},
            {"role": "tool", "tool_call_id": "t1",
             "content": [{"type": "text", "text": "a b", "cache_control": ephemeral()}]}]});
    let out = translated(Api::OpenAi, Api::Anthropic, &chat, "claude-sonnet-4-5");
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "Be brief."},
               {"type": "text", "text": "Notes.", "cache_control": ephemeral()}])
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type": "text", "text": "list files"},
               {"type": "text", "text": "now", "cache_control": ephemeral()}])
    );
    assert_eq!(
        out["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "t1", "content": "a b",
                "cache_control": ephemeral()}])
    );
    assert_eq!(out["tools"][0]["cache_control"], ephemeral());
    // Unmarked, the system stays one string.
    let mut plain = chat.clone();
    plain["messages"][0]["content"] = json!("Be brief.");
    let out = translated(Api::OpenAi, Api::Anthropic, &plain, "claude-sonnet-4-5");
    assert_eq!(out["system"], "Be brief.");
}

#[test]
fn a_breakpoint_inside_a_tool_result_marks_the_result() {
    let request = json!({"model": "m", "max_tokens": 8, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
            "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]}]});
    let out = to_chat(&request, "claude-haiku-4-5");
    assert_eq!(
        out["messages"][1]["content"],
        json!([{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
    );
}

/// One turn of a generated conversation.
#[derive(Debug, Clone)]
enum Turn {
    /// Tool results (for the previous assistant turn's calls), then maybe text; a breakpoint on
    /// the turn's last block.
    User(Vec<String>, Option<String>, bool),
    /// Signed thinking, text and tool calls (name, an argument).
    Assistant(Option<String>, Option<String>, Vec<(String, String)>),
}

fn text() -> impl Strategy<Value = String> {
    // Escapes, non-ASCII and numbers-as-text included: they must come out the same each time.
    "(?s)[a-z \"\\\\\u{e9}\u{1f600}0-9.\n]{1,10}"
}

/// The tools every request of a conversation offers.
const TOOLS: [&str; 3] = [
    "Bash",
    "Read",
    "mcp__files__read_text_file_with_a_very_long_name_indeed_x",
];

/// A conversation that alternates user and assistant turns, starting and ending with the user.
fn conversation() -> impl Strategy<Value = Vec<Turn>> {
    let assistant = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec(
            (
                prop::sample::select(&TOOLS[..]).prop_map(String::from),
                text(),
            ),
            0..3,
        ),
    )
        .prop_filter("an assistant turn says something", |(_, t, c)| {
            t.is_some() || !c.is_empty()
        });
    let step = (
        assistant,
        prop::collection::vec(text(), 0..3),
        prop::option::of(text()),
        any::<bool>(),
    );
    (text(), any::<bool>(), prop::collection::vec(step, 1..4)).prop_map(|(first, mark, steps)| {
        let mut turns = vec![Turn::User(Vec::new(), Some(first), mark)];
        for ((thought, said, calls), results, text, mark) in steps {
            let n = calls.len();
            turns.push(Turn::Assistant(thought, said, calls));
            let mut results: Vec<String> = results.into_iter().cycle().take(n).collect();
            results.resize(n, "ok".into());
            let text = if n == 0 && text.is_none() {
                Some("go on".into())
            } else {
                text
            };
            turns.push(Turn::User(results, text, mark));
        }
        turns
    })
}

/// The conversation as a Messages request, with a marked system and tool.
fn messages_request(turns: &[Turn]) -> Value {
    let mut messages = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for (t, turn) in turns.iter().enumerate() {
        match turn {
            Turn::User(results, text, mark) => {
                let mut blocks: Vec<Value> = results
                    .iter()
                    .zip(&ids)
                    .map(|(content, id)| json!({"type": "tool_result", "tool_use_id": id, "content": content}))
                    .collect();
                if let Some(text) = text {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                if let (true, Some(last)) = (*mark, blocks.last_mut()) {
                    last["cache_control"] = ephemeral();
                }
                messages.push(json!({"role": "user", "content": blocks}));
            }
            Turn::Assistant(thought, text, calls) => {
                let mut blocks = Vec::new();
                if let Some(thought) = thought {
                    blocks.push(json!({"type": "thinking", "thinking": thought,
                        "signature": format!("sig-{t}-{}", thought.len())}));
                }
                if let Some(text) = text {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                ids.clear();
                for (c, (name, arg)) in calls.iter().enumerate() {
                    let id = format!("toolu_{t}_{c}");
                    blocks.push(json!({"type": "tool_use", "id": id, "name": name,
                        "input": {"arg": arg, "n": 1.5e3, "big": 12345678901234567890u64}}));
                    ids.push(id);
                }
                messages.push(json!({"role": "assistant", "content": blocks}));
            }
        }
    }
    let tools: Vec<Value> = TOOLS
        .iter()
        .map(|name| {
            json!({"name": name, "description": "runs it",
            "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}})
        })
        .collect();
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code."},
                   {"type": "text", "text": "Notes.", "cache_control": ephemeral()}],
        "tools": tools, "messages": messages})
}

/// The client's body for a conversation in `client`'s own API (another API's request is what
/// the gateway makes of the Messages one for such an upstream).
fn client_body(client: Api, turns: &[Turn]) -> Vec<u8> {
    let messages = messages_request(turns).to_string().into_bytes();
    if client == Api::Anthropic {
        return messages;
    }
    let options = RequestOptions {
        upstream_model: Some("claude-sonnet-4-5".into()),
        ..RequestOptions::default()
    };
    translate_request(Api::Anthropic, client, &messages, &options)
        .expect("the client's body")
        .body
}

/// `client`'s body translated for an upstream of `upstream`.
fn upstream_body(client: Api, upstream: Api, body: &[u8]) -> Vec<u8> {
    let options = RequestOptions {
        upstream_model: Some(match upstream {
            Api::Gemini => "gemini-2.5-pro".into(),
            Api::Responses => "gpt-5.5".into(),
            // A Claude model behind a Chat relay takes the breakpoints too.
            _ => "claude-sonnet-4-5".into(),
        }),
        ..RequestOptions::default()
    };
    let translated = match client {
        Api::Gemini => translate_gemini_request(upstream, body, "gemini-2.5-pro", true, &options),
        _ => translate_request(client, upstream, body, &options),
    };
    translated.expect("translated").body
}

/// The byte range of the conversation (`messages`, `input` or `contents`) in a request body.
fn conversation_span(api: Api, body: &[u8]) -> std::ops::Range<usize> {
    let key = match api {
        Api::Anthropic | Api::OpenAi => "messages",
        Api::Responses => "input",
        Api::Gemini => "contents",
    };
    crate::scan::top_level_members(body)
        .expect("a JSON object")
        .into_iter()
        .find(|m| m.key == key)
        .expect("a conversation")
        .value
}

/// `longer` (the body of a conversation one turn longer) begins with everything of `shorter` up
/// to the end of its conversation's last turn, and ends with all of it after that.
fn extends(api: Api, shorter: &[u8], longer: &[u8]) -> Result<(), TestCaseError> {
    let (a, b) = (
        conversation_span(api, shorter),
        conversation_span(api, longer),
    );
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    prop_assert!(
        longer.starts_with(&shorter[..a.end - 1]),
        "{api:?}: the prefix changed:\n{}\n{}",
        text(shorter),
        text(longer)
    );
    prop_assert_eq!(
        text(&shorter[a.end..]),
        text(&longer[b.end..]),
        "{:?}: what follows the conversation changed",
        api
    );
    Ok(())
}

const APIS: [Api; 4] = [Api::Anthropic, Api::OpenAi, Api::Responses, Api::Gemini];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_same_request_is_translated_to_the_same_bytes(turns in conversation()) {
        for client in APIS {
            let body = client_body(client, &turns);
            for upstream in APIS.into_iter().filter(|u| *u != client) {
                let once = upstream_body(client, upstream, &body);
                let again = upstream_body(client, upstream, &body);
                prop_assert!(once == again, "{:?} -> {:?} differs", client, upstream);
            }
        }
    }

    #[test]
    fn one_more_turn_leaves_the_translated_conversation_before_it_unchanged(turns in conversation()) {
        // Every user turn ends a request; the next request has two more turns.
        for n in (1..turns.len() - 1).step_by(2) {
            let (shorter, longer) = (&turns[..n], &turns[..n + 2]);
            for client in APIS {
                let (a, b) = (client_body(client, shorter), client_body(client, longer));
                extends(client, &a, &b)?;
                for upstream in APIS.into_iter().filter(|u| *u != client) {
                    let (ua, ub) = (upstream_body(client, upstream, &a), upstream_body(client, upstream, &b));
                    extends(upstream, &ua, &ub)
                        .map_err(|e| TestCaseError::fail(format!("{client:?} -> {upstream:?}: {e}")))?;
                }
            }
        }
    }
}

/// A body as the thinking rectifier sends it on (unchanged when it has nothing to remove).
fn rectified(body: &[u8]) -> Vec<u8> {
    crate::upstream::ratelimit::without_thinking_blocks(body)
        .map(Vec::from)
        .unwrap_or_else(|| body.to_vec())
}

/// A body as an endpoint whose `model_map` renames the model receives it.
fn renamed(body: &[u8]) -> Vec<u8> {
    crate::proxy::request::rewrite_model(body, "relay-sonnet")
        .map(Vec::from)
        .expect("one model")
}

/// A JSON object's members written with the spacing and number forms a client may use.
fn odd_object() -> impl Strategy<Value = (String, std::ops::Range<usize>)> {
    let value = prop::sample::select(vec![
        "1.50",
        "1e3",
        "-0",
        "12345678901234567890123",
        "[ 1 ,2 ]",
        "{\"a\" : \"\\u00e9\"}",
        "\"x\\\"y\"",
        "null",
        "true",
    ]);
    let space = prop::sample::select(vec!["", " ", "\n  ", "\t"]);
    (
        prop::collection::vec(("[a-z]{1,6}", value, space.clone()), 0..6),
        0usize..6,
        space,
    )
        .prop_map(|(members, at, space)| {
            let at = at.min(members.len());
            let mut text = String::from("{");
            let mut span = 0..0;
            let mut first = true;
            for (i, item) in members.iter().map(Some).chain([None]).enumerate() {
                let sep = if first { "" } else { "," };
                if i == at {
                    text.push_str(&format!("{sep}{space}\"model\"{space}:{space}"));
                    span.start = text.len();
                    text.push_str("\"claude-sonnet-4-5\"");
                    span.end = text.len();
                    first = false;
                }
                if let Some((key, value, space)) = item {
                    let sep = if first { "" } else { "," };
                    text.push_str(&format!("{sep}{space}\"k{key}\":{space}{value}"));
                    first = false;
                }
            }
            text.push_str(&format!("{space}}}"));
            (text, span)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_model_map_splice_changes_the_model_and_no_other_byte((body, span) in odd_object()) {
        let out = renamed(body.as_bytes());
        let want = format!("{}\"relay-sonnet\"{}", &body[..span.start], &body[span.end..]);
        prop_assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn the_rectifier_and_the_splice_rewrite_each_request_of_a_conversation_alike(turns in conversation()) {
        for n in (1..turns.len() - 1).step_by(2) {
            let shorter = messages_request(&turns[..n]).to_string().into_bytes();
            let longer = messages_request(&turns[..n + 2]).to_string().into_bytes();
            prop_assert_eq!(rectified(&longer), rectified(&longer));
            extends(Api::Anthropic, &rectified(&shorter), &rectified(&longer))?;
            extends(Api::Anthropic, &renamed(&shorter), &renamed(&longer))?;
            extends(Api::Anthropic, &renamed(&rectified(&shorter)), &renamed(&rectified(&longer)))?;
        }
    }
}

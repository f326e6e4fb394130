//! The request tests of the pair translator this hub replaced, kept word for word: each runs the
//! Messages ⇄ Chat translation through the hub (the client API's reader, the upstream's writer).

use super::chat::openai_name;
use super::lazy::{Json, Object};
use super::Refusal;
use super::{chat_to_messages, messages_to_chat};
use serde_json::Value;

/// Tool names a Messages request uses that the Chat writer shortens, as (short, original).
fn shortened_tool_names(request: &Object<'_>) -> Vec<(String, String)> {
    request
        .field("tools")
        .array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").as_str())
        .filter(|n| openai_name(n) != *n)
        .map(|n| (openai_name(&n).into_owned(), n.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_blocks_become_one_system_message() {
        let r = json!({"model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "hi"}]});
        let out = messages_to_chat(&r, "up").unwrap();
        assert_eq!(
            out["messages"][0],
            json!({"role": "system", "content": "a\n\nb"})
        );
        assert_eq!(out["messages"][1], json!({"role": "user", "content": "hi"}));
        assert_eq!(out["model"], "up");
        assert!(out.get("stream").is_none());
    }

    #[test]
    fn tool_results_come_before_the_rest_of_the_user_turn_and_errors_are_marked() {
        let r = json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "text", "text": "and?"}, {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "boom"}], "is_error": true}]},
        ]});
        let out = messages_to_chat(&r, "up").unwrap();
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m[0]["content"], Value::Null);
        assert_eq!(m[0]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
        assert_eq!(
            m[1],
            json!({"role": "tool", "tool_call_id": "t1", "content": "Error: boom"})
        );
        assert_eq!(m[2], json!({"role": "user", "content": "and?"}));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn long_tool_names_and_user_ids_are_shortened_the_same_way_everywhere() {
        let long = format!("mcp__{}__search", "a_very_long_server_name".repeat(3));
        assert!(long.len() > 64);
        let r = json!({"model": "m", "max_tokens": 1,
            "metadata": {"user_id": format!("user_{}_account__session_x", "f".repeat(64))},
            "tools": [{"name": long, "input_schema": {"type": "object"}}, {"name": "Bash", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": long},
            "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": long, "input": {}}]}]});
        let out = messages_to_chat(&r, "x").unwrap();
        let short = out["tools"][0]["function"]["name"].as_str().unwrap();
        assert_eq!(short.chars().count(), 64);
        assert!(long.starts_with(&short[..47]));
        assert_eq!(out["tools"][1]["function"]["name"], "Bash");
        assert_eq!(out["tool_choice"]["function"]["name"], short);
        assert_eq!(
            out["messages"][0]["tool_calls"][0]["function"]["name"],
            short
        );
        assert_eq!(out["user"].as_str().unwrap().chars().count(), 64);
        let bytes = serde_json::to_vec(&r).unwrap();
        let request = Json::parse(&bytes).unwrap().object().unwrap();
        assert_eq!(
            shortened_tool_names(&request),
            vec![(short.to_string(), long.clone())]
        );
    }

    #[test]
    fn documents_become_text_or_file_parts() {
        let r = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        ]}]});
        let out = messages_to_chat(&r, "x").unwrap();
        let parts = &out["messages"][0]["content"];
        assert_eq!(parts[0], json!({"type": "text", "text": "notes"}));
        assert_eq!(
            parts[1]["file"]["file_data"],
            "data:application/pdf;base64,JVBE"
        );
        let url = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}]});
        assert!(messages_to_chat(&url, "x").is_err());
        let in_result = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "page"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]}]}]});
        let out = messages_to_chat(&in_result, "x").unwrap();
        assert_eq!(
            out["messages"][0],
            json!({"role": "tool", "tool_call_id": "t", "content": "page"})
        );
        assert_eq!(out["messages"][1]["content"][0]["type"], "file");
    }

    #[test]
    fn server_tools_are_refused_and_tool_choice_maps() {
        let r = json!({"model": "m", "max_tokens": 1, "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]});
        assert!(matches!(
            messages_to_chat(&r, "x"),
            Err(Refusal::Unsupported { .. })
        ));
        for (choice, want) in [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "any"}), json!("required")),
            (json!({"type": "none"}), json!("none")),
            (
                json!({"type": "tool", "name": "f"}),
                json!({"type": "function", "function": {"name": "f"}}),
            ),
        ] {
            let r = json!({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": choice,
                "tools": [{"name": "f", "input_schema": {"type": "object"}}]});
            assert_eq!(messages_to_chat(&r, "x").unwrap()["tool_choice"], want);
        }
    }

    #[test]
    fn what_messages_cannot_express_is_refused_by_name() {
        let base = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
        for (key, value) in [
            ("n", json!(2)),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(2)),
            ("logit_bias", json!({"50256": -100})),
            ("presence_penalty", json!(0.5)),
            ("response_format", json!({"type": "json_object"})),
            ("functions", json!([])),
            ("modalities", json!(["text", "audio"])),
        ] {
            let mut r = base.clone();
            r[key] = value;
            let e = chat_to_messages(&r, "c", 100).unwrap_err();
            assert!(
                e.to_string().contains(key) || key == "top_logprobs" || key == "functions",
                "{e}"
            );
        }
        let mut ok = base.clone();
        ok["n"] = json!(1);
        ok["presence_penalty"] = json!(0);
        ok["response_format"] = json!({"type": "text"});
        assert!(chat_to_messages(&ok, "c", 100).is_ok());
    }

    #[test]
    fn inline_files_become_documents_and_file_ids_are_refused() {
        let r = json!({"model": "g", "messages": [{"role": "user", "content": [
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}}]}]});
        let out = chat_to_messages(&r, "c", 10).unwrap();
        assert_eq!(
            out["messages"][0]["content"][0],
            json!({"type": "document", "title": "a.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}})
        );
        let id = json!({"model": "g", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]});
        assert!(chat_to_messages(&id, "c", 10)
            .unwrap_err()
            .to_string()
            .contains("messages[0].content[0]"));
    }

    #[test]
    fn max_tokens_is_the_clients_else_the_default() {
        let r = json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(chat_to_messages(&r, "c", 321).unwrap()["max_tokens"], 321);
        let mut r2 = r.clone();
        r2["max_completion_tokens"] = json!(55);
        r2["max_tokens"] = json!(66);
        assert_eq!(chat_to_messages(&r2, "c", 321).unwrap()["max_tokens"], 55);
    }

    #[test]
    fn a_messages_upstream_gets_the_temperature_or_the_top_p_never_both() {
        let r = json!({"model": "g", "temperature": 0.4, "top_p": 0.9,
            "messages": [{"role": "user", "content": "hi"}]});
        let both = chat_to_messages(&r, "c", 321).unwrap();
        assert_eq!(both["temperature"], 0.4);
        assert!(both.get("top_p").is_none(), "{both}");
        let mut r2 = r.clone();
        r2.as_object_mut().unwrap().remove("temperature");
        assert_eq!(chat_to_messages(&r2, "c", 321).unwrap()["top_p"], 0.9);
    }

    #[test]
    fn consecutive_tool_messages_join_one_user_turn() {
        let r = json!({"model": "g", "messages": [
            {"role": "system", "content": "s1"},
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "r2"}]},
            {"role": "developer", "content": "s2"},
        ], "parallel_tool_calls": false, "tools": [{"type": "function", "function": {"name": "a"}}]});
        let out = chat_to_messages(&r, "c", 10).unwrap();
        assert_eq!(out["system"], "s1\n\ns2");
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1]["content"][0]["input"], json!({"x": 1}));
        assert_eq!(m[1]["content"][1]["input"], json!({}));
        assert_eq!(m[2]["content"][0]["tool_use_id"], "c1");
        assert_eq!(m[2]["content"][1]["content"], "r2");
        assert_eq!(
            out["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "auto", "disable_parallel_tool_use": true})
        );
    }

    #[test]
    fn arguments_that_are_not_json_are_refused() {
        let r = json!({"model": "g", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{oops"}}]}]});
        let e = chat_to_messages(&r, "c", 10).unwrap_err();
        assert!(e
            .to_string()
            .contains("messages[0].tool_calls[0].function.arguments"));
    }
}

#[cfg(test)]
mod system_turn_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_system_turn_between_messages_stays_in_place_as_a_system_message() {
        // Claude Code 2.1 puts system notes among the turns.
        let request = json!({"model": "m", "max_tokens": 5, "system": "top",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": [{"type": "text", "text": "agents: a, b"}]},
            {"role": "user", "content": "go"},
        ]});
        let chat = messages_to_chat(&request, "up").unwrap();
        let roles: Vec<&str> = chat["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "system", "user"]);
        assert_eq!(chat["messages"][2]["content"], "agents: a, b");
        let bad = json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]});
        let refusal = messages_to_chat(&bad, "up").unwrap_err();
        assert_eq!(refusal.field(), Some("messages[0]"));
    }
}

//! The answer tests of the pair translator this hub replaced, kept word for word: finish and stop
//! reasons, usage and whole answers, through the Chat and Messages readers and writers.

use super::lazy::Json;
use super::{answer_usage, chat_answer_to_messages, messages_answer_to_chat};
use super::{anthropic, chat, Tokens};
use serde_json::{json, Value};

/// The Messages `stop_reason` for a Chat `finish_reason`.
fn stop_reason(finish_reason: Option<&str>, had_tool_calls: bool) -> &'static str {
    anthropic::stop_word(chat::stop_reason(finish_reason, had_tool_calls))
}

/// The Chat `finish_reason` for a Messages `stop_reason`.
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    chat::finish_word(anthropic::stop_reason(stop_reason))
}

fn usage_from_chat(usage: Json<'_>) -> Tokens {
    chat::read_usage(usage)
}

impl Tokens {
    /// OpenAI's `usage` object.
    fn to_chat_json(self) -> Value {
        chat::usage_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_and_stop_reasons_map_both_ways() {
        for (finish, stop) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("content_filter", "refusal"),
        ] {
            assert_eq!(stop_reason(Some(finish), finish == "tool_calls"), stop);
            assert_eq!(finish_reason(Some(stop)), finish);
        }
        assert_eq!(stop_reason(Some("tool_calls"), false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), true), "tool_use");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("pause_turn")), "stop");
    }

    #[test]
    fn cached_prompt_tokens_become_cache_reads_and_back() {
        let usage = |v: Value| {
            let text = v.to_string();
            usage_from_chat(Json::parse(text.as_bytes()).unwrap())
        };
        let u = usage(
            json!({"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 60}}),
        );
        assert_eq!(u, Tokens::new(40, 7, 60, 0));
        assert_eq!(u.to_chat_json()["prompt_tokens"], 100);
        let d = usage(
            json!({"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 4}),
        );
        assert_eq!(d.cache_read, 4);
        assert_eq!(d.input, 6);
    }

    #[test]
    fn usage_is_read_from_either_apis_answer() {
        let chat = json!({"usage": {"prompt_tokens": 30, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 10}}});
        assert_eq!(
            answer_usage(super::super::Api::OpenAi, &chat),
            Tokens::new(20, 5, 10, 0)
        );
        let msg = json!({"usage": {"input_tokens": 3, "output_tokens": 4, "cache_creation_input_tokens": 7}});
        assert_eq!(
            answer_usage(super::super::Api::Anthropic, &msg),
            Tokens::new(3, 4, 0, 7)
        );
    }

    #[test]
    fn a_chat_answer_with_reasoning_and_tools_becomes_ordered_blocks() {
        let a = json!({"id": "x1", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "ok", "reasoning_content": "think",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3}});
        let m = chat_answer_to_messages(&a, "claude-x", &[("f".into(), "long_f".into())]);
        assert_eq!(m["model"], "claude-x");
        assert_eq!(m["id"], "msg_x1");
        let types: Vec<&str> = m["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["thinking", "text", "tool_use"]);
        assert_eq!(m["content"][2]["input"], json!({"a": 1}));
        assert_eq!(m["content"][2]["name"], "long_f");
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"]["input_tokens"], 5);
    }

    #[test]
    fn a_message_becomes_a_chat_completion_with_json_string_arguments() {
        let m = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "a"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": "x"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 2}});
        let c = messages_answer_to_chat(&m, "gpt-4o", 9);
        assert_eq!(c["model"], "gpt-4o");
        assert_eq!(c["created"], 9);
        let msg = &c["choices"][0]["message"];
        assert_eq!(msg["content"], "a");
        assert_eq!(msg["reasoning_content"], "t");
        assert_eq!(
            msg["tool_calls"][0]["function"]["arguments"],
            "{\"q\":\"x\"}"
        );
        assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c["usage"]["prompt_tokens"], 5);
        assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
        assert_eq!(c["usage"]["total_tokens"], 9);
    }
}

//! The Chat → Messages stream tests of the pair translator this hub replaced, kept word for word:
//! the Chat stream reader joined to the Messages stream writer.

use super::{Api, ChatToMessages, SseParser};
use serde_json::{json, Value};

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "model": "up", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    }

    fn events(bytes: &[u8]) -> Vec<Value> {
        let mut p = SseParser::new();
        p.feed(bytes)
            .into_iter()
            .map(|e| {
                let v: Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(v["type"].as_str().unwrap(), e.name);
                v
            })
            .collect()
    }

    #[test]
    fn a_plain_text_stream_becomes_one_text_block() {
        let mut t = ChatToMessages::new("claude-x");
        let mut out = t.feed(chunk(json!({"role": "assistant", "content": ""}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"content": "Hel"}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({"content": "lo"}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({}), Some("stop")).as_bytes()));
        out.extend(t.feed(b"data: [DONE]\n\n"));
        out.extend(t.finish().unwrap());
        let e = events(&out);
        let types: Vec<&str> = e.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(e[0]["message"]["model"], "claude-x");
        assert_eq!(e[5]["delta"]["stop_reason"], "end_turn");
    }

    #[test]
    fn the_block_closes_at_finish_reason_and_the_end_waits_for_usage() {
        let mut t = ChatToMessages::new("m");
        t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        let at_finish =
            String::from_utf8(t.feed(chunk(json!({}), Some("length")).as_bytes())).unwrap();
        assert!(at_finish.contains("content_block_stop") && !at_finish.contains("message_delta"));
        let usage = format!(
            "data: {}\n\n",
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}})
        );
        let end = events(&t.feed(usage.as_bytes()));
        assert_eq!(end[0]["delta"]["stop_reason"], "max_tokens");
        assert_eq!(end[0]["usage"]["input_tokens"], 9);
        assert_eq!(end[1]["type"], "message_stop");
        assert!(t.feed(b"data: [DONE]\n\n").is_empty());
        assert_eq!(t.finish().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_stream_that_stops_before_finishing_is_a_cut() {
        let mut t = ChatToMessages::new("m");
        t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        let cut = t.finish().unwrap_err();
        assert!(!cut.error_sent);
        assert!(String::from_utf8(cut.error_event(Api::Anthropic))
            .unwrap()
            .starts_with("event: error"));
    }

    #[test]
    fn an_upstream_error_event_becomes_an_anthropic_error_event() {
        let mut t = ChatToMessages::new("m");
        let out =
            t.feed(b"data: {\"error\":{\"message\":\"slow\",\"type\":\"rate_limit_error\"}}\n\n");
        let e = events(&out);
        assert_eq!(e.last().unwrap()["error"]["type"], "rate_limit_error");
        let cut = t.finish().unwrap_err();
        assert!(cut.error_sent && cut.error_event(Api::Anthropic).is_empty());
    }

    #[test]
    fn a_tool_call_whose_name_comes_late_keeps_its_early_arguments() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": "{\"a\""}}]}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": ":1}"}}]}), None).as_bytes()));
        out.extend(t.feed(chunk(json!({}), Some("tool_calls")).as_bytes()));
        out.extend(t.finish().unwrap());
        let e = events(&out);
        assert_eq!(e[1]["content_block"]["id"], "call_1");
        assert_eq!(e[2]["delta"]["partial_json"], "{\"a\":1}");
        assert_eq!(e[3]["type"], "content_block_stop");
        assert_eq!(e[4]["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn a_shortened_tool_name_is_given_back_as_the_client_wrote_it() {
        let mut t = ChatToMessages::new("m")
            .with_tool_names(vec![("short".into(), "the_long_original".into())]);
        let out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "short", "arguments": "{}"}}]}), None).as_bytes());
        assert_eq!(
            events(&out)[1]["content_block"]["name"],
            "the_long_original"
        );
    }

    #[test]
    fn an_event_too_large_to_follow_ends_the_stream_with_an_error_event() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"content": "a"}), None).as_bytes());
        out.extend(t.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""));
        let mib = vec![b'x'; 1 << 20];
        for _ in 0..=super::super::MAX_EVENT >> 20 {
            out.extend(t.feed(&mib));
        }
        assert!(t.gave_up());
        assert!(t.feed(b"\"}}]}\n\n").is_empty(), "nothing after the error");
        let e = events(&out);
        let last = e.last().unwrap();
        assert_eq!(last["type"], "error");
        assert!(last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB"));
        let cut = t.finish().unwrap_err();
        assert!(
            cut.error_sent && cut.reason.contains("SSE event"),
            "{cut:?}"
        );
    }

    /// One chunk whose delta carries `n` tool calls, indices 0.., each with its id and name.
    fn many_tool_calls(n: usize, one_index: bool) -> String {
        let calls: Vec<String> = (0..n)
            .map(|i| {
                let index = if one_index { 0 } else { i };
                format!(r#"{{"index":{index},"id":"c{i}","function":{{"name":"f","arguments":"{{}}"}}}}"#)
            })
            .collect();
        format!(
            "data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{\"tool_calls\":[{}]}},\"finish_reason\":\"tool_calls\"}}]}}\n\n",
            calls.join(",")
        )
    }

    #[test]
    fn many_tool_calls_in_one_chunk_are_found_by_index_not_by_search() {
        const N: usize = 20_000;
        for one_index in [false, true] {
            let mut t = ChatToMessages::new("m");
            let started = std::time::Instant::now();
            let out = t.feed(many_tool_calls(N, one_index).as_bytes());
            let took = started.elapsed();
            // Each call is found in its maps: one entry per index, one per (index, id).
            let indices = if one_index { 1 } else { N };
            assert_eq!((t.slot_of_index.len(), t.slot_of_id.len()), (indices, N));
            let mut p = SseParser::new();
            let starts: Vec<String> = p
                .feed(&out)
                .iter()
                .filter(|e| e.name == "content_block_start")
                .map(|e| {
                    serde_json::from_str::<Value>(&e.data).unwrap()["content_block"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(starts.len(), N);
            assert!(starts
                .iter()
                .enumerate()
                .all(|(i, id)| *id == format!("c{i}")));
            // Generous even for a debug build on a busy machine (a search per fragment took
            // 2.75 s for 80,000 calls in a release build).
            assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        }
    }

    #[test]
    fn parallel_calls_on_one_index_are_told_apart_by_id() {
        let mut t = ChatToMessages::new("m");
        let mut out = t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}), None).as_bytes());
        out.extend(t.feed(chunk(json!({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}), Some("tool_calls")).as_bytes()));
        out.extend(t.finish().unwrap());
        let starts: Vec<(u64, String)> = events(&out)
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .map(|e| {
                (
                    e["index"].as_u64().unwrap(),
                    e["content_block"]["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(starts, [(0, "a".to_string()), (1, "b".to_string())]);
    }
}

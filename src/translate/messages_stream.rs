//! The Messages → Chat stream tests of the pair translator this hub replaced, kept word for word:
//! the Messages stream reader joined to the Chat stream writer.

use super::{MessagesToChat, SseParser};
use serde_json::{json, Value};

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(v: Value) -> String {
        format!("event: {}\ndata: {}\n\n", v["type"].as_str().unwrap(), v)
    }

    fn chunks(bytes: &[u8]) -> Vec<Value> {
        let mut p = SseParser::new();
        p.feed(bytes)
            .into_iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    fn transcript() -> String {
        [
            ev(json!({"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 3}}})),
            ev(json!({"type": "ping"})),
            ev(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}})),
            ev(json!({"type": "content_block_stop", "index": 0})),
            ev(json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}})),
            ev(json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}})),
            ev(json!({"type": "content_block_stop", "index": 1})),
            ev(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}})),
            ev(json!({"type": "message_stop"})),
        ]
        .concat()
    }

    #[test]
    fn a_tool_stream_becomes_role_content_tool_call_and_finish_chunks() {
        let mut t = MessagesToChat::new("gpt-4o", true, 5);
        let mut out = t.feed(transcript().as_bytes());
        out.extend(t.finish().unwrap());
        assert!(out.ends_with(b"data: [DONE]\n\n"));
        let c = chunks(&out);
        assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(c[1]["choices"][0]["delta"]["content"], "Hi");
        let call = &c[2]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            (
                call["index"].as_u64(),
                call["id"].as_str(),
                call["function"]["name"].as_str()
            ),
            (Some(0), Some("toolu_1"), Some("f"))
        );
        assert_eq!(
            c[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"a\":"
        );
        assert_eq!(c[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(c[6]["choices"], json!([]));
        assert_eq!(c[6]["usage"]["prompt_tokens"], 10);
        assert_eq!(c[6]["usage"]["completion_tokens"], 12);
        assert_eq!(c.len(), 7);
        assert!(c
            .iter()
            .all(|c| c["model"] == "gpt-4o" && c["id"] == "chatcmpl-msg_1"));
    }

    #[test]
    fn without_include_usage_there_is_no_usage_chunk_and_a_cut_is_reported() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let out = t.feed(transcript().as_bytes());
        assert!(chunks(&out).iter().all(|c| c.get("usage").is_none()));
        let mut cut = MessagesToChat::new("gpt", false, 0);
        let half = transcript();
        cut.feed(&half.as_bytes()[..half.len() / 2]);
        assert!(!cut.finish().unwrap_err().error_sent);
    }

    #[test]
    fn an_event_too_large_to_follow_ends_the_stream_with_an_openai_error_chunk() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let mut out = t.feed(
            transcript()
                .split("event: content_block_stop")
                .next()
                .unwrap()
                .as_bytes(),
        );
        out.extend(t.feed(b"event: content_block_delta\ndata: "));
        let mib = vec![b'x'; 1 << 20];
        for _ in 0..=super::super::MAX_EVENT >> 20 {
            out.extend(t.feed(&mib));
        }
        assert!(t.gave_up());
        let c = chunks(&out);
        assert_eq!(c[1]["choices"][0]["delta"]["content"], "Hi");
        let last = c.last().unwrap();
        assert!(last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 16 MiB"));
        assert!(t.finish().unwrap_err().error_sent);
    }

    #[test]
    fn an_overloaded_event_becomes_an_openai_error_chunk() {
        let mut t = MessagesToChat::new("gpt", false, 0);
        let out = t.feed(ev(json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})).as_bytes());
        let c = chunks(&out);
        assert_eq!(c[0]["error"]["code"], "overloaded");
        assert_eq!(c[0]["error"]["message"], "Overloaded");
        assert!(t.finish().unwrap_err().error_sent);
    }
}

use super::{Kind, Rejected, Tokens, UsageReader, MAX_TOKENS};

const ANTHROPIC_SSE: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":1200,\"cache_read_input_tokens\":3000,\"output_tokens\":1}}}\n",
    "\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n",
    "\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n",
    "\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"The \\\"usage\\\": {\\\"output_tokens\\\": 999} key\"}}\n",
    "\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n",
    "\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n",
    "\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n",
    "\n",
);

const ANTHROPIC_TOKENS: Tokens = Tokens::new(472, 15, 3000, 1200);

const OPENAI_SSE: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\\"usage\\\":{}\"}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":42,\"total_tokens\":1542,\"prompt_tokens_details\":{\"cached_tokens\":1024}}}\n\n",
    "data: [DONE]\n\n",
);

const OPENAI_TOKENS: Tokens = Tokens::new(476, 42, 1024, 0);

fn read_whole(sse: bool, body: &[u8]) -> Option<Tokens> {
    let mut reader = UsageReader::new(sse);
    reader.feed(body);
    reader.finish()
}

/// The same answer, split in two at every byte boundary, and fed one byte at a time.
fn assert_split_everywhere(sse: bool, body: &str, expected: Option<Tokens>) {
    let bytes = body.as_bytes();
    for cut in 0..=bytes.len() {
        let mut reader = UsageReader::new(sse);
        reader.feed(&bytes[..cut]);
        reader.feed(&bytes[cut..]);
        assert_eq!(reader.finish(), expected, "split at byte {cut}");
    }
    let mut reader = UsageReader::new(sse);
    for b in bytes {
        reader.feed(std::slice::from_ref(b));
    }
    assert_eq!(reader.finish(), expected, "byte by byte");
}

#[test]
fn anthropic_stream_adds_message_delta_output_to_message_start_input_and_cache() {
    assert_eq!(
        read_whole(true, ANTHROPIC_SSE.as_bytes()),
        Some(ANTHROPIC_TOKENS)
    );
}

#[test]
fn anthropic_stream_reads_the_same_at_every_split() {
    assert_split_everywhere(true, ANTHROPIC_SSE, Some(ANTHROPIC_TOKENS));
}

#[test]
fn anthropic_message_delta_with_cumulative_input_counts_keeps_the_largest() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"input_tokens\":0,\"cache_read_input_tokens\":7,\"output_tokens\":30}}\n\n",
    );
    assert_eq!(
        read_whole(true, body.as_bytes()),
        Some(Tokens::new(10, 30, 7, 0))
    );
}

#[test]
fn anthropic_stream_cut_before_message_delta_yields_what_message_start_said() {
    let cut = ANTHROPIC_SSE
        .find("event: message_delta")
        .expect("fixture has a message_delta");
    assert_eq!(
        read_whole(true, &ANTHROPIC_SSE.as_bytes()[..cut]),
        Some(Tokens::new(472, 1, 3000, 1200))
    );
}

#[test]
fn stream_cut_inside_the_usage_line_yields_only_what_was_whole() {
    let at = ANTHROPIC_SSE.find("\"output_tokens\":15").expect("fixture");
    let tokens = read_whole(true, &ANTHROPIC_SSE.as_bytes()[..at + 5]);
    assert_eq!(tokens.map(|t| t.output), Some(1));
}

#[test]
fn stream_cut_before_any_usage_is_unknown_not_zero() {
    let at = ANTHROPIC_SSE.find("\"usage\"").expect("fixture");
    assert_eq!(read_whole(true, &ANTHROPIC_SSE.as_bytes()[..at]), None);
    assert_eq!(read_whole(true, b""), None);
}

#[test]
fn openai_stream_reads_the_usage_chunk_and_skips_usage_null() {
    assert_eq!(read_whole(true, OPENAI_SSE.as_bytes()), Some(OPENAI_TOKENS));
}

#[test]
fn openai_stream_reads_the_same_at_every_split() {
    assert_split_everywhere(true, OPENAI_SSE, Some(OPENAI_TOKENS));
}

#[test]
fn openai_stream_without_usage_is_unknown() {
    let body = concat!(
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    assert_split_everywhere(true, body, None);
}

#[test]
fn openai_stream_with_crlf_lines_and_usage_on_the_last_content_chunk() {
    // DeepSeek and some relays put usage on the chunk with finish_reason, and use CRLF.
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":3,\"prompt_cache_hit_tokens\":16,\"prompt_cache_miss_tokens\":4}}\r\n\r\n",
        "data: [DONE]\r\n\r\n",
    );
    assert_split_everywhere(true, body, Some(Tokens::new(4, 3, 16, 0)));
}

/// A Responses API stream as OpenAI sends it: the response object in `response.created` and
/// `response.in_progress` has `usage: null`; only `response.completed` carries the usage, after
/// repeating the instructions, the whole output and the tools. Text that mentions usage sits in
/// strings and a tool's arguments; an item's own object is never read.
fn responses_sse(cached: u64, output: u64) -> String {
    let text = r#"The \"usage\": {\"input_tokens\": 999} key"#;
    let item = format!(
        r#"{{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{{"type":"output_text","text":"{text}","annotations":[]}}]}}"#
    );
    let call = r#"{"id":"fc_1","type":"function_call","status":"completed","call_id":"call_1","name":"f","arguments":"{\"usage\":{\"output_tokens\":777}}"}"#;
    let started = r#"{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","instructions":"Say \"usage\".","model":"gpt-5","output":[],"tools":[],"usage":null}"#;
    let completed = format!(
        r#"{{"id":"resp_1","object":"response","created_at":1,"status":"completed","error":null,"incomplete_details":null,"instructions":"Say \"usage\".","model":"gpt-5","output":[{item},{call}],"tools":[{{"type":"function","name":"f","parameters":{{"type":"object","properties":{{"usage":{{"type":"object"}}}}}}}}],"usage":{{"input_tokens":2400,"input_tokens_details":{{"cached_tokens":{cached}}},"output_tokens":{output},"output_tokens_details":{{"reasoning_tokens":24}},"total_tokens":{total}}},"user":null,"metadata":{{}}}}"#,
        total = 2400 + output
    );
    [
        format!("event: response.created\ndata: {{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{started}}}\n\n"),
        format!("event: response.in_progress\ndata: {{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{started}}}\n\n"),
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n".to_string(),
        format!("event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"{text}\"}}\n\n"),
        format!("event: response.output_item.done\ndata: {{\"type\":\"response.output_item.done\",\"sequence_number\":4,\"output_index\":0,\"item\":{item}}}\n\n"),
        format!("event: response.output_item.done\ndata: {{\"type\":\"response.output_item.done\",\"sequence_number\":5,\"output_index\":1,\"item\":{call}}}\n\n"),
        format!("event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":6,\"response\":{completed}}}\n\n"),
    ]
    .concat()
}

/// A Responses API JSON answer: the response object, its usage at the top level.
const RESPONSES_JSON: &str = r#"{"id":"resp_1","object":"response","created_at":1,"status":"completed","error":null,"incomplete_details":null,"instructions":"Say \"usage\": {\"input_tokens\": 9}","model":"gpt-5","output":[{"type":"reasoning","id":"rs_1","summary":[]},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"The \"usage\" key","annotations":[]}]},{"type":"function_call","id":"fc_1","call_id":"c1","name":"f","arguments":"{\"usage\":{\"output_tokens\":999}}"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"usage":{"type":"object"}}}}],"usage":{"input_tokens":2400,"input_tokens_details":{"cached_tokens":1920},"output_tokens":150,"output_tokens_details":{"reasoning_tokens":128},"total_tokens":2550},"user":null,"metadata":{}}"#;

#[test]
fn responses_json_counts_cached_tokens_as_cache_reads_and_reasoning_once_at_every_split() {
    // input_tokens (2400) include the 1920 cached; output_tokens (150) include the 128 reasoning.
    let expected = Tokens::new(480, 150, 1920, 0).with_reasoning(128);
    assert_split_everywhere(false, RESPONSES_JSON, Some(expected));
    let uncached = RESPONSES_JSON.replace(r#""cached_tokens":1920"#, r#""cached_tokens":0"#);
    assert_split_everywhere(
        false,
        &uncached,
        Some(Tokens::new(2400, 150, 0, 0).with_reasoning(128)),
    );
}

#[test]
fn responses_stream_reads_only_the_completed_events_usage_at_every_split() {
    assert_split_everywhere(
        true,
        &responses_sse(0, 42),
        Some(Tokens::new(2400, 42, 0, 0).with_reasoning(24)),
    );
}

#[test]
fn responses_stream_with_cached_tokens_counts_them_as_cache_reads_at_every_split() {
    assert_split_everywhere(
        true,
        &responses_sse(1920, 42),
        Some(Tokens::new(480, 42, 1920, 0).with_reasoning(24)),
    );
}

#[test]
fn responses_completed_event_subtracts_cached_input() {
    let body = concat!(
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"usage\":null}}\n\n",
        "event: response.completed\n",
        "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":60},\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":109}}}\n\n",
    );
    assert_eq!(
        read_whole(true, body.as_bytes()),
        Some(Tokens::new(40, 9, 60, 0))
    );
}

#[test]
fn responses_incomplete_and_failed_events_count_what_was_used_at_every_split() {
    for (kind, status) in [
        ("response.incomplete", "incomplete"),
        ("response.failed", "failed"),
    ] {
        let body = format!(
            concat!(
                "event: response.created\n",
                "data: {{\"type\":\"response.created\",\"response\":{{\"id\":\"r\",\"status\":\"in_progress\",\"usage\":null}}}}\n\n",
                "event: response.output_text.delta\n",
                "data: {{\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"partial\"}}\n\n",
                "event: {kind}\n",
                "data: {{\"type\":\"{kind}\",\"response\":{{\"id\":\"r\",\"status\":\"{status}\",\"incomplete_details\":{{\"reason\":\"max_output_tokens\"}},\"output\":[],\"usage\":{{\"input_tokens\":300,\"input_tokens_details\":{{\"cached_tokens\":256}},\"output_tokens\":16,\"output_tokens_details\":{{\"reasoning_tokens\":16}},\"total_tokens\":316}}}}}}\n\n",
            ),
            kind = kind,
            status = status
        );
        assert_split_everywhere(
            true,
            &body,
            Some(Tokens::new(44, 16, 256, 0).with_reasoning(16)),
        );
    }
}

#[test]
fn responses_stream_without_usage_is_unknown_at_every_split() {
    // Cut before `response.completed`, or failed before anything was used (`usage: null`).
    let whole = responses_sse(1920, 42);
    let cut = whole.find("event: response.completed").expect("fixture");
    assert_split_everywhere(true, &whole[..cut], None);
    let failed = concat!(
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"status\":\"in_progress\",\"usage\":null}}\n\n",
        "event: response.failed\n",
        "data: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"The usage was not computed\"},\"usage\":null}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"usage\",\"param\":null}\n\n",
    );
    assert_split_everywhere(true, failed, None);
}

#[test]
fn a_responses_event_far_longer_than_a_chunk_is_read_without_being_kept() {
    // Codex and Claude Code send long instructions and tools, which `response.completed`
    // repeats with the whole answer before its usage: this event is over 2 MiB on one line.
    let long = "x".repeat(1 << 20);
    let body = responses_sse(1920, 42)
        .replace(r#"Say \"usage\"."#, &long)
        .replace("The \\\"usage\\\"", &format!("{long} \\\"usage\\\""));
    let longest = body.lines().map(str::len).max().unwrap_or(0);
    assert!(longest > 2 << 20, "{longest}");
    let expected = Some(Tokens::new(480, 42, 1920, 0).with_reasoning(24));
    for size in [1, 7, 4093, 16 << 10, body.len()] {
        let mut reader = UsageReader::new(true);
        for chunk in body.as_bytes().chunks(size) {
            reader.feed(chunk);
        }
        assert_eq!(reader.finish(), expected, "chunks of {size}");
    }
}

#[test]
fn a_responses_usage_is_told_from_anthropics_by_its_fields_or_its_event_not_its_counts() {
    // The same counts; a relay added Anthropic's cache field to a Responses usage. A Responses
    // usage's input_tokens already hold every input token: nothing is added to them.
    let counts = r#""input_tokens":100,"cache_read_input_tokens":60,"output_tokens":5"#;
    let anthropic = Some(Tokens::new(100, 5, 60, 0));
    let responses = Some(Tokens::new(100, 5, 0, 0));
    let json = |extra: &str| format!(r#"{{"usage":{{{counts}{extra}}}}}"#);
    assert_split_everywhere(false, &json(""), anthropic);
    assert_split_everywhere(
        false,
        &json(r#","output_tokens_details":{"reasoning_tokens":2}"#),
        responses.map(|t| t.with_reasoning(2)),
    );
    assert_split_everywhere(
        false,
        &json(r#","input_tokens_details":{"cached_tokens":0}"#),
        responses,
    );
    let event = |holder: &str| {
        format!("data: {{\"type\":\"x\",\"{holder}\":{{\"id\":\"r\",\"usage\":{{{counts}}}}}}}\n\n")
    };
    assert_split_everywhere(true, &event("message"), anthropic);
    assert_split_everywhere(true, &event("response"), responses);
}

#[test]
fn an_absurd_count_in_a_responses_usage_is_unknown_and_the_others_still_count() {
    let body = responses_sse(1920, 42).replace(r#""output_tokens":42"#, r#""output_tokens":-42"#);
    assert_split_everywhere(
        true,
        &body,
        Some(known(Some(480), None, Some(1920), Some(0)).with_reasoning(24)),
    );
    let body = responses_sse(1920, 42).replace(
        r#""cached_tokens":1920"#,
        r#""cached_tokens":18446744073709551616"#,
    );
    assert_split_everywhere(
        true,
        &body,
        Some(known(Some(2400), Some(42), None, Some(0)).with_reasoning(24)),
    );
}

const ANTHROPIC_JSON: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"tool_use","id":"t1","name":"f","input":{"usage":{"output_tokens":777}}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":50,"output_tokens":6}}"#;

const OPENAI_JSON: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"usage"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;

#[test]
fn anthropic_json_reads_the_top_level_usage_not_a_tool_input_named_usage() {
    assert_split_everywhere(false, ANTHROPIC_JSON, Some(Tokens::new(12, 6, 50, 0)));
}

#[test]
fn openai_json_reads_prompt_and_completion_tokens() {
    assert_split_everywhere(false, OPENAI_JSON, Some(Tokens::new(19, 10, 0, 0)));
}

#[test]
fn openai_json_with_cached_tokens_counts_them_as_cache_reads() {
    let body = r#"{"choices":[],"usage":{"prompt_tokens":2048,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":1920}}}"#;
    assert_eq!(
        read_whole(false, body.as_bytes()),
        Some(Tokens::new(128, 1, 1920, 0))
    );
}

#[test]
fn error_answers_and_json_without_usage_are_unknown() {
    let anthropic_error =
        r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let openai_error = r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#;
    assert_eq!(read_whole(false, anthropic_error.as_bytes()), None);
    assert_eq!(read_whole(false, openai_error.as_bytes()), None);
    assert_eq!(read_whole(false, br#"{"usage":null}"#), None);
    assert_eq!(read_whole(false, b"not json at all"), None);
}

#[test]
fn json_cut_short_after_its_usage_still_reads_it() {
    let body = r#"{"id":"x","usage":{"input_tokens":3,"output_tokens":4},"extra":"#;
    assert_eq!(
        read_whole(false, body.as_bytes()),
        Some(Tokens::new(3, 4, 0, 0))
    );
}

#[test]
fn a_huge_json_body_is_read_from_its_tail() {
    let filler = "a".repeat(3 << 20);
    let body = format!(
        r#"{{"content":[{{"type":"text","text":"{filler}"}}],"usage":{{"input_tokens":5,"output_tokens":2000000}}}}"#
    );
    let mut reader = UsageReader::new(false);
    for chunk in body.as_bytes().chunks(16 << 10) {
        reader.feed(chunk);
    }
    assert_eq!(reader.finish(), Some(Tokens::new(5, 2_000_000, 0, 0)));
}

#[test]
fn content_type_picks_the_reader() {
    let mut sse = UsageReader::for_content_type("text/event-stream; charset=utf-8");
    sse.feed(OPENAI_SSE.as_bytes());
    assert_eq!(sse.finish(), Some(OPENAI_TOKENS));
    let mut json = UsageReader::for_content_type("application/json");
    json.feed(OPENAI_JSON.as_bytes());
    assert_eq!(json.finish().map(|t| t.output), Some(10));
    let mut binary = UsageReader::for_content_type("audio/mpeg");
    binary.feed(OPENAI_JSON.as_bytes());
    assert_eq!(binary.finish(), None);
    // Media types are case-insensitive; relays send plain text or nothing for JSON, too.
    for (content_type, sse) in [
        ("Text/Event-Stream", true),
        ("APPLICATION/JSON; charset=UTF-8", false),
        ("application/vnd.api+Json", false),
        ("TEXT/plain", false),
        ("", false),
    ] {
        let mut reader = UsageReader::for_content_type(content_type);
        reader.feed(if sse { OPENAI_SSE } else { OPENAI_JSON }.as_bytes());
        assert!(reader.finish().is_some(), "{content_type:?}");
    }
    for content_type in ["image/png", "tex", "application/octet-stream"] {
        let mut reader = UsageReader::for_content_type(content_type);
        reader.feed(OPENAI_JSON.as_bytes());
        assert_eq!(reader.finish(), None, "{content_type:?}");
    }
}

/// Run by hand: `cargo test --release --lib usage::extract::tests::cost_per_request -- --ignored --nocapture`.
/// Prints the reader's cost for a typical streamed answer (400 text deltas) and a JSON answer.
#[test]
#[ignore]
fn cost_per_request() {
    let mut stream = String::new();
    let start = ANTHROPIC_SSE
        .split_inclusive("\n\n")
        .next()
        .expect("fixture");
    stream.push_str(start);
    for i in 0..400 {
        stream.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"word {i} of a fairly ordinary sentence \"}}}}\n\n"
        ));
    }
    stream.push_str("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2400}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    let chunks: Vec<&[u8]> = stream.as_bytes().chunks(1400).collect();
    let runs = 2000;
    let began = std::time::Instant::now();
    for _ in 0..runs {
        let mut reader = UsageReader::new(true);
        for chunk in &chunks {
            reader.feed(chunk);
        }
        assert_eq!(reader.finish().map(|t| t.output), Some(2400));
    }
    let per = began.elapsed() / runs;
    println!(
        "SSE answer of {} bytes in {} chunks: {:?} per request ({:.0} MB/s)",
        stream.len(),
        chunks.len(),
        per,
        stream.len() as f64 / per.as_secs_f64() / 1e6
    );
    let began = std::time::Instant::now();
    for _ in 0..runs {
        let mut reader = UsageReader::new(false);
        reader.feed(OPENAI_JSON.as_bytes());
        assert!(reader.finish().is_some());
    }
    println!(
        "JSON answer of {} bytes: {:?} per request",
        OPENAI_JSON.len(),
        began.elapsed() / runs
    );
}

/// Tokens with these counts known and the others unknown; an unknown cache write (with no
/// split by lifetime) leaves both lifetimes unknown.
fn known(
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
) -> Tokens {
    let mut tokens = Tokens::default();
    for (kind, count) in [
        (Kind::Input, input),
        (Kind::Output, output),
        (Kind::CacheRead, cache_read),
        (Kind::CacheWrite5m, cache_write),
        (Kind::CacheWrite1h, cache_write.map(|_| 0)),
    ] {
        match count {
            Some(n) => tokens.set(kind, n),
            None => tokens.unknown.insert(kind),
        }
    }
    tokens
}

#[test]
fn a_count_past_the_limit_is_unknown_and_the_other_counts_still_count() {
    let body = r#"{"type":"message","content":[],"usage":{"input_tokens":18446744073709551615,"cache_read_input_tokens":9,"output_tokens":7}}"#;
    assert_split_everywhere(false, body, Some(known(None, Some(7), Some(9), Some(0))));
    let mut reader = UsageReader::new(false);
    reader.feed(body.as_bytes());
    let reading = reader.finish_reading();
    assert_eq!(
        reading.rejected,
        [Rejected {
            field: "input_tokens",
            value: Some("18446744073709551615".into())
        }]
    );
}

#[test]
fn each_malformed_field_is_unknown_on_its_own() {
    for bad in [
        "500.0",
        "-1",
        "\"1000\"",
        "1e3",
        "1000000000001",
        "true",
        "{}",
        "[1]",
    ] {
        let body = format!(r#"{{"usage":{{"prompt_tokens":{bad},"completion_tokens":12}}}}"#);
        assert_eq!(
            read_whole(false, body.as_bytes()),
            Some(known(None, Some(12), Some(0), Some(0))),
            "prompt_tokens: {bad}"
        );
        let line = format!("data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":20,\"completion_tokens\":{bad}}}}}\n\n");
        assert_eq!(
            read_whole(true, line.as_bytes()),
            Some(known(Some(20), None, Some(0), Some(0))),
            "completion_tokens: {bad}"
        );
    }
    // A field named twice is not read either way; the largest allowed count is.
    let body = r#"{"usage":{"input_tokens":5,"input_tokens":6,"output_tokens":1000000000000}}"#;
    let mut reader = UsageReader::new(false);
    reader.feed(body.as_bytes());
    let reading = reader.finish_reading();
    assert_eq!(
        reading.tokens,
        Some(known(None, Some(MAX_TOKENS), Some(0), Some(0)))
    );
    assert_eq!(reading.rejected[0].value, None, "named twice");
    // A warning quotes a number, never upstream text (which could echo anything).
    let body = r#"{"usage":{"input_tokens":"sk-secret-key","output_tokens":-2.5}}"#;
    let mut reader = UsageReader::new(false);
    reader.feed(body.as_bytes());
    let shown: Vec<Option<String>> = reader
        .finish_reading()
        .rejected
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(shown, [Some("a string".into()), Some("-2.5".into())]);
    // `null` says nothing: it is not a bad count.
    let body = r#"{"usage":{"input_tokens":null,"output_tokens":3}}"#;
    assert_eq!(
        read_whole(false, body.as_bytes()),
        Some(Tokens::new(0, 3, 0, 0))
    );
}

#[test]
fn an_unusable_cached_count_leaves_the_whole_prompt_as_uncached_input() {
    let body = r#"{"usage":{"prompt_tokens":2048,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":-5}}}"#;
    assert_eq!(
        read_whole(false, body.as_bytes()),
        Some(known(Some(2048), Some(1), None, Some(0)))
    );
    let body = r#"{"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":60,"cached_tokens":61},"output_tokens":9}}"#;
    assert_eq!(
        read_whole(false, body.as_bytes()),
        Some(known(Some(100), Some(9), None, Some(0)))
    );
}

#[test]
fn a_later_unusable_count_does_not_erase_an_earlier_one() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":-1,\"output_tokens\":30}}\n\n",
    );
    assert_split_everywhere(true, body, Some(Tokens::new(10, 30, 0, 0)));
}

#[test]
fn usage_inside_a_huge_answers_content_is_never_read() {
    // The answer's own usage comes first; a tool's input named `usage` sits in the body's tail.
    let filler = "a".repeat(3 << 20);
    let body = format!(
        r#"{{"id":"msg_1","usage":{{"input_tokens":5,"output_tokens":2}},"content":[{{"type":"text","text":"{filler} \"usage\": {{\"output_tokens\": 1}}"}},{{"type":"tool_use","id":"t","name":"f","input":{{"usage":{{"input_tokens":4000000000000000000,"output_tokens":4000000000000000000}}}}}}]}}"#
    );
    for chunk_size in [16 << 10, 4093] {
        let mut reader = UsageReader::new(false);
        for chunk in body.as_bytes().chunks(chunk_size) {
            reader.feed(chunk);
        }
        assert_eq!(
            reader.finish(),
            Some(Tokens::new(5, 2, 0, 0)),
            "chunks of {chunk_size}"
        );
    }
}

#[test]
fn a_stream_event_whose_content_holds_a_usage_object_is_not_read_for_usage() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"content\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"usage\":{\"output_tokens\":999999}}}}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"usage\":{\"output_tokens\":888888}}}]}}]}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":4}}\n\n",
    );
    assert_split_everywhere(true, body, Some(Tokens::new(10, 4, 0, 0)));
}

#[test]
fn json_bodies_that_are_not_one_object_say_nothing() {
    for body in [
        &b"[[{\"usage\":{\"input_tokens\":1}}]]"[..],
        b"[1, {\"usage\":{\"input_tokens\":1}}]",
        b"\"usage\"",
        b"",
        b"   ",
        b"{\"usage\"",
        b"{\"a\" \"usage\":{\"input_tokens\":1}}",
    ] {
        assert_eq!(
            read_whole(false, body),
            None,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // An escaped key is the same key; a longer one is another.
    let body = br#"{"us\u0061ge":{"input_tokens":1},"usage_total":{"input_tokens":9}}"#;
    assert_eq!(read_whole(false, body), Some(Tokens::new(1, 0, 0, 0)));
}

/// A Gemini `generateContent` answer: thoughts, text that mentions usage, a function call whose
/// arguments hold a `usageMetadata`, and the answer's own `usageMetadata` at the top level.
const GEMINI_JSON: &str = r#"{"candidates":[{"content":{"parts":[{"text":"Checking.","thought":true},{"text":"The \"usageMetadata\": {\"promptTokenCount\": 9} key","thoughtSignature":"c2ln"},{"functionCall":{"name":"f","args":{"usageMetadata":{"candidatesTokenCount":777}}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":2400,"cachedContentTokenCount":1920,"candidatesTokenCount":150,"thoughtsTokenCount":128,"totalTokenCount":2678,"promptTokensDetails":[{"modality":"TEXT","tokenCount":2400}],"cacheTokensDetails":[{"modality":"TEXT","tokenCount":1920}]},"modelVersion":"gemini-2.5-pro","responseId":"r1"}"#;

/// A Gemini stream (`:streamGenerateContent?alt=sse`, CRLF lines as Google sends them): every
/// chunk carries the running `usageMetadata`, the first ones only the prompt's count.
fn gemini_sse(last_usage: &str) -> String {
    let early = r#""usageMetadata":{"promptTokenCount":2400,"totalTokenCount":2400,"promptTokensDetails":[{"modality":"TEXT","tokenCount":2400}]}"#;
    [
        format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"Checking.\",\"thought\":true}}],\"role\":\"model\"}},\"index\":0}}],{early},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"r1\"}}\r\n\r\n"),
        format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"Say \\\"usageMetadata\\\": {{\\\"candidatesTokenCount\\\": 999}}\"}}],\"role\":\"model\"}},\"index\":0}}],{early},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"r1\"}}\r\n\r\n"),
        format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"!\"}}],\"role\":\"model\"}},\"finishReason\":\"STOP\",\"index\":0}}],\"usageMetadata\":{last_usage},\"modelVersion\":\"gemini-2.5-pro\",\"responseId\":\"r1\"}}\r\n\r\n"),
    ]
    .concat()
}

#[test]
fn gemini_json_counts_cached_prompt_tokens_as_cache_reads_and_thoughts_as_output_at_every_split() {
    // promptTokenCount (2400) includes the 1920 cached; output is 150 candidates + 128 thoughts.
    assert_split_everywhere(
        false,
        GEMINI_JSON,
        Some(Tokens::new(480, 278, 1920, 0).with_reasoning(128)),
    );
}

#[test]
fn gemini_json_without_cache_or_thoughts_counts_the_prompt_and_candidates_at_every_split() {
    let body = r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15},"modelVersion":"gemini-2.5-flash"}"#;
    assert_split_everywhere(false, body, Some(Tokens::new(12, 3, 0, 0)));
}

#[test]
fn gemini_stream_takes_the_last_running_usage_at_every_split() {
    let last = r#"{"promptTokenCount":2400,"cachedContentTokenCount":1920,"candidatesTokenCount":3,"thoughtsTokenCount":2,"totalTokenCount":2405}"#;
    assert_split_everywhere(
        true,
        &gemini_sse(last),
        Some(Tokens::new(480, 5, 1920, 0).with_reasoning(2)),
    );
}

#[test]
fn a_gemini_stream_without_alt_sse_is_one_json_array_whose_last_usage_counts_at_every_split() {
    // `:streamGenerateContent` without `alt=sse`: the same chunks as one JSON array.
    let early = r#"{"promptTokenCount":2400,"totalTokenCount":2400}"#;
    let last = r#"{"promptTokenCount":2400,"cachedContentTokenCount":1920,"toolUsePromptTokenCount":7,"candidatesTokenCount":3,"thoughtsTokenCount":2,"totalTokenCount":2412}"#;
    let body = format!(
        "[{{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"The \\\"usageMetadata\\\" key\"}}],\"role\":\"model\"}},\"index\":0}}],\"usageMetadata\":{early}}}\r\n,\r\n{{\"candidates\":[{{\"content\":{{\"parts\":[{{\"functionCall\":{{\"name\":\"f\",\"args\":{{\"usageMetadata\":{{\"candidatesTokenCount\":777}}}}}}}}],\"role\":\"model\"}},\"finishReason\":\"STOP\",\"index\":0}}],\"usageMetadata\":{last}}}]"
    );
    assert_split_everywhere(
        false,
        &body,
        Some(Tokens::new(487, 5, 1920, 0).with_reasoning(2)),
    );
    let cut = body.rfind(",\r\n").expect("two chunks");
    assert_split_everywhere(false, &body[..cut], Some(Tokens::new(2400, 0, 0, 0)));
    assert_split_everywhere(false, "[]", None);
}

#[test]
fn gemini_stream_cut_before_its_last_chunk_counts_the_prompt_of_the_running_usage() {
    let body = gemini_sse("{}");
    let cut = body.rfind("data:").expect("a last chunk");
    assert_split_everywhere(true, &body[..cut], Some(Tokens::new(2400, 0, 0, 0)));
}

#[test]
fn gemini_stream_without_usage_is_unknown_at_every_split() {
    let body = concat!(
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"The usageMetadata key\"}],\"role\":\"model\"},\"index\":0}]}\r\n\r\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"usageMetadata\":{\"promptTokenCount\":5}}}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]}\r\n\r\n",
    );
    assert_split_everywhere(true, body, None);
}

#[test]
fn a_later_usage_metadata_that_gives_no_count_leaves_the_last_one_standing() {
    let last = r#"{"promptTokenCount":100,"candidatesTokenCount":7}"#;
    let body = format!(
        "{}data: {{\"usageMetadata\":{{}}}}\n\ndata: {{\"usageMetadata\":null}}\n\n",
        gemini_sse(last)
    );
    assert_split_everywhere(true, &body, Some(Tokens::new(100, 7, 0, 0)));
}

#[test]
fn a_gemini_usage_wrapped_in_a_response_object_is_read() {
    // Code Assist (Gemini CLI's Google login) wraps each chunk in `response`.
    let body = "data: {\"response\":{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":40,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":1}},\"traceId\":\"t\"}\n\n";
    assert_split_everywhere(true, body, Some(Tokens::new(40, 3, 0, 0).with_reasoning(1)));
}

#[test]
fn an_absurd_gemini_count_is_unknown_and_the_others_still_count() {
    let read = |usage: &str| {
        let body = format!(r#"{{"candidates":[],"usageMetadata":{usage}}}"#);
        let mut reader = UsageReader::new(false);
        reader.feed(body.as_bytes());
        reader.finish_reading()
    };
    let reading = read(
        r#"{"promptTokenCount":2400,"cachedContentTokenCount":1920,"candidatesTokenCount":-1,"thoughtsTokenCount":9}"#,
    );
    assert_eq!(
        reading.tokens,
        Some(known(Some(480), None, Some(1920), Some(0)).with_reasoning(9))
    );
    assert_eq!(
        reading.rejected,
        [Rejected {
            field: "candidatesTokenCount",
            value: Some("-1".into())
        }]
    );
    // An unusable cached count leaves the whole prompt as uncached input (the dearer reading).
    let reading = read(
        r#"{"promptTokenCount":2400,"cachedContentTokenCount":"1920","candidatesTokenCount":5}"#,
    );
    assert_eq!(
        reading.tokens,
        Some(known(Some(2400), Some(5), None, Some(0)))
    );
    let reading = read(
        r#"{"promptTokenCount":1000000000001,"candidatesTokenCount":5,"thoughtsTokenCount":2}"#,
    );
    assert_eq!(
        reading.tokens,
        Some(known(None, Some(7), Some(0), Some(0)).with_reasoning(2))
    );
}

#[test]
fn a_streams_rejected_gemini_counts_are_those_of_its_last_usage() {
    // Every chunk repeats a broken count: the warning names it once; a later good one clears it.
    let bad = "data: {\"usageMetadata\":{\"promptTokenCount\":1.5,\"candidatesTokenCount\":1}}\n\n";
    let mut reader = UsageReader::new(true);
    for _ in 0..20 {
        reader.feed(bad.as_bytes());
    }
    let reading = reader.finish_reading();
    assert_eq!(reading.tokens, Some(known(None, Some(1), Some(0), Some(0))));
    assert_eq!(reading.rejected.len(), 1, "{:?}", reading.rejected);

    let mut reader = UsageReader::new(true);
    reader.feed(bad.as_bytes());
    reader.feed(
        b"data: {\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":4}}\n\n",
    );
    let reading = reader.finish_reading();
    assert_eq!(reading.tokens, Some(Tokens::new(10, 4, 0, 0)));
    assert!(reading.rejected.is_empty(), "{:?}", reading.rejected);
}
